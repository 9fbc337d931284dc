# xengpu create of an HVM guest (qemu-xen in dom0) with gpu = [...] by
# model: the guest sees both functions of the card; xengpu detach and
# attach while it runs; list shows the holder; destroy returns the card.
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
check hvm-destroy xlt 60 destroy hvm1
st=$(card_json $card state)
[ "$st" = '"prepared"' ] && pass hvm-card-back-after-destroy || fail hvm-card-back-after-destroy "state $st"
