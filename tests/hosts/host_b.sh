#!/usr/bin/env bash
# A second libvirt host on this machine, for tests of remote URIs: a libvirtd
# in its own network, mount and PID namespaces, with its own /run, /etc/libvirt,
# /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt (empty: no network,
# pool or domain of this host's), listening on qemu+tcp (no auth) at a private
# address on a veth pair to this host's namespace. Nothing of this host's
# libvirtd, networks or links is touched.
#
#   tests/hosts/host_b.sh start NAME HOST_CIDR PEER_CIDR   e.g. vfhb123 10.254.1.1/30 10.254.1.2/30
#       prints the URI (qemu+tcp://PEER/system) once libvirtd answers there
#   tests/hosts/host_b.sh stop NAME                        kills everything in it, removes it
#
# NAME is at most 10 characters (the veth ends are NAME-a and NAME-b).
set -euo pipefail
cmd=${1:?start or stop}
name=${2:?name}
state=/tmp/virtform-host-$name

stop() {
  for pid in $(ip netns pids "$name" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do [ -z "$(ip netns pids "$name" 2>/dev/null)" ] && break; sleep 0.1; done
  ip netns del "$name" 2>/dev/null || true
  ip link del "$name-a" 2>/dev/null || true
  rm -rf "$state"
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
host_cidr=${3:?host address/prefix}
peer_cidr=${4:?peer address/prefix}
peer=${peer_cidr%/*}
[ ${#name} -le 10 ] || { echo "host_b: name '$name' is longer than 10 characters" >&2; exit 2; }
stop

ip netns add "$name"
ip link add "$name-a" type veth peer name "$name-b"
ip link set "$name-b" netns "$name"
ip addr add "$host_cidr" dev "$name-a"
ip link set "$name-a" up
ip -n "$name" addr add "$peer_cidr" dev "$name-b"
ip -n "$name" link set "$name-b" up
ip -n "$name" link set lo up

mkdir -p "$state"/{etc,run,lib,cache,log}
cp /etc/libvirt/*.conf "$state/etc/"
mkdir -p "$state/etc/qemu/networks" "$state/etc/storage"
cat > "$state/etc/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "$peer"
auth_tcp = "none"
CONF
# bash stays PID 1 of the namespace and reaps what QEMU's capability probes
# leave behind (libvirtd as PID 1 does not, and its probes then hang).
setsid ip netns exec "$name" unshare --mount --pid --fork --mount-proc --propagation private bash -c "
  mount -t tmpfs tmpfs /run
  mkdir -p /run/libvirt /run/lock
  mount --bind '$state/etc' /etc/libvirt
  mount --bind '$state/run' /run/libvirt
  mount --bind '$state/lib' /var/lib/libvirt
  mount --bind '$state/cache' /var/cache/libvirt
  mount --bind '$state/log' /var/log/libvirt
  mkdir -p /var/lib/libvirt/qemu /var/lib/libvirt/images /var/lib/libvirt/dnsmasq /var/lib/libvirt/network /var/log/libvirt/qemu
  virtlogd -d
  libvirtd --listen -f /etc/libvirt/libvirtd.conf &
  wait
" >"$state/libvirtd.log" 2>&1 </dev/null &

uri="qemu+tcp://$peer/system"
for _ in $(seq 600); do
  if virsh -c "$uri" version >/dev/null 2>&1; then echo "$uri"; exit 0; fi
  sleep 0.2
done
echo "host_b: libvirtd did not answer on $uri within 120 s; its log:" >&2
tail -20 "$state/libvirtd.log" >&2 || true
stop
exit 1
