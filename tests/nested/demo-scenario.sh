# The story `make demo` tells, run inside both nested dom0s (host a tells
# it, host b receives the guest at the end).  Lines starting with "@@SAY"
# are narration, "| " lines are command output shown to the user.
. /mnt/share/lib.sh
say() { echo "@@SAY $*"; }
show() { # "COMMAND LINE": run it with sh -c and show its output indented
	echo "@@SAY \$ $1"
	sh -c "$1" 2>&1 | sed 's/^/| /'
}
export XENGPU_STATE_DIR=/var/lib/xengpu
if [ "$XENGPU_HOST" = b ]; then
	# Host b: serve host a's "ssh" until a says it is done; then show
	# what arrived.
	mark
	serve_rsh
	timeout 800 socat -u TCP-LISTEN:8011,reuseaddr OPEN:/tmp/a-done,creat
	say "== Host b: the guest that arrived, and the card b gave it:"
	show "xl list pv1"
	show "xengpu list"
	if waitfor "DOMU-PCI.*$GUEST_SEES_CARD0" 120; then
		say "    $(since | grep DOMU-PCI | tail -n 1)"
		say "== On host b, the guest sees a card of b's."
		pass demo-b
	else
		fail demo-b "the migrated guest sees no card on b"
	fi
	timeout 60 xl destroy pv1
	exit 0
fi
say ""
say "== Xen is up, with the IOMMU on:"
show "xl info | grep -E '^(xen_version|virt_caps)'"
show "xl dmesg | grep -E 'I/O virtualisation|Interrupt remapping enabled'"
say ""
say "== The host's GPUs, every function of each card:"
if command -v xengpu >/dev/null 2>&1; then
	show "xengpu list"
else
	show "lspci -nn -d ::0300; lspci -nn -d ::0403"
fi
say ""
say "== Is the host ready?"
show "xengpu check"
say ""
say "== A PV guest asks for a card by model in its xl config:"
cp /root/pv.cfg /tmp/pv.cfg
echo 'gpu = [ "1002:5046" ]' >>/tmp/pv.cfg
show "grep -E '^(name|memory|passthrough|gpu)' /tmp/pv.cfg"
show "xengpu create --dry-run /tmp/pv.cfg"
mark
show "xengpu create /tmp/pv.cfg 2>&1 | grep -v reset"
show "xengpu list"
say ""
say "== The guest's own view of its PCI bus (its console):"
if ! waitfor "DOMU-PCI.*$GUEST_SEES_CARD0" 120; then
	fail demo-a "the guest did not see the card"
	timeout 60 xl destroy pv1
	exit 0
fi
say "    $(since | grep DOMU-PCI | tail -n 1)"
say ""
say "== The guest sees the GPU and its audio function."
say ""
say "== xl save cannot save a guest holding a card; xengpu unplugs it first:"
show "xengpu save pv1 /tmp/pv1.save"
show "xengpu list"
mark
show "xengpu restore /tmp/pv1.save"
if waitfor "DOMU-PCI.*$GUEST_SEES_CARD0" 120; then
	say "    $(since | grep DOMU-PCI | tail -n 1)"
	say ""
	say "== Restored, the guest sees its card again."
else
	fail demo-a "the restored guest did not see the card"
fi
show "xengpu events | tail -n 4"
say ""
say "== Host maintenance: move the guest to host b (10.0.0.2), card and all."
say "   (a PV guest moves cold: Debian's Xen cannot live-migrate PV guests)"
sock_ssh
wait_port $XENGPU_PEER_B 8010 300
show "xengpu migrate -s /tmp/sock-ssh pv1 $XENGPU_PEER_B 2>&1 | grep -v 'reset\|JSON\|progress'"
show "xengpu list"
if xl list pv1 >/dev/null 2>&1; then
	fail demo-a "pv1 is still on host a"
else
	say "== pv1 left host a; its card is back in a's pool."
	pass demo-a
fi
echo done | socat -u - TCP:$XENGPU_PEER_B:8011 2>/dev/null
