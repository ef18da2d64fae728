#include "virtform/model.h"

#include <algorithm>
#include <tuple>

namespace virtform {

const char* to_string(Kind kind) {
    switch (kind) {
        case Kind::bridge:
            return "bridge";
        case Kind::network:
            return "network";
        case Kind::pool:
            return "pool";
        case Kind::volume:
            return "volume";
        case Kind::vm:
            return "vm";
    }
    return "?";
}

int creation_rank(Kind kind) {
    return static_cast<int>(kind);
}

std::string ResourceId::str() const {
    return std::string(to_string(kind)) + "." + name;
}

const char* to_string(NetworkMode mode) {
    switch (mode) {
        case NetworkMode::nat:
            return "nat";
        case NetworkMode::route:
            return "route";
        case NetworkMode::isolated:
            return "isolated";
        case NetworkMode::open:
            return "open";
        case NetworkMode::bridge:
            return "bridge";
    }
    return "?";
}

std::optional<NetworkMode> network_mode_from_string(const std::string& text) {
    for (auto m : {NetworkMode::nat, NetworkMode::route, NetworkMode::isolated, NetworkMode::open,
                   NetworkMode::bridge}) {
        if (text == to_string(m)) return m;
    }
    return std::nullopt;
}

void Network::normalize() {
    for (auto* ip : {&ipv4, &ipv6}) {
        if (*ip) {
            std::sort((*ip)->hosts.begin(), (*ip)->hosts.end(),
                      [](const DhcpHost& a, const DhcpHost& b) { return a.mac < b.mac; });
        }
    }
    for (auto& h : dns_hosts) std::sort(h.names.begin(), h.names.end());
    std::sort(dns_hosts.begin(), dns_hosts.end(),
              [](const DnsHost& a, const DnsHost& b) { return a.ip < b.ip; });
}

bool Network::operator==(const Network& o) const {
    // owner and where are bookkeeping, not configuration.
    return std::tie(name, mode, bridge, ipv4, ipv6, dns_hosts, domain, mtu, stp, autostart,
                    active) == std::tie(o.name, o.mode, o.bridge, o.ipv4, o.ipv6, o.dns_hosts,
                                        o.domain, o.mtu, o.stp, o.autostart, o.active);
}

const char* to_string(DiskFormat format) {
    return format == DiskFormat::raw ? "raw" : "qcow2";
}

const char* to_string(Accel accel) {
    switch (accel) {
        case Accel::auto_:
            return "auto";
        case Accel::kvm:
            return "kvm";
        case Accel::qemu:
            return "qemu";
    }
    return "?";
}

const char* to_string(Firmware firmware) {
    return firmware == Firmware::uefi ? "uefi" : "bios";
}

const char* to_string(Graphics graphics) {
    switch (graphics) {
        case Graphics::none:
            return "none";
        case Graphics::vnc:
            return "vnc";
        case Graphics::spice:
            return "spice";
    }
    return "?";
}

const char* to_string(VmState state) {
    return state == VmState::stopped ? "stopped" : "running";
}

const char* to_string(DiskBus bus) {
    switch (bus) {
        case DiskBus::virtio:
            return "virtio";
        case DiskBus::sata:
            return "sata";
        case DiskBus::scsi:
            return "scsi";
        case DiskBus::ide:
            return "ide";
    }
    return "?";
}

std::string disk_target_name(const std::string& prefix, std::size_t index) {
    // Bijective base 26: a..z, then aa..zz, then aaa...
    std::string letters;
    for (std::size_t n = index + 1; n > 0; n = (n - 1) / 26)
        letters.insert(letters.begin(), static_cast<char>('a' + (n - 1) % 26));
    return prefix + letters;
}

bool Vm::operator==(const Vm& o) const {
    return std::tie(name, cpus, max_cpus, memory, max_memory, accel, machine, cpu_mode, firmware,
                    disks, boot, kernel, initrd, cmdline, nics, graphics, console_file, cloud_init,
                    seed_iso, seed_digest, state, autostart, shutdown_timeout) ==
           std::tie(o.name, o.cpus, o.max_cpus, o.memory, o.max_memory, o.accel, o.machine,
                    o.cpu_mode, o.firmware, o.disks, o.boot, o.kernel, o.initrd, o.cmdline, o.nics,
                    o.graphics, o.console_file, o.cloud_init, o.seed_iso, o.seed_digest, o.state,
                    o.autostart, o.shutdown_timeout);
}

void Bridge::normalize() {
    std::sort(ports.begin(), ports.end());
    std::sort(addresses.begin(), addresses.end());
}

bool Bridge::operator==(const Bridge& o) const {
    return std::tie(name, ports, stp, forward_delay_cs, hello_time_cs, max_age_cs, priority, mtu,
                    mac, addresses, up, vlan_filtering, take_over) ==
           std::tie(o.name, o.ports, o.stp, o.forward_delay_cs, o.hello_time_cs, o.max_age_cs,
                    o.priority, o.mtu, o.mac, o.addresses, o.up, o.vlan_filtering, o.take_over);
}

ResourceId id_of(const Resource& resource) {
    return std::visit(
        [](const auto& r) {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, Bridge>) return ResourceId{Kind::bridge, r.name};
            if constexpr (std::is_same_v<T, Network>) return ResourceId{Kind::network, r.name};
            if constexpr (std::is_same_v<T, Pool>) return ResourceId{Kind::pool, r.name};
            if constexpr (std::is_same_v<T, Volume>) return ResourceId{Kind::volume, r.id_name()};
            if constexpr (std::is_same_v<T, Vm>) return ResourceId{Kind::vm, r.name};
        },
        resource);
}

}  // namespace virtform
