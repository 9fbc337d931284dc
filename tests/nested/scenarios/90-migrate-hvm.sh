# xengpu migrate of an HVM guest (qemu-xen in dom0) with a card, to this
# very host (the transport drops the host name: both sides of the
# migration run here, on the real hypervisor, xenstored, pciback and
# xl), against real Xen:
#   - a destination without a free compatible card refuses before the
#     guest loses anything;
#   - a destination whose reserved card was taken back from pciback
#     behind xengpu's back withholds xl's "ready": xl resumes the guest
#     here and xengpu gives its card back;
#   - a good migration: the guest runs with the other card, its old one
#     is back in the pool, nothing stays reserved;
#   - kill -9 of xengpu in each phase (the source while xl migrates, the
#     destination's receiver mid-transfer, the source while it unplugs,
#     the source's xengpu and xl after the go, before the plug), then
#     `xengpu recover`:
#     the guest runs here with a card it sees, nothing stays half-done;
#     recover leaves a migration that still runs alone.
# timeout: 900
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu
OTHER=00000000-0000-4000-8000-0000000000aa

local_ssh

xengpu prepare $GPU1 >/dev/null 2>&1
cp /root/hvm.cfg /tmp/hvm.cfg
echo "gpu = [ \"$GPU0\" ]" >>/tmp/hvm.cfg
mark
check create-hvm-with-card xengpu create /tmp/hvm.cfg
check_guest hvm-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 420

# --- refused: the only other card is reserved for another guest -----------
R=/xengpu/reserved/0000-02-00-0
xenstore-write $R/uuid $OTHER $R/expires $(($(date +%s) + 600))
xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/m.out 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "no free card on this host may replace" /tmp/m.out &&
	grep -q "localhost cannot take domain hvm1" /tmp/m.out &&
	xl pci-list hvm1 | grep -q "${GPU0#0000:}"; then
	pass migrate-refused-before-unplug "$(grep -m1 'cannot take' /tmp/m.out | cut -c1-120)"
else
	fail migrate-refused-before-unplug "rc=$rc: $(tail -n 3 /tmp/m.out | tr '\n' ' ')"
fi
xenstore-rm $R
[ "$(reservations)" = 0 ] && pass refusal-reserved-nothing ||
	fail refusal-reserved-nothing "$(xenstore-ls /xengpu/reserved)"

# --- the destination cannot plug: back here, with the card -----------------
touch /tmp/sabotage
mark
t=$(now)
timeout 400 xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/m.out 2>&1
rc=$?
rm -f /tmp/sabotage
cat /tmp/m.out
if [ $rc = 1 ] && grep -q "is no longer prepared and reserved for domain hvm1" /tmp/m.out &&
	[ "$(xl list | grep -c hvm1)" = 1 ] && xl pci-list hvm1 | grep -q "${GPU0#0000:}"; then
	pass migrate-card-gone-rolls-back "$(elapsed $t)s"
else
	fail migrate-card-gone-rolls-back "rc=$rc: $(tail -n 4 /tmp/m.out | tr '\n' ' ')"
fi
if [ "$(reservations)" = 0 ] && ! xl list hvm1--incoming >/dev/null 2>&1 &&
	[ "$(card_json $GPU0 state)" = '"assigned"' ]; then
	pass rollback-left-nothing
else
	fail rollback-left-nothing "reservations $(reservations), GPU0 $(card_json $GPU0 state)"
fi
xengpu prepare $GPU1 >/dev/null 2>&1

# --- a good migration -------------------------------------------------------
rm -f /var/log/xen/console/hvm1-serial.log
mark
t=$(now)
timeout 400 xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/m.out 2>&1
rc=$?
took=$(elapsed $t)
cat /tmp/m.out
if [ $rc = 0 ] && [ "$(xl list | grep -c hvm1)" = 1 ] &&
	xl pci-list hvm1 | grep -q "${GPU1#0000:}"; then
	pass migrate-hvm-with-card "${took}s; $(grep -o 'without one for [0-9.]*s' /tmp/m.out)"
