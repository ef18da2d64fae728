#!/usr/bin/env bash
# End to end on the real libvirtd with the test guest (issue 11): `virtform
# console` attaches to the guest's serial console over libvirt's stream API and
# sees its boot lines, Ctrl-] leaves it; inventory and hosts carry the address
# the guest leased; `virtform ssh` builds its command line from that address and
# the manifest's user and key, and reaches an sshd that stands in for the guest
# (the test guest runs none) in a private network namespace holding the
# guest's address.
#   bash tests/e2e/console_ssh_test.sh build/src/virtform
set -euo pipefail
vf=$(readlink -f "${1:?usage: $0 PATH-TO-virtform}")
root=$(cd "$(dirname "$0")/../.." && pwd)

id=$$
n=$((id % 200 + 20))
lab="vfg-e2e-con-$id"
net="vfg-e2e-con-$id"
bridge="vfgc$((id % 100000))"
vm="vfg-e2e-con-vm-$id"
ns="vfg-ssh-$id"
tmp=$(mktemp -d /tmp/vfg-e2e-con.XXXXXX)
chmod 755 "$tmp"  # QEMU runs as libvirt-qemu and reads the kernel from here
manifest="$tmp/lab.yaml"
console_pid= sshd_pid= made_run_sshd=

fail() {
    echo "FAIL: $*"
    echo "--- console ---"; tail -n 30 "$tmp/console.out" 2>/dev/null || true
    echo "--- sshd ---"; tail -n 20 "$tmp/sshd.log" 2>/dev/null || true
    exit 1
}
cleanup() {
    [ -n "$console_pid" ] && kill "$console_pid" 2>/dev/null || true
    [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    [ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null || true
    "$vf" destroy --auto-approve "$manifest" >/dev/null 2>&1 || true
    # Whatever destroy could not remove, by name: only this test's objects.
    virsh -q destroy "$vm" >/dev/null 2>&1 || true
    virsh -q undefine "$vm" --nvram >/dev/null 2>&1 || true
    virsh -q net-destroy "$net" >/dev/null 2>&1 || true
    virsh -q net-undefine "$net" >/dev/null 2>&1 || true
    rm -f "/var/lib/virtform/hosts/$lab.paths"
    rm -rf "$tmp"
}
trap cleanup EXIT

"$root/scripts/make-test-guest.sh" "$tmp/img" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C vfg-e2e -f "$tmp/id"

cat > "$manifest" <<YAML
lab: $lab
networks:
  $net:
    mode: nat
    bridge: $bridge
    ipv4:
      address: 10.253.$n.1/24
      dhcp: {range: 10.253.$n.100-10.253.$n.150}
vms:
  $vm:
    memory: 256MiB
    accel: qemu
    kernel: $tmp/img/vmlinuz
    initrd: $tmp/img/initrd.gz
    cmdline: console=ttyS0
    nics: [{network: $net}]
    groups: [e2e]
    ssh: {user: root, identity_file: $tmp/id}
YAML

"$vf" apply --auto-approve "$manifest" >/dev/null || fail "apply failed"

# The console, attached while the guest boots (slowly, under TCG). Its input is
# a FIFO this script holds open, so that it can type Ctrl-] later.
mkfifo "$tmp/in"
"$vf" console -f "$manifest" "$vm" < "$tmp/in" > "$tmp/console.out" 2> "$tmp/console.err" &
console_pid=$!
exec 3> "$tmp/in"
for _ in $(seq 1 240); do
    grep -q "VIRTFORM-GUEST: lease" "$tmp/console.out" 2>/dev/null && break
    kill -0 "$console_pid" 2>/dev/null || fail "console ended early: $(cat "$tmp/console.err")"
    sleep 1
done
grep -q "VIRTFORM-GUEST: boot kernel" "$tmp/console.out" || fail "the console did not show the guest's boot line"
grep -q "VIRTFORM-GUEST: lease 10.253.$n." "$tmp/console.out" || fail "the console did not show the guest's lease line"
grep -q "escape character is ^]" "$tmp/console.err" || fail "no banner: $(cat "$tmp/console.err")"
printf '\035' >&3  # Ctrl-]
rc=0
wait "$console_pid" || rc=$?
console_pid=
exec 3>&-
[ "$rc" = 0 ] || fail "console exited $rc after Ctrl-]"
echo "console: $(grep -c . "$tmp/console.out") lines seen, e.g. '$(grep -m1 "VIRTFORM-GUEST" "$tmp/console.out" | tr -d '\r')'"

ip=$(virsh -q net-dhcp-leases "$net" | awk '{print $5}' | cut -d/ -f1 | head -n1)
[ -n "$ip" ] || fail "no lease in virsh net-dhcp-leases"

grep -q "ansible_host: \"$ip\"" <<<"$("$vf" inventory "$manifest")" || fail "inventory lacks ansible_host $ip"
"$vf" hosts --file "$tmp/hosts" "$manifest" >/dev/null || fail "hosts failed"
grep -q "^$ip	$vm\$" "$tmp/hosts" || fail "hosts file lacks '$ip $vm': $(cat "$tmp/hosts")"

want="ssh -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $tmp/id -o IdentitiesOnly=yes -l root -- $ip echo hi"
got=$("$vf" ssh -f "$manifest" --dry-run "$vm" -- echo hi) || fail "ssh --dry-run failed"
[ "$got" = "$want" ] || fail "ssh command line: got '$got', want '$want'"

# An sshd in a private network namespace, listening on the guest's address:
# `virtform ssh` run there reaches it with the manifest's user and key.
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add "$ip/32" dev lo
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
cp "$tmp/id.pub" "$tmp/authorized_keys"
cat > "$tmp/sshd_config" <<CONF
ListenAddress $ip
Port 22
HostKey $tmp/hostkey
AuthorizedKeysFile $tmp/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $tmp/sshd.pid
CONF
[ -d /run/sshd ] || { mkdir -p /run/sshd; made_run_sshd=1; }
ip netns exec "$ns" /usr/sbin/sshd -f "$tmp/sshd_config" -D -e 2> "$tmp/sshd.log" &
sshd_pid=$!
for _ in $(seq 1 50); do
    ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$ip/22" 2>/dev/null && break
    sleep 0.2
done
out=$(ip netns exec "$ns" "$vf" ssh -f "$manifest" "$vm" -- echo VIRTFORM-SSH-OK '$(id -un)') ||
    fail "virtform ssh exited $?: $out"
[ "$out" = "VIRTFORM-SSH-OK root" ] || fail "ssh ran, but printed '$out'"
grep -q "Accepted publickey for root" "$tmp/sshd.log" || fail "sshd did not log the key login"

"$vf" destroy --auto-approve "$manifest" >/dev/null || fail "destroy failed"
grep -q "virtform lab $lab" "$tmp/hosts" && fail "destroy left the hosts block"
grep -qx "$vm" <<<"$(virsh -q list --all --name)" && fail "the VM is still defined after destroy"
echo "PASS: console saw the guest boot and left on Ctrl-]; inventory/hosts/ssh used lease $ip; ssh reached an sshd as root with the manifest's key"
