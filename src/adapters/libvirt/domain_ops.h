#pragma once
// libvirt domains: read into the model, carry out plan actions.
#include "libvirt_util.h"
#include "virtform/adapters/libvirt/provider.h"
#include "virtform/plan.h"

namespace virtform::libvirt {

/// Adds every domain libvirt knows (owned or not) to live.vms: the inactive
/// definition, state (running iff active), autostart, for a running one the
/// domain as it runs (Vm::running, from the live XML), and restart_pending
/// (the running domain differs from its definition in a restart-class attribute).
void read_domains(virConnectPtr conn, Live& live, RoundTrips& trips);

/// Fills Volume::vm and Volume::keep of the live volumes from the disks of the
/// live VMs (a volume records neither itself). Call after read_volumes and
/// read_domains.
void link_volumes_to_vms(Live& live);

/// Carries out a create/update/replace/destroy of a VM. Volumes are separate
/// actions: destroy leaves them; the seed ISO goes with the VM.
void apply_vm(virConnectPtr conn, const std::string& lab, const Action& action,
              const ProviderOptions& options, RoundTrips& trips);

}  // namespace virtform::libvirt
