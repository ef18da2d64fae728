#pragma once
/// IP discovery for VMs: DHCP leases from libvirt's dnsmasq, and the guest
/// agent when the guest runs one.
#include <string>
#include <vector>

namespace virtform::libvirt {

struct GuestAddress {
    std::string mac;
    std::string address;  ///< "192.168.100.57/24"
    std::string source;   ///< "lease" or "agent"
};

/// The addresses of VM `vm` now (empty when it has none yet or is not running).
/// Opens its own connection to `uri`. Throws AdapterError when the VM is unknown.
std::vector<GuestAddress> vm_addresses(const std::string& uri, const std::string& vm);

}  // namespace virtform::libvirt
