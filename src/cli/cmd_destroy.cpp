#include <fmt/format.h>

#include <iostream>

#include "common.h"

namespace virtform::cli {

int cmd_destroy(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o) {
    Desired desired = load(m);
    Desired nothing;
    nothing.lab = desired.lab;
    nothing.files = desired.files;
    const int rc = reconcile(
        g, nothing, o,
        fmt::format("Do you really want to destroy everything lab '{}' owns?", desired.lab)
            .c_str());
    if (rc == 0) remove_hosts_blocks(desired.lab);  // what `virtform hosts` wrote
    return rc;
}

}  // namespace virtform::cli
