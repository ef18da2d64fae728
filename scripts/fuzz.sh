#!/usr/bin/env bash
# Fuzzes load -> plan -> render -> XML round trip (tests/fuzz/manifest_fuzzer.cpp)
# for SECONDS (default 600) with libFuzzer, ASan and UBSan. Builds into
# build-fuzz/ (clang, -DVIRTFORM_FUZZ=ON). The working corpus grows in
# build-fuzz/corpus/ (seeded from tests/fuzz/corpus/ on every run); crashes,
# leaks and timeouts are saved as build-fuzz/findings/crash-*, leak-*, timeout-*.
# The run goes on past a finding (fork mode), so one run lists them all.
# Exit status: 0 when nothing was found, 1 otherwise. See docs/fuzzing.md.
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags]
#   scripts/fuzz.sh 0 build-fuzz/findings/crash-...   reproduce one input
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
# FUZZ_SANITIZERS=undefined (no ASan) runs several times faster: for long runs
# on a shared machine; its default build dir is build-fuzz-undefined.
sanitizers=${FUZZ_SANITIZERS:-address,undefined}
if [ "$sanitizers" = address,undefined ]; then dir=${FUZZ_BUILD_DIR:-build-fuzz}; else dir=${FUZZ_BUILD_DIR:-build-fuzz-${sanitizers//,/-}}; fi

missing=()
for p in clang libclang-rt-14-dev cmake pkg-config libvirt-dev libyaml-cpp-dev libspdlog-dev \
  libpugixml-dev nlohmann-json3-dev libnl-3-dev libnl-route-3-dev libisofs-dev libyaml-dev libgtest-dev \
  libgmock-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DVIRTFORM_FUZZ=ON -DVIRTFORM_FUZZ_SANITIZERS="$sanitizers" "${launcher[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target manifest_fuzzer

# VIRTFORM_FUZZ_SKIP_KNOWN=1 (see manifest_fuzzer.cpp) passes over known findings.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Reproduce: run the given inputs once each.
if [ "$seconds" = 0 ]; then
  exec "$dir/tests/fuzz/manifest_fuzzer" "$@"
fi

mkdir -p "$dir/corpus" "$dir/findings"
before=$(find "$dir/findings" -type f | wc -l)
# -fork=1: one worker at a time (the machine is shared), restarted after each
# finding (-ignore_*), so the run lists every finding rather than the first.
status=0
"$dir/tests/fuzz/manifest_fuzzer" "$dir/corpus" tests/fuzz/corpus \
  -dict=tests/fuzz/manifest.dict -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -artifact_prefix="$dir/findings/" -max_total_time="$seconds" -print_final_stats=1 "$@" \
  2>&1 | tee "$dir/fuzz.log" || status=$?
after=$(find "$dir/findings" -type f | wc -l)
echo "fuzz: corpus $(find "$dir/corpus" -type f | wc -l) inputs; findings $before -> $after in $dir/findings/"
if [ "$after" -gt "$before" ] || [ "$status" -ne 0 ]; then exit 1; fi
