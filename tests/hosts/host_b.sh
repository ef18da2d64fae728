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
#   tests/hosts/host_b.sh kill-libvirtd NAME               SIGKILLs host B's libvirtd only (a
#       daemon crash): its guests, dnsmasq and virtlogd run on; returns once the URI refuses
#   tests/hosts/host_b.sh start-libvirtd NAME              starts it again in the same namespaces
#       (it reconnects to the running guests); returns once the URI answers
#   tests/hosts/host_b.sh freeze-libvirtd NAME             SIGSTOPs it (a hung daemon: connections
#       are accepted by the kernel and never answered); kill-libvirtd ends it
#   tests/hosts/host_b.sh pid1 NAME                        prints the PID of the namespace's PID 1
#
# NAME is at most 10 characters (the veth ends are NAME-a and NAME-b).
#
# The namespace's PID 1 is a bash that only sleeps and reaps: it must outlive
# libvirtd (when PID 1 of a PID namespace exits, the kernel kills everything in
# it, guests included) and reap what is reparented to it (QEMU's capability
# probes, daemonised QEMU and dnsmasq; libvirtd as PID 1 does not reap, and its
# probes then hang).
set -euo pipefail
cmd=${1:?start, stop, kill-libvirtd or start-libvirtd}
name=${2:?name}
state=/tmp/virtform-host-$name

# The PID (in this host's PID namespace) of the namespace's PID 1.
init_pid() {
  local pid
  for pid in $(ip netns pids "$name" 2>/dev/null); do
    if grep -qP '^NSpid:\t\d+\t1$' "/proc/$pid/status" 2>/dev/null; then echo "$pid"; return 0; fi
  done
  return 1
}
# host B's libvirtd processes (in this host's PID namespace), if any.
libvirtd_pids() {
  local pid
  for pid in $(ip netns pids "$name" 2>/dev/null); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ] && echo "$pid"
  done
  return 0
}
answers() { virsh -c "$(cat "$state/uri")" version >/dev/null 2>&1; }
wait_answer() {
  for _ in $(seq 600); do
    if answers; then cat "$state/uri"; return 0; fi
    sleep 0.2
  done
  echo "host_b: libvirtd did not answer on $(cat "$state/uri") within 120 s; its log:" >&2
  tail -20 "$state/libvirtd.log" >&2 || true
  return 1
}

stop() {
  for pid in $(ip netns pids "$name" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do [ -z "$(ip netns pids "$name" 2>/dev/null)" ] && break; sleep 0.1; done
  ip netns del "$name" 2>/dev/null || true
  ip link del "$name-a" 2>/dev/null || true
  rm -rf "$state"
}

case $cmd in
  stop) stop; exit 0 ;;
  pid1) init_pid || { echo "host_b: $name is not running" >&2; exit 1; } ; exit 0 ;;
  kill-libvirtd)
    [ -s "$state/uri" ] && init_pid >/dev/null || { echo "host_b: $name is not running" >&2; exit 1; }
    pids=$(libvirtd_pids)
    [ -n "$pids" ] || { echo "host_b: $name has no libvirtd running" >&2; exit 1; }
    kill -9 $pids
    for _ in $(seq 100); do
      [ -z "$(libvirtd_pids)" ] && ! answers && exit 0
      sleep 0.1
    done
    echo "host_b: $name's libvirtd still runs or answers 10 s after SIGKILL" >&2
    exit 1 ;;
  freeze-libvirtd)
    pids=$(libvirtd_pids)
    [ -n "$pids" ] || { echo "host_b: $name has no libvirtd running" >&2; exit 1; }
    kill -STOP $pids
    for _ in $(seq 100); do
      stopped=1
      for pid in $pids; do grep -q '^State:.*T (stopped)' "/proc/$pid/status" || stopped=0; done
      [ $stopped = 1 ] && exit 0
      sleep 0.1
    done
    echo "host_b: $name's libvirtd did not stop" >&2
    exit 1 ;;
  start-libvirtd)
    init=$(init_pid) && [ -s "$state/uri" ] || { echo "host_b: $name is not running" >&2; exit 1; }
    [ -z "$(libvirtd_pids)" ] || { echo "host_b: $name's libvirtd already runs" >&2; exit 1; }
    # Into all of PID 1's namespaces, root and working directory; libvirtd is
    # backgrounded there, its parent exits, and PID 1 inherits (and reaps) it.
    nsenter -t "$init" -n -m -p -r -w setsid bash -c \
      'libvirtd --listen -f /etc/libvirt/libvirtd.conf </dev/null & disown' \
      >>"$state/libvirtd.log" 2>&1 </dev/null
    wait_answer >/dev/null || exit 1
    exit 0 ;;
  start) ;;
  *) echo "host_b: unknown command '$cmd'" >&2; exit 2 ;;
esac
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
# This host's QEMU capabilities cache (same binaries, same kernel): host B's
# libvirtd then validates it instead of probing QEMU at start. The probe is
# slow, and once in a few starts under load it hung in QMP negotiation.
if [ -d /var/cache/libvirt/qemu/capabilities ]; then
  mkdir -p "$state/cache/qemu"
  cp -a /var/cache/libvirt/qemu/capabilities "$state/cache/qemu/"
fi
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
  while :; do sleep 3600 & wait \$!; done
" >"$state/libvirtd.log" 2>&1 </dev/null &

echo "qemu+tcp://$peer/system" >"$state/uri"
wait_answer && exit 0
stop
exit 1
