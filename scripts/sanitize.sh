#!/usr/bin/env bash
# Builds virtform with clang's AddressSanitizer + UndefinedBehaviorSanitizer
# (with float-cast-overflow) into build-asan/ and runs the unit and integration
# tiers. Fails on any failing test and on any sanitizer report, including the
# reports of the `virtform` processes the CLI tests start (a test that expects
# exit 1 would otherwise hide one): every report goes to a file under
# build-asan/sanitizer-logs/, and any file there fails the run.
# Run as root on Debian 12; works on a fresh machine (installs what it needs).
#   scripts/sanitize.sh                 build, then ctest -L 'unit|integration'
#   scripts/sanitize.sh -R Manifest     extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${SANITIZE_BUILD_DIR:-build-asan}

# The project's packages and a running libvirtd (no build of build/), then clang
# and its sanitizer runtimes (libclang-rt-14-dev holds libclang_rt.asan/ubsan).
VIRTFORM_SKIP_BUILD=1 scripts/setup.sh
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "sanitize: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

flags="-fsanitize=address,undefined -fsanitize=float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
start=$(date +%s)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  "${launcher[@]}" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$dir" -j"$(nproc)"
built=$(date +%s)
echo "sanitize: build took $((built - start)) s"

logs="$root/$dir/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
# detect_leaks: LSan runs at every exit; third-party one-time allocations are
# suppressed in tests/sanitize/lsan.supp (never virtform's own frames).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$logs/asan"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"

status=0
ctest --test-dir "$dir" --output-on-failure -L 'unit|integration' "$@" || status=$?
done_at=$(date +%s)
echo "sanitize: tests took $((done_at - built)) s"

if compgen -G "$logs/*" >/dev/null; then
  echo "sanitize: sanitizer reports:" >&2
  for f in "$logs"/*; do echo "== $f" >&2; cat "$f" >&2; done
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize: FAILED" >&2
  exit "$status"
fi
echo "sanitize: clean (unit and integration tiers, no sanitizer report)"
