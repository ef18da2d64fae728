#pragma once
/// What a libvirt definition holds that virtform's model does not (for
/// `virtform export`): pure functions over the XML, with pugixml.
#include <string>
#include <vector>

namespace virtform::libvirt {

struct XmlGaps {
    /// Why the object cannot be written as a manifest at all; "" when it can.
    std::string unrepresentable;
    /// Parts a manifest does not say ("<rng> device", "<route> 10.0.0.0/8"):
    /// an apply that redefines the object drops them.
    std::vector<std::string> left_out;
};

/// A domain's inactive definition.
XmlGaps domain_gaps(const std::string& xml);
/// A network's inactive definition.
XmlGaps network_gaps(const std::string& xml);
/// A storage pool's definition: virtform manages directory pools only.
XmlGaps pool_gaps(const std::string& xml);

}  // namespace virtform::libvirt
