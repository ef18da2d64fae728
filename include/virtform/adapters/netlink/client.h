#pragma once
/// A NETLINK_ROUTE connection (libnl3) that reads and changes links, bridges,
/// addresses and routes of one network namespace.
///
/// Every failure is a virtform::AdapterError: object() is the device name (or the
/// route), operation() says what was attempted ("create bridge", "enslave",
/// "add address 192.168.80.138/24 to"), detail() says why in words (the kernel's
/// extended ack message when it sends one) and code() is the libnl code, negative:
/// -NLE_NODEV for a missing device, -NLE_EXIST, -NLE_PERM, ...
///
/// Every read goes to the kernel (no cache is kept between calls), so a read after
/// a write sees the write. A Client is not thread-safe; use one per thread.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "virtform/adapters/netlink/types.h"

namespace virtform::netlink {

/// AdapterError::code() values of this adapter: libnl's codes, negative, so that
/// callers need not include libnl (static_asserts in client.cpp keep them equal).
namespace code {
inline constexpr int exists = -6;          ///< -NLE_EXIST
inline constexpr int invalid = -7;         ///< -NLE_INVAL
inline constexpr int range = -8;           ///< -NLE_RANGE
inline constexpr int not_supported = -10;  ///< -NLE_OPNOTSUPP
inline constexpr int not_found = -12;      ///< -NLE_OBJ_NOTFOUND (no such route)
inline constexpr int no_address = -19;     ///< -NLE_NOADDR (no such address)
inline constexpr int busy = -25;           ///< -NLE_BUSY (e.g. a port of another bridge)
inline constexpr int permission = -28;     ///< -NLE_PERM
inline constexpr int no_device = -31;      ///< -NLE_NODEV
}  // namespace code

/// Which routes routes() returns.
struct RouteFilter {
    std::string link;           ///< only routes whose oif is this device; "" for all
    std::uint32_t table = 254;  ///< RT_TABLE_MAIN; 0 for every table
    int family = 0;             ///< 4, 6, or 0 for both
};

class Client {
public:
    /// Opens a NETLINK_ROUTE socket in the network namespace the calling thread is in
    /// now; the socket stays in that namespace for its whole life.
    Client();
    ~Client();
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // ---- Reading -------------------------------------------------------------

    std::vector<Link> links();
    std::optional<Link> find_link(const std::string& name);
    /// Throws AdapterError with code -NLE_NODEV when there is no such device.
    Link link(const std::string& name);
    /// Names of the devices enslaved to `bridge`, sorted.
    std::vector<std::string> ports(const std::string& bridge);

    /// A bridge's options, from IFLA_INFO_DATA (sysfs when the kernel sends none).
    /// Throws when `bridge` is not a bridge.
    BridgeInfo bridge_info(const std::string& bridge);
    /// bridge_info of every bridge whose options the kernel reports over
    /// netlink, by name, from one link dump (a bridge missing here: ask
    /// bridge_info, which falls back to sysfs).
    std::map<std::string, BridgeInfo> bridge_infos();
    /// Whether the kernel supports VLAN filtering on `bridge` (IFLA_BR_VLAN_FILTERING
    /// is reported, or the sysfs file exists).
    bool vlan_filtering_supported(const std::string& bridge);

    /// Addresses of one device ("" for every device), link-local ones included
    /// (see Address::is_global()). IPv4 first, then in kernel order.
    std::vector<Address> addresses(const std::string& link = "");
    std::vector<Route> routes(const RouteFilter& filter = {});

    // ---- Writing -------------------------------------------------------------

    /// Creates a bridge (NLM_F_CREATE|NLM_F_EXCL). If the name is taken the error
    /// says by what: "a bridge named br0 already exists" or "the name br0 is taken by
    /// a dummy device, not a bridge" (code -NLE_EXIST).
    void create_bridge(const std::string& name);
    /// Creates the bridge unless a bridge of that name exists; returns true when it
    /// created one. A non-bridge device of that name is an error (as above).
    bool ensure_bridge(const std::string& name);
    void delete_link(const std::string& name);

    /// Sets IFLA_IFALIAS; "" removes the alias.
    void set_alias(const std::string& link, const std::string& alias);
    void set_mtu(const std::string& link, std::uint32_t mtu);
    /// Accepts any case and '-' separators; rejects malformed and multicast MACs.
    void set_mac(const std::string& link, const std::string& mac);
    void set_up(const std::string& link, bool up);

    /// Makes `port` a port of `bridge`. A no-op when it already is; an error naming
    /// the other master when the port is enslaved elsewhere.
    void enslave(const std::string& port, const std::string& bridge);
    /// Releases `port` from its master; a no-op when it has none.
    void release(const std::string& port);

    /// Sets the options that hold a value with one RTM_NEWLINK carrying
    /// IFLA_LINKINFO/IFLA_INFO_DATA; falls back to sysfs when the kernel does not
    /// accept bridge attributes over netlink.
    void set_bridge_options(const std::string& bridge, const BridgeOptions& options);

    /// Adds "192.168.80.138/24" or "fd00::1/64" to `link`. IPv4 addresses get the
    /// subnet's broadcast (as `ip addr add ... brd +`). Error when it exists.
    void add_address(const std::string& link, const std::string& cidr);
    /// Adds an address with its broadcast, label, flags and lifetimes as given
    /// (`address.link` is ignored: `link` says where).
    void add_address(const std::string& link, const Address& address);
    void delete_address(const std::string& link, const std::string& cidr);

    /// Adds a route; the device is route.oif_name (or route.oif). With `replace`,
    /// NLM_F_REPLACE: an existing route with the same destination, metric and table
    /// is replaced in one step (IPv4 swaps it atomically).
    void add_route(const Route& route, bool replace = false);
    /// Deletes the route matching destination, table, metric, gateway and device.
    void delete_route(const Route& route);

    // ---- Probing -------------------------------------------------------------

    /// Whether `gateway` answers through `link` within `timeout`: an ICMP echo reply
    /// to a ping sent out of `link` (SO_BINDTODEVICE), or, when `accept_neighbour`,
    /// the gateway's neighbour entry on `link` turning REACHABLE (an ARP/ND answer).
    bool gateway_reachable(const std::string& link, const std::string& gateway,
                           std::chrono::milliseconds timeout, bool accept_neighbour = true);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace virtform::netlink
