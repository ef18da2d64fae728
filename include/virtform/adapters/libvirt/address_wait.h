#pragma once
/// Waiting for VMs' addresses (`apply --wait-ip`): polls a lookup (normally
/// LibvirtProvider::vm_addresses, over the provider's open connection) until
/// every VM has an address or the time is up. Prints nothing: the caller is told.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "virtform/adapters/libvirt/addresses.h"

namespace virtform::libvirt {

using AddressLookup = std::function<std::vector<GuestAddress>(const std::string& vm)>;
/// Called once per VM when its first addresses appear, `seconds` after the start.
using AddressFound =
    std::function<void(const std::string& vm, const std::vector<GuestAddress>&, double seconds)>;

/// Returns the VMs that still have no address when `timeout` passes or `stop`
/// says so (empty: all found).
std::vector<std::string> wait_for_addresses(
    const AddressLookup& lookup, std::vector<std::string> vms, std::chrono::milliseconds timeout,
    const AddressFound& on_found, std::chrono::milliseconds poll = std::chrono::milliseconds(500),
    const std::function<bool()>& stop = {});

}  // namespace virtform::libvirt
