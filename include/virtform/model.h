#pragma once
/// Plain value types shared by the desired state (from manifests) and the live
/// state (from libvirt and netlink). Values are normalised when they are built
/// (canonical addresses, lower-case MACs, bytes for sizes), so equality here is
/// equality in meaning.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "virtform/diag.h"
#include "virtform/net_types.h"

namespace virtform {

/// The kinds of object a lab holds, in creation order: a kind may depend only
/// on kinds before it.
enum class Kind { bridge, network, pool, volume, vm };
const char* to_string(Kind kind);
/// Rank in creation order (deletes go the other way).
int creation_rank(Kind kind);

/// An object's identity across desired and live state: "network.labnat".
struct ResourceId {
    Kind kind = Kind::network;
    std::string name;

    std::string str() const;
    auto operator<=>(const ResourceId&) const = default;
};

// ---------------------------------------------------------------------------
// Networks (libvirt)

enum class NetworkMode { nat, route, isolated, open, bridge };
const char* to_string(NetworkMode mode);
std::optional<NetworkMode> network_mode_from_string(const std::string& text);

struct DhcpRange {
    IpAddress start;
    IpAddress end;
    auto operator<=>(const DhcpRange&) const = default;
};

struct DhcpHost {
    std::string mac;  ///< normalised; the key of the entry
    IpAddress ip;
    std::string name;  ///< optional host name handed out with the lease
    auto operator<=>(const DhcpHost&) const = default;
};

struct DnsHost {
    IpAddress ip;  ///< the key of the entry
    std::vector<std::string> names;
    auto operator<=>(const DnsHost&) const = default;
};

/// One address family's configuration of a network.
struct IpConfig {
    Cidr address;  ///< the host's (gateway's) address on the network, with prefix
    std::optional<DhcpRange> dhcp_range;
    std::vector<DhcpHost> hosts;  ///< sorted by MAC
    auto operator<=>(const IpConfig&) const = default;
};

struct Network {
    std::string name;
    NetworkMode mode = NetworkMode::nat;
    /// Linux bridge name. Optional except in bridge mode; unset means "libvirt picks".
    std::optional<std::string> bridge;
    std::optional<IpConfig> ipv4;
    std::optional<IpConfig> ipv6;
    std::vector<DnsHost> dns_hosts;  ///< sorted by address
    std::optional<std::string> domain;
    std::optional<int> mtu;  ///< unset means "libvirt's default"
    bool stp = true;
    bool autostart = true;
    bool active = true;

    /// Live only: the lab whose mark the object carries ("" when unmarked).
    std::string owner;
    /// Desired only: where the manifest declared it.
    Location where;

    /// Canonical order of the lists, so equal networks compare equal.
    void normalize();
    bool operator==(const Network& other) const;
};

/// Any object a plan can act on. Grows with the kinds.
using Resource = std::variant<Network>;
ResourceId id_of(const Resource& resource);

/// What the manifests ask for.
struct Desired {
    std::string lab;
    std::vector<std::string> files;  ///< the manifest files it was loaded from
    std::map<std::string, Network> networks;
};

/// What the host has: everything visible, owned by this lab or not.
struct Live {
    std::map<std::string, Network> networks;
    /// Network interfaces present on the host (for bridge-mode networks over
    /// host bridges the manifest does not declare).
    std::set<std::string> host_interfaces;
};

}  // namespace virtform
