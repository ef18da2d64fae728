#!/usr/bin/env bash
# Cold apply and destroy against the serial floor (issue 13, part 2), by hand
# on a host with libvirtd (NOT part of ctest):
#
#   bench/floor_apply.sh [BUILD_DIR] [SIZES...]     # default: build 200
#
# For each size S: a lab of S objects, S/10 NAT networks with a DHCP range and
# the rest VMs defined but stopped (accel qemu, no disk, one NIC on a network of
# the lab, a dummy kernel: bench/make_lab.py --nat). Then:
#
#  1. `virtform -vv apply --parallelism 1` once, to capture the XML virtform
#     sends: its debug log holds every definition ("defining network N:" and
#     "defining vm N:" followed by the XML). Each goes to a file, and a list
#     per kind names them in manifest order. The lab is destroyed again.
#  2. BENCH_RUNS rounds (default 5) of four timed commands, each the other's
#     --prepare: `virtform apply --auto-approve` (the default parallelism) and
#     `virtform destroy --auto-approve`, then the C floor's apply and destroy
#     (build/bench/c_floor_apply: serially, over one connection, network
#     define + autostart + start, VM define; VM undefine, network destroy +
#     undefine). Rounds alternate who goes first (ABBA), so a drift of the
#     machine's load falls on both. After the floor's first apply, a virtform
#     plan of the lab must be empty: the floor made the same objects.
#
# Prints a Markdown table (mean ± sd of wall time, seconds, and the ratio of
# the means, with the median and range of the per-round ratios). A trap removes whatever
# is left, by name, even when interrupted. Under 4 minutes for 200 here.
# BENCH_VIRTFORM=path/to/virtform measures another binary (e.g. an older
# build) against the same floor.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
build=$(realpath "${1:-$here/../build}")
shift || true
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(200)
runs=${BENCH_RUNS:-5}
bin=$(realpath "${BENCH_VIRTFORM:-$build/src/virtform}")  # another virtform against the same floor
floor=$build/bench/c_floor_apply
uri=qemu:///system
[[ -x $bin ]] || { echo "no virtform binary at $bin" >&2; exit 2; }
[[ -x $floor ]] || { echo "no floor program at $floor (cmake --build $build --target c_floor_apply)" >&2; exit 2; }
virsh -q -c "$uri" version >/dev/null || { echo "libvirtd does not answer (scripts/start-libvirtd.sh)" >&2; exit 2; }
for s in "${sizes[@]}"; do
    [[ $s =~ ^[0-9]+$ && $s -ge 10 && $s -le 2560 ]] || { echo "size $s: 10..2560 objects" >&2; exit 2; }
done
# Each NAT network's dnsmasq holds an inotify instance, counted against root's
# fs.inotify.max_user_instances (128 on Debian): with other labs' NAT networks
# up, the lab's would fail to start ("failed to create inotify: Too many open
# files"). Say so before starting rather than half way.
inotify_limit=$(cat /proc/sys/fs/inotify/max_user_instances)
inotify_used=$( { find /proc/[0-9]*/fd -lname 'anon_inode:inotify' 2>/dev/null || true; } | wc -l)
most=0
for s in "${sizes[@]}"; do if (( s / 10 > most )); then most=$(( s / 10 )); fi; done
if (( inotify_used + most + 8 > inotify_limit )); then
    echo "fs.inotify.max_user_instances is $inotify_limit and $inotify_used are in use: $most NAT networks more" \
         "(one dnsmasq each) would not start. Wait for other labs to go, or raise it:" \
         "sysctl -w fs.inotify.max_user_instances=1024" >&2
    exit 2
fi

tag=$(( $$ % 100000 ))
prefix=vfpa
work=$(mktemp -d /tmp/vfpa-floor.XXXXXX)
kdir=/var/lib/virtform/vfpa-bench-$tag
bench_kernel "$kdir"

