#!/bin/bash
# vm-run.sh [options] [--] COMMAND [ARG...]
#
# Boot the patched kernel under QEMU, run COMMAND as root in the guest (in
# the current directory, which the guest sees at the same path through the
# host's root filesystem, read-only), and return its exit status.
#
#   -f, --flavor F    kernel flavor: default, debug or kcsan ($KERNEL_FLAVOR)
#   -k, --kernel IMG  boot this bzImage instead of the flavor's
#   -b, --kbuild DIR  boot the kernel and load the modules of this build
#                     folder (e.g. build/first-4/kbuild-default)
#   -t, --timeout S   fail the run after S seconds (default 900)
#   -l, --log FILE    keep the guest console here (default build/vm/console.log)
#   -m, --mem MB      guest memory (default 2048)
#   -c, --cpus N      virtual CPUs (default 2)
#   -d, --icount N    deterministic guest time: QEMU's -icount shift=N,
#                     sleep=off makes guest time a function of the
#                     instructions run (2^N ns each), not of the host's
#                     load; benchmark ratios then repeat to 0.1%
#   -i, --iommu intel an emulated Intel VT-d IOMMU in the machine, enabled
#                     in the guest (intel_iommu=on); the guest sees
#                     IOPFKIT_VM_IOMMU=intel
#   -s, --shell       interactive shell instead of a command
#   (IOPFKIT_QEMU_CPU: QEMU's -cpu, default max)
#   -h, --help
#
# Exit status: COMMAND's; 123 when the guest console shows a kernel splat,
# whatever COMMAND returned; 124 on timeout; 125 when the guest dies before
# reporting the command's status.  The guest writes to $IOPFKIT_VM_OUT (a
# writable host folder, build/vm/out by default).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
flavor=${KERNEL_FLAVOR:-default}
timeout=900
mem=2048
cpus=2
icount=
iommu=
shell=0
log=
kernel=
kbuild=

usage() { sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	-f|--flavor) flavor=$2; shift 2 ;;
	-k|--kernel) kernel=$2; shift 2 ;;
	-b|--kbuild) kbuild=$(cd "$2" 2>/dev/null && pwd) ||
		{ echo "vm-run: no build folder '$2'" >&2; exit 2; }
		shift 2 ;;
	-t|--timeout) timeout=$2; shift 2 ;;
	-l|--log) log=$2; shift 2 ;;
	-m|--mem) mem=$2; shift 2 ;;
	-c|--cpus) cpus=$2; shift 2 ;;
	-i|--iommu) iommu=$2; shift 2 ;;
	-d|--icount) icount=$2; shift 2 ;;
	-s|--shell) shell=1; shift ;;
	-h|--help) usage 0 ;;
	--) shift; break ;;
	-*) echo "vm-run: unknown option $1" >&2; usage 2 ;;
	*) break ;;
	esac
done
[ $shell = 1 ] || [ $# -gt 0 ] || { echo "vm-run: no command" >&2; usage 2; }
case "$timeout" in ''|*[!0-9]*) echo "vm-run: bad timeout '$timeout'" >&2; exit 2;; esac
case "$cpus" in ''|0|*[!0-9]*) echo "vm-run: bad CPU count '$cpus'" >&2; exit 2;; esac
case "$iommu" in ''|intel) ;; *) echo "vm-run: unknown IOMMU '$iommu' (intel)" >&2; exit 2;; esac
case "$icount" in ''|[0-9]|10) ;; *) echo "vm-run: bad icount shift '$icount' (0-10)" >&2; exit 2;; esac

kbuild=${kbuild:-$build/kbuild-$flavor}
kernel=${kernel:-$kbuild/arch/x86/boot/bzImage}
[ -f "$kernel" ] || { echo "vm-run: no kernel at $kernel: run 'make kernel'" >&2; exit 2; }

vm=$build/vm
out=${IOPFKIT_VM_OUT:-$vm/out}
mkdir -p "$vm" "$out"
log=${log:-$vm/console.log}
mkdir -p "$(dirname "$log")"

