#!/usr/bin/env bash
# Build a tiny test guest from Debian packages only: the host's kernel
# (linux-image-amd64) and an initramfs holding busybox-static and the virtio modules.
#
#   scripts/make-test-guest.sh OUTDIR      -> OUTDIR/vmlinuz, OUTDIR/initrd.gz
#
# The guest loads the virtio modules, takes a DHCP lease on eth0 and reports on the
# serial console, one fact a line, for tests to parse:
#   VIRTFORM-GUEST: lease 192.168.122.57/24 gw 192.168.122.1 mac 52:54:00:12:34:56
#   VIRTFORM-GUEST: gateway reachable            (or: gateway unreachable)
# See tests/e2e/guest/README.md. Idempotent: does nothing when OUTDIR is up to date.
# Environment: VIRTFORM_GUEST_KVER picks the kernel version (default: the newest
# /boot/vmlinuz-* that has /lib/modules/<version>).
set -euo pipefail

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[[ $# -eq 1 && -n $1 ]] || usage
outdir=$1
self=$(readlink -f "${BASH_SOURCE[0]}")

# In load order: a module's dependencies come before it.
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
         failover net_failover virtio_net virtio_balloon button evdev)

die() { echo "make-test-guest: $*" >&2; exit 1; }

pick_kver() {
    if [[ -n ${VIRTFORM_GUEST_KVER:-} ]]; then echo "$VIRTFORM_GUEST_KVER"; return; fi
    local k v best=
    for k in /boot/vmlinuz-*; do
        [[ -e $k ]] || continue
        v=${k#/boot/vmlinuz-}
        [[ -f /lib/modules/$v/modules.dep ]] && best=$(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n1)
    done
    [[ -n $best ]] || die "no /boot/vmlinuz-* with matching /lib/modules (apt-get install linux-image-amd64)"
    echo "$best"
}

kver=$(pick_kver)
kernel=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
busybox=$(command -v busybox || true)
[[ -r $kernel ]] || die "kernel $kernel not readable"
[[ -f $moddir/modules.dep ]] || die "$moddir/modules.dep missing"
[[ -n $busybox ]] || die "busybox not found (apt-get install busybox-static)"
busybox=$(readlink -f "$busybox")
# A dynamically linked busybox would need its libraries in the initramfs; refuse it.
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked (apt-get install busybox-static)"
fi

# Up to date when the inputs (this script, kernel, busybox, modules) are unchanged.
stamp_of() {
    {
        echo "kver $kver"
        sha256sum "$self" | cut -d' ' -f1
        stat -c '%n %s %Y' "$kernel" "$busybox" "$moddir/modules.dep" "$moddir/modules.builtin"
        echo "${modules[*]}"
    } | sha256sum | cut -d' ' -f1
}
stamp=$(stamp_of)
if [[ -f $outdir/vmlinuz && -f $outdir/initrd.gz && -f $outdir/.stamp &&
      $(cat "$outdir/.stamp") == "$stamp" ]]; then
    echo "make-test-guest: $outdir up to date (kernel $kver)"
    exit 0
fi

mkdir -p "$outdir"
# Build next to the outputs so the final mv is an atomic rename.
work=$(mktemp -d "$outdir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,etc/acpi/PWRF,lib/modules,root}

cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"

# Modules: flat copies, decompressed; built-in ones need no file.
: > "$root/etc/modules"
for m in "${modules[@]}"; do
    src=$(modinfo -k "$kver" -n "$m" 2>/dev/null || true)
    if [[ -z $src || $src == "(builtin)" ]] ||
       grep -qE "/${m}\.ko(\.[a-z]+)?$" "$moddir/modules.builtin"; then
        if grep -qE "/${m}\.ko(\.[a-z]+)?$" "$moddir/modules.builtin"; then
            echo "make-test-guest: $m is built into $kver"
        else
            echo "make-test-guest: warning: module $m not found for $kver, skipped" >&2
        fi
        continue
    fi
    case $src in
        *.ko) cp "$src" "$root/lib/modules/$m.ko" ;;
        *.ko.xz) xz -dc "$src" > "$root/lib/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$src" > "$root/lib/modules/$m.ko" ;;
        *.ko.gz) gzip -dc "$src" > "$root/lib/modules/$m.ko" ;;
        *) die "unknown module format: $src" ;;
    esac
    echo "$m" >> "$root/etc/modules"
done

