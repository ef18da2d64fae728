#!/usr/bin/env bash
# End to end across two libvirt hosts (issue 13, part 3): this host ("local",
# qemu:///system) and host B, a second libvirtd on this machine in its own
# network, mount and PID namespaces over qemu+tcp (tests/hosts/host_b.sh).
#  1. A lab with a NAT network and a booted guest on each host (and on B a
#     second guest that ignores the power button): one apply makes both, both
#     guests get a DHCP lease from their host's dnsmasq (virsh -c on each host),
#     and the next plan is empty.
#  2. A second network here and, on B, the removal of that second guest (a slow
#     action: virtform waits for a power-off that never comes): B's libvirtd is
#     SIGKILLed while virtform waits on it. Apply exits 1, the removal FAILED,
#     the report names host b and its URI, local's network is made, and B's
#     first guest survives its daemon's crash (same domain id once libvirtd is
#     started again in the same namespaces and has reconnected).
#  3. A network on B, applied while B's libvirtd hangs (SIGSTOP before the
#     apply) and then dies (SIGKILL once the apply's connection is open): apply
#     exits 1 naming host b and its URI, nothing is made on B.
#  4. With libvirtd B back, the re-apply finishes both changes, the plan is
#     empty, destroy leaves neither host any of the lab's objects, and host B's
#     PID 1 has reaped what the daemons left it.
#   bash tests/e2e/multi_host_test.sh build/src/virtform
set -euo pipefail
vf=$(readlink -f "${1:?usage: $0 PATH-TO-virtform}")
root=$(cd "$(dirname "$0")/../.." && pwd)
host_b="$root/tests/hosts/host_b.sh"

id=$$
ns="vfhg$((id % 100000))"  # host B's namespace; its veth ends are $ns-a (here) and $ns-b
lab="vfhg-$id"
p="vfhg$((id % 100000))"  # object names; bridges are $p + 2 characters (<= 15)
net_la="${p}la" net_lb="${p}lb" net_ba="${p}ba" net_bb="${p}bb"
vm_l="${p}vl" vm_b="${p}vb" vm_s="${p}vs"
mac_l=$(printf '52:54:00:e3:%02x:%02x' $((id / 256 % 256)) $((id % 256)))
mac_b=$(printf '52:54:00:e4:%02x:%02x' $((id / 256 % 256)) $((id % 256)))
# A /30 per run for the veth: 10.251.X.Y from the pid.
vx=$(((id / 64) % 250)) vy=$(((id % 64) * 4))
host_cidr="10.251.$vx.$((vy + 1))/30" peer_cidr="10.251.$vx.$((vy + 2))/30"

tmp=$(mktemp -d /tmp/vfhg-e2e.XXXXXX)
chmod 755 "$tmp"  # QEMU runs as libvirt-qemu (on both hosts) and reads the kernel from here
manifest="$tmp/lab.yaml"
uri=
t_start=$(date +%s.%N)

fail() {
    echo "FAIL: $*"
    for f in console-l console-b; do
        echo "--- $f ---"
        tail -n 15 "$tmp/$f.log" 2>/dev/null || true
    done
    echo "--- host B's libvirtd log ---"
    tail -n 15 "/tmp/virtform-host-$ns/libvirtd.log" 2>/dev/null || true
    exit 1
}
apply_pid=
cleanup() {
    # An apply left running in the background by a failure: end it (it is ours).
    if [ -n "$apply_pid" ] && kill -0 "$apply_pid" 2>/dev/null; then
        kill "$apply_pid" 2>/dev/null || true
        wait "$apply_pid" 2>/dev/null || true
    fi
    # Host B first: stopping it kills everything in its namespaces (guest, dnsmasq,
    # a frozen libvirtd) and removes its state, so nothing of it can outlive the test.
    "$host_b" stop "$ns" >/dev/null 2>&1 || true
    # Then this host's objects, by name: only this test's.
    virsh -q destroy "$vm_l" >/dev/null 2>&1 || true
    virsh -q undefine "$vm_l" --nvram >/dev/null 2>&1 || true
    for n in "$net_la" "$net_lb"; do
        virsh -q net-destroy "$n" >/dev/null 2>&1 || true
        virsh -q net-undefine "$n" >/dev/null 2>&1 || true
    done
    # virtform's records of this lab, per host (a failed run leaves its applied records).
    rm -f /var/lib/virtform/state/"$lab"@*.json /run/virtform/locks/"$lab"@*.lock
    rm -rf "$tmp"
}
trap cleanup EXIT
since() { printf '%.1f' "$(echo "$(date +%s.%N) - $1" | bc)"; }

