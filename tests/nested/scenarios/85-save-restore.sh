# xengpu save and restore of a PV guest with a card, against real Xen:
# the card is unplugged (the guest's agent asked first), xl save writes
# the rest, the card goes back to the pool; restore plugs in the same
# card, or a compatible one when that is taken, and the guest sees it.
# Rollbacks: an agent that refuses keeps its card and its guest running,
# no file written; a restore with no free compatible card leaves no
# domain and the file unchanged.
# timeout: 600
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu
F=/tmp/pv1.xgsave

sed 's/^extra = "\(.*\)"/extra = "\1 xengpu_agent=yes"/' /root/pv.cfg >/tmp/pv.cfg
echo "gpu = [ \"$GPU0\" ]" >>/tmp/pv.cfg
mark
check create-pv-with-card xengpu create /tmp/pv.cfg
check_guest guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 90
waitfor "DOMU: agent started" 30 >/dev/null
domid=$(xl domid pv1)
D=/local/domain/$domid/data
until [ "$(xenstore-read $D/xengpu/agent 2>/dev/null)" = 1 ]; do usleep 250000; done

# --- a refusing agent: the save rolls back ------------------------------------
xenstore-write $D/xengpu-test/hook refuse
expect_refusal save-refused-by-guest 1 "refuses to release card $GPU0: busy: rendering a frame" \
	xengpu save pv1 $F
if xl domid pv1 >/dev/null 2>&1 && [ "$(card_json $GPU0 state)" = '"assigned"' ] && [ ! -e $F ] &&
	[ ! -e $F.tmp ] && ! xenstore-exists /xengpu/reserved/0000-01-00-0 2>/dev/null; then
	pass refused-save-left-guest-with-card
else
	fail refused-save-left-guest-with-card "state $(card_json $GPU0 state); $(ls $F* 2>&1)"
fi
xenstore-write $D/xengpu-test/hook ok

# --- save ----------------------------------------------------------------------
mark
t=$(now)
xengpu save pv1 $F >/tmp/save.out 2>&1
rc=$?
cat /tmp/save.out
if [ $rc = 0 ] && ! xl domid pv1 >/dev/null 2>&1 && [ -s $F ] &&
	[ "$(card_json $GPU0 state)" = '"prepared"' ]; then
	pass save-with-card "$(elapsed $t)s, $(wc -c <$F) bytes"
else
	fail save-with-card "rc=$rc: $(tail -n 2 /tmp/save.out | tr '\n' ' ')"
fi
check_guest agent-released-before-save "DOMU-AGENT: release finished" 5
head -c 8 $F | od -c | head -n 1

# --- restore: the same card --------------------------------------------------
mark
t=$(now)
check restore-same-card xengpu restore $F
check_guest_list restored-guest-sees-card "$GUEST_SEES_CARD0" guest-pv1.log 90
st=$(card_json $GPU0 state) dom=$(card_json $GPU0 domain)
[ "$st" = '"assigned"' ] && [ "$dom" = "$(xl domid pv1)" ] &&
	pass restored-guest-holds-card "$(elapsed $t)s" ||
	fail restored-guest-holds-card "state $st domain $dom"

# --- restore onto a compatible card when the guest's own is taken -------------
xengpu save pv1 $F >/dev/null 2>&1
xengpu prepare $GPU1 >/dev/null 2>&1
sed 's/^name = .*/name = "other"/' /root/pv.cfg >/tmp/other.cfg
xlt 120 create /tmp/other.cfg >/dev/null 2>&1
xengpu attach other $GPU0 >/dev/null 2>&1
mark
check restore-compatible-card xengpu restore $F
check_guest_list restored-guest-sees-other-card "$GUEST_SEES_CARD0" guest-pv1.log 90
[ "$(card_json $GPU1 domain)" = "$(xl domid pv1)" ] && pass restore-picked-free-card "$GPU1" ||
	fail restore-picked-free-card "GPU1 domain $(card_json $GPU1 domain)"

# --- no free compatible card: nothing left behind ------------------------------
xengpu save pv1 $F >/dev/null 2>&1
sum=$(md5sum <$F)
xengpu attach other $GPU1 >/dev/null 2>&1
expect_refusal restore-refused-no-card 1 "no free card on this host may replace the guest's 1002:5046" \
	xengpu restore $F
if ! xl domid pv1 >/dev/null 2>&1 && [ "$(md5sum <$F)" = "$sum" ]; then
	pass refused-restore-left-nothing
else
	fail refused-restore-left-nothing "pv1 exists or $F changed"
fi
xengpu events | grep "save/post\|restore/post" | tail -n 6
n=$(xengpu events --json | grep -c '"kind":"\(save\|restore\)","phase":"post"')
[ "$n" -ge 6 ] && pass events-of-saves-and-restores "$n post events" ||
	fail events-of-saves-and-restores "$n post events"
xlt 30 destroy other
