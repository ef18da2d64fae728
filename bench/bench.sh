#!/usr/bin/env bash
# virtform benchmark, run by hand on a host with libvirtd (NOT part of ctest):
#
#   bench/bench.sh [BINARY] [SIZES...]       # default: build/src/virtform 10 50 200
#
# For each size S it generates a lab of S objects (S/2 isolated networks and
# S/2 defined-but-stopped VMs, bench/make_lab.py; no guest is ever started) and
# measures with hyperfine (apt-get install hyperfine):
#   - cold apply        (hyperfine --prepare destroys the lab first)
#   - no-op plan
#   - no-op apply
# the applies with --parallelism 1 and with the default (4); plus the libvirt
# round trips of a no-op plan (VIRTFORM_STATS=1) with the lab and, after its
# destroy, of an empty lab (a read covers the whole host, so the lab's share
# is the difference), and the machine's noise (the
# same no-op plan of the smallest lab 10 times). Each lab is destroyed after;
# a trap removes whatever is left even when interrupted. Results: a Markdown
# table on stdout (docs/benchmarks.md holds a recorded run); hyperfine's JSON
# in $BENCH_OUT (default: a temporary directory, removed at the end).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
bin=${1:-$here/../build/src/virtform}
shift || true
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(10 50 200)
runs=${BENCH_RUNS:-3}
bin=$(realpath "$bin")
[[ -x $bin ]] || { echo "no virtform binary at $bin" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install hyperfine" >&2; exit 2; }
virsh -q -c qemu:///system version >/dev/null || { echo "libvirtd does not answer (scripts/start-libvirtd.sh)" >&2; exit 2; }

tag=$(( $$ % 100000 ))
work=$(mktemp -d /tmp/virtform-bench.XXXXXX)
keep_out=${BENCH_OUT:-}
out=${BENCH_OUT:-$work/out}
mkdir -p "$out"
kdir=/var/lib/virtform/bench-$tag
bench_kernel "$kdir"

cleanup() {
    set +e
    bench_remove "$bin" qemu:///system "$work" "vfb-$tag-" "vf-bench-$tag-"
    rm -rf "$kdir" "$work"
    [[ -n $keep_out ]] || rm -rf "$out"
}
trap cleanup EXIT INT TERM

# mean ± stddev (seconds) of a hyperfine JSON export.
stat() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f ± %.3f" % (r["mean"], r["stddev"]))' "$1"; }
trips() { VIRTFORM_STATS=1 "$bin" plan "$1" 2>&1 >/dev/null | sed -n 's/.*libvirt round trips: //p'; }
hf() { hyperfine --style none --export-json "$1" "${@:2}" >/dev/null 2>&1; }

echo "# virtform benchmark $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$bin" --version), runs=$runs"
echo "# host objects before: $(virsh -q net-list --all --name | grep -c .) networks, $(virsh -q list --all --name | grep -c .) domains, $(virsh -q pool-list --all --name | grep -c .) pools"
echo
echo "| objects (nets+VMs) | cold apply -p1 (s) | cold apply -p4 (s) | no-op plan (s) | no-op apply -p1 (s) | no-op apply -p4 (s) | no-op plan round trips | empty-lab plan round trips |"
echo "|---|---|---|---|---|---|---|---|"
for size in "${sizes[@]}"; do
    nets=$(( size / 2 )); vms=$(( size - nets ))
    lab=vf-bench-$tag-$size
    f=$work/lab-$size.yaml
    python3 "$here/make_lab.py" "$lab" "$tag" "$nets" "$vms" "$kdir/vmlinuz" > "$f"
    empty=$work/empty-$size.yaml
    echo "lab: $lab" > "$empty"
    for p in 1 4; do
        hf "$out/cold-$size-p$p.json" --runs "$runs" \
            --prepare "$bin destroy --auto-approve $f >/dev/null" \
            "$bin apply --auto-approve --parallelism $p $f"
    done
    # The lab is applied now (the last cold run); everything below is a no-op.
    "$bin" plan --detailed-exitcode "$f" >/dev/null || { echo "lab $size does not converge" >&2; exit 1; }
    hf "$out/plan-$size.json" --runs "$(( runs + 2 ))" --warmup 1 "$bin plan --detailed-exitcode $f"
    for p in 1 4; do
        hf "$out/noop-$size-p$p.json" --runs "$(( runs + 2 ))" "$bin apply --auto-approve --parallelism $p $f"
    done
    # The lab's own cost: the whole host's read with the lab, then (right
    # after the destroy below) without it; close in time, so that other
    # sessions' objects rarely come or go in between.
    rt=$(trips "$f")
    "$bin" destroy --auto-approve "$f" >/dev/null
    base=$(trips "$empty")
    echo "| $size ($nets+$vms) | $(stat "$out/cold-$size-p1.json") | $(stat "$out/cold-$size-p4.json") | $(stat "$out/plan-$size.json") | $(stat "$out/noop-$size-p1.json") | $(stat "$out/noop-$size-p4.json") | $rt | $base |"
done

# The machine's noise: the same no-op plan of the smallest lab, 10 times.
size=${sizes[0]}
f=$work/lab-$size.yaml
"$bin" apply --auto-approve "$f" >/dev/null
hf "$out/noise.json" --runs 10 --warmup 1 "$bin plan --detailed-exitcode $f"
python3 - "$out/noise.json" "$size" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = r["times"]
print(f"\nnoise: no-op plan of the {sys.argv[2]}-object lab, {len(t)} runs: mean {r['mean']:.3f} s, stddev {r['stddev']:.3f} s "
      f"({100 * r['stddev'] / r['mean']:.1f} %), min {min(t):.3f}, max {max(t):.3f}")
PY
"$bin" destroy --auto-approve "$f" >/dev/null
