# bench/migrate, inside the nested dom0: live migration to this same host
# of an HVM guest that holds a card, `xengpu migrate` versus an admin
# doing it by hand with stock xl (pci-detach each function, xl migrate,
# pci-attach each function), alternating, N rounds each.  Also the
# guest's time without a card and its pause.  Prints one BENCH line.
. /mnt/share/lib.sh
N=${BENCH_ROUNDS:-2}
export XENGPU_STATE_DIR=/var/lib/xengpu
local_ssh
xengpu prepare $GPU0 >/dev/null 2>&1
xengpu prepare $GPU1 >/dev/null 2>&1
cp /root/hvm.cfg /tmp/hvm.cfg
echo "gpu = [ \"$GPU0\" ]" >>/tmp/hvm.cfg
mark
xengpu create /tmp/hvm.cfg >/dev/null 2>&1
waitfor "DOMU-PCI.*$GUEST_SEES_CARD0" 420 >/dev/null
tx=0 tl=0 gx=0 gl=0 px=0 pl=0 bad=0 i=0
add() { awk -v a="$1" -v b="$2" 'BEGIN{print a + b}'; }

# The guest's pause, seen from dom0: from when `xl list` first shows the
# source domain (id OLD) suspended, paused or gone, until a domain hvm1
# with another id runs.  Polled as fast as xl list goes (~0.1 s under
# TCG), the same way for both methods; the result goes to /tmp/pause.
pause_watch() { # OLD
	local old=$1 stop= t l st end
	end=$(awk -v t="$(now)" 'BEGIN{print t + 300}')
	: >/tmp/pause
	while awk -v t="$(now)" -v e="$end" 'BEGIN{exit !(t < e)}'; do
		t=$(now)
		l=$(xl list 2>/dev/null)
		if [ -z "$stop" ]; then
			st=$(echo "$l" | awk -v d="$old" '$2 == d {print $5}')
			case $st in "" | *s* | *p*) stop=$t ;; esac
		else
			st=$(echo "$l" | awk -v d="$old" '$1 == "hvm1" && $2 != d {print $5}')
			case $st in "" | *s* | *p*) ;; *)
				awk -v a="$stop" -v b="$t" 'BEGIN{printf "%.2f", b - a}' >/tmp/pause
				return ;;
			esac
		fi
	done
}
while [ $i -lt $N ]; do
	pause_watch "$(xl domid hvm1)" &
	t=$(now)
	xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/m.out 2>&1 || bad=$((bad + 1))
	tx=$(add "$tx" "$(elapsed $t)")
	wait
	px=$(add "$px" "$(cat /tmp/pause)")
	gx=$(add "$gx" "$(sed -n 's/.*without one for \([0-9.]*\)s.*/\1/p' /tmp/m.out)")
	# by hand: the card xengpu just plugged in
	card=$(xl pci-list hvm1 | awk 'NR > 1 && $2 ~ /\.0$/ {print $2; exit}')
	t=$(now)
	xl pci-detach hvm1 "${card%.0}.1" 2>/dev/null || bad=$((bad + 1))
	xl pci-detach hvm1 "$card" 2>/dev/null || bad=$((bad + 1))

	pause_watch "$(xl domid hvm1)" &
	xl migrate -s "" hvm1 "xl migrate-receive" >/dev/null 2>&1 || bad=$((bad + 1))
	xl pci-attach hvm1 "$card" 2>/dev/null || bad=$((bad + 1))
	xl pci-attach hvm1 "${card%.0}.1" 2>/dev/null || bad=$((bad + 1))
	gl=$(add "$gl" "$(elapsed $t)")
	tl=$(add "$tl" "$(elapsed $t)")
	wait
	pl=$(add "$pl" "$(cat /tmp/pause)")
	i=$((i + 1))
done
echo "BENCH rounds=$N xengpu=$tx xl=$tl gapx=$gx gapl=$gl pausex=$px pausel=$pl failures=$bad" | tee -a /mnt/share/results
xlt 60 destroy hvm1
