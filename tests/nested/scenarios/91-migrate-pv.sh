# xengpu migrate of a PV guest with a card (and xengpu-guest) to this
# very host, against real Xen.  Debian's Xen cannot live-migrate PV
# guests, so xengpu moves them cold: `xl save -p` into xl's migration
# protocol, the guest paused here until its copy runs there.
#   - the guest's agent refuses to let go: the guest keeps its card,
#     the destination keeps no reservation;
#   - the destination's reserved card is taken back behind xengpu's
#     back: the destination withholds "ready", the guest runs here again
#     (unpaused) with its card;
#   - a good migration: the guest runs with the other card, sees it, its
#     agent announced itself again and heard the plug; its old card is
#     back in the pool; the new card has the per-device options the old
#     one had (permissive=1 from the gpu spec);
#   - kill -9 of xengpu while xl saves, then `xengpu recover`: the guest
#     runs here again, unpaused, with its card; nothing stays half-done.
# timeout: 900
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu

local_ssh
settled() {
	[ "$(reservations)" = 0 ] && [ -z "$(ls $XENGPU_STATE_DIR/ops 2>/dev/null)" ] &&
		[ "$(xl list | grep -c pv1)" = 1 ]
}
running() { xl list pv1 | awk 'NR==2{print $5}' | grep -qv p; }
state() {
	echo "$(xl list | grep pv1 | awk '{print $1, $5}' | tr '\n' ' ')pci $(xl pci-list pv1 2>/dev/null | tail -n +2 | awk '{print $2}' | tr '\n' ' ')GPU0 $(card_json $GPU0 state) GPU1 $(card_json $GPU1 state) reservations $(reservations) ops: $(ls $XENGPU_STATE_DIR/ops 2>/dev/null | tr '\n' ' ')"
}

xengpu prepare $GPU1 >/dev/null 2>&1
sed 's/^extra = "\(.*\)"/extra = "\1 xengpu_agent=yes"/' /root/pv.cfg >/tmp/pv.cfg
echo "gpu = [ \"$GPU0,permissive=1\" ]" >>/tmp/pv.cfg
mark
check create-pv-with-card xengpu create /tmp/pv.cfg
check_guest pv-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 120
d=$(xl domid pv1)
wait_agent $d 60

# --- the destination cannot plug: the guest runs here again, with its card --
touch /tmp/sabotage
t=$(now)
timeout 400 xengpu migrate -s /tmp/local-ssh pv1 localhost >/tmp/m.out 2>&1
rc=$?
rm -f /tmp/sabotage
cat /tmp/m.out
if [ $rc = 1 ] && grep -q "is no longer prepared and reserved for domain pv1" /tmp/m.out &&
	settled && running && xl pci-list pv1 | grep -q "${GPU0#0000:}"; then
	pass pv-migrate-rolls-back "$(elapsed $t)s"
else
	fail pv-migrate-rolls-back "rc=$rc $(state): $(tail -n 3 /tmp/m.out | tr '\n' ' ')"
fi
xengpu prepare $GPU1 >/dev/null 2>&1

# --- the guest's agent refuses: nothing moves, nothing stays reserved -------
xenstore-write /local/domain/$d/data/xengpu-test/hook refuse
timeout 400 xengpu migrate -s /tmp/local-ssh --timeout 30 pv1 localhost >/tmp/m.out 2>&1
rc=$?
cat /tmp/m.out
if [ $rc = 1 ] && grep -q "busy: rendering a frame" /tmp/m.out && settled && running &&
	xl pci-list pv1 | grep -q "${GPU0#0000:}"; then
	pass pv-agent-refusal-keeps-guest "$(grep -m1 'busy' /tmp/m.out | cut -c1-110)"
else
	fail pv-agent-refusal-keeps-guest "rc=$rc $(state)"
fi
xenstore-write /local/domain/$d/data/xengpu-test/hook ok

# --- a good migration -------------------------------------------------------
mark
t=$(now)
timeout 400 xengpu migrate -s /tmp/local-ssh pv1 localhost >/tmp/m.out 2>&1
rc=$?
took=$(elapsed $t)
cat /tmp/m.out
if [ $rc = 0 ] && settled && running && xl pci-list pv1 | grep -q "${GPU1#0000:}" &&
	[ "$(card_json $GPU0 state)" = '"prepared"' ]; then
	pass pv-migrate-with-card "${took}s; $(grep -o 'without one for [0-9.]*s' /tmp/m.out)"
else
	fail pv-migrate-with-card "rc=$rc $(state): $(tail -n 4 /tmp/m.out | tr '\n' ' ')"
fi
check_guest_list migrated-pv-sees-card "$GUEST_SEES_CARD0" 'guest-pv1*.log' 120
d=$(xl domid pv1)
# libxl's backend keeps each function's options: opts-N "...permissive=1"
opts=$(for n in 0 1; do
	xenstore-read /local/domain/0/backend/pci/$d/0/dev-$n 2>/dev/null
	xenstore-read /local/domain/0/backend/pci/$d/0/opts-$n 2>/dev/null
done | tr '\n' ' ')
if echo "$opts" | grep -q "^${GPU1} " &&
	[ "$(echo "$opts" | grep -o 'permissive=1' | wc -l)" = 2 ]; then
	pass migrated-card-keeps-options "$opts"
else
	fail migrated-card-keeps-options "$opts"
fi
[ "$(xenstore-read /local/domain/$d/data/xengpu/agent 2>/dev/null)" = 1 ] &&
	pass pv-agent-announced-again || fail pv-agent-announced-again "no data/xengpu/agent"
check_guest pv-agent-heard-plugged "DOMU-AGENT: plugged finished" 60

# --- kill -9 while xl saves, then recover -----------------------------------
xengpu migrate -s /tmp/local-ssh pv1 localhost >/tmp/k.out 2>&1 &
pid=$!
i=0
until grep -q '"phase":"migrating"' $XENGPU_STATE_DIR/ops/*-*[0-9a-f].json 2>/dev/null ||
	[ $i -gt 600 ]; do
	usleep 100000
	i=$((i + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
i=0
while [ -n "$(pids_of "xengpu migrate-receive")" ] && [ $i -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done
xengpu recover >/tmp/r.out 2>&1
rc=$?
cat /tmp/k.out /tmp/r.out
if [ $rc = 0 ] && settled && running && xl pci-list pv1 | grep -q "${GPU1#0000:}" &&
	! xl list pv1--incoming >/dev/null 2>&1; then
	pass pv-killed-in-save-recovered "$(grep -m1 'runs here again' /tmp/r.out | cut -c1-100)"
else
	fail pv-killed-in-save-recovered "rc=$rc $(state)"
fi
timeout 60 xl destroy pv1
