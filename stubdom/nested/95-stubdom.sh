# Experiment for issue 8: an HVM guest whose device model (Debian's QEMU
# 7.2) runs in a Linux stub domain built by stubdom/build-image from Debian
# packages only.  Records what libxl, the stub domain and the guest do:
# boot without a card, hot-attach with pciback's default virtual PCI bus
# (Debian's QEMU looks the card up in the stub domain's sysfs under its
# host address), then a guest created with the card while xen-pciback
# runs with passthrough=1 (the stub domain's bus numbers equal the host's),
# checking that dom0 then runs no device model for the guest, and that the
# card can be detached and attached again through the stub domain.
# Logs of each phase go to /mnt/share/stubdom-logs-*.
# timeout: 1500
. /mnt/share/lib.sh

STUB=/mnt/share/stubdom.cpio.gz
[ -r $STUB ] || { fail stubdom-image "no $STUB (run stubdom/build-image)"; exit 0; }
# libxl 4.17 runs dom0's half of QMP-over-vchan as /usr/bin/vchan-socket-proxy
# (Debian: a symlink to a wrapper the dom0 image does not carry)
[ -x /usr/bin/vchan-socket-proxy ] ||
	ln -sf /usr/lib/xen-4.17/bin/vchan-socket-proxy /usr/bin/vchan-socket-proxy

# The test guest boots a kernel by direct kernel boot: QEMU opens -kernel
# and -initrd inside the stub domain, so the guest's files go into the
# stub domain's initramfs at the same paths (a second, appended cpio).
# One uncompressed archive: libxc's domain builder cannot inflate two
# concatenated gzip streams ("xc_dom_do_gunzip: inflate failed") and then
# leaves the inflating to the stub domain's kernel, inside libxl's 30 s.
mkdir -p /tmp/extra/root
cp /root/vmlinuz /root/domU.cpio.gz /tmp/extra/root/
{ zcat $STUB; (cd /tmp/extra && find . | cpio -o -H newc 2>/dev/null); } >/tmp/stubdom.cpio
ls -l $STUB /tmp/stubdom.cpio

# Each guest's serial log is a new file while mark/since count lines: drop
# the previous guest's log before creating, or since() skips the new lines.
fresh() { rm -f $LOGD/hvm1-serial.log; mark; }
stubcfg() { # FILE [PCI LINE]
	cp /root/hvm.cfg "$1"
	cat >>"$1" <<-EOF
	device_model_stubdomain_override = 1
	stubdomain_kernel = "/root/vmlinuz"
	stubdomain_ramdisk = "/tmp/stubdom.cpio"
	stubdomain_memory = 256
	EOF
	[ -n "${2:-}" ] && echo "$2" >>"$1"
	cat "$1"
}
keeplogs() { # NAME: Xen's logs and the stub domain's xenstore as they are now
	local d=/mnt/share/stubdom-logs-$1 s
	mkdir -p $d
	cp -r /var/log/xen/. $d/ 2>/dev/null
	xl list >$d/xl-list.txt 2>&1
	s=$(xl domid hvm1-dm 2>/dev/null)
	[ -n "$s" ] && xenstore-ls -fp /local/domain/$s >$d/xenstore-stubdom.txt 2>&1
	xl dmesg | tail -n 60 >$d/xl-dmesg-tail.txt
	echo "# --- qemu-dm log (stub domain console 0)"
	tail -n 40 /var/log/xen/qemu-dm-hvm1.log 2>/dev/null
	echo "# --- qmp proxy log"
	tail -n 10 /var/log/xen/qmp-proxy-hvm1-dm.log 2>/dev/null
}

# ---- phase 1: boot, no card ---------------------------------------------
stubcfg /tmp/stub.cfg
fresh
t=$(now)
up=0
if xlt 300 -vvv create /tmp/stub.cfg >/tmp/create.out 2>&1; then
	pass stubdom-create "$(elapsed $t)s"
	up=1
else
	fail stubdom-create "$(grep -E 'error|ERROR|failed' /tmp/create.out | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
fi
grep -E 'stubdom|Stubdom|qmp|device model|error|ERROR' /tmp/create.out | tail -n 40
cp /tmp/create.out /mnt/share/stubdom-create-1.txt
xl list
if xl domid hvm1-dm >/dev/null 2>&1; then
	pass stubdom-domain-exists "hvm1-dm is domain $(xl domid hvm1-dm)"
else
	fail stubdom-domain-exists "no hvm1-dm domain"
fi
if [ $up = 1 ]; then
	check_guest stubdom-guest-up "DOMU: up" 420 && echo "@@T stubdom-boot $(elapsed $t)s"
	check_guest stubdom-guest-lists-pci "DOMU-PCI" 60
