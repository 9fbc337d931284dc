# xengpu create of an HVM guest (qemu-xen in dom0) with gpu = [...] by
# model: the guest sees both functions of the card in one slot; xengpu
# detach and attach while it runs; a reboot restarts the guest (xl's
# on_reboot) with its card; list shows the holder; destroy returns the
# card.
# timeout: 900
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu
cp /root/hvm.cfg /tmp/hvm.cfg
echo 'gpu = [ "1002:5046,permissive=1" ]' >>/tmp/hvm.cfg
mark
t=$(now)
check create-hvm xengpu create /tmp/hvm.cfg
check_guest hvm-guest-up "DOMU: up" 420 && echo "@@T hvm-boot $(elapsed $t)s"
check_guest hvm-sees-gpu-and-audio "DOMU-PCI.*$GUEST_SEES_CARD0" 60
one_slot hvm-card-in-one-slot
domid=$(xl domid hvm1)
card=$(xl pci-list hvm1 | awk 'NR==2{print $2}')
card=${card%.*}.0
echo "hvm1 holds $card"
st=$(card_json $card state) dom=$(card_json $card domain)
[ "$st" = '"assigned"' ] && [ "$dom" = "$domid" ] && pass hvm-list-shows-holder ||
	fail hvm-list-shows-holder "state=$st domain=$dom"
mark
t=$(now)
check hvm-detach xengpu detach --timeout 60 hvm1 $card && echo "@@T detach $(elapsed $t)s"
check_guest_lost hvm-guest-lost-card "$CARD_FN0" 60
mark
t=$(now)
check hvm-attach xengpu attach hvm1 $card && echo "@@T attach $(elapsed $t)s"
check_guest hvm-guest-sees-card-again "DOMU-PCI.*$GUEST_SEES_CARD0" 60
one_slot hvm-card-in-one-slot-again

# A reboot: xl's daemon creates the domain again from libxl's
# record of it, with the card xengpu plugged (on_reboot = "restart").
# The old console log is moved aside: the new QEMU writes a new one.
mv "$LOGD/hvm1-serial.log" "$LOGD/hvm1-serial.log.old"
mark
xl reboot hvm1 || xl reboot -F hvm1
i=0
while [ "$(xl domid hvm1 2>/dev/null)" = "$domid" ] || ! xl domid hvm1 >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 120 ] && break
	sleep 1
done
newid=$(xl domid hvm1 2>/dev/null)
if [ -n "$newid" ] && [ "$newid" != "$domid" ]; then
	pass hvm-restarted "domain $domid is now $newid"
else
	fail hvm-restarted "domid $domid -> '$newid'; $(xl list | tail -n +2 | tr '\n' ' ')"
fi
check_guest hvm-restarted-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 420
one_slot hvm-restarted-card-in-one-slot
st=$(card_json $card state) dom=$(card_json $card domain)
[ "$st" = '"assigned"' ] && [ "$dom" = "$newid" ] && pass hvm-list-shows-restarted-holder ||
	fail hvm-list-shows-restarted-holder "state=$st domain=$dom, want $newid"
check hvm-destroy xlt 60 destroy hvm1
st=$(card_json $card state)
[ "$st" = '"prepared"' ] && pass hvm-card-back-after-destroy || fail hvm-card-back-after-destroy "state $st"

# The destroyed guest's request is forgotten by recover, file and
# xenstore mirror both; nothing else is touched.
uuid=$(ls $XENGPU_STATE_DIR/domains/ 2>/dev/null | sed -n 's/\.json$//p' | head -n 1)
xengpu recover >/tmp/rec.out 2>&1
rc=$?
if [ -n "$uuid" ] && [ $rc = 0 ] && [ ! -e "$XENGPU_STATE_DIR/domains/$uuid.json" ] &&
	! xenstore-exists /xengpu/domain/$uuid 2>/dev/null &&
	grep -q "forgot the GPU requests of 1 domain that no longer run" /tmp/rec.out; then
	pass recover-forgets-destroyed-request "$uuid"
else
	fail recover-forgets-destroyed-request "uuid=$uuid rc=$rc: $(head -n 2 /tmp/rec.out | tr '\n' ' ')"
fi
