// `virtform inventory`: an Ansible YAML inventory of the lab's VMs.
#include <iostream>

#include "common.h"

namespace virtform::cli {

int cmd_inventory(const GlobalOptions& g, const ManifestOptions& m, const AccessOptions& o,
                  bool json) {
    const Desired desired = load(m);
    const auto vms = lab_access(g, desired, o.offline);
    emit(json ? access_json(desired, vms) : render_inventory(desired.lab, vms), o.out);
    return 0;
}

}  // namespace virtform::cli