# /init: mount, load modules, then hand over to busybox init (PID 1 reaps children
# and handles poweroff, so `virsh shutdown` via the ACPI power button works).
cat > "$root/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp
echo "VIRTFORM-GUEST: boot kernel $(uname -r)" > /dev/console
exec /bin/busybox init
EOF

cat > "$root/etc/inittab" <<'EOF'
::sysinit:/etc/guest-sysinit
::respawn:/etc/guest-main
::respawn:/bin/acpid -f -c /etc/acpi -l /dev/null
::shutdown:/bin/sh -c 'echo "VIRTFORM-GUEST: shutting down" > /dev/console'
EOF

cat > "$root/etc/guest-sysinit" <<'EOF'
#!/bin/sh
log() { echo "VIRTFORM-GUEST: $*" > /dev/console; }
for m in $(cat /etc/modules); do
    if ! err=$(insmod "/lib/modules/$m.ko" 2>&1); then
        case $err in *"File exists"*) ;; *) log "module $m failed: $err" ;; esac
    fi
done
log "modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
hostname virtform-guest
ip link set lo up
EOF

cat > "$root/etc/guest-main" <<'EOF'
#!/bin/sh
# Take a lease, report it, check the gateway; keep the lease and re-check forever.
log() { echo "VIRTFORM-GUEST: $*" > /dev/console; }
i=0
while [ ! -e /sys/class/net/eth0 ]; do
    i=$((i + 1))
    if [ $i -eq 20 ]; then log "no eth0 yet (virtio_net missing?)"; fi
    sleep 0.5
done
ip link set eth0 up
rm -f /run/gateway
# udhcpc forks into the background once it has a lease and keeps renewing it.
udhcpc -i eth0 -s /etc/udhcpc.script -t 5 -T 2 -A 3 -x hostname:virtform-guest -p /run/udhcpc.pid
state=
while :; do
    if [ -s /run/gateway ]; then
        gw=$(cat /run/gateway)
        if ping -c 3 -W 2 "$gw" > /dev/null 2>&1; then now=reachable; else now=unreachable; fi
        if [ "$now" != "$state" ]; then log "gateway $now"; state=$now; fi
        sleep 30
    else
        sleep 1
    fi
done
EOF

cat > "$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
log() { echo "VIRTFORM-GUEST: $*" > /dev/console; }
prefix() {  # dotted netmask -> prefix length
    n=0
    for o in $(echo "$1" | tr . ' '); do
        case $o in 255) n=$((n + 8));; 254) n=$((n + 7));; 252) n=$((n + 6));; 248) n=$((n + 5));;
                   240) n=$((n + 4));; 224) n=$((n + 3));; 192) n=$((n + 2));; 128) n=$((n + 1));; esac
    done
    echo $n
}
case $1 in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        len=${mask:-$(prefix "$subnet")}
        old=$(ip -4 -o addr show dev "$interface" | awk '{print $4}')
        if [ "$old" != "$ip/$len" ]; then
            ip -4 addr flush dev "$interface"
            ip addr add "$ip/$len" dev "$interface"
        fi
        gw=${router%% *}
        if [ -n "$gw" ]; then
            ip route replace default via "$gw" dev "$interface"
            echo "$gw" > /run/gateway
        fi
        mac=$(cat "/sys/class/net/$interface/address")
        if [ "$1" = bound ] || [ "$old" != "$ip/$len" ]; then
            log "lease $ip/$len gw ${gw:-none} mac $mac"
        fi
        ;;
    leasefail|nak)
        log "dhcp $1 on $interface (no lease yet, retrying)"
        ;;
esac
exit 0
EOF

# Power button -> clean poweroff.
cat > "$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "VIRTFORM-GUEST: power button" > /dev/console
poweroff
EOF

chmod 0755 "$root/init" "$root/etc/guest-sysinit" "$root/etc/guest-main" \
    "$root/etc/udhcpc.script" "$root/etc/acpi/PWRF/00000080"

# cpio newc, owned by root, reproducible order; then atomic replace.
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -6 -n > "$work/initrd.gz"
cp "$kernel" "$work/vmlinuz"
mv -f "$work/initrd.gz" "$outdir/initrd.gz"
mv -f "$work/vmlinuz" "$outdir/vmlinuz"
echo "$stamp" > "$outdir/.stamp"
echo "make-test-guest: built $outdir/vmlinuz and $outdir/initrd.gz (kernel $kver, $(wc -l < "$root/etc/modules") modules)"
