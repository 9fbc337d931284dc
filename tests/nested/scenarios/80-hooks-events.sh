# Hooks and events against real Xen: an admin's hook in
# /etc/xengpu/hooks.d gets each event as JSON on stdin; when it refuses
# an attach, the card stays where it was (prepared, not in the guest) and
# the refusal names the hook and its reason.  `xengpu events --follow
# --json`, started before, shows the refused attach, an attach and a
# detach as they happen.
# timeout: 400
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu

mkdir -p /etc/xengpu/hooks.d
chmod 755 /etc/xengpu /etc/xengpu/hooks.d
cat >/etc/xengpu/hooks.d/10-gate <<'HOOK'
#!/bin/sh
# Keeps what it was given; refuses attaches while /tmp/deny exists.
cat >>/tmp/hook.log
echo >>/tmp/hook.log
if [ "$XENGPU_EVENT/$XENGPU_PHASE" = attach/pre ] && [ -e /tmp/deny ]; then
	echo "maintenance window: no attaches until 10:00"
	exit 1
fi
exit 0
HOOK
chmod 755 /etc/xengpu/hooks.d/10-gate

xengpu events --follow --json >/tmp/follow.out 2>/tmp/follow.err &
follower=$!
xengpu prepare $GPU0 >/dev/null 2>&1
xlt 120 create /root/pv.cfg >/dev/null 2>&1
domid=$(xl domid pv1)

touch /tmp/deny
expect_refusal hook-refuses-attach 1 \
	"hook 10-gate refused: maintenance window: no attaches until 10:00" \
	xengpu attach pv1 $GPU0
if [ "$(card_json $GPU0 state)" = '"prepared"' ] && ! xl pci-list pv1 | grep -q "$GPU0"; then
	pass refused-card-where-it-was
else
	fail refused-card-where-it-was "state $(card_json $GPU0 state); $(xl pci-list pv1 | tr '\n' ' ')"
fi
rm /tmp/deny
check attach-after-hook-allows xengpu attach pv1 $GPU0
check detach-after-hook-allows xengpu detach pv1 $GPU0
if grep -q "\"kind\":\"attach\",\"phase\":\"pre\",\"card\":\"$GPU0\",\"domid\":$domid" /tmp/hook.log &&
	grep -q '"kind":"prepare","phase":"post"' /tmp/hook.log; then
	pass hook-gets-event-json "$(grep -c . /tmp/hook.log) events"
else
	head -n 5 /tmp/hook.log
	fail hook-gets-event-json "no attach/pre event for $GPU0 in domain $domid"
fi

sleep 1 # the follower looks at least every 200 ms
kill $follower
wait $follower 2>/dev/null
cat /tmp/follow.out
seq_of() { # KIND PHASE RESULT: the lines of the follower's output
	grep "\"kind\":\"$1\",\"phase\":\"$2\",\"card\":\"$GPU0\",\"domid\":$domid,.*\"result\":$3" /tmp/follow.out
}
if seq_of attach post '"failed","error":"hook 10-gate refused: maintenance' >/dev/null &&
	seq_of attach post '"ok"' >/dev/null && seq_of detach post '"ok"' >/dev/null &&
	[ "$(grep -c . /tmp/follow.out)" -ge 7 ]; then
	pass events-follow-shows-attach-and-detach "$(grep -c . /tmp/follow.out) events followed"
else
	fail events-follow-shows-attach-and-detach "$(grep -c . /tmp/follow.out) lines; $(cat /tmp/follow.err)"
fi
xengpu events --card $GPU0 | tail -n 4
n=$(xengpu events --card $GPU0 | grep -c "attach/post .*failed: hook 10-gate refused")
[ "$n" = 1 ] && pass events-text-names-refusal || fail events-text-names-refusal "$n lines"
rm -rf /etc/xengpu/hooks.d
