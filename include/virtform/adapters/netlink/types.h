#pragma once
/// Value types the netlink adapter reads and writes. Plain data, no libnl types, so
/// that the core can convert them without including <netlink/...>.
///
/// Normalisation (so that a diff never shows a change that is only a spelling):
///  - addresses are in canonical inet_ntop form ("192.168.80.138", "fd00::1"),
///  - MAC addresses are lower-case colon form ("52:54:00:ab:cd:01"),
///  - route destinations are "default" or CIDR with the prefix always written
///    ("10.0.0.0/8", "10.0.0.1/32"),
///  - IP versions are 4 or 6 (the same convention as virtform::IpAddress::family),
///  - bridge timers are in centiseconds (1/100 s, USER_HZ), the unit of the kernel's
///    netlink attributes and of /sys/class/net/<br>/bridge/*: 1500 is 15 s.
#include <cstdint>
#include <optional>
#include <string>

namespace virtform::netlink {

/// A network device as `ip -d link` shows it.
struct Link {
    std::string name;
    int ifindex = 0;
    std::string kind;        ///< IFLA_INFO_KIND: "bridge", "veth", "dummy"; "" for a NIC
    int master_ifindex = 0;  ///< 0 when the link is not enslaved
    std::string master;      ///< name of the master device, "" when none
    std::string alias;       ///< IFLA_IFALIAS, "" when unset
    std::uint32_t mtu = 0;
    std::string mac;         ///< lower-case colon form, "" for devices without one
    bool admin_up = false;   ///< IFF_UP
    bool lower_up = false;   ///< IFF_LOWER_UP (carrier)
    std::string oper_state;  ///< "up", "down", "lowerlayerdown", "dormant", "unknown", ...

    bool is_bridge() const { return kind == "bridge"; }
};

/// A bridge's options as the kernel reports them (IFLA_INFO_DATA, sysfs as fallback).
struct BridgeInfo {
    std::uint32_t stp_state = 0;         ///< 0 off, 1 kernel STP, 2 user-space STP
    std::uint32_t forward_delay_cs = 0;  ///< centiseconds
    std::uint32_t hello_time_cs = 0;     ///< centiseconds
    std::uint32_t max_age_cs = 0;        ///< centiseconds
    std::uint16_t priority = 0;          ///< bridge priority (default 32768)
    /// nullopt when the kernel does not support VLAN filtering on bridges.
    std::optional<bool> vlan_filtering;

    bool stp_enabled() const { return stp_state != 0; }
};

/// Bridge options to set: only the fields that hold a value are sent.
/// Kernel limits (enforced by the kernel while STP is on): forward delay 200..3000 cs,
/// hello time 100..1000 cs, max age 600..4000 cs.
struct BridgeOptions {
    std::optional<bool> stp{};  ///< true: kernel STP (stp_state 1), false: off
    std::optional<std::uint32_t> forward_delay_cs{};
    std::optional<std::uint32_t> hello_time_cs{};
    std::optional<std::uint32_t> max_age_cs{};
    std::optional<std::uint16_t> priority{};
    std::optional<bool> vlan_filtering{};
};

/// An interface address.
struct Address {
    std::string link;  ///< device name
    int ifindex = 0;
    int family = 4;       ///< 4 or 6
    std::string address;  ///< canonical form, without prefix
    int prefix = 0;
    std::string broadcast;    ///< IPv4 broadcast, "" when none
    std::string label;        ///< IPv4 label ("ens33:1"), "" when it is the device name
    int scope = 0;            ///< RT_SCOPE_*: 0 global, 253 link, 254 host
    std::uint32_t flags = 0;  ///< IFA_F_*
    /// Lifetimes in seconds; 0xffffffff is "forever" (static addresses).
    std::uint32_t valid_lifetime = 0xffffffffU;
    std::uint32_t preferred_lifetime = 0xffffffffU;

    /// "192.168.80.138/24"
    std::string cidr() const { return address + "/" + std::to_string(prefix); }
    /// IPv6 fe80::/10 (and IPv4 link scope): reported, but ignored by diffs and take-over.
    bool link_local() const;
    /// True when the address belongs in a diff and moves with a take-over:
    /// not link-local and not host scope.
    bool is_global() const { return !link_local() && scope != 254; }
};

/// A route (only the first nexthop of a multipath route is represented).
struct Route {
    int family = 4;               ///< 4 or 6
    std::string dst = "default";  ///< "default" or CIDR ("10.0.0.0/8")
    std::string gateway;          ///< "" for a directly connected route
    int oif = 0;                  ///< output ifindex (reading); writing uses oif_name if set
    std::string oif_name;         ///< output device name
    std::uint32_t metric = 0;     ///< RTA_PRIORITY
    std::uint32_t table = 254;    ///< RT_TABLE_MAIN
    /// RTPROT_*: 2 kernel, 3 boot (iproute2's default), 4 static, 9 ra, 16 dhcp.
    int protocol = 3;
    /// RT_SCOPE_*; -1 (writing) lets the kernel's rule apply: link without gateway,
    /// universe with one.
    int scope = -1;
    int type = 1;         ///< RTN_UNICAST
    std::string prefsrc;  ///< preferred source, "" when none

    bool is_default() const { return dst == "default"; }
    /// "default via 192.168.80.1 dev br0 metric 0 proto boot"
    std::string str() const;
};

/// Name of an RTPROT_* value ("kernel", "boot", "static", "dhcp", "ra", ...) or the number.
std::string protocol_name(int protocol);

}  // namespace virtform::netlink
