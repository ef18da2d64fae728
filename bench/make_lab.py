#!/usr/bin/env python3
"""Writes a benchmark lab manifest to stdout.

    make_lab.py LAB TAG NETWORKS VMS KERNEL [--prefix P] [--nat] [--net-base B]

NETWORKS isolated networks (unique bridge names and 10.16x.y.0/24 subnets) and
VMS defined-but-stopped VMs (accel qemu, direct kernel boot from KERNEL, which
is never booted), VM i with a NIC on network i % NETWORKS. No disks, no guest
is started: the benchmark measures virtform and libvirtd, not QEMU.

Options (bench/floor_plan.sh uses them):
  --prefix P     object names P-TAG-..., bridges PTAGx<i> (default: vfb); the
                 bridge name must stay <= 15 characters
  --nat          NAT networks with a DHCP range (.100-.200) instead of isolated
  --net-base B   subnets 10.(B + i // 250).(i % 250).0/24 (default: 160)
"""
import sys


def main() -> int:
    args = sys.argv[1:]
    prefix, nat, base = "vfb", False, 160
    pos = []
    i = 0
    while i < len(args):
        if args[i] == "--prefix" and i + 1 < len(args):
            prefix, i = args[i + 1], i + 2
        elif args[i] == "--net-base" and i + 1 < len(args):
            base, i = int(args[i + 1]), i + 2
        elif args[i] == "--nat":
            nat, i = True, i + 1
        else:
            pos.append(args[i])
            i += 1
    if len(pos) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    lab, tag, networks, vms, kernel = pos[0], pos[1], int(pos[2]), int(pos[3]), pos[4]
    if networks > 1000 or (vms and not networks):
        print("at most 1000 networks, and VMs need at least one network", file=sys.stderr)
        return 2
    if base + (networks - 1) // 250 > 255:
        print("--net-base too high for that many networks", file=sys.stderr)
        return 2
    if networks and len(f"{prefix}{tag}x{networks - 1}") > 15:
        print("bridge names would exceed 15 characters: a shorter prefix or tag", file=sys.stderr)
        return 2
    out = [f"lab: {lab}"]
    if networks:
        out.append("networks:")
    for i in range(networks):
        subnet = f"10.{base + i // 250}.{i % 250}"
        out += [
            f"  {prefix}-{tag}-n{i}:",
            f"    mode: {'nat' if nat else 'isolated'}",
            f"    bridge: {prefix}{tag}x{i}",
        ]
        if nat:
            out += [
                "    ipv4:",
                f"      address: {subnet}.1/24",
                f"      dhcp: {{range: {subnet}.100-{subnet}.200}}",
            ]
        else:
            out.append(f"    ipv4: {{address: {subnet}.1/24}}")
    if vms:
        out.append("vms:")
    for i in range(vms):
        out += [
            f"  {prefix}-{tag}-vm{i}:",
            "    cpus: 1",
            "    memory: 64MiB",
            "    accel: qemu",
            f"    kernel: {kernel}",
            f"    nics: [{{network: {prefix}-{tag}-n{i % networks}}}]",
            "    state: stopped",
        ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