# The initramfs: busybox and our /init, rebuilt when either changes.
initrd=$vm/initramfs.cpio.gz
if [ ! -f "$initrd" ] || [ "$top/scripts/vm-init.sh" -nt "$initrd" ] ||
   [ /bin/busybox -nt "$initrd" ]; then
	stage=$(mktemp -d)
	mkdir -p "$stage"/{bin,dev,proc,sys,newroot}
	cp /bin/busybox "$stage/bin/busybox"
	cp "$top/scripts/vm-init.sh" "$stage/init"
	chmod 755 "$stage/init"
	(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$stage"
fi

cmdfile=$(mktemp "$vm/cmd.XXXXXX")
outlog=$(mktemp "$vm/out.XXXXXX")
trap 'rm -f "$cmdfile" "$outlog"' EXIT
{
	echo "export IOPFKIT_VM=1 IOPFKIT_VM_OUT=$(printf %q "$out") IOPFKIT_BUILD=$(printf %q "$build")"
	echo "export KERNEL_FLAVOR=$(printf %q "$flavor") IOPFKIT_VM_IOMMU=$iommu IOPFKIT_VM_ICOUNT=$icount"
	# modules of the kernel under test: modprobe -d "$IOPFKIT_MODROOT" NAME
	echo "export IOPFKIT_MODROOT=$(printf %q "$kbuild/modroot")"
	echo "cd $(printf %q "$PWD") || exit 125"
	[ $# -gt 0 ] && printf '%q ' "$@" && echo
} > "$cmdfile"
chmod 644 "$cmdfile"

append="console=ttyS0 panic=-1 oops=panic rdinit=/init"
append+=" iopfkit.cmd=$cmdfile iopfkit.out=$out iopfkit.shell=$shell"
# paths the guest must see even where it mounts a tmpfs (no spaces allowed)
append+=" iopfkit.keep=$top:$build:$PWD"
# KASAN and lockdep make a guest far slower; the debug flavor checks more
[ "$flavor" = debug ] && append+=" kasan.fault=report"
iommu_dev=()
if [ "$iommu" = intel ]; then
	# VT-d translating DMA for the guest's PCI devices; no interrupt
	# remapping (it would need a split irqchip). QEMU wants the IOMMU
	# before every other device.
	append+=" intel_iommu=on"
	iommu_dev=(-device intel-iommu,intremap=off)
fi

# q35, not pc: pc's ACPI computes the PCI interrupt routing in AML, which a
# KASAN kernel under TCG interprets for ~25 s per PCI device, long enough
# for RCU stall reports; q35's routing table is static.
qemu=(qemu-system-x86_64 -machine ${IOPFKIT_QEMU_MACHINE:-q35} -cpu ${IOPFKIT_QEMU_CPU:-max} -smp "$cpus" -m "$mem"
	-no-reboot -display none -monitor none -nodefaults
	-kernel "$kernel" -initrd "$initrd" -append "$append"
	"${iommu_dev[@]}"
	${icount:+-icount "shift=$icount,sleep=off"}
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
	-fsdev local,id=hostout,path="$out",security_model=none,multidevs=remap
	-device virtio-9p-pci,fsdev=hostout,mount_tag=hostout)

if [ $shell = 1 ]; then
	# one serial port, on this terminal, for both the console and the shell
	"${qemu[@]}" -serial mon:stdio -append "$append console=ttyS0" 2>&1 | tee "$log"
	exit 0
fi

status=0
timeout --foreground -k 10 "$timeout" "${qemu[@]}" \
	-serial file:"$log" -serial file:"$outlog" < /dev/null &
qpid=$!
# Stream the command's output while the guest runs.
tail -n +1 -F --pid=$qpid "$outlog" 2>/dev/null &
tpid=$!
wait $qpid || status=$?
sleep 0.2
kill $tpid 2>/dev/null || true
wait $tpid 2>/dev/null || true

tail_console() {
	echo "vm-run: last lines of the guest console ($log):" >&2
	tail -n 40 "$log" | sed 's/^/  | /' >&2
}

if [ $status -eq 124 ] || [ $status -eq 137 ]; then
	echo "vm-run: timeout after ${timeout}s" >&2
	tail_console
	exit 124
fi
result=$(sed -n 's/^iopfkit-vm: exit \([0-9]*\).*/\1/p' "$log" | tail -n 1)
if ! "$top/scripts/console-check.sh" "$log" >&2; then
	exit 123
fi
if [ -z "$result" ]; then
	echo "vm-run: the guest ended without reporting the command's status" >&2
	tail_console
	exit 125
fi
exit "$result"
