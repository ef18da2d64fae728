#!/usr/bin/env bash
# The test guest itself boots under plain QEMU (TCG) and takes a lease from
# QEMU's user-mode DHCP: checks the image the other end-to-end tests rely on.
set -euo pipefail
exec bash "$(dirname "$0")/guest/boot-check.sh"
