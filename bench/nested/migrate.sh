# bench/migrate, inside the nested dom0: live migration to this same host
# of an HVM guest that holds a card, `xengpu migrate` versus an admin
# doing it by hand with stock xl (pci-detach each function, xl migrate,
# pci-attach each function), alternating, N rounds each.  Also the
# guest's time without a card.  Prints one BENCH line.
. /mnt/share/lib.sh
N=${BENCH_ROUNDS:-2}
export XENGPU_STATE_DIR=/var/lib/xengpu
printf '#!/bin/sh\nshift\nexec "$@"\n' >/tmp/local-ssh
chmod +x /tmp/local-ssh
xengpu prepare $GPU0 >/dev/null 2>&1
xengpu prepare $GPU1 >/dev/null 2>&1
cp /root/hvm.cfg /tmp/hvm.cfg
echo "gpu = [ \"$GPU0\" ]" >>/tmp/hvm.cfg
mark
xengpu create /tmp/hvm.cfg >/dev/null 2>&1
waitfor "DOMU-PCI.*$GUEST_SEES_CARD0" 420 >/dev/null
tx=0 tl=0 gx=0 gl=0 bad=0 i=0
add() { awk -v a="$1" -v b="$2" 'BEGIN{print a + b}'; }
while [ $i -lt $N ]; do
	t=$(now)
	xengpu migrate -s /tmp/local-ssh hvm1 localhost >/tmp/m.out 2>&1 || bad=$((bad + 1))
	tx=$(add "$tx" "$(elapsed $t)")
	gx=$(add "$gx" "$(sed -n 's/.*without one for \([0-9.]*\)s.*/\1/p' /tmp/m.out)")
	# by hand: the card xengpu just plugged in
	card=$(xl pci-list hvm1 | awk 'NR > 1 && $2 ~ /\.0$/ {print $2; exit}')
	t=$(now)
	xl pci-detach hvm1 "${card%.0}.1" 2>/dev/null || bad=$((bad + 1))
	xl pci-detach hvm1 "$card" 2>/dev/null || bad=$((bad + 1))

	xl migrate -s "" hvm1 "xl migrate-receive" >/dev/null 2>&1 || bad=$((bad + 1))
	xl pci-attach hvm1 "$card" 2>/dev/null || bad=$((bad + 1))
	xl pci-attach hvm1 "${card%.0}.1" 2>/dev/null || bad=$((bad + 1))
	gl=$(add "$gl" "$(elapsed $t)")
	tl=$(add "$tl" "$(elapsed $t)")
	i=$((i + 1))
done
echo "BENCH rounds=$N xengpu=$tx xl=$tl gapx=$gx gapl=$gl failures=$bad" | tee -a /mnt/share/results
xlt 60 destroy hvm1