# Four /24s in 192.168.200-247 from the pid, none of them routed here already
# (host B's only need to be unique there; they are kept off this host's too).
routes=$(ip -4 route)
base=
for try in $(seq 0 11); do
    b=$((200 + ((id + try) % 12) * 4))
    clash=0
    for o in 0 1 2 3; do grep -q "192\.168\.$((b + o))\." <<<"$routes" && clash=1; done
    if [ $clash = 0 ]; then base=$b; break; fi
done
[ -n "$base" ] || fail "no free 192.168.2xx /24s on this host"
s_la=$base s_lb=$((base + 1)) s_ba=$((base + 2)) s_bb=$((base + 3))

# One copy of the guest per host: each host's libvirtd labels (chowns, and records
# the owner in xattrs of) the kernel and initrd of its running guests.
"$root/scripts/make-test-guest.sh" "$tmp/img-l" >/dev/null
"$root/scripts/make-test-guest.sh" "$tmp/img-b" >/dev/null
uri=$("$host_b" start "$ns" "$host_cidr" "$peer_cidr") || fail "host B did not start"
on_b() { virsh -q -c "$uri" "$@"; }

network() {  # NAME THIRD-OCTET [HOST]
    echo "  $1:"
    [ -n "${3:-}" ] && echo "    host: $3"
    cat <<YAML
    mode: nat
    bridge: $1
    ipv4:
      address: 192.168.$2.1/24
      dhcp: {range: 192.168.$2.100-192.168.$2.150}
YAML
}
vm() {  # NAME NETWORK MAC CONSOLE [HOST]
    echo "  $1:"
    [ -n "${5:-}" ] && echo "    host: $5"
    cat <<YAML
    cpus: 1
    memory: 256MiB
    accel: qemu
    kernel: $tmp/img-${5:-l}/vmlinuz
    initrd: $tmp/img-${5:-l}/initrd.gz
    cmdline: console=ttyS0
    nics: [{network: $2, mac: "$3"}]
    console: {file: $tmp/$4.log}
YAML
}
write_manifest() {  # STAGE: 1, 2 (no $vm_s, $net_lb here) or 3 (and $net_bb on b)
    {
        echo "lab: $lab"
        echo "hosts:"
        echo "  b:"
        echo "    uri: $uri"
        echo "networks:"
        network "$net_la" "$s_la"
        network "$net_ba" "$s_ba" b
        [ "$1" -ge 2 ] && network "$net_lb" "$s_lb"
        [ "$1" -ge 3 ] && network "$net_bb" "$s_bb" b
        echo "vms:"
        vm "$vm_l" "$net_la" "$mac_l" console-l
        vm "$vm_b" "$net_ba" "$mac_b" console-b b
        # Host B's slow action: a guest that ignores the power button (acpi=off),
        # so removing it waits its shutdown_timeout before forcing it off.
        if [ "$1" = 1 ]; then
            cat <<YAML
  $vm_s:
    host: b
    cpus: 1
    memory: 128MiB
    accel: qemu
    kernel: $tmp/img-b/vmlinuz
    initrd: $tmp/img-b/initrd.gz
    cmdline: console=ttyS0 acpi=off
    shutdown_timeout: $slow
YAML
        fi
    } >"$manifest"
}
lease_of() {  # URI NETWORK MAC: the lease's address/prefix, or nothing
    awk -v m="$3" 'tolower($3) == m {print $5}' <<<"$(virsh -q -c "$1" net-dhcp-leases "$2" 2>/dev/null)"
}
active() {  # URI NETWORK: the network is defined and active there
    grep -Eq '^Active: +yes' <<<"$(virsh -c "$1" net-info "$2" 2>/dev/null)"
}
here=qemu:///system
slow=8  # seconds host B's removal of $vm_s takes

# --- 1. a network and a booted guest on each host ---------------------------
write_manifest 1
t=$(date +%s.%N)
out=$("$vf" apply --auto-approve --wait-ip --wait-timeout 240 "$manifest" 2>&1) ||
    fail "apply exited $?: $out"
