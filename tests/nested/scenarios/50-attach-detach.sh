# xengpu attach/detach/create with PV guests against real Xen: the guest
# sees both functions of the card in one slot, 10 detach/attach cycles
# leave nothing behind, list tells the truth after xl acts behind
# xengpu's back, and every refusal names the thing and the fix.
# timeout: 600
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu

xengpu prepare $GPU0 >/dev/null 2>&1
cp /root/pv.cfg /tmp/pv.cfg
mark
xlt 120 create /tmp/pv.cfg >/dev/null 2>&1
waitfor "DOMU: up" 120 >/dev/null
domid=$(xl domid pv1)

mark
t=$(now)
check attach xengpu attach pv1 $GPU0
check_guest attach-guest-sees-both-in-one-slot \
	"DOMU-PCI.*0000:00:00.0=0x1002:0x5046/0x030000 0000:00:00.1=0x8086:0x2668" 60 &&
	echo "@@T attach-to-seen $(elapsed $t)s"
xl pci-list pv1 >/tmp/pl
if grep -q "$GPU0" /tmp/pl && grep -q "$AUD0" /tmp/pl; then pass xl-pci-list-shows-card
else cat /tmp/pl; fail xl-pci-list-shows-card "xl pci-list pv1 lacks a function"; fi
st=$(card_json $GPU0 state) dom=$(card_json $GPU0 domain)
if [ "$st" = '"assigned"' ] && [ "$dom" = "$domid" ]; then pass list-shows-assigned "domain $dom"
else xengpu list --json; fail list-shows-assigned "state=$st domain=$dom, want assigned/$domid"; fi

# --- refusals, each produced for real ----------------------------------
expect_refusal attach-held 1 "held by domain $domid" xengpu attach pv1 $GPU0
expect_refusal attach-unprepared 1 "is not prepared" xengpu attach pv1 $GPU1
expect_refusal attach-no-domain 1 "no domain 'nosuch'" xengpu attach nosuch $GPU1
expect_refusal attach-no-card 1 "no GPU card at 0000:09:00.0" xengpu attach pv1 0000:09:00.0
expect_refusal detach-not-held 1 "does not hold card $GPU1" xengpu detach pv1 $GPU1
expect_refusal attach-bad-usage 2 "needs DOMAIN and CARD" xengpu attach pv1
xengpu prepare $GPU1 >/dev/null 2>&1
sed 's/^name = .*/name = "nopt"/; /passthrough/d' /root/pv.cfg >/tmp/nopt.cfg
xlt 60 create /tmp/nopt.cfg >/dev/null 2>&1
expect_refusal attach-no-passthrough 1 'does not say passthrough = "enabled"' xengpu attach nopt $GPU1
xlt 30 destroy nopt
xlt 60 create /root/pvh.cfg >/dev/null 2>&1
expect_refusal attach-pvh 1 "PVH guest" xengpu attach pvh1 $GPU1
xlt 30 destroy pvh1
if [ "$(driver_of $GPU1)" = pciback ] && [ "$(card_json $GPU1 state)" = '"prepared"' ]; then
	pass refusals-left-card-prepared
else
	fail refusals-left-card-prepared "$GPU1 state $(card_json $GPU1 state)"
fi

# --- 10 detach/attach cycles -------------------------------------------
bad=0
t=$(now)
for i in 1 2 3 4 5 6 7 8 9 10; do
	mark
	xengpu detach pv1 $GPU0 >/dev/null 2>&1 || bad=$((bad + 1))
	waitfor "DOMU-PCI.*none" 30 >/dev/null || bad=$((bad + 1))
	mark
	xengpu attach pv1 $GPU0 >/dev/null 2>&1 || bad=$((bad + 1))
	waitfor "DOMU-PCI.*$GUEST_SEES_CARD0" 30 >/dev/null || bad=$((bad + 1))
