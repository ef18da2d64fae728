#include "virtform/adapters/libvirt/provider.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>

#include "addresses_ops.h"
#include "domain_ops.h"
#include "libvirt_util.h"
#include "network_ops.h"
#include "storage_ops.h"

namespace virtform::libvirt {

struct LibvirtProvider::Impl {
    std::string uri;
    std::string lab;
    ProviderOptions options;
    ConnectPtr conn;
    RoundTrips trips;
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

LibvirtProvider::~LibvirtProvider() = default;

void LibvirtProvider::read_into(Live& live) {
    virConnectPtr conn = impl_->conn.get();
    read_networks(conn, live, impl_->trips);
    read_pools(conn, live, impl_->trips);
    read_volumes(conn, live, impl_->trips);
    read_domains(conn, live, impl_->trips);
    link_volumes_to_vms(live);
    if (impl_->options.kvm_usable) {
        live.kvm_usable = *impl_->options.kvm_usable;
    } else if (impl_->options.remote) {
        CString caps(virConnectGetCapabilities(conn));
        impl_->trips.add();
        if (!caps) throw_last_error(impl_->uri, "read the capabilities of");
        live.kvm_usable = std::string(caps.get()).find("<domain type='kvm'") != std::string::npos;
        if (!live.kvm_usable) live.kvm_detail = "libvirt there offers no 'kvm' domain type";
    }
    for (const auto& path : impl_->options.pool_paths)
        live.pool_dirs[path] = inspect_pool_dir(path);
    if (!impl_->options.kvm_detail.empty()) live.kvm_detail = impl_->options.kvm_detail;
}

Live LibvirtProvider::read() {
    Live live;
    read_into(live);
    // Interface names, for bridge-mode networks over host bridges: here from
    // /sys/class/net (no libvirt call); on another host from libvirt's
    // interface driver, the only view of that host's links the protocol gives.
    if (impl_->options.remote) {
        virInterfacePtr* ifaces = nullptr;
        const int n = virConnectListAllInterfaces(impl_->conn.get(), &ifaces, 0);
        impl_->trips.add();
        if (n < 0) throw_last_error(impl_->uri, "list the host interfaces of");
        for (int i = 0; i < n; ++i) {
            if (const char* name = virInterfaceGetName(ifaces[i]))
                live.host_interfaces.insert(name);
            virInterfaceFree(ifaces[i]);
        }
        std::free(ifaces);  // NOLINT(cppcoreguidelines-no-malloc): libvirt's array
        return live;
    }
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