t_apply1=$(since "$t")
grep -q "$vm_l: 192.168.$s_la." <<<"$out" || fail "apply --wait-ip did not report $vm_l's lease: $out"
grep -q "$vm_b: 192.168.$s_ba." <<<"$out" || fail "apply --wait-ip did not report $vm_b's lease: $out"
# Each host's own dnsmasq has the lease, and each object is on its host only.
lease_l= lease_b=
for _ in $(seq 1 120); do
    lease_l=$(lease_of "$here" "$net_la" "$mac_l")
    lease_b=$(lease_of "$uri" "$net_ba" "$mac_b")
    [ -n "$lease_l" ] && [ -n "$lease_b" ] && break
    sleep 1
done
t_leases=$(since "$t")
[[ $lease_l == 192.168.$s_la.* ]] || fail "no lease for $mac_l on this host's $net_la: '$lease_l'"
[[ $lease_b == 192.168.$s_ba.* ]] || fail "no lease for $mac_b on host B's $net_ba: '$lease_b'"
grep -qx "$vm_b" <<<"$(on_b list --name)" || fail "$vm_b is not running on host B"
grep -qx "$vm_l" <<<"$(virsh -q list --name)" || fail "$vm_l is not running here"
grep -qx "$vm_s" <<<"$(on_b list --name)" || fail "$vm_s is not running on host B"
grep -qx "$vm_b" <<<"$(virsh -q list --all --name)" && fail "$vm_b was made on this host"
grep -qx "$vm_l" <<<"$(on_b list --all --name)" && fail "$vm_l was made on host B"
grep -qx "$net_ba" <<<"$(virsh -q net-list --all --name)" && fail "$net_ba was made on this host"
echo "leases: $vm_l $lease_l here, $vm_b $lease_b on host B (${t_leases}s after the apply started)"

"$vf" plan --detailed-exitcode "$manifest" >/dev/null 2>&1 || fail "plan after the apply is not empty (exit $?)"
status=$("$vf" status "$manifest" 2>&1) || fail "status exited $?: $status"
grep -Eq "(^| )b +vm\.$vm_b +running" <<<"$status" || fail "status does not show $vm_b running on b: $status"
grep -Eq "(^| )local +vm\.$vm_l +running" <<<"$status" || fail "status does not show $vm_l running on local: $status"
domid_b=$(on_b domid "$vm_b")

# --- 2. host B's libvirtd dies in the middle of B's slow action ---------------
# A network here, and on B the removal of $vm_s, which waits for a power-off that
# never comes: libvirtd is killed while virtform polls it.
write_manifest 2
"$vf" apply --auto-approve "$manifest" >"$tmp/apply2.log" 2>&1 &
apply_pid=$!
for _ in $(seq 1 600); do
    grep -q "b: vm\.$vm_s: Destroying" "$tmp/apply2.log" && break
    sleep 0.05
done
grep -q "b: vm\.$vm_s: Destroying" "$tmp/apply2.log" || fail "the apply did not start removing $vm_s: $(cat "$tmp/apply2.log")"
sleep 1
"$host_b" kill-libvirtd "$ns" || fail "could not kill host B's libvirtd"
rc=0
wait "$apply_pid" || rc=$?
out2=$(cat "$tmp/apply2.log")
[ "$rc" = 1 ] || fail "apply with host B's libvirtd killed mid-action exited $rc, want 1: $out2"
grep -q "b: vm\.$vm_s: FAILED" <<<"$out2" || fail "the removal of $vm_s did not fail: $out2"
grep -qF "host 'b' ($uri)" <<<"$out2" || fail "the apply's report does not name host b and $uri: $out2"
active "$here" "$net_lb" || fail "local's part was not applied: $net_lb is not active here: $out2"
echo "the apply with host B's libvirtd killed mid-action exited 1; its errors and report:"
grep -i "error\|FAILED\|failed" <<<"$out2" | sed 's/^/  /' || true
"$host_b" start-libvirtd "$ns" || fail "host B's libvirtd did not start again"
[ "$(on_b domid "$vm_b")" = "$domid_b" ] || fail "$vm_b did not survive its libvirtd's crash"
grep -qx "$vm_s" <<<"$(on_b list --all --name)" || fail "$vm_s is gone from B although its removal failed"

