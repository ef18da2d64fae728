#pragma once
/// A lab across several libvirt hosts (`hosts:`, docs/manifest.md "Hosts"):
/// the desired state split by host. Each part is planned and applied on its own
/// connection as if it were a lab of one host.
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform {

/// The lab's host names: `local` first, then those of `hosts:` by name.
std::vector<std::string> lab_host_names(const Desired& desired);

/// `local` for the default host (an object without `host:`), else the name.
inline std::string host_label(const std::string& host) {
    return host.empty() ? std::string(kLocalHost) : host;
}

/// The objects of one host (`local`: those without `host:`), with the lab's
/// name, files and variables. `hosts` is left empty: a part is a lab of one host.
Desired desired_for_host(const Desired& desired, const std::string& host);

/// The host of an object of the lab by id (`local` when it has none or is
/// not declared).
std::string host_of(const Desired& desired, const ResourceId& id);

}  // namespace virtform
