#!/usr/bin/env bash
# The main job on a fresh Debian 12 host (as root): set up, build, make the
# small test guest image the example VMs boot, and apply the NAT lab.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/make-test-guest.sh /var/lib/virtform/images
build/src/virtform apply --auto-approve --wait-ip "${1:-manifests/nat-lab.yaml}"
