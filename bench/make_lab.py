#!/usr/bin/env python3
"""Writes a benchmark lab manifest to stdout.

    make_lab.py LAB TAG NETWORKS VMS KERNEL

NETWORKS isolated networks (unique bridge names and 10.16x.y.0/24 subnets) and
VMS defined-but-stopped VMs (accel qemu, direct kernel boot from KERNEL, which
is never booted), VM i with a NIC on network i % NETWORKS. No disks, no guest
is started: the benchmark measures virtform and libvirtd, not QEMU.
"""
import sys


def main() -> int:
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    lab, tag, networks, vms, kernel = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    if networks > 1000 or (vms and not networks):
        print("at most 1000 networks, and VMs need at least one network", file=sys.stderr)
        return 2
    out = [f"lab: {lab}"]
    if networks:
        out.append("networks:")
    for i in range(networks):
        out += [
            f"  vfb-{tag}-n{i}:",
            "    mode: isolated",
            f"    bridge: vfb{tag}x{i}",  # <= 15 characters for tag <= 6 digits
            f"    ipv4: {{address: 10.{160 + i // 250}.{i % 250}.1/24}}",
        ]
    if vms:
        out.append("vms:")
    for i in range(vms):
        out += [
            f"  vfb-{tag}-vm{i}:",
            "    cpus: 1",
            "    memory: 64MiB",
            "    accel: qemu",
            f"    kernel: {kernel}",
            f"    nics: [{{network: vfb-{tag}-n{i % networks}}}]",
            "    state: stopped",
        ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