else
	fail migrate-hvm-with-card "rc=$rc: $(tail -n 4 /tmp/m.out | tr '\n' ' ')"
fi
check_guest migrated-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 120
if [ "$(card_json $GPU0 state)" = '"prepared"' ] && [ "$(reservations)" = 0 ] &&
	[ -z "$(ls $XENGPU_STATE_DIR/ops 2>/dev/null)" ]; then
	pass old-card-back-in-pool
else
	fail old-card-back-in-pool "GPU0 $(card_json $GPU0 state), reservations $(reservations), ops: $(ls $XENGPU_STATE_DIR/ops)"
fi
n=$(xengpu events --json 2>/dev/null | grep -c '"kind":"migrate"')
[ "$n" -ge 8 ] && pass migrate-phases-logged "$n migrate events" ||
	fail migrate-phases-logged "$n migrate events"

# --- examples/xengpu-evacuate moves every GPU guest, here hvm1 again -------
rm -f /var/log/xen/console/hvm1-serial.log
mark
/mnt/share/examples/xengpu-evacuate -s /tmp/local-ssh localhost >/tmp/e.out 2>&1
rc=$?
cat /tmp/e.out
if [ $rc = 0 ] && grep -q "1 guest(s) moved to localhost" /tmp/e.out &&
	xl pci-list hvm1 | grep -q "${GPU0#0000:}" &&
	[ "$(card_json $GPU1 state)" = '"prepared"' ]; then
	pass evacuate-moves-gpu-guests
else
	fail evacuate-moves-gpu-guests "rc=$rc: $(tail -n 3 /tmp/e.out | tr '\n' ' ')"
fi
check_guest evacuated-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 120

