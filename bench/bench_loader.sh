#!/usr/bin/env bash
# Loader and planner benchmark on large manifests, run by hand (NOT part of ctest):
#
#   bench/bench_loader.sh [BUILD_DIR] [SIZES...]     # default: build 1000 10000
#
# For each size S, bench/make_big_lab.py writes a lab of S objects (S/2 isolated
# networks with disjoint subnets, S/2 VMs). Then, RUNS times each (default 7):
#   - `virtform validate`            wall time and max RSS (/usr/bin/time -v)
#   - `virtform --connect test:///default plan`   the CLI's plan against libvirt's
#                                    test driver (an in-memory host); skipped with a
#                                    note when the CLI cannot plan there
#   - `plan_bench`                   load + plan against an empty host + render,
#                                    in process, per phase (bench/plan_bench.cpp)
# and prints a Markdown table of medians, with min-max as the noise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
shift || true
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000 10000)
runs=${BENCH_RUNS:-7}
bin=${BENCH_BIN:-$build/src/virtform}   # BENCH_BIN: another binary, e.g. an older build
pb=$build/bench/plan_bench
[[ -x $bin ]] || { echo "no virtform binary at $bin" >&2; exit 2; }
[[ -x $pb ]] || { echo "no plan_bench at $pb (cmake --build $build --target plan_bench); skipping it" >&2; pb=; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median and min-max of numbers on stdin
stats() { sort -g | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f (%.3f-%.3f)", m, v[1], v[NR]}'; }

# run CMD... RUNS times; print "wall_median (min-max) | rss_median (min-max)" (s, MiB)
measure() {
    : >"$work/wall"; : >"$work/rss"
    for ((i = 0; i < runs; i++)); do
        if ! /usr/bin/time -v -o "$work/time" "$@" >"$work/out" 2>"$work/err"; then
            echo "FAILED: $* ($(head -c 300 "$work/err"))" >&2
            return 1
        fi
        awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$work/time" >>"$work/wall"
        awk -F': ' '/Maximum resident set size/ {print $2/1024}' "$work/time" >>"$work/rss"
    done
    echo "$(stats <"$work/wall") s | $(stats <"$work/rss") MiB"
}

echo "machine: $(nproc) cores, $(awk '/model name/ {sub(/.*: /,""); print; exit}' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?'), runs: $runs"
echo
echo "| objects | command | wall median (min-max) | max RSS median (min-max) |"
echo "|---|---|---|---|"
for s in "${sizes[@]}"; do
    lab=$work/lab$s.yaml
    python3 "$here/make_big_lab.py" "$s" >"$lab"
    echo "| $s | validate | $(measure "$bin" validate -f "$lab") |"
    if "$bin" --connect test:///default plan -f "$lab" >/dev/null 2>"$work/err"; then
        echo "| $s | plan (test:///default) | $(measure "$bin" --connect test:///default plan -f "$lab") |"
    else
        echo "| $s | plan (test:///default) | not run: $(head -1 "$work/err" | cut -c1-80) | |"
    fi
    if [[ -n $pb ]]; then
        echo "| $s | plan_bench (load+plan+render) | $(measure "$pb" "$lab") |"
        "$pb" "$lab" | sed "s/^/  phases ($s objects): /" >&2
    fi
done
