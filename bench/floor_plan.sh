#!/usr/bin/env bash
# No-op plan against the C floor (issue 13, part 2), run by hand (NOT part of ctest):
#
#   bench/floor_plan.sh [BUILD_DIR] [SIZES...]     # default: build 200 1000
#
# Needs the build's virtform, bench/c_floor_plan and bench/c_floor_start
# (cmake --build BUILD_DIR --target virtform c_floor_plan c_floor_start), a
# libvirtd on qemu:///system and hyperfine (apt-get install hyperfine).
#
# For each size S: bench/make_lab.py writes a lab of S objects (S/10 NAT
# networks with a DHCP range, the rest VMs defined and stopped: accel qemu, no
# disk, one NIC, a dummy kernel file; every name starts with vfpp), virtform
# applies it, and hyperfine measures, side by side as whole processes, with
# warm-up and RUNS runs each (BENCH_RUNS, default 15), in ROUNDS rounds
# (BENCH_ROUNDS, default 3) that alternate the commands (hyperfine runs all of
# one command's runs before the next's, and this machine drifts by 20 % over
# minutes), all rounds' runs counted together:
#   - floor:    c_floor_plan   (connect, list all networks and domains, fetch
#                               each one's XML; bench/c_floor_plan.c)
#   - virtform: virtform plan --detailed-exitcode lab.yaml   (a no-op: exit 0)
# Times: mean ± standard deviation (median; the process's CPU time, user + system)
# in ms; on a shared machine the median and the CPU time are the steadier. Then
# process start alone: c_floor_start (`int main(){return 0;}` linked with
# libvirt) against `virtform --version`; and the machine's noise (the no-op plan
# of the first size, 10 runs, their spread). Prints Markdown tables. The lab is
# destroyed after each size, and a trap removes whatever is left (by name) on
# exit or interrupt. BENCH_BASE=old/virtform adds that binary's no-op plan to
# the same hyperfine runs (before/after a change, on the same lab). Under five minutes for 200 and 1000 on a 2-core machine,
# most of it libvirtd starting and stopping the NAT networks.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
build=$(realpath "${1:-$here/../build}")
shift || true
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(200 1000)
runs=${BENCH_RUNS:-15}
rounds=${BENCH_ROUNDS:-3}   # hyperfine runs one command's runs, then the next's: the
                            # rounds alternate them, so both see the machine's drift
uri=qemu:///system
bin=${BENCH_BIN:-$build/src/virtform}   # BENCH_BIN: another binary to measure
base=${BENCH_BASE:-}                       # BENCH_BASE: an older binary, measured in the same runs
before=()
floor=$build/bench/c_floor_plan
start=$build/bench/c_floor_start
for b in "$bin" "$floor" "$start"; do
    [[ -x $b ]] || { echo "missing $b: cmake --build $build --target virtform c_floor_plan c_floor_start" >&2; exit 2; }
done
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install hyperfine" >&2; exit 2; }
virsh -q -c "$uri" version >/dev/null || { echo "libvirtd does not answer (scripts/setup.sh starts it)" >&2; exit 2; }
net_base=174   # subnets 10.174.i.0/24 (at most 250 networks: 2500 objects)
if ip -4 route | grep -q "^10\.174\." || grep -q "10\.174\." <<<"$(virsh -q -c "$uri" net-dumpxml --inactive default 2>/dev/null || true)"; then
    echo "10.174.0.0/16 is in use on this host: the lab's subnets would overlap" >&2
    exit 2
fi

tag=$(( $$ % 10000 ))   # bridges vfpp<tag>x<i>: at most 15 characters
work=$(mktemp -d /tmp/vfpp-floor.XXXXXX)
kdir=/var/lib/virtform/vfpp-floor-$tag
bench_kernel "$kdir"

