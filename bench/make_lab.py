#!/usr/bin/env python3
"""Writes a benchmark lab manifest to stdout.

    make_lab.py LAB TAG NETWORKS VMS KERNEL [--prefix P] [--nat] [--subnet A.B | --net-base B]

NETWORKS networks (unique bridge names and /24 subnets) and VMS
defined-but-stopped VMs (accel qemu, direct kernel boot from KERNEL, which is
never booted), VM i with a NIC on network i % NETWORKS. No disks, no guest is
started: the benchmark measures virtform and libvirtd, not QEMU.

Defaults (bench/bench.sh): isolated networks, names vfb-TAG-..., bridges
vfbTAGxI, subnets 10.16x.y.0/24. --prefix P names them P-TAG-... and bridges
PTAGxI; --nat makes NAT networks with a DHCP range (libvirt runs dnsmasq and
adds firewall rules for each: what a cold apply spends most of its time on);
--subnet A.B puts network i on A.B.i.0/24 (at most 256 networks); --net-base B
on 10.(B + i // 250).(i % 250).0/24 (the default is B = 160).
"""
import argparse
import sys


def main() -> int:
    p = argparse.ArgumentParser(usage=__doc__)
    p.add_argument("lab")
    p.add_argument("tag")
    p.add_argument("networks", type=int)
    p.add_argument("vms", type=int)
    p.add_argument("kernel")
    p.add_argument("--prefix", default="vfb")
    p.add_argument("--nat", action="store_true")
    p.add_argument("--subnet", default=None)
    p.add_argument("--net-base", type=int, default=160)
    a = p.parse_args()
    networks, vms, tag, prefix = a.networks, a.vms, a.tag, a.prefix
    if networks > (256 if a.subnet else 1000) or (vms and not networks):
        print("at most 1000 networks (256 with --subnet), and VMs need at least one network",
              file=sys.stderr)
        return 2
    if a.net_base + (networks - 1) // 250 > 255:
        print("--net-base too high for that many networks", file=sys.stderr)
        return 2
    if len(f"{prefix}{tag}x{networks - 1}") > 15:
        print("bridge names would exceed 15 characters: shorten the prefix or the tag",
              file=sys.stderr)
        return 2
    out = [f"lab: {a.lab}"]
    if networks:
        out.append("networks:")
    for i in range(networks):
        if a.subnet:
            net = f"{a.subnet}.{i}"
        else:
            net = f"10.{a.net_base + i // 250}.{i % 250}"
        out += [
            f"  {prefix}-{tag}-n{i}:",
            f"    mode: {'nat' if a.nat else 'isolated'}",
            f"    bridge: {prefix}{tag}x{i}",
        ]
        if a.nat:
            out.append(f"    ipv4: {{address: {net}.1/24, dhcp: {{range: {net}.100-{net}.200}}}}")
        else:
            out.append(f"    ipv4: {{address: {net}.1/24}}")
    if vms:
        out.append("vms:")
    for i in range(vms):
        out += [
            f"  {prefix}-{tag}-vm{i}:",
            "    cpus: 1",
            "    memory: 64MiB",
            "    accel: qemu",
            f"    kernel: {a.kernel}",
            f"    nics: [{{network: {prefix}-{tag}-n{i % networks}}}]",
            "    state: stopped",
        ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
