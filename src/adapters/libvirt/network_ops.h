#pragma once
// libvirt networks: read into the model, carry out plan actions.
#include "libvirt_util.h"
#include "virtform/plan.h"

namespace virtform::libvirt {

/// Adds every network libvirt knows (owned or not) to live.networks.
void read_networks(virConnectPtr conn, Live& live, RoundTrips& trips);

/// Carries out a create/update/replace/destroy of a network.
void apply_network(virConnectPtr conn, const std::string& lab, const Action& action,
                   RoundTrips& trips);

}  // namespace virtform::libvirt
