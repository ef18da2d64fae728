#pragma once
/// The netlink side of the host: reads bridges and interfaces into Live and
/// carries out plan actions on bridges (create, ports, STP, MTU, MAC,
/// addresses, take-over with automatic rollback, delete).
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "virtform/adapters/netlink/take_over.h"
#include "virtform/exec.h"

namespace virtform::netlink {

struct BridgeProviderOptions {
    TakeOverOptions take_over;
    /// Where take-over records are kept so that deleting the bridge can put
    /// the port's addresses and routes back: <dir>/<lab>/<bridge>.json (0600);
    /// and the ports the lab gave each bridge: <dir>/<lab>/<bridge>.ports.json.
    std::string state_dir = "/var/lib/virtform/takeover";
};

/// The mark a bridge carries in its interface alias.
std::string owner_alias(const std::string& lab);
/// The lab named by an alias, "" when it is not a virtform mark.
std::string owner_from_alias(const std::string& alias);

/// The netlink half of a host's read, taken before there is a provider:
/// `plan` reads it while the manifests load, as it reads libvirt
/// (libvirt::HostSnapshot). The provider given one serves its first
/// read_into() from it. Reads only; throws AdapterError as read_into() would.
class NetlinkSnapshot {
public:
    /// `state_dir`: BridgeProviderOptions::state_dir of the provider it is for.
    explicit NetlinkSnapshot(const std::string& state_dir = BridgeProviderOptions{}.state_dir);

private:
    friend class BridgeProvider;
    std::string state_dir_;
    Live part_;                      ///< what read_into() fills, alone
    std::vector<std::string> gone_;  ///< interfaces deleted while it read
};

class BridgeProvider {
public:
    BridgeProvider(std::string lab, BridgeProviderOptions options = {});
    /// Its first read_into() is `snapshot` (of options.state_dir), later ones read.
    BridgeProvider(std::string lab, BridgeProviderOptions options, NetlinkSnapshot snapshot);
    ~BridgeProvider();

    /// Fills live.bridges (every bridge, marked or not; libvirt's taps are not
    /// listed as ports), live.interfaces, live.host_interfaces and
    /// live.declared_ports.
    void read_into(Live& live);
    /// A create/update/destroy of a bridge. Serialised: one netlink socket.
    void apply(const Action& action);

private:
    void create(const Bridge& want);
    void update(const Bridge& before, const Bridge& after);
    void destroy(const std::string& name);
    void take_over(const Bridge& want);
    void enslave(const std::string& port, const std::string& bridge);
    std::string record_dir() const;

    std::string lab_;
    BridgeProviderOptions options_;
    std::unique_ptr<Client> client_;
    std::optional<NetlinkSnapshot> snapshot_;
    std::mutex mu_;
};

}  // namespace virtform::netlink