cleanup() {
    set +e
    bench_remove "$bin" "$uri" "$work" "$prefix-$tag-" "$prefix-$tag-"
    rm -rf "$kdir" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" quietly and prints its wall time in seconds; fails the script if it fails.
timed() {
    local t0=$EPOCHREALTIME
    if ! "$@" >"$work/last.log" 2>&1; then
        echo "failed: $*" >&2
        tail -20 "$work/last.log" >&2
        exit 1
    fi
    local t1=$EPOCHREALTIME
    python3 -c "import sys; print('%.4f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1"
}

echo "# cold apply and destroy against the serial floor, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $("$bin" --version), runs=$runs"
echo "# host objects before: $(virsh -q -c "$uri" net-list --all --name | grep -c .) networks, $(virsh -q -c "$uri" list --all --name | grep -c .) domains"
echo
echo "| objects (NAT nets+VMs) | virtform apply (s) | floor apply (s) | apply ratio | virtform destroy (s) | floor destroy (s) | destroy ratio |"
echo "|---|---|---|---|---|---|---|"
for size in "${sizes[@]}"; do
    nets=$(( size / 10 )); vms=$(( size - nets ))
    f=$work/lab-$size.yaml
    python3 "$here/make_lab.py" "$prefix-$tag-$size" "$tag" "$nets" "$vms" "$kdir/vmlinuz" \
        --prefix "$prefix" --nat --subnet 10.171 > "$f"

    # 1. The XML virtform sends, from its debug log.
    xml=$work/xml-$size
    mkdir -p "$xml"
    "$bin" -vv apply --auto-approve --parallelism 1 "$f" >/dev/null 2>"$work/capture.log" ||
        { tail -20 "$work/capture.log" >&2; exit 1; }
    python3 - "$work/capture.log" "$xml" "$nets" "$vms" <<'PY'
import os, re, sys
log, out, want_nets, want_vms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
found = {"network": [], "vm": []}
end = {"network": "</network>", "vm": "</domain>"}
cur = None
for line in open(log, encoding="utf-8"):
    m = re.match(r"^debug: defining (network|vm) (\S+):$", line.rstrip("\n"))
    if m and cur is None:
        cur = (m.group(1), m.group(2), [])
        continue
    if cur is not None:
        cur[2].append(line)
        if line.strip() == end[cur[0]]:
            kind, name, body = cur
            path = os.path.join(out, f"{kind}-{name}.xml")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write("".join(body))
            found[kind].append((name, path))
            cur = None
def order(e):  # manifest order: by the index after n / vm
    return int(re.search(r"(\d+)$", e[0]).group(1))
if len(found["network"]) != want_nets or len(found["vm"]) != want_vms:
    sys.exit(f"captured {len(found['network'])} network and {len(found['vm'])} vm definitions, "
             f"want {want_nets} and {want_vms}")
for kind, fname in (("network", "networks.list"), ("vm", "vms.list")):
    with open(os.path.join(out, fname), "w", encoding="utf-8") as fh:
        for name, path in sorted(found[kind], key=order):
            fh.write(f"{name} {path}\n")
PY
    "$bin" destroy --auto-approve "$f" >/dev/null 2>&1

    # 2. Alternating rounds.
    va=(); vd=(); fa=(); fd=()
    for (( r = 0; r < runs; r++ )); do
        for who in vf floor; do
            if (( r % 2 == 1 )); then [[ $who == vf ]] && who=floor || who=vf; fi
            if [[ $who == vf ]]; then
                va+=("$(timed "$bin" apply --auto-approve "$f")")
                vd+=("$(timed "$bin" destroy --auto-approve "$f")")
            else
                fa+=("$(timed "$floor" apply "$uri" "$xml/networks.list" "$xml/vms.list")")
                if (( r == 0 )); then
                    "$bin" plan --detailed-exitcode "$f" >"$work/plan.log" 2>&1 ||
                        { echo "after the floor's apply, virtform still plans changes:" >&2; tail -20 "$work/plan.log" >&2; exit 1; }
                fi
                fd+=("$(timed "$floor" destroy "$uri" "$xml/networks.list" "$xml/vms.list")")
            fi
        done
    done
    python3 - "$size" "$nets" "$vms" "${va[*]}" "${fa[*]}" "${vd[*]}" "${fd[*]}" <<'PY'
import statistics as st, sys
size, nets, vms = sys.argv[1:4]
va, fa, vd, fd = ([float(x) for x in a.split()] for a in sys.argv[4:8])
def ms(x): return f"{st.mean(x):.2f} ± {st.stdev(x) if len(x) > 1 else 0:.2f}"
def ratio(v, f):
    per = [a / b for a, b in zip(v, f)]
    return f"{st.mean(v) / st.mean(f):.3f} (median {st.median(per):.2f}, {min(per):.2f}-{max(per):.2f})"
print(f"| {size} ({nets}+{vms}) | {ms(va)} | {ms(fa)} | {ratio(va, fa)} | {ms(vd)} | {ms(fd)} | {ratio(vd, fd)} |")
PY
done
echo
echo "Ratios: mean over mean; in brackets the median and the range of the per-round ratios (each round runs both, back to back)."
