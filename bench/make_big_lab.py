#!/usr/bin/env python3
"""Writes a large lab manifest to stdout, for the loader and planner benchmark.

    make_big_lab.py OBJECTS [LAB]

OBJECTS/2 isolated networks (subnets 10.A.B.0/24, all disjoint, so the subnet
overlap check has the most work and finds nothing) and the rest VMs, VM i with
a NIC on network i % networks and a fixed MAC. Nothing here needs a file on the
host: `validate` and `plan` (e.g. against libvirt's test driver,
`--connect test:///default`) read it as it is. At most 131072 objects.
"""
import sys


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    objects = int(sys.argv[1])
    lab = sys.argv[2] if len(sys.argv) == 3 else "bench"
    networks = max(1, objects // 2)
    vms = objects - networks
    if networks > 65536:
        print("at most 65536 networks (131072 objects)", file=sys.stderr)
        return 2
    out = [f"lab: {lab}", "networks:"]
    for i in range(networks):
        out.append(f"  n{i}: {{mode: isolated, ipv4: {{address: 10.{i // 256}.{i % 256}.1/24}}}}")
    if vms:
        out.append("vms:")
    for i in range(vms):
        mac = f"52:54:00:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
        out.append(f"  vm{i}: {{cpus: 1, memory: 64MiB, accel: qemu, state: stopped, "
                   f"nics: [{{network: n{i % networks}, mac: \"{mac}\"}}]}}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
