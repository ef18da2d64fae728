#!/usr/bin/env bash
# Sets up the host (packages, virtlogd/libvirtd, build) and runs the whole test
# suite: unit, integration against the real libvirtd, netlink in private network
# namespaces, and end to end with a real guest. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Every tier; integration and e2e tests are RUN_SERIAL (they share one libvirtd).
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
