# Sourced by tests/nested/run and tests/nested/demo: start a nested Xen host
# in QEMU (TCG) and stop it again.  Bash only.
#
# The host: q35 with an emulated Intel IOMMU (interrupt remapping on), Xen
# 4.17 with a PV dom0, and two GPU-like cards, each behind its own PCIe
# root port: 01:00.0 / 02:00.0 are ati-vga display functions and .1 an
# intel-hda "HDMI audio" function in the same slot.  dom0's console is an
# emulated std VGA on the root bus, so neither card is the boot VGA.  A
# third, single-function ati-vga sits behind a PCIe-to-PCI bridge beside
# an e1000 NIC: conventional PCI has no ACS, so that card is not isolated
# (both share the bridge's requester id) and is what refusals are tested
# on.  The NIC's network is QEMU's user mode, restricted: no traffic
# leaves QEMU.

NESTED_IMG=${XENGPU_NESTED_OUT:-$TOP/build/nested}

# Xen needs smap=0 under TCG with -cpu max (dom0 dies on its first bounce
# otherwise); see shared/nested-xen.md.
XEN_CMDLINE="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all
dom0_mem=1024M,max:1024M dom0_max_vcpus=1 iommu=verbose smap=0"

# host_start NAME SCENARIO SHAREDIR LOG [QEMU ARGS...]
# Starts QEMU in its own session (so the whole group can be killed) and
# sets HOST_PID_<NAME>.  dom0 runs /mnt/share/scenarios/SCENARIO.sh.
host_start() {
	local name=$1 scenario=$2 share=$3 log=$4
	shift 4
	local dom0="console=hvc0 earlyprintk=xen loglevel=5 xtest=$scenario"
	dom0="$dom0 xhost=$name ${XENGPU_DOM0_ARGS:-}"
	case $name in
	b) dom0="$dom0 xip=10.0.0.2" ;;
	a) [ "${NESTED_NET:-0}" = 1 ] && dom0="$dom0 xip=10.0.0.1" ;;
	esac
	local card="-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x4
	-device ati-vga,bus=rp1,addr=00.0,multifunction=on
	-device intel-hda,bus=rp1,addr=00.1
	-device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=0x5
	-device ati-vga,bus=rp2,addr=00.0,multifunction=on
	-device intel-hda,bus=rp2,addr=00.1
	-device pcie-pci-bridge,id=pb,bus=pcie.0,addr=0x6
	-device ati-vga,bus=pb,addr=01.0
	-device e1000,bus=pb,addr=02.0,netdev=nnic
	-netdev user,id=nnic,restrict=on"
	# A display card with one large 32-bit BAR (vram, at most 512 MiB in
	# QEMU) at 04:00.0, for the MMIO hole scenarios.
	[ -n "${NESTED_BIG_CARD:-}" ] && card="$card
	-device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,addr=0x7
	-device secondary-vga,bus=rp3,addr=00.0,vgamem_mb=$NESTED_BIG_CARD"
	# shellcheck disable=SC2086
	setsid /usr/bin/time -v -o "$log.time" \
		qemu-system-x86_64 -accel tcg -machine q35,kernel-irqchip=split \
		-cpu max -smp 2 -m "${NESTED_MEM:-2048}" \
		-device intel-iommu,intremap=on \
		-display none -monitor none -serial "file:$log" -no-reboot \
		-device VGA,bus=pcie.0,addr=0x2 \
		-net none $card \
		-virtfs "local,path=$share,mount_tag=share,security_model=none,id=fs0" \
		-kernel "$NESTED_IMG/xen" \
		-append "$(echo $XEN_CMDLINE ${NESTED_XEN_ARGS:-})" \
		-initrd "$NESTED_IMG/vmlinuz ${dom0//,/,,},$NESTED_IMG/dom0.cpio.gz" \
		"$@" </dev/null >"$log.qemu" 2>&1 &
	eval "HOST_PID_$name=$!"
}

# host_kill NAME: kill the host's whole process group (QEMU and time).
host_kill() {
	local name=$1 pid
	eval "pid=\${HOST_PID_$name:-}"
	[ -n "$pid" ] || return 0
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	eval "HOST_PID_$name="
}

# host_wait NAME DEADLINE(epoch s): wait for the host to power itself off;
# returns 1 (and kills it) when the deadline passes first.
host_wait() {
	local name=$1 deadline=$2 pid
	eval "pid=\${HOST_PID_$name:-}"
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			host_kill "$name"
			return 1
		fi
		sleep 1
	done
	wait "$pid" 2>/dev/null
	eval "HOST_PID_$name="
	return 0
}

# host_net_args NAME: the socket network linking host a (listens) and b.
host_net_args() {
	local port=${NESTED_NET_PORT:-7010}
	case $1 in
	a) echo "-netdev socket,id=n0,listen=127.0.0.1:$port -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01" ;;
	b) echo "-netdev socket,id=n0,connect=127.0.0.1:$port -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02" ;;
	esac
}
