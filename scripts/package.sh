#!/bin/bash
# Builds the Debian package: build/virtform_<version>_<arch>.deb (or in BUILD_DIR).
# Its dependencies come from dpkg-shlibdeps (package dpkg-dev). Install it with
#   apt install ./build/virtform_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
command -v dpkg-shlibdeps >/dev/null || { echo "dpkg-shlibdeps is missing: apt-get install dpkg-dev" >&2; exit 1; }
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [[ ! -f $build/CMakeCache.txt ]]; then
    # A package needs no tests: no GoogleTest either.
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF "${launcher[@]}"
fi
cmake --build "$build" -j"$(nproc)" --target virtform virtform_generated
(cd "$build" && cpack -G DEB)
ls -1 "$build"/virtform_*.deb