# --- kill -9 of xengpu migrate while xl migrates, then recover --------------
# xl goes on without it and the guest moves, without its card (nobody
# called finish); `xengpu recover` plugs the card the destination
# reserved and puts the source's back in the pool.
rm -f /var/log/xen/console/hvm1-serial.log
mark
xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/k.out 2>&1 &
pid=$!
i=0
until grep -q '"phase":"migrating"' $XENGPU_STATE_DIR/ops/*-*[0-9a-f].json 2>/dev/null ||
	[ $i -gt 600 ]; do
	usleep 100000
	i=$((i + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
i=0
while [ -n "$(pids_of "xl migrate -s")$(pids_of "xengpu migrate-receive")" ] &&
	[ $i -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done
xengpu recover >/tmp/r.out 2>&1
rc=$?
cat /tmp/k.out /tmp/r.out
if [ $rc = 0 ] && [ "$(xl list | grep -c hvm1)" = 1 ] &&
	xl pci-list hvm1 | grep -q "${GPU1#0000:}" &&
	[ "$(card_json $GPU0 state)" = '"prepared"' ] && [ "$(reservations)" = 0 ] &&
	[ -z "$(ls $XENGPU_STATE_DIR/ops 2>/dev/null)" ]; then
	pass killed-migrate-recovered "killed in phase migrating; recover plugged $GPU1"
else
	fail killed-migrate-recovered "rc=$rc GPU0 $(card_json $GPU0 state) reservations $(reservations) ops: $(ls $XENGPU_STATE_DIR/ops 2>/dev/null | tr '\n' ' ') $(tail -n 2 /tmp/r.out | tr '\n' ' ')"
fi
check_guest recovered-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 120

# Wait (at most 60 s) until the source's journal (or with .in, the
# destination's) is in PHASE.
wait_phase() { # PHASE [.in]
	local i=0
	until grep -q "\"phase\":\"$1\"" $XENGPU_STATE_DIR/ops/*-*[0-9a-f]$2.json 2>/dev/null ||
		[ $i -gt 600 ]; do
		usleep 100000
		i=$((i + 1))
	done
	[ $i -le 600 ]
}
settled() { # nothing reserved, journaled or half-received
	[ "$(reservations)" = 0 ] && [ -z "$(ls $XENGPU_STATE_DIR/ops 2>/dev/null)" ] &&
		! xl list hvm1--incoming >/dev/null 2>&1
}
state() {
	echo "hvm1 $(xl pci-list hvm1 2>/dev/null | tail -n +2 | awk '{print $2}' | tr '\n' ' ')GPU0 $(card_json $GPU0 state) GPU1 $(card_json $GPU1 state) reservations $(reservations) ops: $(ls $XENGPU_STATE_DIR/ops 2>/dev/null | tr '\n' ' ')"
}

# --- recover leaves a running migration alone; the destination's xengpu
# --- dies mid-transfer and the source rolls back by itself -----------------
xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/k.out 2>&1 &
pid=$!
wait_phase migrating
xengpu recover >/tmp/r.out 2>&1
if [ "$(grep -c 'left alone' /tmp/r.out)" = 2 ] && kill -0 $pid 2>/dev/null; then
	pass recover-leaves-running-migration-alone "$(grep -m1 'left alone' /tmp/r.out | cut -c1-120)"
else
	fail recover-leaves-running-migration-alone "$(head -n 3 /tmp/r.out | tr '\n' ' ')"
fi
i=0
until rp=$(pids_of "xengpu migrate-receive incoming"); [ -n "$rp" ] || [ $i -gt 300 ]; do
	usleep 100000
	i=$((i + 1))
done
kill -9 $rp
wait $pid
rc=$?
cat /tmp/k.out
if [ $rc = 1 ] && [ "$(xl list | grep -c hvm1)" = 1 ] &&
	xl pci-list hvm1 | grep -q "${GPU1#0000:}" && settled; then
	pass receiver-killed-source-rolls-back "$(grep -m1 'stays here' /tmp/k.out | cut -c1-100)"
else
	fail receiver-killed-source-rolls-back "rc=$rc $(state)"
fi

# --- kill -9 of the source while it unplugs: recover plugs the card back ----
xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/k.out 2>&1 &
pid=$!
wait_phase unplug
kill -9 $pid
wait $pid 2>/dev/null
xengpu recover >/tmp/r.out 2>&1
rc=$?
cat /tmp/r.out
if [ $rc = 0 ] && [ "$(xl list | grep -c hvm1)" = 1 ] &&
	xl pci-list hvm1 | grep -q "${GPU1#0000:}" && settled &&
	[ "$(card_json $GPU0 state)" = '"prepared"' ]; then
	pass killed-in-unplug-recovered "$(grep -m1 'back in domain' /tmp/r.out | cut -c1-100)"
else
	fail killed-in-unplug-recovered "rc=$rc $(state)"
fi

# --- kill -9 of the source's xengpu and xl after the go, before the
# --- destination plugs -----------------------------------------------------
# The guest runs at the destination without its card; xl may not have
# destroyed its copy here (hvm1--migratedaway) yet.  recover never wakes
# that copy: it asks the destination to finish (plug the card), then
# destroys the leftover.
rm -f /var/log/xen/console/hvm1-serial.log
mark
touch /tmp/slow-finish
xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/k.out 2>&1 &
pid=$!
wait_phase running .in && sleep 1
kill -9 $pid $(pids_of "xl migrate -s") $(pids_of "migrate-receive finish")
wait $pid 2>/dev/null
rm -f /tmp/slow-finish
xengpu recover >/tmp/r.out 2>&1
rc=$?
cat /tmp/k.out /tmp/r.out
if [ $rc = 0 ] && [ "$(xl list | grep -c hvm1)" = 1 ] &&
	xl pci-list hvm1 | grep -q "${GPU0#0000:}" && settled; then
	pass killed-before-plug-recovered "$(grep -m1 'migrated here' /tmp/r.out | cut -c1-100)"
else
	fail killed-before-plug-recovered "rc=$rc $(state)"
fi
check_guest plug-recovered-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 120
