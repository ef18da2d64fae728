#include "virtform/adapters/libvirt/provider.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "addresses_ops.h"
#include "domain_ops.h"
#include "libvirt_util.h"
#include "network_ops.h"
#include "storage_ops.h"

namespace virtform::libvirt {

namespace {

/// All that read() asks libvirtd: every network, pool, volume and domain of the
/// host (ownership and conflicts are decided from all of them), and on another
/// host its interface names and whether it offers KVM.
void read_host(virConnectPtr conn, const std::string& uri, bool remote, Live& live,
               RoundTrips& trips) {
    read_networks(conn, live, trips);
    read_pools(conn, live, trips);
    read_volumes(conn, live, trips);
    read_domains(conn, live, trips);
    link_volumes_to_vms(live);
    if (!remote) return;
    CString caps(virConnectGetCapabilities(conn));
    trips.add();
    if (!caps) throw_last_error(uri, "read the capabilities of");
    live.kvm_usable = std::string(caps.get()).find("<domain type='kvm'") != std::string::npos;
    if (!live.kvm_usable) live.kvm_detail = "libvirt there offers no 'kvm' domain type";
    // Interface names, for bridge-mode networks over host bridges: libvirt's
    // interface driver is the only view of that host's links the protocol gives.
    virInterfacePtr* ifaces = nullptr;
    const int n = virConnectListAllInterfaces(conn, &ifaces, 0);
    trips.add();
    if (n < 0) throw_last_error(uri, "list the host interfaces of");
    for (int i = 0; i < n; ++i) {
        if (const char* name = virInterfaceGetName(ifaces[i])) live.host_interfaces.insert(name);
        virInterfaceFree(ifaces[i]);
    }
    std::free(ifaces);  // NOLINT(cppcoreguidelines-no-malloc): libvirt's array
}

}  // namespace

struct HostSnapshot::State {
    std::string uri;
    bool remote = false;
    ConnectPtr conn;
    Live live;
    RoundTrips trips;
};

HostSnapshot::HostSnapshot(const std::string& uri, bool remote)
    : state_(std::make_unique<State>()) {
    state_->uri = uri;
    state_->remote = remote;
    state_->conn = take_resolved_connection(uri);
    state_->trips.add();
    read_host(state_->conn.get(), uri, remote, state_->live, state_->trips);
}
HostSnapshot::~HostSnapshot() = default;
HostSnapshot::HostSnapshot(HostSnapshot&&) noexcept = default;
HostSnapshot& HostSnapshot::operator=(HostSnapshot&&) noexcept = default;

struct LibvirtProvider::Impl {
    std::string uri;
    std::string lab;
    ProviderOptions options;
    ConnectPtr conn;
    RoundTrips trips;
    std::optional<Live> snapshot;  ///< the first read(), when read before (HostSnapshot)
};

LibvirtProvider::LibvirtProvider(const std::string& uri, std::string lab)
    : LibvirtProvider(uri, std::move(lab), ProviderOptions{}) {}

LibvirtProvider::LibvirtProvider(const std::string& uri, std::string lab, ProviderOptions options)
    : impl_(std::make_unique<Impl>()) {
    impl_->uri = uri;
    impl_->lab = std::move(lab);
    impl_->options = std::move(options);
    impl_->conn = take_resolved_connection(uri);
    impl_->trips.add();
}

LibvirtProvider::LibvirtProvider(const std::string& uri, std::string lab, ProviderOptions options,
                                 HostSnapshot snapshot)
    : impl_(std::make_unique<Impl>()) {
    HostSnapshot::State& s = *snapshot.state_;
    if (s.uri != uri || s.remote != options.remote)
        throw Error("a host snapshot of " + s.uri + " handed to the provider of " + uri);
    impl_->uri = uri;
    impl_->lab = std::move(lab);
    impl_->options = std::move(options);
    impl_->conn = std::move(s.conn);
    impl_->trips.add(s.trips.count());
    impl_->snapshot = std::move(s.live);
}

LibvirtProvider::~LibvirtProvider() = default;

Live LibvirtProvider::read() {
    Live live;
    if (impl_->snapshot) {
        live = std::move(*impl_->snapshot);
        impl_->snapshot.reset();
    } else {
        read_host(impl_->conn.get(), impl_->uri, impl_->options.remote, live, impl_->trips);
    }
    // What the caller knows of this host (the KVM probe, the desired pools' directories).
    if (impl_->options.kvm_usable) live.kvm_usable = *impl_->options.kvm_usable;
    for (const auto& path : impl_->options.pool_paths)
        live.pool_dirs[path] = inspect_pool_dir(path);
    if (!impl_->options.kvm_detail.empty()) live.kvm_detail = impl_->options.kvm_detail;
    if (impl_->options.remote) return live;
    // Interface names here come from /sys/class/net (no libvirt call).
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/sys/class/net", ec)) {
        live.host_interfaces.insert(entry.path().filename().string());
    }
    return live;
}

void LibvirtProvider::apply(const Action& action) {
    switch (action.id.kind) {
        case Kind::network:
            apply_network(impl_->conn.get(), impl_->lab, action, impl_->trips);
            return;
        case Kind::pool:
            apply_pool(impl_->conn.get(), impl_->lab, action, impl_->trips);
            return;
        case Kind::volume:
            apply_volume(impl_->conn.get(), impl_->lab, action, impl_->trips);
            return;
        case Kind::vm:
            apply_vm(impl_->conn.get(), impl_->lab, action, impl_->options, impl_->trips);
            return;
        default:
            throw Error("the libvirt adapter cannot act on " + action.id.str());
    }
}

long LibvirtProvider::round_trips() const {
    return impl_->trips.count();
}

std::vector<GuestAddress> LibvirtProvider::vm_addresses(const std::string& vm) {
    return libvirt::vm_addresses(impl_->conn.get(), vm, impl_->trips);
}
std::string LibvirtProvider::definition_xml(const ResourceId& id) {
    virConnectPtr conn = impl_->conn.get();
    const std::string what = fmt::format("{} {}", to_string(id.kind), id.name);
    impl_->trips.add();
    CString xml;
    if (id.kind == Kind::network) {
        NetworkPtr net(virNetworkLookupByName(conn, id.name.c_str()));
        if (!net) throw_last_error(what, "look up");
        xml.reset(virNetworkGetXMLDesc(net.get(), VIR_NETWORK_XML_INACTIVE));
    } else if (id.kind == Kind::pool) {
        PoolPtr pool(virStoragePoolLookupByName(conn, id.name.c_str()));
        if (!pool) throw_last_error(what, "look up");
        xml.reset(virStoragePoolGetXMLDesc(pool.get(), VIR_STORAGE_XML_INACTIVE));
    } else if (id.kind == Kind::vm) {
        DomainPtr dom(virDomainLookupByName(conn, id.name.c_str()));
        if (!dom) throw_last_error(what, "look up");
        xml.reset(virDomainGetXMLDesc(dom.get(), VIR_DOMAIN_XML_INACTIVE));
    } else {
        throw Error("libvirt holds no definition of " + id.str());
    }
    impl_->trips.add();
    if (!xml) throw_last_error(what, "read the definition of");
    return xml.get();
}

void LibvirtProvider::fail_after_calls(long k) {
    impl_->trips.fail_after(k);
}
const std::string& LibvirtProvider::uri() const {
    return impl_->uri;
}

}  // namespace virtform::libvirt
