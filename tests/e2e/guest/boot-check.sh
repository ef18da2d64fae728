#!/usr/bin/env bash
# Prove the test guest boots: build it, boot it under plain QEMU (TCG, user-mode
# networking, no libvirt), and check the console for QEMU's user-net lease
# (10.0.2.15, gateway 10.0.2.2), the gateway line, and a clean ACPI power-off.
#   tests/e2e/guest/boot-check.sh [GUESTDIR]    (default: a temp dir, removed after)
# Prints "boot-to-lease N.N s". Exit 0 on success.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/virtform-bootcheck.XXXXXX")
qpid=
cleanup() {
    if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then kill "$qpid"; wait "$qpid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
guest=${1:-$tmp/guest}
fail() { echo "boot-check: FAIL: $*" >&2; echo "--- console ---" >&2; cat "$tmp/console.log" >&2 || true; exit 1; }

"$repo/scripts/make-test-guest.sh" "$guest"
: > "$tmp/console.log"
start=$(date +%s%N)
qemu-system-x86_64 -accel tcg -m 256 -kernel "$guest/vmlinuz" -initrd "$guest/initrd.gz" \
    -append "console=ttyS0 quiet" -display none -serial "file:$tmp/console.log" \
    -monitor "unix:$tmp/mon,server,nowait" -no-reboot \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0 &
qpid=$!

wait_for() {  # PATTERN SECONDS
    local deadline=$(( $(date +%s) + $2 ))
    while (( $(date +%s) < deadline )); do
        grep -q "$1" "$tmp/console.log" && return 0
        kill -0 "$qpid" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
wait_for '^VIRTFORM-GUEST: lease ' 120 || fail "no lease within 120 s"
lease_ns=$(( $(date +%s%N) - start ))
grep -q '^VIRTFORM-GUEST: lease 10\.0\.2\.15/24 gw 10\.0\.2\.2 ' "$tmp/console.log" ||
    fail "unexpected lease line"
wait_for '^VIRTFORM-GUEST: gateway ' 30 || fail "no gateway line"
grep -q '^VIRTFORM-GUEST: gateway reachable' "$tmp/console.log" || fail "gateway unreachable"
grep -q '^VIRTFORM-GUEST: modules loaded: .*virtio_balloon' "$tmp/console.log" ||
    fail "virtio_balloon not loaded"

# ACPI power button -> clean power-off (what `virsh shutdown` relies on).
python3 - "$tmp/mon" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"system_powerdown\n")
time.sleep(0.5)
EOF
for _ in $(seq 1 150); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$qpid" 2>/dev/null && fail "guest did not power off within 30 s of the power button"
wait "$qpid" || true
qpid=
grep -q 'reboot: Power down' "$tmp/console.log" || fail "no power-down message"

printf 'boot-check: OK, boot-to-lease %d.%d s\n' $((lease_ns / 1000000000)) $(((lease_ns / 100000000) % 10))
