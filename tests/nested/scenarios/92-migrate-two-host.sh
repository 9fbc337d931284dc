# xengpu migrate between two hosts: host a live-migrates an HVM guest
# holding its card (and running xengpu-guest) to host b over a socat
# "ssh" (-s); b picks and plugs a card of its own.  Proves, on both real
# hypervisors: the guest's agent let go on a; a keeps no domain, no
# reservation and no journal, its card back in its pool; on b the guest
# runs with a card it sees, its agent announced itself again (a migrated
# guest starts with an empty data/ directory) and heard the plug.
# hosts: 2
# timeout: 900
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu
A=$XENGPU_PEER_A
B=$XENGPU_PEER_B
journals() { ls $XENGPU_STATE_DIR/ops 2>/dev/null | tr '\n' ' '; }

if [ "$XENGPU_HOST" = a ]; then
	sock_ssh
	sed 's/^extra = "\(.*\)"/extra = "\1 xengpu_agent=yes"/' /root/hvm.cfg >/tmp/hvm.cfg
	echo "gpu = [ \"$GPU0\" ]" >>/tmp/hvm.cfg
	mark
	check a-create-hvm-with-card xengpu create /tmp/hvm.cfg
	check_guest a-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 420
	wait_agent "$(xl domid hvm1)" 120
	check a-peer-ready wait_port $B 8010 300
	mark
	t=$(now)
	timeout 600 xengpu migrate -s /tmp/sock-ssh --timeout 60 hvm1 $B >/tmp/m.out 2>&1
	rc=$?
	took=$(elapsed $t)
	cat /tmp/m.out
	if [ $rc = 0 ] && ! xl list hvm1 >/dev/null 2>&1; then
		pass a-migrate-to-b "${took}s; $(grep -o 'without one for [0-9.]*s' /tmp/m.out)"
	else
		fail a-migrate-to-b "rc=$rc: $(tail -n 4 /tmp/m.out | tr '\n' ' ')"
	fi
	if since | grep -q "DOMU-AGENT: release finished" &&
		since | grep -q "DOMU-HOOK: 90-last release"; then
		pass a-agent-released "$(since | grep -m1 'DOMU-HOOK: 10-first release' | sed 's/.*DOMU/DOMU/')"
	else
		fail a-agent-released "the guest's agent did not run its release hooks on a"
	fi
	if [ "$(card_json $GPU0 state)" = '"prepared"' ] && [ "$(reservations)" = 0 ] &&
		[ -z "$(journals)" ]; then
		pass a-card-back-in-pool
	else
		fail a-card-back-in-pool "GPU0 $(card_json $GPU0 state), reservations $(reservations), ops: $(journals)"
	fi
	echo done | socat -u - TCP:$B:8011 2>/dev/null
else
	mark
	serve_rsh
	timeout 800 socat -u TCP-LISTEN:8011,reuseaddr OPEN:/tmp/a-done,creat
	cat /tmp/rsh.log
	d=$(xl domid hvm1 2>/dev/null)
	if [ -n "$d" ] && xl pci-list hvm1 | grep -q "00.0"; then
		pass b-guest-runs-with-card "$(xl pci-list hvm1 | tail -n +2 | awk '{print $2}' | tr '\n' ' ')"
	else
		fail b-guest-runs-with-card "hvm1 ${d:-not running} on b: $(xl pci-list hvm1 2>&1 | tr '\n' ' ')"
	fi
	check_guest b-guest-sees-card "DOMU-PCI.*$GUEST_SEES_CARD0" 120
	if [ "$(xenstore-read /local/domain/$d/data/xengpu/agent 2>/dev/null)" = 1 ]; then
		pass b-agent-announced-again
	else
		fail b-agent-announced-again "no data/xengpu/agent for hvm1 on b"
	fi
	check_guest b-agent-heard-plugged "DOMU-AGENT: plugged finished" 60
	# The card b chose is assigned to the guest, by its domain id.
	bdf=$(xl pci-list hvm1 2>/dev/null | awk 'NR==2{print $2}')
	if [ "$(reservations)" = 0 ] && [ -z "$(journals)" ] && [ -n "$bdf" ] &&
		[ "$(card_json $bdf state)" = '"assigned"' ] &&
		[ "$(card_json $bdf domain)" = "$d" ]; then
		pass b-committed "card $bdf assigned to domain $d"
	else
		fail b-committed "reservations $(reservations), ops: $(journals), card '$bdf' $(card_json $bdf state) domain $(card_json $bdf domain)"
	fi
	timeout 60 xl destroy hvm1
fi
