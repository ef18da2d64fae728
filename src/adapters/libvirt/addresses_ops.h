#pragma once
// Private to the libvirt adapter: IP discovery over an open connection.
#include <string>
#include <vector>

#include "libvirt_util.h"
#include "virtform/adapters/libvirt/addresses.h"

namespace virtform::libvirt {

std::vector<GuestAddress> vm_addresses(virConnectPtr conn, const std::string& vm,
                                       RoundTrips& trips);

}  // namespace virtform::libvirt
