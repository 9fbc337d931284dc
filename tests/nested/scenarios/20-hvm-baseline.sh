# Baseline with stock xl, HVM guest (qemu-xen device model in dom0): the
# guest boots with the card and sees both functions, survives hot-detach
# and re-attach, and live-migrates to localhost between a detach and a
# re-attach (Xen refuses log-dirty while a device is assigned).
# timeout: 900
. /mnt/share/lib.sh

check assignable-add xlt 30 pci-assignable-add $GPU0 &&
	check assignable-add-audio xlt 30 pci-assignable-add $AUD0

cp /root/hvm.cfg /tmp/hvm.cfg
echo "pci = [ '$GPU0', '$AUD0' ]" >>/tmp/hvm.cfg
mark
t=$(now)
check hvm-create xlt 300 create /tmp/hvm.cfg
check_guest hvm-guest-up "DOMU: up" 420 && echo "@@T hvm-boot $(elapsed $t)s"
check_guest hvm-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 60
if xlt 10 pci-list hvm1 | grep -q "$GPU0"; then pass hvm-pci-list
else fail hvm-pci-list "xl pci-list hvm1 does not show $GPU0"; fi

mark
t=$(now)
xlt 120 pci-detach hvm1 $AUD0 && xlt 120 pci-detach hvm1 $GPU0
check_guest_lost hvm-hot-detach "$CARD_FN0" 60 && echo "@@T detach $(elapsed $t)s"

mark
t=$(now)
xlt 120 pci-attach hvm1 $GPU0 && xlt 120 pci-attach hvm1 $AUD0
check_guest hvm-hot-attach "DOMU-PCI.*$GUEST_SEES_CARD0" 60 &&
	echo "@@T attach $(elapsed $t)s"

# migrate with the card still attached must fail: no log-dirty with a
# device assigned (this is what xengpu's unplug exists for)
if xlt 120 migrate -s "" hvm1 "xl migrate-receive" >/tmp/m.out 2>&1; then
	fail hvm-migrate-refused-with-card "xl migrate succeeded with a card attached"
else
	cat /tmp/m.out
	pass hvm-migrate-refused-with-card "$(grep -m1 -i logdirty /tmp/m.out)"
fi
xl list hvm1 >/dev/null 2>&1 || fail hvm-survives-refused-migrate "hvm1 is gone"

mark
xlt 120 pci-detach hvm1 $AUD0 && xlt 120 pci-detach hvm1 $GPU0
check_guest_lost hvm-detach-before-migrate "$CARD_FN0" 60
t=$(now)
check hvm-live-migrate xlt 500 migrate -s "" hvm1 "xl migrate-receive" &&
	echo "@@T migrate $(elapsed $t)s"
mark
xlt 120 pci-attach hvm1 $GPU0 && xlt 120 pci-attach hvm1 $AUD0
check_guest hvm-migrated-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 90 || {
	# what the guest and Xen were doing, for the kept serial log
	xl list
	xl pci-list hvm1
	tail -n 5 "$LOGD"/hvm1-serial.log
	xl dmesg | tail -n 20
}
check hvm-destroy xlt 60 destroy hvm1
