# Xen booted without interrupt remapping (iommu=no-intremap): xengpu
# check says so with the fix, attach and create refuse a card naming the
# risk and --force, and --force attaches it.
# timeout: 240
# xen-args: iommu=no-intremap
. /mnt/share/lib.sh
xl info | grep xen_commandline
xengpu check >/tmp/c.out 2>&1
rc=$?
cat /tmp/c.out
[ $rc = 1 ] && grep -qi 'interrupt remapping' /tmp/c.out && pass check-reports-no-intremap ||
	fail check-reports-no-intremap "rc=$rc: $(grep -i remapping /tmp/c.out | head -n 1)"
xengpu prepare $GPU0 >/dev/null 2>&1
cp /root/pv.cfg /tmp/pv.cfg
mark
xlt 120 create /tmp/pv.cfg >/dev/null 2>&1
waitfor "DOMU: up" 120 >/dev/null
expect_refusal attach-refused-no-intremap 1 "without interrupt remapping" xengpu attach pv1 $GPU0
[ -z "$(xl pci-list pv1 | awk 'NR>1')" ] && pass refused-attach-left-nothing ||
	fail refused-attach-left-nothing "pv1 holds devices"
cp /root/pv.cfg /tmp/pvg.cfg
sed -i 's/^name = .*/name = "pvg"/' /tmp/pvg.cfg
echo 'gpu = [ "02:00.0" ]' >>/tmp/pvg.cfg
expect_refusal create-refused-no-intremap 1 "without interrupt remapping" xengpu create /tmp/pvg.cfg
xl list pvg >/dev/null 2>&1 && fail create-refusal-made-nothing "pvg exists" ||
	pass create-refusal-made-nothing
[ "$(driver_of $AUD1)" = snd_hda_intel ] && pass create-refusal-left-card ||
	fail create-refusal-left-card "$AUD1 on $(driver_of $AUD1)"
mark
check attach-force xengpu attach --force pv1 $GPU0
check_guest attach-force-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 60
xlt 60 destroy pv1
