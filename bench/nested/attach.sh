# bench/attach, inside the nested dom0: attach + detach of one card to a
# running PV guest (GUEST=hvm: an HVM guest whose device model lets
# xengpu put the card in one slot), xengpu versus stock xl doing the
# same functions, alternating, N rounds each.  Prints one BENCH line.
. /mnt/share/lib.sh
N=${BENCH_ROUNDS:-8}
GUEST=${GUEST:-pv}
xengpu prepare $GPU0 >/dev/null 2>&1
mark
if [ "$GUEST" = hvm ]; then
	cp /root/hvm.cfg /tmp/g.cfg
	echo 'device_model_args_hvm = [ "-global", "xen-pci-passthrough.multifunction=on" ]' >>/tmp/g.cfg
	g=hvm1
else
	cp /root/pv.cfg /tmp/g.cfg
	g=pv1
fi
xlt 120 create /tmp/g.cfg >/dev/null 2>&1
waitfor "DOMU: up" 420 >/dev/null
# one untimed round of each to warm caches
xengpu attach $g $GPU0 >/dev/null 2>&1 && xengpu detach $g $GPU0 >/dev/null 2>&1
xl pci-attach $g $GPU0 2>/dev/null && xl pci-attach $g $AUD0 2>/dev/null &&
	xl pci-detach $g $AUD0 2>/dev/null && xl pci-detach $g $GPU0 2>/dev/null
tx=0 tl=0 bad=0
i=0
while [ $i -lt $N ]; do
	t=$(now)
	xengpu attach $g $GPU0 >/dev/null 2>&1 || bad=$((bad + 1))
	xengpu detach $g $GPU0 >/dev/null 2>&1 || bad=$((bad + 1))
	tx=$(awk -v a="$tx" -v b="$(elapsed $t)" 'BEGIN{print a + b}')
	t=$(now)
	xl pci-attach $g $GPU0 2>/dev/null || bad=$((bad + 1))
	xl pci-attach $g $AUD0 2>/dev/null || bad=$((bad + 1))
	xl pci-detach $g $AUD0 2>/dev/null || bad=$((bad + 1))
	xl pci-detach $g $GPU0 2>/dev/null || bad=$((bad + 1))
	tl=$(awk -v a="$tl" -v b="$(elapsed $t)" 'BEGIN{print a + b}')
	i=$((i + 1))
done
echo "BENCH rounds=$N xengpu=$tx xl=$tl failures=$bad" | tee -a /mnt/share/results
xlt 60 destroy $g
