# An HVM guest sees a card's functions in one virtual slot, at their
# host function numbers, as on the host, when xengpu attach hot-plugs it
# into a guest whose device model lets function 0 join its slot (what
# xengpu create gives; here a plain xl create with that argument).
# Without the argument, attach says so and gives each function a slot.
# timeout: 900
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu
xengpu prepare $GPU0 >/dev/null 2>&1

cp /root/hvm.cfg /tmp/hvm.cfg
echo 'device_model_args_hvm = [ "-global", "xen-pci-passthrough.multifunction=on" ]' >>/tmp/hvm.cfg
mark
check create-hvm-plain xl create /tmp/hvm.cfg
check_guest hvm-guest-up "DOMU: up" 420
mark
check attach-one-slot xengpu attach hvm1 $GPU0
check_guest guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 60
one_slot guest-one-slot
# libxl records each function at its virtual slot and function
v=$(xl pci-list hvm1 | awk 'NR>1{print $1}' | sort | tr '\n' ' ')
echo "$v" | grep -q '^\([0-9a-f][0-9a-f]\)\.0 \1\.1 $' && pass pci-list-one-slot "$v" ||
	fail pci-list-one-slot "$v"
mark
check detach-one-slot xengpu detach --timeout 60 hvm1 $GPU0
check_guest_lost guest-lost-card "$CARD_FN0" 60
n=$(xl pci-list hvm1 | tail -n +2 | wc -l)
[ "$n" = 0 ] && pass nothing-listed || fail nothing-listed "$(xl pci-list hvm1)"
[ "$(card_json $GPU0 state)" = '"prepared"' ] && pass card-prepared-after-detach ||
	fail card-prepared-after-detach "$(card_json $GPU0 state)"
mark
check attach-again xengpu attach hvm1 $GPU0
check_guest guest-sees-card-again "DOMU-PCI.*$GUEST_SEES_CARD0" 60
one_slot guest-one-slot-again
check hvm-destroy xlt 60 destroy hvm1

# A device model started without the argument: a slot per function,
# and attach says why.  (The new QEMU starts a new console log.)
mv "$LOGD/hvm1-serial.log" "$LOGD/hvm1-serial.log.1"
mark
check create-hvm-without-arg xl create /root/hvm.cfg
check_guest hvm-guest-up-2 "DOMU: up" 420
mark
xengpu attach hvm1 $GPU0 >/tmp/att.out 2>&1
rc=$?
if [ $rc = 0 ] && grep -q 'started without "-global xen-pci-passthrough.multifunction=on"' /tmp/att.out; then
	pass attach-says-slot-per-function
else
	fail attach-says-slot-per-function "rc=$rc: $(head -c 300 /tmp/att.out)"
fi
check_guest guest-sees-card-2 "DOMU-PCI.*$GUEST_SEES_CARD0" 60
line=$(since | grep "DOMU-PCI" | tail -n 1)
echo "$line" | grep -q "0000:00:[0-9a-f][0-9a-f]\.0=0x8086:0x2668" &&
	pass slot-per-function || fail slot-per-function "$line"
check detach-2 xengpu detach --timeout 60 hvm1 $GPU0
check hvm-destroy-2 xlt 60 destroy hvm1
