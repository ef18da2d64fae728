#!/usr/bin/env bash
# End to end on the real libvirtd: a small real guest (kernel + busybox initramfs
# built from Debian packages) on a NAT network gets a DHCP lease from the
# network's dnsmasq, reaches its gateway, and takes a live memory change
# through the balloon; a second plan shows no changes; destroy leaves nothing.
#   bash tests/e2e/nat_guest_test.sh build/src/virtform
set -euo pipefail
vf=$(readlink -f "${1:?usage: $0 PATH-TO-virtform}")
root=$(cd "$(dirname "$0")/../.." && pwd)

id=$$
n=$((id % 200 + 20))
lab="vf-e2e-nat-$id"
net="vfe2enat$id"
bridge="vfn$((id % 100000))"
vm="vf-e2e-guest-$id"
mac=$(printf '52:54:00:e2:%02x:%02x' $((id / 256 % 256)) $((id % 256)))
tmp=$(mktemp -d /tmp/vf-e2e-nat.XXXXXX)
chmod 755 "$tmp"  # QEMU runs as libvirt-qemu and reads the kernel from here
manifest="$tmp/lab.yaml"

fail() { echo "FAIL: $*"; echo "--- console ---"; tail -n 30 "$tmp/console.log" 2>/dev/null || true; exit 1; }
cleanup() {
    "$vf" destroy --auto-approve "$manifest" >/dev/null 2>&1 || true
    # Whatever destroy could not remove, by name: only this test's objects.
    virsh -q destroy "$vm" >/dev/null 2>&1 || true
    virsh -q undefine "$vm" --nvram >/dev/null 2>&1 || true
    virsh -q net-destroy "$net" >/dev/null 2>&1 || true
    virsh -q net-undefine "$net" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

"$root/scripts/make-test-guest.sh" "$tmp/img" >/dev/null

write_manifest() {  # $1: memory
    cat > "$manifest" <<YAML
lab: $lab
networks:
  $net:
    mode: nat
    bridge: $bridge
    ipv4:
      address: 10.250.$n.1/24
      dhcp:
        range: 10.250.$n.100-10.250.$n.150
        hosts: [{mac: "$mac", ip: 10.250.$n.10, name: guest}]
vms:
  $vm:
    cpus: 1
    memory: $1
    max_memory: 512MiB
    kernel: $tmp/img/vmlinuz
    initrd: $tmp/img/initrd.gz
    cmdline: console=ttyS0
    nics: [{network: $net, mac: "$mac"}]
    console: {file: $tmp/console.log}
YAML
}

write_manifest 256MiB
start=$(date +%s.%N)
out=$("$vf" apply --auto-approve --wait-ip --wait-timeout 240 "$manifest") || fail "apply exited $?: $out"
lease_seconds=$(echo "$(date +%s.%N) - $start" | bc)
grep -q "vm.$vm: 10.250.$n.10/24" <<<"$out" || fail "apply --wait-ip did not report the lease: $out"
echo "apply --wait-ip returned the lease after ${lease_seconds}s"

# The host side, not only virtform: the lease is in dnsmasq's table, the bridge has the gateway.
grep -qi "$mac" <<<"$(virsh -q net-dhcp-leases "$net")" || fail "no lease for $mac in virsh net-dhcp-leases"
grep -q "10.250.$n.1/24" <<<"$(ip -4 addr show "$bridge")" || fail "bridge $bridge lacks the gateway address"

# The guest's own word: it took the lease and pinged the gateway.
for _ in $(seq 1 120); do
    grep -q "VIRTFORM-GUEST: gateway reachable" "$tmp/console.log" 2>/dev/null && break
    sleep 1
done
grep -q "VIRTFORM-GUEST: lease 10.250.$n.10/24 gw 10.250.$n.1" "$tmp/console.log" || fail "console shows no lease"
grep -q "VIRTFORM-GUEST: gateway reachable" "$tmp/console.log" || fail "console: gateway not reached"

"$vf" plan --detailed-exitcode "$manifest" >/dev/null || fail "second plan is not empty (exit $?)"

# A live memory change through the balloon: no restart, the guest sees it.
domid=$(virsh domid "$vm")
write_manifest 384MiB
plan=$("$vf" plan --detailed-exitcode "$manifest") && fail "plan after the edit shows no change"
grep -q "updated in place (live)" <<<"$plan" || fail "memory change is not live: $plan"
"$vf" apply --auto-approve "$manifest" >/dev/null || fail "apply of the memory change failed"
actual=
for _ in $(seq 1 60); do
    actual=$(virsh dommemstat "$vm" | awk '$1 == "actual" {print $2}')
    [ "$actual" = 393216 ] && break
    sleep 1
done
[ "$actual" = 393216 ] || fail "balloon: dommemstat actual is $actual KiB, want 393216"
[ "$(virsh domid "$vm")" = "$domid" ] || fail "the VM was restarted for a live change"
"$vf" plan --detailed-exitcode "$manifest" >/dev/null || fail "plan after the live change is not empty"

"$vf" destroy --auto-approve "$manifest" >/dev/null || fail "destroy failed"
grep -qx "$vm" <<<"$(virsh -q list --all --name)" && fail "the VM is still defined after destroy"
grep -qx "$net" <<<"$(virsh -q net-list --all --name)" && fail "the network is still defined after destroy"
echo "PASS: guest leased 10.250.$n.10 and reached its gateway; live balloon 256->384 MiB; destroy clean"
