# xengpu check on the real hypervisor: the nested host (Xen 4.17, QEMU's
# intel-iommu with intremap=on, xen-pciback loaded by dom0-init) is
# ready; without xen-pciback it is not, and the refusal names the fix.
# timeout: 200
. /mnt/share/lib.sh

# --- without xen-pciback (first: rmmod works only while nothing is bound) --
if run rmmod xen-pciback && [ ! -d /sys/bus/pci/drivers/pciback ]; then
	pass rmmod-pciback
	expect_refusal check-names-pciback 1 "xen-pciback is not loaded" xengpu check
	if grep -q "fix: modprobe xen-pciback" /tmp/r.out; then
		pass check-names-pciback-fix "$(grep 'fix: modprobe' /tmp/r.out | cut -c1-150)"
	else
		fail check-names-pciback-fix "no 'fix: modprobe xen-pciback' in: $(cat /tmp/r.out | tr '\n' ' ')"
	fi
	xengpu check --json >/tmp/nopb.json 2>/dev/null
	if tr -d ' \n' </tmp/nopb.json | grep -q '"ready":false.*"id":"pciback-missing"'; then
		pass check-json-not-ready
	else
		fail check-json-not-ready "$(tr -d '\n' </tmp/nopb.json | cut -c1-300)"
	fi
else
	fail rmmod-pciback "xen-pciback could not be unloaded: $(lsmod | grep pciback)"
fi
modprobe xen-pciback
[ -d /sys/bus/pci/drivers/pciback ] && pass modprobe-pciback ||
	fail modprobe-pciback "no /sys/bus/pci/drivers/pciback after modprobe xen-pciback"

# --- ready --------------------------------------------------------------------
check check-ready xengpu check
xengpu check >/tmp/check.txt 2>&1
if grep -q "^IOMMU: *enabled" /tmp/check.txt; then
	pass check-says-iommu "$(grep '^IOMMU:' /tmp/check.txt)"
else
	fail check-says-iommu "$(tr '\n' '|' </tmp/check.txt)"
fi
if grep -q "^interrupt remapping: *enabled" /tmp/check.txt; then
	pass check-says-intremap "$(grep '^interrupt remapping:' /tmp/check.txt)"
else
	fail check-says-intremap "$(tr '\n' '|' </tmp/check.txt)"
fi
grep -q "hvm_directio" /tmp/check.txt && pass check-virt-caps ||
	fail check-virt-caps "no hvm_directio in: $(grep virt_caps /tmp/check.txt)"

if xengpu check --json >/tmp/check.json 2>/tmp/check.err; then
	pass check-json-exit-0
else
	fail check-json-exit-0 "exit $?: $(cat /tmp/check.err)"
fi
j=$(tr -d ' \n' </tmp/check.json)
opens=$(tr -cd '{' </tmp/check.json | wc -c)
closes=$(tr -cd '}' </tmp/check.json | wc -c)
case $j in
'{'*'}') shape=ok ;;
*) shape=bad ;;
esac
if [ $shape = ok ] && [ "$opens" = "$closes" ] && echo "$j" | grep -q '"ready":true' &&
	echo "$j" | grep -q '"interrupt_remapping":true' && echo "$j" | grep -q '"problems":\[\]'; then
	pass check-json-ready "$(echo "$j" | cut -c1-150)"
else
	fail check-json-ready "$(echo "$j" | cut -c1-300)"
fi