done
[ $bad = 0 ] && pass ten-cycles "$(elapsed $t)s" || fail ten-cycles "$bad steps failed"
mark
xengpu detach pv1 $GPU0 >/dev/null 2>&1
waitfor "DOMU-PCI.*none" 30 >/dev/null
be=/local/domain/0/backend/pci/$domid/0
devs=$(xenstore-list $be 2>/dev/null | grep -c '^dev-')
num=$(xenstore-read $be/num_devs 2>/dev/null)
xenstore-ls $be 2>/dev/null | head -30
if [ "$devs" = 0 ] || [ -z "$devs" ]; then
	pass no-leftover-backend-nodes "num_devs=${num:-none}"
else
	fail no-leftover-backend-nodes "$devs dev-N nodes left under $be"
fi
if [ "$(driver_of $GPU0)" = pciback ] && [ "$(driver_of $AUD0)" = pciback ] &&
	xl pci-assignable-list | grep -q "^$AUD0" && [ "$(card_json $GPU0 state)" = '"prepared"' ]; then
	pass detached-card-back-to-pool
else
	fail detached-card-back-to-pool "state $(card_json $GPU0 state)"
fi

# --- xl acts behind xengpu's back ---------------------------------------
xengpu attach pv1 $GPU0 >/dev/null 2>&1
xlt 60 pci-detach pv1 $AUD0
xlt 60 pci-detach pv1 $GPU0
st=$(card_json $GPU0 state)
[ "$st" = '"prepared"' ] && pass list-after-xl-pci-detach ||
	fail list-after-xl-pci-detach "state $st after xl pci-detach, want prepared"
xengpu attach pv1 $GPU0 >/dev/null 2>&1
xlt 60 destroy pv1
st=$(card_json $GPU0 state)
[ "$st" = '"prepared"' ] && [ "$(card_json $GPU0 domain)" = null ] &&
	pass list-after-xl-destroy || fail list-after-xl-destroy "state $st after xl destroy"

# --- xengpu create with gpu = [...] --------------------------------------
cp /root/pv.cfg /tmp/pvg.cfg
echo 'gpu = [ "1002:5046" ]' >>/tmp/pvg.cfg
xengpu create --dry-run /tmp/pvg.cfg >/tmp/dry.out 2>&1
cat /tmp/dry.out
grep -q '^pci = ' /tmp/dry.out && pass create-dry-run "$(grep '^pci' /tmp/dry.out)" ||
	fail create-dry-run "no pci line: $(tail -n 1 /tmp/dry.out)"
mark
check create-pv xengpu create /tmp/pvg.cfg
check_guest create-pv-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 90
xl pci-list pv1
# the request, by UUID, in the state dir and in xenstore (dom0 only)
uuid=$(xl list -v pv1 | awk 'NR==2{print $7}')
rec=$XENGPU_STATE_DIR/domains/$uuid.json
cat "$rec"
xenstore-ls -p /xengpu/domain/$uuid
if grep -q '"gpu":\["1002:5046"\]' "$rec" && grep -q '"cards":\["0000:01:00.0"\]' "$rec" &&
	[ "$(xenstore-read /xengpu/domain/$uuid/gpu/0/card)" = 0000:01:00.0 ] &&
	[ "$(xenstore-read /xengpu/domain/$uuid/gpu/0/spec)" = 1002:5046 ] &&
	[ "$(xenstore-read /xengpu/domain/$uuid/migration)" = unplug ] &&
	grep -q '"migration":"unplug","compat":"exact"' "$rec" &&
	xenstore-ls -p /xengpu/domain/$uuid | grep -q 'name = "pv1".*(n0)'; then
	pass create-records-request "$uuid"
else
	fail create-records-request "no or wrong record for $uuid"
fi
sed 's/^memory = .*/memory = 128\nmaxmem = 256/' /tmp/pvg.cfg | sed 's/^name = .*/name = "pod"/' >/tmp/pod.cfg
expect_refusal create-refuses-pod 1 "maxmem" xengpu create /tmp/pod.cfg
xlt 60 destroy pv1