fi
keeplogs 1-boot
[ $up = 1 ] || exit 0

# ---- phase 2: hot-attach with pciback's default (virtual bus) -------------
xlt 30 pci-assignable-add $GPU0
mark
if xlt 120 pci-attach hvm1 "$GPU0,permissive=1" >/tmp/attach.out 2>&1; then
	cat /tmp/attach.out
	if waitfor "DOMU-PCI.*$CARD_FN0" 60; then
		pass stubdom-vbus-attach "guest sees the card (virtual bus)"
	else
		fail stubdom-vbus-attach "xl pci-attach rc=0 but guest does not see the card"
	fi
else
	cat /tmp/attach.out
	fail stubdom-vbus-attach "$(grep -v '^$' /tmp/attach.out | tail -n 2 | tr '\n' ' ' | cut -c1-300)"
fi
keeplogs 2-vbus-attach
xlt 60 destroy hvm1
sleep 2
xlt 30 pci-assignable-remove $GPU0

# ---- phase 3: pciback passthrough=1, card given at creation ---------------
rmmod xen_pciback && modprobe xen-pciback passthrough=1
echo "# xen-pciback passthrough=$(cat /sys/module/xen_pciback/parameters/passthrough)"
xlt 30 pci-assignable-add $GPU0 && xlt 30 pci-assignable-add $AUD0
stubcfg /tmp/stub2.cfg "pci = [ '$GPU0,permissive=1', '$AUD0,permissive=1' ]"
fresh
t=$(now)
up=0
if xlt 300 -vvv create /tmp/stub2.cfg >/tmp/create2.out 2>&1; then
	pass stubdom-create-with-card "$(elapsed $t)s"
	up=1
else
	fail stubdom-create-with-card "$(grep -E 'error|ERROR|failed' /tmp/create2.out | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
fi
grep -E 'pci|PCI|qmp|error|ERROR' /tmp/create2.out | tail -n 40
cp /tmp/create2.out /mnt/share/stubdom-create-3.txt
if [ $up = 1 ]; then
	check_guest stubdom-passthrough-guest-up "DOMU: up" 420
	check_guest stubdom-passthrough-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 60
fi
if [ $up = 1 ]; then
	# dom0 runs no device model for hvm1: its only QEMU serves the stub
	# domain's consoles (-xen-attach -M xenpv)
	ps -o pid,args | grep '[q]emu-system' >/tmp/qemus
	cut -c1-160 /tmp/qemus
	if [ "$(wc -l </tmp/qemus)" = 1 ] && grep -q -- '-xen-attach' /tmp/qemus &&
		grep -q -- 'xenpv' /tmp/qemus &&
		grep -q -- "-xen-domid $(xl domid hvm1-dm)" /tmp/qemus; then
		pass stubdom-no-dm-in-dom0 "one QEMU in dom0, for hvm1-dm's consoles"
	else
		fail stubdom-no-dm-in-dom0 "$(wc -l </tmp/qemus) QEMUs: $(cut -c1-100 /tmp/qemus | tr '\n' ' ')"
	fi
	# What libxl's do_pci_remove reads first: its record of the guest's
	# devices and the device model version (ERROR_INVAL without a log
	# line is the "unknown device model version" branch).
	d=$(xl domid hvm1)
	echo "# /libxl/$d:"
	xenstore-ls -fp /libxl/$d 2>&1 | cut -c1-160 | head -n 40
	echo "# pci-list:"
	xl pci-list hvm1
	mark
	t=$(now)
	xlt 120 -vvv pci-detach hvm1 $AUD0 >/tmp/detach.out 2>&1 &&
		xlt 120 -vvv pci-detach hvm1 $GPU0 >>/tmp/detach.out 2>&1
	echo "# pci-detach rc=$? after $(elapsed $t)s"
	grep -E 'qmp|device_del|query-pci|error|ERROR|timed out' /tmp/detach.out | tail -n 30
	cp /tmp/detach.out /mnt/share/stubdom-detach-3.txt
	check_guest_lost stubdom-detach "$CARD_FN0" 60 && echo "@@T detach $(elapsed $t)s"
	xlt 10 pci-list hvm1
	mark
	t=$(now)
	xlt 120 pci-attach hvm1 "$GPU0,permissive=1" &&
		xlt 120 pci-attach hvm1 "$AUD0,permissive=1"
	check_guest stubdom-attach "DOMU-PCI.*$GUEST_SEES_CARD0" 90 &&
		echo "@@T attach $(elapsed $t)s"
fi
keeplogs 3-passthrough
xlt 60 destroy hvm1
