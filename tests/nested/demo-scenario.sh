# The story `make demo` tells, run inside the nested dom0.  Lines starting
# with "@@SAY" are narration, "| " lines are command output shown to the
# user.
. /mnt/share/lib.sh
say() { echo "@@SAY $*"; }
show() { # "COMMAND LINE": run it with sh -c and show its output indented
	echo "@@SAY \$ $1"
	sh -c "$1" 2>&1 | sed 's/^/| /'
}
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
	fail demo "the guest did not see the card"
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
	pass demo
else
	fail demo "the restored guest did not see the card"
fi
show "xengpu events | tail -n 4"
timeout 60 xl destroy pv1
