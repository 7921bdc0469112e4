#!/bin/busybox sh
# /init of the e2e initramfs (static busybox, PID 1). Makes the host's own / (virtio-9p, read-only) the
# VM's root under a tmpfs overlay, so the guest runs the host's userland and this repository unchanged;
# then switch_root (not chroot: the kernel's usermode helper /sbin/modprobe resolves against PID 1's
# root, and automatic module loading on mount/connect needs that) and run the entry script.
# Kernel command line: e2e.entry=<script> e2e.modules=<module dir of the guest kernel> e2e.out=<rw dir>
# e2e.repo=<the repository, on the host>.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /mods/order); do insmod "/mods/$m.ko" || echo "E2E: insmod $m failed"; done
ENTRY= MODS= OUT= REPO=
for a in $(cat /proc/cmdline); do
  case $a in
    e2e.entry=*) ENTRY=${a#e2e.entry=} ;;
    e2e.modules=*) MODS=${a#e2e.modules=} ;;
    e2e.out=*) OUT=${a#e2e.out=} ;;
    e2e.repo=*) REPO=${a#e2e.repo=} ;;
  esac
done
die() { echo "E2E: init: $*"; dmesg | tail -20; poweroff -f; }
mkdir -p /host /ovl /newroot
# virtio-pci devices are probed asynchronously after insmod: retry the 9p mount for up to 10 s.
i=0
until mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host 2>/dev/null; do
  i=$((i + 1)); [ $i -gt 100 ] && die "9p mount of the host root failed"
  sleep 0.1
done
mount -t tmpfs -o size=1g tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work /newroot || die "overlay mount failed"
mount -t proc proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/run
mount -t configfs configfs /newroot/sys/kernel/config
# A checkout under /tmp (a CI clone may live there) would vanish under the guest's fresh /tmp: bind the
# host's copy back in, read-only like the rest of the host.
case "$REPO" in
  /tmp/*) mkdir -p "/newroot$REPO" && mount --bind "/host$REPO" "/newroot$REPO" || die "bind of $REPO failed" ;;
esac
KREL=$(uname -r)
mkdir -p "/newroot/lib/modules/$KREL"
[ -n "$MODS" ] && mount --bind "/newroot$MODS" "/newroot/lib/modules/$KREL"
if [ -n "$OUT" ]; then
  mkdir -p "/newroot$OUT"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 e2eout "/newroot$OUT" || die "9p mount of $OUT failed"
fi
ip link set lo up
hostname e2e-vm
cat > /newroot/run/e2e-pid1 <<EOT
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb E2E_OUT=$OUT
cd /
echo "E2E: rootfs ready uptime=\$(cut -d' ' -f1 /proc/uptime)"
if [ -n "$ENTRY" ]; then /bin/sh "$ENTRY"; echo "E2E: entry exit=\$? uptime=\$(cut -d' ' -f1 /proc/uptime)"; fi
sync
/bin/busybox poweroff -f
EOT
umount /proc
exec switch_root /newroot /bin/busybox sh /run/e2e-pid1
