// `virtform ssh-config`: Host blocks for `ssh -F FILE VM`.
#include <iostream>

#include "common.h"

namespace virtform::cli {

int cmd_ssh_config(const GlobalOptions& g, const ManifestOptions& m, const AccessOptions& o,
                   bool json) {
    const Desired desired = load(m);
    const auto vms = lab_access(g, desired, o.offline);
    emit(json ? access_json(desired, vms) : render_ssh_config(desired.lab, vms), o.out);
    return 0;
}

}  // namespace virtform::cli
