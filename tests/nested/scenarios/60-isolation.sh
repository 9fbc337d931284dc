# A card that is not isolated, for real: the third ati-vga sits behind a
# PCIe-to-PCI bridge next to an e1000 NIC (no ACS on conventional PCI).
# xengpu list reports it, prepare refuses it naming the NIC and the
# override, --force prepares it, and the isolated cards stay isolated.
# timeout: 200
. /mnt/share/lib.sh
lspci -nn
card=$(for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/class)" = 0x030000 ] && [ "$(cat $d/vendor)" = 0x1002 ] &&
		echo ${d##*/}; done | grep -v '0000:0[12]:00.0' | head -n 1)
nic=$(for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor):$(cat $d/device)" = 0x8086:0x100e ] && echo ${d##*/}; done | head -n 1)
echo "card behind the PCI bridge: $card, its neighbour: $nic"
[ -n "$card" ] && [ -n "$nic" ] && pass bed-has-shared-card "$card beside $nic" ||
	fail bed-has-shared-card "no ati-vga/e1000 pair behind a bridge"
iso() { card_json "$1" iommu_isolated; }
[ "$(iso $card)" = false ] && pass list-not-isolated ||
	fail list-not-isolated "iommu_isolated of $card is '$(iso $card)'"
[ "$(iso $GPU0)" = true ] && [ "$(iso $GPU1)" = true ] && pass list-isolated-cards ||
	fail list-isolated-cards "$GPU0: $(iso $GPU0), $GPU1: $(iso $GPU1)"
xengpu prepare "$card" >/tmp/r.out 2>&1
rc=$?
cat /tmp/r.out
if [ $rc = 1 ] && grep -q "card $card is not isolated: $nic can share its IOMMU context" /tmp/r.out &&
	grep -q -- '--force' /tmp/r.out && [ "$(driver_of $card)" != pciback ]; then
	pass prepare-refuses-not-isolated "$(head -n 1 /tmp/r.out | cut -c1-140)"
else
	fail prepare-refuses-not-isolated "rc=$rc: $(head -n 1 /tmp/r.out)"
fi
check prepare-force xengpu prepare --force "$card"
[ "$(driver_of $card)" = pciback ] && [ "$(driver_of $nic)" != pciback ] &&
	pass forced-card-alone-on-pciback || fail forced-card-alone-on-pciback "$card=$(driver_of $card) $nic=$(driver_of $nic)"
check release-forced xengpu release "$card"
