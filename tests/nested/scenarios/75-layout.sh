# The MMIO hole of HVM guests against real hvmloader: a card with a
# 512 MiB 32-bit BAR (secondary-vga, 04:00.0).  With mmio_hole = 256 the
# real hvmloader leaves that BAR unprogrammed ("no space for resource");
# xengpu create computes the hole the card needs when the config sets
# none, and xengpu attach refuses the card to a running guest whose hole
# is too small, before anything is plugged.
# timeout: 900
# big-card: 512
. /mnt/share/lib.sh
export XENGPU_STATE_DIR=/var/lib/xengpu
BIG=0000:04:00.0
xengpu prepare $BIG >/dev/null 2>&1

# --- attach refused: the running guest's hole is too small ----------------
sed 's/^name = .*/name = "small"/' /root/hvm.cfg >/tmp/small.cfg
echo 'mmio_hole = 256' >>/tmp/small.cfg
xlt 120 create /tmp/small.cfg >/dev/null 2>&1
expect_refusal attach-refused-hole-too-small 1 \
	"domain [0-9]*'s MMIO hole is too small: card $BIG: BAR 0 of $BIG (512 MiB, 32-bit) finds no room below 4 GiB with mmio_hole = 256 .*; use mmio_hole = 1024" \
	xengpu attach small $BIG
if [ "$(card_json $BIG state)" = '"prepared"' ] && ! xl pci-list small | grep -q 04:00; then
	pass refused-card-stays-prepared
else
	fail refused-card-stays-prepared "state $(card_json $BIG state); $(xl pci-list small | tr '\n' ' ')"
fi
xlt 30 destroy small

# --- create computes the hole ---------------------------------------------
cp /root/hvm.cfg /tmp/big.cfg
echo "gpu = [ \"$BIG\" ]" >>/tmp/big.cfg
xengpu create --dry-run /tmp/big.cfg >/tmp/dry.out 2>&1
hole=$(sed -n 's/^mmio_hole = \([0-9]*\)$/\1/p' /tmp/dry.out)
if [ -n "$hole" ] && [ "$hole" -ge 1024 ]; then
	pass create-computes-hole "mmio_hole = $hole"
else
	fail create-computes-hole "$(tr '\n' ' ' </tmp/dry.out)"
fi
mark
check create-big xengpu create /tmp/big.cfg
kb=$(xl list -l hvm1 | sed -n 's/.*"mmio_hole_memkb": \([0-9]*\).*/\1/p')
[ "$kb" = $((hole * 1024)) ] && pass guest-has-computed-hole "mmio_hole_memkb $kb" ||
	fail guest-has-computed-hole "mmio_hole_memkb '$kb', want $((hole * 1024))"
check_guest big-guest-sees-card "DOMU-PCI.*0x1234:0x1111/0x038000" 420
placed=$(xl dmesg | grep "(d[0-9]*) pci dev .* bar 10 size 020000000" | tail -n 1)
case $placed in
*"no space"* | "") fail hvmloader-placed-big-bar "'$placed'" ;;
*) pass hvmloader-placed-big-bar "${placed#*) }" ;;
esac
xlt 30 destroy hvm1