cleanup() {
    set +e
    bench_remove "$bin" "$uri" "$work" "vfpp-$tag-" "vfpp-floor-$tag-"
    rm -rf "$kdir" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hf() { hyperfine --shell=none --style none --warmup 3 --export-json "$@" >/dev/null 2>&1; }
# Statistics over the rounds' hyperfine JSON exports FILE-1.json ... FILE-R.json
# (all their runs together). ms FILE I: "mean ± sd (median; CPU user+sys)" in ms
# of command I (0-based); ratio FILE [I]: "ratio of means (ratio of medians)",
# command I (default 1) over command 0.
stats() {
    python3 - "$@" <<'PY'
import glob, json, statistics, sys
what, base, i = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(glob.glob(base + "-*.json"))
def merged(k):
    rs = [json.load(open(f))["results"][k] for f in files]
    t = [x for r in rs for x in r["times"]]
    cpu = statistics.mean(r["user"] + r["system"] for r in rs)
    return t, cpu
t, cpu = merged(i)
if what == "ms":
    print("%.1f ± %.1f (%.1f; %.1f)" % (1e3 * statistics.mean(t), 1e3 * statistics.stdev(t),
                                         1e3 * statistics.median(t), 1e3 * cpu))
else:
    f, _ = merged(0)
    print("%.2f (%.2f)" % (statistics.mean(t) / statistics.mean(f),
                           statistics.median(t) / statistics.median(f)))
PY
}
ms() { stats ms "$1" "$2"; }
ratio() { stats ratio "$1" "${2:-1}"; }
# hf BASE ARGS...: the rounds of one hyperfine measurement, BASE-1.json ... BASE-R.json
hf_rounds() {
    local base=$1 r
    shift
    for ((r = 1; r <= rounds; r++)); do hf "$base-$r.json" "$@"; done
}

echo "# No-op plan against the C floor, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $("$bin" --version), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?'), runs=$runs x $rounds rounds (+3 warm-up each)"
echo "# host before: $(virsh -q -c "$uri" net-list --all --name | grep -c .) networks, $(virsh -q -c "$uri" list --all --name | grep -c .) domains, $(virsh -q -c "$uri" pool-list --all --name | grep -c .) pools"
echo
echo "| objects (NAT nets + stopped VMs) | floor: c_floor_plan, ms: mean ± sd (median; CPU) | virtform plan, no-op, ms: mean ± sd (median; CPU) | ratio of means (of medians) | apply, destroy (s) |"
echo "|---|---|---|---|---|"
for size in "${sizes[@]}"; do
    nets=$(( size / 10 )); vms=$(( size - nets ))
    lab=vfpp-floor-$tag-$size
    f=$work/lab-$size.yaml
    python3 "$here/make_lab.py" "$lab" "$tag" "$nets" "$vms" "$kdir/vmlinuz" \
        --prefix vfpp --nat --net-base "$net_base" >"$f"
    t0=$(date +%s.%N)
    "$bin" apply --auto-approve "$f" >"$work/apply.log" 2>&1 || { tail -5 "$work/apply.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    "$bin" plan --detailed-exitcode "$f" >/dev/null || { echo "lab $size does not converge" >&2; exit 1; }
    hf_rounds "$work/plan-$size" --runs "$runs" -n floor "$floor $uri" -n virtform "$bin plan --detailed-exitcode $f" \
        ${base:+-n before "$base plan --detailed-exitcode $f"}
    if [[ $size == "${sizes[0]}" ]]; then
        hf "$work/noise.json" --runs 10 -n virtform "$bin plan --detailed-exitcode $f"
    fi
    t2=$(date +%s.%N)
    "$bin" destroy --auto-approve "$f" >"$work/destroy.log" 2>&1 || { tail -5 "$work/destroy.log" >&2; exit 1; }
    t3=$(date +%s.%N)
    rm -f "$f"
    echo "| $size ($nets + $vms) | $(ms "$work/plan-$size" 0) | $(ms "$work/plan-$size" 1) | $(ratio "$work/plan-$size") | $(printf '%.0f, %.0f' "$(bc <<<"$t1 - $t0")" "$(bc <<<"$t3 - $t2")") |"
    [[ -z $base ]] || before+=("| $size | $(ms "$work/plan-$size" 2) | $(ratio "$work/plan-$size" 2) |")
done

if [[ -n $base ]]; then
    echo
    echo "BENCH_BASE=$base, in the same runs:"
    echo
    echo "| objects | before: no-op plan, ms: mean ± sd (median; CPU) | ratio to the floor |"
    echo "|---|---|---|"
    printf '%s\n' "${before[@]}"
fi

echo
echo "| process start | floor: c_floor_start, ms: mean ± sd (median; CPU) | virtform --version, ms: mean ± sd (median; CPU) | ratio of means (of medians) |"
echo "|---|---|---|---|"
hf_rounds "$work/start" --runs $(( runs * 2 )) -n floor "$start" -n virtform "$bin --version"
echo "| $(ldd "$start" | grep -c '=>') and $(ldd "$bin" | grep -c '=>') shared libraries | $(ms "$work/start" 0) | $(ms "$work/start" 1) | $(ratio "$work/start") |"

# The machine's noise: the no-op plan of the first size, 10 runs (measured
# in the loop above, before that lab's destroy).
python3 - "$work/noise.json" "${sizes[0]}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = [1e3 * x for x in r["times"]]
print(f"\nnoise: no-op plan of the {sys.argv[2]}-object lab, {len(t)} runs: mean {1e3 * r['mean']:.1f} ms, "
      f"sd {1e3 * r['stddev']:.1f} ms ({100 * r['stddev'] / r['mean']:.1f} %), min {min(t):.1f}, max {max(t):.1f}")
PY
