#!/usr/bin/env bash
# End to end, the bridge picture: a guest NIC on a manifest bridge reaches a peer on
# the same segment, with no NAT and no address of the host in that subnet.
#
#   peer netns vf-e2e-<pid>: vfe2p<pid> 10.77.X.1/24 + dnsmasq (DHCP, router = itself)
#        | veth
#   host: vfe2h<pid>  <- a port of bridge vfbr<pid%1000>, declared in the manifest
#        |
#   guest eth0 (tap made by libvirtd)  -> DHCP lease 10.77.X.1xx, pings 10.77.X.1
#
# By hand (in the host namespace) only: the veth pair and the peer namespace.
# Everything else comes from `virtform apply`, and goes with `virtform destroy`.
#   bash tests/e2e/bridge_guest_test.sh path/to/virtform
# Exit 0 and a PASS line on success; a FAIL line and non-zero otherwise. Cleans up
# on every exit (trap).
set -uo pipefail

virtform=${1:?usage: $0 path/to/virtform}
virtform=$(readlink -f "$virtform")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

id=$$
x=$(( id % 250 + 1 ))
subnet=10.77.$x
ns=vf-e2e-$id
host_end=vfe2h$id
peer_end=vfe2p$id
bridge=vfbr$(( id % 1000 ))
lab=e2e-bridge-$id
vm=vfe2e-br-$id
export NO_COLOR=1

t0=$(date +%s.%N)
elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)"; }
log() { echo "bridge_guest_test [$(elapsed)s]: $*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/virtform-e2e-bridge.XXXXXX")
chmod 0755 "$tmp"   # qemu reads the kernel and writes the console here
dnsmasq_pid=
made_ns=
made_veth=
result=FAIL

