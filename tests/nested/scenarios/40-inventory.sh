# xengpu list and snapshot against the real kernel's sysfs: the live
# inventory shows the test bed's cards as they are, and a snapshot taken
# by `xengpu snapshot` reads back (--sysfs-root) exactly as the live host.
# timeout: 300
. /mnt/share/lib.sh

# --- the live inventory ---------------------------------------------------
check list-json xengpu list --json
xengpu list --json >/tmp/live.json 2>/tmp/live.err

# card BDF: "<functions> <boot_vga>" of that card in /tmp/live.json, from
# its pretty layout: card members at 12 spaces, function members at 20.
card() {
	awk -v want="$1" '
		/^            "bdf": / { c = $2; gsub(/[",]/, "", c) }
		/^                    "bdf": / { n[c]++ }
		/^            "boot_vga": / { v = $2; gsub(/,/, "", v); vga[c] = v }
		END { if (want in n) print n[want], vga[want] }' /tmp/live.json
}
c1=$(card $GPU0)
c2=$(card $GPU1)
cv=$(card 0000:00:02.0)
if [ "${c1%% *}" = 2 ] && [ "${c2%% *}" = 2 ]; then
	pass list-cards-two-functions "$GPU0: $c1, $GPU1: $c2"
else
	cat /tmp/live.json
	fail list-cards-two-functions "expected $GPU0 and $GPU1 with 2 functions each, got '$c1' and '$c2'"
fi
if [ "${cv#* }" = true ]; then
	pass list-boot-vga "0000:00:02.0 is boot_vga"
else
	fail list-boot-vga "0000:00:02.0 should be a card with boot_vga true, got '$cv'"
fi

# --- snapshot and read it back -------------------------------------------
rm -rf /tmp/snap
check snapshot xengpu snapshot /tmp/snap
xengpu snapshot /tmp/snap2 >/dev/null 2>/tmp/snap2.err
if grep -q incomplete /tmp/snap2.err || grep -q INCOMPLETE /tmp/snap2/xengpu-snapshot.txt; then
	fail snapshot-config-complete "as root the whole config space should be copied: $(cat /tmp/snap2.err)"
else
	pass snapshot-config-complete
fi
rm -rf /tmp/snap2
xengpu --sysfs-root /tmp/snap list --json >/tmp/snap.json 2>/tmp/snap.err
if [ -s /tmp/live.json ] && cmp -s /tmp/live.json /tmp/snap.json; then
	pass snapshot-list-equal "$(grep -c '"functions": \[' /tmp/live.json) cards"
else
	diff /tmp/live.json /tmp/snap.json | head -n 40
	cat /tmp/snap.err
	fail snapshot-list-equal "xengpu list --json differs between the live host and /tmp/snap"
fi
xengpu snapshot /tmp/snap >/dev/null 2>/tmp/again.err
rc=$?
if [ $rc = 1 ] && grep -q 'not empty' /tmp/again.err; then
	pass snapshot-refuses-nonempty
else
	fail snapshot-refuses-nonempty "a second snapshot into /tmp/snap: exit $rc, $(cat /tmp/again.err)"
fi
rm -rf /tmp/snap
