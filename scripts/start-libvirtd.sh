#!/usr/bin/env bash
# Start virtlogd and libvirtd by hand (these machines have no systemd); idempotent.
set -euo pipefail
if ! pgrep -x virtlogd >/dev/null; then virtlogd -d; fi
if ! pgrep -x libvirtd >/dev/null; then libvirtd -d; fi
for _ in $(seq 1 50); do
  if virsh -c qemu:///system version >/dev/null 2>&1; then exit 0; fi
  sleep 0.2
done
echo "start-libvirtd: libvirtd did not answer on qemu:///system" >&2
exit 1
