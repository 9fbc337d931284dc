# xengpu prepare/release/recover (through the privileged xengpu-pciback)
# against the real kernel, pciback and libxl: prepare and
# release whole cards, refusals, interop with xl in both directions, and
# kill -9 at varied moments of a prepare followed by recover.
# timeout: 420
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu
CONF=/etc/modprobe.d/xengpu-pciback.conf
mkdir -p /etc/modprobe.d

# on_pciback BDF...: every one is bound to pciback
on_pciback() {
	for f in "$@"; do [ "$(driver_of $f)" = pciback ] || return 1; done
}
journal_empty() { [ -z "$(ls $XENGPU_STATE_DIR/journal 2>/dev/null)" ]; }

# --- prepare card 0 -------------------------------------------------------
check prepare xengpu prepare $GPU0
xl pci-assignable-list >/tmp/al 2>&1
if on_pciback $GPU0 $AUD0 && grep -q "^$GPU0" /tmp/al && grep -q "^$AUD0" /tmp/al &&
	journal_empty; then
	pass prepare-both-functions "pciback, xl pci-assignable-list lists both"
else
	cat /tmp/al
	fail prepare-both-functions "$GPU0=$(driver_of $GPU0) $AUD0=$(driver_of $AUD0)"
fi
if grep -q "snd_hda_intel" "$XENGPU_STATE_DIR/cards/$GPU0.json" &&
	grep -q "hide=($GPU0)($AUD0)" $CONF && grep -q 'softdep snd_hda_intel pre: xen-pciback' $CONF
then
	pass prepare-recorded "original driver recorded, boot config written"
else
	cat "$XENGPU_STATE_DIR/cards/$GPU0.json" $CONF
	fail prepare-recorded "card record or $CONF lacks the card"
fi
check prepare-again-is-noop xengpu-pciback prepare 01:00.1

vga_drv=$(driver_of 0000:00:02.0)
expect_refusal refuse-boot-vga 1 "boot VGA" xengpu prepare 0000:00:02.0
[ "$(driver_of 0000:00:02.0)" = "$vga_drv" ] && pass boot-vga-untouched ||
	fail boot-vga-untouched "00:02.0 moved from $vga_drv to $(driver_of 0000:00:02.0)"
expect_refusal refuse-no-card 1 "no GPU card at 0000:07:00.0" xengpu-pciback prepare 0000:07:00.0
expect_refusal refuse-bad-address 2 "not a PCI address" xengpu-pciback prepare "01:00.0/../../x"
expect_refusal refuse-unknown-request 2 "unknown request" xengpu-pciback bind $GPU0

# --- release refused while a guest holds the card -------------------------
cp /root/pv.cfg /tmp/pv.cfg
echo "pci = [ '$GPU0', '$AUD0' ]" >>/tmp/pv.cfg
mark
xlt 120 create /tmp/pv.cfg >/dev/null 2>&1
waitfor "DOMU-PCI.*$GUEST_SEES_CARD0" 120 >/dev/null
domid=$(xl domid pv1)
expect_refusal release-refused-while-assigned 1 "held by domain $domid" xengpu-pciback release $GPU0
on_pciback $GPU0 $AUD0 && pass release-refusal-kept-card || fail release-refusal-kept-card "card moved"
xlt 60 destroy pv1

# --- release ----------------------------------------------------------------
check release xengpu release $GPU0
if [ "$(driver_of $AUD0)" = snd_hda_intel ] && [ "$(driver_of $GPU0)" = none ] &&
	! xl pci-assignable-list 2>/dev/null | grep -q "^$GPU0" && journal_empty &&
	[ ! -e "$XENGPU_STATE_DIR/cards/$GPU0.json" ] && [ ! -e $CONF ]; then
	pass release-gives-back "audio on snd_hda_intel, gpu unbound, config removed"
else
	fail release-gives-back "$GPU0=$(driver_of $GPU0) $AUD0=$(driver_of $AUD0)"
fi

# --- interop: xl made it assignable, xengpu releases it; and the reverse ---
xlt 30 pci-assignable-add $GPU1 && xlt 30 pci-assignable-add $AUD1
if xengpu list --json | grep -q '"bdf": *"0000:02:00.0"[^]]*' && xengpu show $GPU1 2>&1 | grep -qi prepared; then
	pass xl-prepared-shows-prepared
else
	xengpu show $GPU1
	fail xl-prepared-shows-prepared "xengpu does not report the xl-assignable card as prepared"
fi
check release-xl-prepared xengpu-pciback release $GPU1
[ "$(driver_of $AUD1)" = snd_hda_intel ] && pass release-xl-prepared-driver ||
	fail release-xl-prepared-driver "$AUD1 on $(driver_of $AUD1)"
xengpu-pciback prepare $GPU1 >/dev/null 2>&1
xlt 30 pci-assignable-remove -r $AUD1
xlt 30 pci-assignable-remove -r $GPU1
[ "$(driver_of $AUD1)" = snd_hda_intel ] && pass xl-remove-of-xengpu-prepared ||
	fail xl-remove-of-xengpu-prepared "$AUD1 on $(driver_of $AUD1) after xl pci-assignable-remove -r"
xengpu-pciback release $GPU1 >/dev/null 2>&1 # drop xengpu's record

# --- kill -9 during prepare, then recover ----------------------------------
bad=0 hit=0
for delay in 0.02 0.04 0.06 0.08 0.1 0.12 0.14 0.16 0.18 0.2 0.22 0.24 0.26 0.28 0.3 0.35 0.4 0.5; do
	xengpu-pciback prepare $GPU0 >/dev/null 2>&1 &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	journal_empty || hit=$((hit + 1))
	xengpu recover >/tmp/rec.out 2>&1 || { cat /tmp/rec.out; bad=$((bad + 1)); }
	a=$(driver_of $GPU0) b=$(driver_of $AUD0)
	if journal_empty && { [ "$a/$b" = pciback/pciback ] || [ "$a/$b" = none/snd_hda_intel ]; }; then
		:
	else
		echo "after kill at ${delay}s and recover: $GPU0=$a $AUD0=$b"
		ls $XENGPU_STATE_DIR/journal
		bad=$((bad + 1))
	fi
	# back to the start for the next round
	xengpu-pciback release $GPU0 >/dev/null 2>&1
done
if [ $bad = 0 ]; then
	pass killed-prepare-recovered "18 kills, $hit mid-operation, all whole after recover"
else
	fail killed-prepare-recovered "$bad of 18 rounds left the card half-bound or recover failed"
fi
