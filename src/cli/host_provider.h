#pragma once
// The whole host as one Provider: libvirt for networks, pools, volumes and
// VMs; netlink for bridges. Glue only: each half lives in its adapter. Without
// a bridge half (a remote URI: netlink is this host's) bridges are neither
// read nor applied; check_remote_host refuses a lab that declares one.
#include <memory>
#include <optional>

#include "virtform/adapters/libvirt/provider.h"
#include "virtform/adapters/netlink/bridge_provider.h"

namespace virtform::cli {

/// The local host as `plan` read it while the manifests loaded (libvirt's
/// objects, netlink's interfaces and bridges): the first read() of the
/// provider it is handed to (connect). Either part may be absent: then that
/// part is read when asked.
struct EarlyRead {
    std::optional<libvirt::HostSnapshot> libvirt;
    std::optional<netlink::NetlinkSnapshot> netlink;
};

class HostProvider : public Provider {
public:
    HostProvider(std::unique_ptr<libvirt::LibvirtProvider> libvirt,
                 std::unique_ptr<netlink::BridgeProvider> bridges)
        : libvirt_(std::move(libvirt)), bridges_(std::move(bridges)) {}

    Live read() override {
        Live live = libvirt_->read();
        if (bridges_) bridges_->read_into(live);
        return live;
    }

    void apply(const Action& action) override {
        if (action.id.kind == Kind::bridge) {
            if (!bridges_) throw Error("bridges are only managed on the host virtform runs on");
            bridges_->apply(action);
        } else {
            libvirt_->apply(action);
        }
    }

    libvirt::LibvirtProvider& libvirt() { return *libvirt_; }

private:
    std::unique_ptr<libvirt::LibvirtProvider> libvirt_;
    std::unique_ptr<netlink::BridgeProvider> bridges_;
};

}  // namespace virtform::cli
