# xengpu save and restore of an HVM guest (qemu-xen in dom0) with a
# card, against real Xen: the restored guest sees its card again.  Then
# a save killed (kill -9) while xl save runs is finished or undone by
# `xengpu recover`: the guest runs with its card again, or xl completed
# the save and recover finished the file, which then restores; no card is
# left unplugged or reserved.
# timeout: 900
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu
F=/tmp/hvm1.xgsave

cp /root/hvm.cfg /tmp/hvm.cfg
echo "gpu = [ \"$GPU0\" ]" >>/tmp/hvm.cfg
mark
check create-hvm-with-card xengpu create /tmp/hvm.cfg
check_guest hvm-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 420

mark
t=$(now)
xengpu save hvm1 $F >/tmp/save.out 2>&1
rc=$?
cat /tmp/save.out
if [ $rc = 0 ] && ! xl domid hvm1 >/dev/null 2>&1 && [ -s $F ] &&
	[ "$(card_json $GPU0 state)" = '"prepared"' ]; then
	pass hvm-save-with-card "$(elapsed $t)s"
else
	fail hvm-save-with-card "rc=$rc: $(tail -n 2 /tmp/save.out | tr '\n' ' ')"
fi
# The restored QEMU truncates the guest's serial log: start it afresh.
rm -f /var/log/xen/console/hvm1-serial.log
mark
t=$(now)
check hvm-restore xengpu restore $F
check_guest_list hvm-restored-sees-card "$GUEST_SEES_CARD0" hvm1-serial.log 120 &&
	echo "@@T restore-to-card $(elapsed $t)s"

# --- kill -9 in the middle of a save, then recover -------------------------
rm -f $F
xengpu save hvm1 $F >/tmp/save.out 2>&1 &
pid=$!
i=0
until grep -q '"xl_pid":[1-9]' $XENGPU_STATE_DIR/ops/*.json 2>/dev/null || [ $i -gt 200 ]; do
	usleep 50000
	i=$((i + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
cat /tmp/save.out
ls -l $XENGPU_STATE_DIR/ops/ /tmp/hvm1.xgsave* 2>&1
xengpu recover >/tmp/rec.out 2>&1
rc=$?
cat /tmp/rec.out
if xl domid hvm1 >/dev/null 2>&1; then
	st=$(card_json $GPU0 state) dom=$(card_json $GPU0 domain)
	[ $rc = 0 ] && [ "$st" = '"assigned"' ] && [ "$dom" = "$(xl domid hvm1)" ] &&
		[ -z "$(ls $XENGPU_STATE_DIR/ops/ 2>/dev/null)" ] &&
		! xenstore-exists /xengpu/reserved/0000-01-00-0 2>/dev/null &&
		pass killed-save-recovered "the guest runs with its card again" ||
		fail killed-save-recovered "rc=$rc state $st domain $dom"
elif [ $rc = 0 ] && [ -s $F ] && [ "$(card_json $GPU0 state)" = '"prepared"' ] &&
	! xenstore-exists /xengpu/reserved/0000-01-00-0 2>/dev/null &&
	[ ! -e $F.tmp ] && grep -q "finished or undid 1 interrupted" /tmp/rec.out; then
	# xl went on and saved the guest: recover finished the file, and
	# it restores.
	rm -f /var/log/xen/console/hvm1-serial.log
	mark
	if xengpu restore $F >/tmp/res.out 2>&1 &&
		guest_list_is "$GUEST_SEES_CARD0" hvm1-serial.log 120; then
		pass killed-save-recovered "recover finished the save; it restores with the card"
	else
		fail killed-save-recovered "the finished save did not restore: $(tail -n 2 /tmp/res.out | tr '\n' ' ')"
	fi
else
	fail killed-save-recovered "rc=$rc state $(card_json $GPU0 state); $(ls -l $F* 2>&1 | tr '\n' ' ')"
fi
xlt 60 destroy hvm1 2>/dev/null