cleanup() {
    local rc=$?
    set +e
    if [[ $result != PASS ]]; then
        echo "--- console ($tmp/console.log) ---"; tail -n 40 "$tmp/console.log" 2>/dev/null
        echo "--- dnsmasq ---"; tail -n 20 "$tmp/dnsmasq.log" 2>/dev/null
    fi
    # The VM first (its tap is a port of the bridge), then the bridge, then ours.
    if virsh -q -c qemu:///system dominfo "$vm" >/dev/null 2>&1; then
        log "cleanup: removing VM $vm"
        virsh -q -c qemu:///system destroy "$vm" >/dev/null 2>&1
        virsh -q -c qemu:///system undefine "$vm" --nvram >/dev/null 2>&1 ||
            virsh -q -c qemu:///system undefine "$vm" >/dev/null 2>&1
    fi
    if ip link show dev "$bridge" >/dev/null 2>&1 &&
       [[ $(cat "/sys/class/net/$bridge/ifalias" 2>/dev/null) == "virtform:$lab" ]]; then
        log "cleanup: deleting bridge $bridge"
        ip link del dev "$bridge"
    fi
    if [[ -n $dnsmasq_pid ]] && kill -0 "$dnsmasq_pid" 2>/dev/null; then
        kill "$dnsmasq_pid"; wait "$dnsmasq_pid" 2>/dev/null
    fi
    [[ -n $made_veth ]] && ip link del dev "$host_end" >/dev/null 2>&1
    [[ -n $made_ns ]] && ip netns del "$ns" >/dev/null 2>&1
    rm -rf "$tmp"
    # apply keeps a drift record per lab, also after destroy; this lab is single-use.
    rm -f /var/lib/virtform/state/"$lab"@*.json
    if [[ $result == PASS ]]; then
        echo "PASS bridge_guest_test: $summary"
    else
        echo "FAIL bridge_guest_test: ${failure:-aborted (exit $rc)}"
        [[ $rc -eq 0 ]] && rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'failure="interrupted"; exit 130' INT TERM

fail() { failure=$*; exit 1; }
run() {  # NAME ARGS...: runs the CLI, keeps its output in $tmp/NAME.out, sets $status
    local name=$1; shift
    "$virtform" "$@" </dev/null >"$tmp/$name.out" 2>&1
    status=$?
    sed "s/^/  | /" "$tmp/$name.out"
    return 0
}

# Preconditions: nothing of ours may exist already.
grep -qw "$ns" <<<"$(ip netns list)" && fail "netns $ns already exists"
for dev in "$bridge" "$host_end"; do
    ip link show dev "$dev" >/dev/null 2>&1 && fail "$dev already exists (not ours: refusing to touch it)"
done
command -v dnsmasq >/dev/null || fail "dnsmasq not installed"
virsh -q -c qemu:///system version >/dev/null 2>&1 || fail "libvirtd does not answer (scripts/start-libvirtd.sh)"

log "building the test guest"
"$repo/scripts/make-test-guest.sh" "$tmp/guest" >/dev/null || fail "make-test-guest.sh failed"

log "peer namespace $ns: $peer_end $subnet.1/24 with dnsmasq; host end $host_end"
ip netns add "$ns" || fail "ip netns add $ns"
made_ns=1
ip link add "$host_end" type veth peer name "$peer_end" netns "$ns" || fail "veth pair"
made_veth=1
ip -n "$ns" link set lo up
ip -n "$ns" addr add "$subnet.1/24" dev "$peer_end"
ip -n "$ns" link set "$peer_end" up
# virtform enslaves ports but leaves their administrative state as it finds it: a
# new veth end starts down, so bring it up as a NIC would be.
ip link set "$host_end" up
ip netns exec "$ns" dnsmasq --no-daemon --conf-file=/dev/null --leasefile-ro \
    --interface="$peer_end" --except-interface=lo --bind-interfaces \
    --dhcp-range="$subnet.100,$subnet.150,255.255.255.0,1h" --dhcp-option=3,"$subnet.1" \
    --pid-file="$tmp/dnsmasq.pid" --log-dhcp --port=0 >"$tmp/dnsmasq.log" 2>&1 &
dnsmasq_pid=$!
sleep 0.5
kill -0 "$dnsmasq_pid" 2>/dev/null || fail "dnsmasq did not start: $(cat "$tmp/dnsmasq.log")"

cat >"$tmp/lab.yaml" <<EOF
lab: $lab
bridges:
  $bridge:
    ports: [$host_end]
    stp: false
vms:
  $vm:
    cpus: 1
    memory: 256MiB
    accel: auto
    kernel: $tmp/guest/vmlinuz
    initrd: $tmp/guest/initrd.gz
    cmdline: console=ttyS0
    nics:
      - {bridge: $bridge}
    console: {file: $tmp/console.log}
EOF

run validate validate "$tmp/lab.yaml"
[[ $status -eq 0 ]] || fail "validate exited $status"

log "apply"
apply_start=$(date +%s.%N)
run apply apply "$tmp/lab.yaml" --auto-approve
[[ $status -eq 0 ]] || fail "apply exited $status"
grep -q "2 added, 0 changed, 0 destroyed" "$tmp/apply.out" || fail "apply did not add the bridge and the VM"

# Checked outside virtform: the bridge carries the mark and holds the veth end and
# the VM's tap; the host has no address in the peer's subnet.
[[ $(cat "/sys/class/net/$bridge/ifalias") == "virtform:$lab" ]] || fail "$bridge does not carry the mark"
[[ $(basename "$(readlink "/sys/class/net/$host_end/master")") == "$bridge" ]] || fail "$host_end is not a port of $bridge"
tap=$(virsh -q -c qemu:///system domiflist "$vm" | awk '{print $1}' | head -n1)
[[ -n $tap && $(basename "$(readlink "/sys/class/net/$tap/master")") == "$bridge" ]] ||
    fail "the VM's tap '${tap}' is not a port of $bridge"
grep -q "inet $subnet\." <<<"$(ip -4 addr show)" && fail "the host has an address in $subnet.0/24"
grep -q "<source bridge='$bridge'/>" <<<"$(virsh -q -c qemu:///system dumpxml "$vm")" || fail "the VM's NIC is not on $bridge"

log "waiting up to 120 s for the guest's lease and gateway line"
deadline=$(( $(date +%s) + 120 ))
lease_at=
while (( $(date +%s) < deadline )); do
    if [[ -z $lease_at ]] && grep -q "^VIRTFORM-GUEST: lease $subnet\." "$tmp/console.log" 2>/dev/null; then
        lease_at=$(echo "$(date +%s.%N) - $apply_start" | bc)
    fi
    grep -q '^VIRTFORM-GUEST: gateway ' "$tmp/console.log" 2>/dev/null && break
    sleep 1
done
gw_at=$(echo "$(date +%s.%N) - $apply_start" | bc)
lease=$(grep -m1 "^VIRTFORM-GUEST: lease " "$tmp/console.log" 2>/dev/null | tr -d '\r')
[[ -n $lease ]] || fail "no lease line on the console within 120 s"
[[ $lease =~ ^VIRTFORM-GUEST:\ lease\ ($subnet\.[0-9]+)/24\ gw\ $subnet\.1\  ]] ||
    fail "unexpected lease: $lease"
guest_ip=${BASH_REMATCH[1]}
grep -q '^VIRTFORM-GUEST: gateway reachable' "$tmp/console.log" || fail "the guest did not reach $subnet.1"
log "guest: $lease; gateway reachable"
# And the other way round: the peer reaches the guest across the bridge.
ip netns exec "$ns" ping -c1 -W3 "$guest_ip" >/dev/null || fail "the peer does not reach the guest at $guest_ip"

log "re-plan"
run replan plan "$tmp/lab.yaml" --detailed-exitcode
[[ $status -eq 0 ]] || fail "re-plan exited $status (expected 0: no changes)"

log "destroy"
run destroy destroy "$tmp/lab.yaml" --auto-approve
[[ $status -eq 0 ]] || fail "destroy exited $status"
virsh -q -c qemu:///system dominfo "$vm" >/dev/null 2>&1 && fail "VM $vm still defined after destroy"
ip link show dev "$bridge" >/dev/null 2>&1 && fail "bridge $bridge still exists after destroy"
ip link show dev "$host_end" >/dev/null 2>&1 || fail "destroy deleted the port $host_end (not ours to delete)"
[[ -e /sys/class/net/$host_end/master ]] && fail "$host_end is still enslaved"
run replan2 plan "$tmp/lab.yaml" --detailed-exitcode
[[ $status -eq 2 ]] || fail "plan after destroy exited $status (expected 2: everything to create)"

summary=$(printf 'lease %s after %.1f s, gateway line after %.1f s, total %s s' \
    "$guest_ip" "$lease_at" "$gw_at" "$(elapsed)")
result=PASS
exit 0
