# Baseline with stock xl, PV guest: the test bed itself works.
# IOMMU on, a card made assignable, a PV guest booted with the card and
# seeing both functions, hot-detach/re-attach, save/restore after detach,
# and the card given back to its original drivers.
# timeout: 420
. /mnt/share/lib.sh

# --- the hypervisor: IOMMU with interrupt remapping ---------------------
xl info >/tmp/xlinfo
caps=$(sed -n 's/^virt_caps *: //p' /tmp/xlinfo)
if echo "$caps" | grep -qw hvm_directio && echo "$caps" | grep -qw pv_directio
then pass iommu-virt-caps "$caps"
else fail iommu-virt-caps "virt_caps lacks hvm_directio/pv_directio: $caps"; fi
xl dmesg >/tmp/dmesg
if grep -q 'I/O virtualisation enabled' /tmp/dmesg &&
	grep -q 'Interrupt remapping enabled' /tmp/dmesg; then
	pass iommu-intremap
else
	fail iommu-intremap "xl dmesg lacks 'I/O virtualisation enabled' or 'Interrupt remapping enabled'"
fi

# --- the host's cards -------------------------------------------------
sysattr() { cat "/sys/bus/pci/devices/$1/$2" 2>/dev/null; }
ok=1
for c in $GPU0 $GPU1; do
	[ "$(sysattr $c class)" = 0x030000 ] || ok=0
	[ "$(sysattr ${c%.0}.1 class)" = 0x040300 ] || ok=0
	[ "$(sysattr $c boot_vga)" = 0 ] || ok=0
done
if [ $ok = 1 ] && [ "$(sysattr 0000:00:02.0 boot_vga)" = 1 ]; then
	pass cards-present "2 x (ati-vga + hda), dom0 console on 00:02.0"
else
	lspci -nn
	fail cards-present "expected ati-vga+hda at 01:00 and 02:00, boot VGA at 00:02.0"
fi
d=$(driver_of $AUD0)
if [ "$d" = snd_hda_intel ]; then pass audio-has-driver
else fail audio-has-driver "$AUD0 is bound to '$d', expected snd_hda_intel"; fi

# --- make card 0 assignable -------------------------------------------
check assignable-add xlt 30 pci-assignable-add $GPU0 &&
	check assignable-add-audio xlt 30 pci-assignable-add $AUD0
xlt 10 pci-assignable-list | tee /tmp/al
if grep -q "^$GPU0" /tmp/al && grep -q "^$AUD0" /tmp/al &&
	[ "$(driver_of $GPU0)" = pciback ] && [ "$(driver_of $AUD0)" = pciback ]; then
	pass assignable-list "both functions on pciback"
else
	fail assignable-list "pci-assignable-list/driver links do not show both functions on pciback"
fi

# --- PV guest with the card -------------------------------------------
cp /root/pv.cfg /tmp/pv.cfg
echo "pci = [ '$GPU0', '$AUD0' ]" >>/tmp/pv.cfg
mark
t=$(now)
check pv-create xlt 120 create /tmp/pv.cfg
check_guest pv-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 120 &&
	echo "@@T create-to-guest-sees-card $(elapsed $t)s"

mark
t=$(now)
xlt 60 pci-detach pv1 $AUD0 && xlt 60 pci-detach pv1 $GPU0
check_guest pv-hot-detach "DOMU-PCI.*none" 60 && echo "@@T detach $(elapsed $t)s"
if [ -z "$(xlt 10 pci-list pv1 | awk 'NR>1')" ]; then pass pv-pci-list-empty
else fail pv-pci-list-empty "xl pci-list pv1 still lists devices after detach"; fi

mark
t=$(now)
xlt 60 pci-attach pv1 $GPU0 && xlt 60 pci-attach pv1 $AUD0
check_guest pv-hot-attach "DOMU-PCI.*$GUEST_SEES_CARD0" 60 &&
	echo "@@T attach $(elapsed $t)s"

# --- save / restore after detaching -----------------------------------
mark
xlt 60 pci-detach pv1 $AUD0 && xlt 60 pci-detach pv1 $GPU0
waitfor "DOMU-PCI.*none" 60
t=$(now)
check pv-save xlt 120 save pv1 /tmp/pv1.save && echo "@@T save $(elapsed $t)s"
t=$(now)
check pv-restore xlt 120 restore /tmp/pv1.save && echo "@@T restore $(elapsed $t)s"
rm -f /tmp/pv1.save
mark
xlt 60 pci-attach pv1 $GPU0 && xlt 60 pci-attach pv1 $AUD0
check_guest pv-restored-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 60

# --- give the card back -----------------------------------------------
check pv-destroy xlt 60 destroy pv1
xlt 30 pci-assignable-remove -r $AUD0
xlt 30 pci-assignable-remove -r $GPU0
d=$(driver_of $AUD0)
if [ "$d" = snd_hda_intel ] && ! xlt 10 pci-assignable-list | grep -q "^$GPU0"; then
	pass assignable-remove "audio back on snd_hda_intel"
else
	fail assignable-remove "after pci-assignable-remove -r: $AUD0 on '$d'"
fi
