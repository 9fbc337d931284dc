# bench/save, inside the nested dom0: save + restore of a PV guest that
# holds a card, `xengpu save` + `xengpu restore` versus an admin doing
# the same by hand with stock xl (pci-detach each function, save,
# restore, pci-attach each function), alternating, N rounds each.
# Prints one BENCH line.
. /mnt/share/lib.sh
N=${BENCH_ROUNDS:-3}
export XENGPU_STATE_DIR=/var/lib/xengpu
xengpu prepare $GPU0 >/dev/null 2>&1
cp /root/pv.cfg /tmp/pv.cfg
mark
xlt 120 create /tmp/pv.cfg >/dev/null 2>&1
waitfor "DOMU: up" 120 >/dev/null
xengpu attach pv1 $GPU0 >/dev/null 2>&1
tx=0 tl=0 bad=0 i=0
while [ $i -lt $N ]; do
	t=$(now)
	xengpu save pv1 /tmp/x.save >/dev/null 2>&1 || bad=$((bad + 1))
	xengpu restore /tmp/x.save >/dev/null 2>&1 || bad=$((bad + 1))
	tx=$(awk -v a="$tx" -v b="$(elapsed $t)" 'BEGIN{print a + b}')
	rm -f /tmp/x.save
	t=$(now)
	xl pci-detach pv1 $AUD0 2>/dev/null || bad=$((bad + 1))
	xl pci-detach pv1 $GPU0 2>/dev/null || bad=$((bad + 1))
	xl save pv1 /tmp/l.save >/dev/null 2>&1 || bad=$((bad + 1))
	xl restore /tmp/l.save >/dev/null 2>&1 || bad=$((bad + 1))
	xl pci-attach pv1 $GPU0 2>/dev/null || bad=$((bad + 1))
	xl pci-attach pv1 $AUD0 2>/dev/null || bad=$((bad + 1))
	tl=$(awk -v a="$tl" -v b="$(elapsed $t)" 'BEGIN{print a + b}')
	rm -f /tmp/l.save
	i=$((i + 1))
done
echo "BENCH rounds=$N xengpu=$tx xl=$tl failures=$bad" | tee -a /mnt/share/results
xlt 60 destroy pv1
