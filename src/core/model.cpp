#include "virtform/model.h"

#include <algorithm>
#include <tuple>

namespace virtform {

const char* to_string(Kind kind) {
    switch (kind) {
        case Kind::bridge: return "bridge";
        case Kind::network: return "network";
        case Kind::pool: return "pool";
        case Kind::volume: return "volume";
        case Kind::vm: return "vm";
    }
    return "?";
}

int creation_rank(Kind kind) { return static_cast<int>(kind); }

std::string ResourceId::str() const { return std::string(to_string(kind)) + "." + name; }

const char* to_string(NetworkMode mode) {
    switch (mode) {
        case NetworkMode::nat: return "nat";
        case NetworkMode::route: return "route";
        case NetworkMode::isolated: return "isolated";
        case NetworkMode::open: return "open";
        case NetworkMode::bridge: return "bridge";
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

ResourceId id_of(const Resource& resource) {
    return std::visit(
        [](const auto& r) {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, Network>) return ResourceId{Kind::network, r.name};
        },
        resource);
}

}  // namespace virtform
