# Sourced by every scenario inside the nested dom0 (busybox sh).
#
# A scenario reports each check exactly once with `pass` or `fail`; the
# runner on the build machine counts those lines in /mnt/share/results.
# Command output goes to the serial console, which the runner keeps when
# a scenario fails.

RESULTS=/mnt/share/results
LOGD=/var/log/xen/console
GPU0=0000:01:00.0
AUD0=0000:01:00.1
GPU1=0000:02:00.0
AUD1=0000:02:00.1

ts() { echo "@@T $(cut -d' ' -f1 /proc/uptime) $*"; }
pass() { # NAME [DETAIL]
	local n=$1
	shift
	echo "@@PASS $n${*:+ ($*)}" | tee -a "$RESULTS"
}
fail() { # NAME REASON
	local n=$1
	shift
	echo "@@FAIL $n: $*" | tee -a "$RESULTS"
}

# run CMD...: echo the command and its status on the console.
run() {
	echo "# $*"
	"$@"
	local rc=$?
	echo "# rc=$rc"
	return $rc
}

# check NAME CMD...: one check that passes when CMD exits 0.
check() {
	local n=$1
	shift
	if run "$@" >/tmp/check.out 2>&1; then
		cat /tmp/check.out
		pass "$n"
	else
		cat /tmp/check.out
		fail "$n" "'$*' failed: $(grep -v '^# rc=' /tmp/check.out | tail -n 1)"
		return 1
	fi
}

# Every xl call is bounded: a wedged pcifront makes detach, save and
# destroy wait 10 s per backend, and a hung call must not eat the
# scenario's whole timeout.
xlt() { # SECONDS ARGS...
	local t=$1
	shift
	timeout "$t" xl "$@"
}

# Guest consoles: `mark` remembers where every log ends, `since` prints
# what was written after the mark, `waitfor` waits for a matching line.
mark() {
	for f in "$LOGD"/*.log; do
		[ -e "$f" ] && echo "$f $(wc -l <"$f")"
	done >/tmp/mark
}
since() {
	local f n
	for f in "$LOGD"/*.log; do
		[ -e "$f" ] || continue
		n=$(awk -v f="$f" '$1==f{print $2}' /tmp/mark 2>/dev/null)
		tail -n +$((${n:-0} + 1)) "$f"
	done
}
waitfor() { # PATTERN SECONDS
	local i=0
	while ! since | grep -q -- "$1"; do
		i=$((i + 1))
		[ $i -gt $(($2 * 4)) ] && {
			echo "# no guest console line matching '$1' after ${2}s"
			return 1
		}
		usleep 250000
	done
	echo "# guest: $(since | grep -- "$1" | tail -n 1)"
}
# check_guest NAME PATTERN SECONDS: a check that the guest printed PATTERN.
check_guest() {
	if waitfor "$2" "$3"; then
		pass "$1" "$(since | grep -- "$2" | tail -n 1 | sed 's/[^ -~]//g; s/.*\(DOMU\)/\1/' | cut -c1-120)"
	else
		fail "$1" "guest console shows no '$2' within $3s; last: $(since | tail -n 1 | cut -c1-120)"
		return 1
	fi
}

# What the guest's DOMU-PCI line shows when it holds one whole card.
GUEST_SEES_CARD0="0x1002:0x5046/0x030000 .*0x8086:0x2668/0x040300"
CARD_FN0="0x1002:0x5046"

# one_slot NAME: the guest's newest device list has the card's two
# functions in one slot, as .0 and .1.
one_slot() {
	local line s0 s1
	line=$(since | grep "DOMU-PCI" | tail -n 1)
	s0=$(echo "$line" | grep -o "0000:00:[0-9a-f][0-9a-f]\.0=$CARD_FN0" | cut -c9-10)
	s1=$(echo "$line" | grep -o "0000:00:[0-9a-f][0-9a-f]\.1=0x8086:0x2668" | cut -c9-10)
	if [ -n "$s0" ] && [ "$s0" = "$s1" ]; then
		pass "$1" "slot $s0"
	else
		fail "$1" "$line"
	fi
}

# check_guest_list NAME PATTERN LOGS SECONDS: the guest whose console
# logs are $LOGD/LOGS (a glob: a migrated guest's copy logs under
# NAME--incoming) has run since the mark, and its PCI list now matches
# PATTERN.  A guest prints its list (DOMU-PCI) only when it changes: one
# suspended right after it let its card go (a save, a cold migration)
# may never have printed the list without it, and prints nothing new
# when it gets the card back; it also prints its list every 5 s
# (DOMU-LIST).  So its newest list (by the uptime each line carries,
# which goes on across a migration), once it has run a few seconds
# after the mark, is its list.
check_guest_list() {
	if guest_list_is "$2" "$3" "$4"; then
		pass "$1" "$(echo "$GUEST_LIST" | cut -c1-100)"
		return 0
	fi
	fail "$1" "after ${4}s the guest's newest list is: $(echo "$GUEST_LIST" | cut -c1-120)"
	return 1
}

# guest_list_is PATTERN LOGS SECONDS: check_guest_list without a result
# line; the newest list is left in $GUEST_LIST.
guest_list_is() {
	local i=0
	sleep 3
	while :; do
		GUEST_LIST=$(for f in $LOGD/$2; do grep -a "DOMU-PCI \|DOMU-LIST " "$f" 2>/dev/null; done |
			sed -n 's/^.*\(DOMU-\(PCI\|LIST\) \[\)/\1/p' | sort -t'[' -k2 -n | tail -n 1)
		since_in "$2" && echo "$GUEST_LIST" | grep -q -- "$1" && return 0
		i=$((i + 1))
		[ $i -gt $(($3 * 4)) ] && return 1
		usleep 250000
	done
}

# since_in LOGS: some console log $LOGD/LOGS (a glob) grew since the mark.
since_in() {
	local f n
	for f in $LOGD/$1; do
		[ -e "$f" ] || continue
		n=$(awk -v f="$f" '$1==f{print $2}' /tmp/mark 2>/dev/null)
		[ "$(wc -l <"$f")" -gt "${n:-0}" ] && return 0
	done
	return 1
}

# check_guest_lost NAME PATTERN SECONDS: the guest's newest device list
# (since the mark) no longer contains PATTERN.  An HVM guest always lists
# its emulated devices, so "none" only works for PV.
check_guest_lost() {
	local i=0 last
	while :; do
		last=$(since | grep "DOMU-PCI" | tail -n 1)
		if [ -n "$last" ] && ! echo "$last" | grep -q -- "$2"; then
			pass "$1"
			return 0
		fi
		i=$((i + 1))
		[ $i -gt $(($3 * 4)) ] && break
		usleep 250000
	done
	if [ -n "$last" ]; then
		fail "$1" "guest still lists '$2' after $3s"
	else
		fail "$1" "guest printed no device list in $3s (hung?)"
	fi
	return 1
}

# driver NAME BDF: the dom0 driver bound to BDF, or "none".
driver_of() {
	local l
	l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) || {
		echo none
		return
	}
	echo "${l##*/}"
}

