#include "virtform/adapters/libvirt/addresses.h"

#include <fmt/format.h>

#include "addresses_ops.h"
#include "libvirt_util.h"

namespace virtform::libvirt {
namespace {

void collect(virDomainPtr dom, unsigned source, const char* name, std::vector<GuestAddress>& out) {
    virDomainInterfacePtr* ifaces = nullptr;
    const int n = virDomainInterfaceAddresses(dom, &ifaces, source, 0);
    if (n < 0) return;  // no agent, or no lease source: not an error for discovery
    for (int i = 0; i < n; ++i) {
        const virDomainInterfacePtr iface = ifaces[i];
        for (unsigned j = 0; j < iface->naddrs; ++j) {
            const auto& a = iface->addrs[j];
            const std::string addr = a.addr != nullptr ? a.addr : "";
            if (addr.empty() || addr.rfind("127.", 0) == 0 || addr == "::1" ||
                addr.rfind("fe80", 0) == 0) {
                continue;
            }
            out.push_back({iface->hwaddr != nullptr ? iface->hwaddr : "",
                           fmt::format("{}/{}", addr, a.prefix), name});
        }
        virDomainInterfaceFree(iface);
    }
    free(ifaces);  // NOLINT: libvirt allocates the array with malloc
}

}  // namespace

std::vector<GuestAddress> vm_addresses(virConnectPtr conn, const std::string& vm,
                                       RoundTrips& trips) {
    trips.add();
    DomainPtr dom(virDomainLookupByName(conn, vm.c_str()));
    if (!dom) throw_last_error("vm " + vm, "look up");
    std::vector<GuestAddress> out;
    trips.add();
    if (virDomainIsActive(dom.get()) != 1) return out;
    trips.add();
    collect(dom.get(), VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, "lease", out);
    if (out.empty()) {
        trips.add();
        collect(dom.get(), VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, "agent", out);
    }
    return out;
}

std::vector<GuestAddress> vm_addresses(const std::string& uri, const std::string& vm) {
    ConnectPtr conn = open_connection(uri);
    RoundTrips trips;
    return vm_addresses(conn.get(), vm, trips);
}

}  // namespace virtform::libvirt
