# bench/attach, inside the nested dom0: attach + detach of one card to a
# running PV guest, xengpu versus stock xl doing the same functions,
# alternating, N rounds each.  Prints one BENCH line per tool.
. /mnt/share/lib.sh
N=${BENCH_ROUNDS:-8}
xengpu prepare $GPU0 >/dev/null 2>&1
cp /root/pv.cfg /tmp/pv.cfg
mark
xlt 120 create /tmp/pv.cfg >/dev/null 2>&1
waitfor "DOMU: up" 120 >/dev/null
# one untimed round of each to warm caches
xengpu attach pv1 $GPU0 >/dev/null 2>&1 && xengpu detach pv1 $GPU0 >/dev/null 2>&1
xl pci-attach pv1 $GPU0 2>/dev/null && xl pci-attach pv1 $AUD0 2>/dev/null &&
	xl pci-detach pv1 $AUD0 2>/dev/null && xl pci-detach pv1 $GPU0 2>/dev/null
tx=0 tl=0 bad=0
i=0
while [ $i -lt $N ]; do
	t=$(now)
	xengpu attach pv1 $GPU0 >/dev/null 2>&1 || bad=$((bad + 1))
	xengpu detach pv1 $GPU0 >/dev/null 2>&1 || bad=$((bad + 1))
	tx=$(awk -v a="$tx" -v b="$(elapsed $t)" 'BEGIN{print a + b}')
	t=$(now)
	xl pci-attach pv1 $GPU0 2>/dev/null || bad=$((bad + 1))
	xl pci-attach pv1 $AUD0 2>/dev/null || bad=$((bad + 1))
	xl pci-detach pv1 $AUD0 2>/dev/null || bad=$((bad + 1))
	xl pci-detach pv1 $GPU0 2>/dev/null || bad=$((bad + 1))
	tl=$(awk -v a="$tl" -v b="$(elapsed $t)" 'BEGIN{print a + b}')
	i=$((i + 1))
done
echo "BENCH rounds=$N xengpu=$tx xl=$tl failures=$bad" | tee -a /mnt/share/results
xlt 60 destroy pv1