now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b - a}'; }

# expect_refusal NAME EXIT PATTERN CMD...: CMD exits EXIT and prints a
# line matching PATTERN (the refusal names the thing and the fix).
expect_refusal() {
	local n=$1 want=$2 pat=$3
	shift 3
	"$@" >/tmp/r.out 2>&1
	local rc=$?
	if [ $rc = "$want" ] && grep -q -- "$pat" /tmp/r.out; then
		pass "$n" "$(grep -- "$pat" /tmp/r.out | head -n 1 | cut -c1-150)"
	else
		fail "$n" "rc=$rc (want $want), output: $(head -n 3 /tmp/r.out | tr '\n' ' ')"
	fi
}

# card_json CARD KEY: the card-level "state", "domain", "iommu_isolated"
# ... of CARD, from `xengpu show --json`.
card_json() {
	xengpu show --json "$1" | tr -d ' \n' |
		sed -n "s/.*\"$2\":\(\"[a-z]*\"\|null\|true\|false\|[0-9]*\)[,}].*/\1/p"
}

# pids_of PATTERN: the processes whose command line (arguments joined by
# spaces) contains PATTERN (busybox here has no pgrep).  Never this shell.
pids_of() {
	local p c
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		case $c in *"$1"*) echo "${p#/proc/}" ;; esac
	done
}

# How many cards are reserved for incoming migrations.
reservations() { xenstore-list /xengpu/reserved 2>/dev/null | wc -l; }

# wait_port HOST PORT SECONDS: until something listens there.
wait_port() {
	local i=0
	until socat -u OPEN:/dev/null "TCP:$1:$2" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt "$3" ] && return 1
		sleep 1
	done
}

# wait_agent DOMID SECONDS: until the domain's agent announced itself.
wait_agent() {
	local i=0
	until [ "$(xenstore-read /local/domain/$1/data/xengpu/agent 2>/dev/null)" = 1 ]; do
		i=$((i + 1))
		[ $i -gt $(($2 * 4)) ] && return 1
		usleep 250000
	done
}

# /tmp/local-ssh: "ssh" to this very host for `xengpu migrate -s`: drop
# the host name, run the rest.  With /tmp/sabotage, an incoming
# migration first hands card 1 back to dom0 (the reserved card is gone);
# with /tmp/slow-finish, `finish` waits 60 s before it starts.
local_ssh() {
	cat >/tmp/local-ssh <<SH
#!/bin/sh
shift
case "\$*" in *" incoming "*) [ -e /tmp/sabotage ] &&
	xl pci-assignable-remove -r $AUD1 && xl pci-assignable-remove -r $GPU1 ;;
*" finish "*) [ -e /tmp/slow-finish ] && sleep 60 ;;
esac
exec "\$@"
SH
	chmod +x /tmp/local-ssh
}

# /tmp/sock-ssh HOST COMMAND...: "ssh" between the two hosts: the command
# line, then the stream, to serve_rsh's listener on HOST; -t: after one
# direction ends, wait for the other.
sock_ssh() {
	cat >/tmp/sock-ssh <<'SH'
#!/bin/sh
host=$1
shift
{ printf '%s\n' "$*"; exec cat; } | exec socat -t 3600 -b 262144 - TCP:$host:8010
SH
	chmod +x /tmp/sock-ssh
}

# serve_rsh: the other end of sock-ssh, in the background: run each
# connection's first line, the stream its stdin and stdout, its stderr
# to /tmp/rsh.log.
serve_rsh() {
	cat >/tmp/rsh-server <<'SH'
#!/bin/sh
read -r line
echo "$(date +%T) $line" >>/tmp/rsh.log
exec sh -c "$line" 2>>/tmp/rsh.log
SH
	chmod +x /tmp/rsh-server
	socat -t 3600 -b 262144 TCP-LISTEN:8010,reuseaddr,fork EXEC:/tmp/rsh-server &
}
