#!/usr/bin/env bash
# Set up a fresh Debian 12 host (as root) for building and running virtform:
# install packages, start virtlogd/libvirtd (no systemd here), build.
# Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git
  libvirt-dev libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils dnsmasq-base iptables nftables iproute2 iputils-ping
  libnl-3-dev libnl-route-3-dev libyaml-cpp-dev libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libpugixml-dev nlohmann-json3-dev libisofs-dev libyaml-dev
  linux-image-amd64 busybox-static cpio kmod xorriso procps ovmf bc xz-utils zstd
  util-linux iputils-ping
  dpkg-dev man-db bsdextrautils
  python3-yaml python3-jsonschema
  cmark-gfm
  libgraphviz-dev chromium openssh-server openssh-client
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/start-libvirtd.sh

if [ "${VIRTFORM_SKIP_BUILD:-0}" != 1 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build build -j"$(nproc)"
fi