# --- 3. a network on B; B's libvirtd hangs, then dies, while the apply waits --
write_manifest 3
"$host_b" freeze-libvirtd "$ns" || fail "could not freeze host B's libvirtd"
"$vf" apply --auto-approve "$manifest" >"$tmp/apply3.log" 2>&1 &
apply_pid=$!
# The apply waits on host B once its connection is open (the kernel accepts it,
# the frozen daemon never answers); then the daemon dies.
peer=${peer_cidr%/*}
for _ in $(seq 1 300); do
    grep -q "$peer:16509" <<<"$(ss -Htn state established)" && break
    sleep 0.1
done
grep -q "$peer:16509" <<<"$(ss -Htn state established)" || fail "the apply never connected to host B"
sleep 0.5
"$host_b" kill-libvirtd "$ns" || fail "could not kill host B's libvirtd"
rc=0
wait "$apply_pid" || rc=$?
out3=$(cat "$tmp/apply3.log")
[ "$rc" = 1 ] || fail "apply with host B's libvirtd hung and killed exited $rc, want 1: $out3"
# The error as it happens (stderr) and the closing report (stdout), each naming host b and its URI.
grep -qF "error: host 'b' ($uri)" <<<"$out3" || fail "the apply's error does not name host b and $uri: $out3"
grep -qF "failed host 'b' ($uri)" <<<"$out3" || fail "the apply's report does not name host b and $uri: $out3"
echo "the apply with host B's libvirtd hung, then killed, exited 1; its errors:"
grep -i "error" <<<"$out3" | sed 's/^/  /' || true

"$host_b" start-libvirtd "$ns" || fail "host B's libvirtd did not start again"
[ "$(on_b domid "$vm_b")" = "$domid_b" ] || fail "$vm_b did not survive its libvirtd's crash"
grep -qx "$net_bb" <<<"$(on_b net-list --all --name)" && fail "$net_bb was made on host B by an apply that failed there"

# --- 4. the re-apply finishes; destroy empties both hosts ---------------------
t=$(date +%s.%N)
out4=$("$vf" apply --auto-approve "$manifest" 2>&1) || fail "re-apply exited $?: $out4"
t_reapply=$(since "$t")
echo "the re-apply's actions:"
grep '^\[' <<<"$out4" | sed 's/^/  /' || true
active "$uri" "$net_bb" || fail "after the re-apply, $net_bb is not active on host B"
grep -qx "$vm_s" <<<"$(on_b list --all --name)" && fail "after the re-apply, $vm_s is still on host B"
"$vf" plan --detailed-exitcode "$manifest" >/dev/null 2>&1 || fail "plan after the re-apply is not empty (exit $?)"

t=$(date +%s.%N)
out5=$("$vf" destroy --auto-approve "$manifest" 2>&1) || fail "destroy exited $?: $out5"
t_destroy=$(since "$t")
echo "destroy's actions:"
grep '^\[' <<<"$out5" | sed 's/^/  /' || true
for name in "$vm_l" "$vm_b" "$vm_s"; do
    grep -qx "$name" <<<"$(virsh -q list --all --name)" && fail "$name is still defined here after destroy"
    grep -qx "$name" <<<"$(on_b list --all --name)" && fail "$name is still defined on host B after destroy"
done
for name in "$net_la" "$net_lb" "$net_ba" "$net_bb"; do
    grep -qx "$name" <<<"$(virsh -q net-list --all --name)" && fail "$name is still defined here after destroy"
    grep -qx "$name" <<<"$(on_b net-list --all --name)" && fail "$name is still defined on host B after destroy"
done
# Host B's PID 1 reaps what is reparented to it: the guest's QEMU (started under the
# first libvirtd) and dnsmasq have exited, and no zombie of theirs stays behind.
pid1=$("$host_b" pid1 "$ns") || fail "host B's PID 1 is gone"
zombies=
for _ in $(seq 1 50); do
    zombies=$(awk '$1 ~ /^Z/' <<<"$(ps -o stat=,pid=,comm= --ppid "$pid1")") || true
    [ -z "$zombies" ] && break
    sleep 0.1
done
[ -z "$zombies" ] || fail "host B's PID 1 does not reap: $zombies"
"$host_b" stop "$ns"
echo "timing: apply+boot to both leases ${t_leases}s (apply --wait-ip ${t_apply1}s), re-apply ${t_reapply}s, destroy ${t_destroy}s, total $(since "$t_start")s"
echo "PASS: a leased guest on each host; host B's libvirtd killed mid-apply failed only its part (local applied, B's guest ran on); re-apply finished, plan empty, destroy clean on both hosts"
