#!/bin/busybox sh
# /init of the iopfkit guest.  Mounts the host's root filesystem read-only
# over virtio-9p, writable tmpfs where programs expect to write, the usual
# kernel filesystems, then chroots into it and runs the harness's command
# (or a shell).  The command's output goes to the second serial port; the
# first is the kernel console, which the harness checks for splats.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

arg() { sed -n "s/.*\<iopfkit\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
say() { echo "iopfkit-vm: $*" > /dev/ttyS0; }

cmd=$(arg cmd)
out=$(arg out)
shell=$(arg shell)

r=/newroot
mkdir -p $r
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot $r; then
	say "cannot mount the host root over 9p"
	say "exit 125"
	reboot -f
fi
# The project, its build folder and the working directory must stay visible
# at their paths, even under a folder that a tmpfs is about to cover (a
# clone in /tmp, say): hold them aside, then move them back on top.
keep=$(arg keep | tr ':' ' ')
i=0
for p in $keep; do
	mkdir -p /keep/$i
	mount --bind "$r$p" /keep/$i 2>/dev/null
	i=$((i + 1))
done
for d in tmp run var/tmp root; do
	mount -t tmpfs -o mode=1777 tmpfs $r/$d
done
i=0
for p in $keep; do
	if [ ! -d "$r$p" ]; then
		mkdir -p "$r$p"
		mount --move /keep/$i "$r$p"
	else
		umount /keep/$i 2>/dev/null
	fi
	i=$((i + 1))
done
chmod 700 $r/root
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
ln -s /proc/self/fd $r/dev/fd
ln -s fd/0 $r/dev/stdin
ln -s fd/1 $r/dev/stdout
ln -s fd/2 $r/dev/stderr
mount -t devpts devpts $r/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
mount -t tracefs tracefs $r/sys/kernel/tracing
mount -t debugfs debugfs $r/sys/kernel/debug
mount -t bpf bpffs $r/sys/fs/bpf
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup 2>/dev/null
# a writable host folder for results
[ -n "$out" ] && mkdir -p "$r$out" 2>/dev/null
[ -n "$out" ] && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 hostout "$r$out"
hostname iopfkit-vm
ip link set lo up 2>/dev/null

export HOME=/root TERM=${TERM:-linux} \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if [ "$shell" = 1 ]; then
	say "interactive shell; Ctrl-D ends the guest"
	# the harness's command file sets the environment and the directory
	setsid cttyhack chroot $r /bin/bash --rcfile "$cmd" -i
	status=$?
else
	chroot $r /bin/sh "$cmd" > /dev/ttyS1 2>&1 < /dev/null
	status=$?
fi

sync
# kmemleak (debug kernels): scan now and put any report on the console
# (it reports only objects older than 5 s, and confirms them on a second scan)
if [ -f $r/sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan > $r/sys/kernel/debug/kmemleak
	echo scan > $r/sys/kernel/debug/kmemleak
	cat $r/sys/kernel/debug/kmemleak > /dev/ttyS0
fi
say "exit $status"
reboot -f
