#include <fmt/format.h>

#include <iostream>

#include "common.h"
#include "virtform/adapters/host/snapshot_record.h"

namespace virtform::cli {

int cmd_destroy(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o) {
    Desired desired = load(m);
    Desired nothing;
    nothing.lab = desired.lab;
    nothing.files = desired.files;
    nothing.hosts = desired.hosts;  // every host of the lab is emptied
    const int code = reconcile(
        g, nothing, o,
        fmt::format("Do you really want to destroy everything lab '{}' owns?", desired.lab)
            .c_str());
    if (code == 0) {
        remove_hosts_blocks(desired.lab);  // what `virtform hosts` wrote
        // The VMs' snapshots went with them (undefined with their metadata): the
        // lab's snapshot records would name nothing any more.
        for (const auto& r : host::list_snapshot_records(g.uri, desired.lab))
            host::remove_snapshot_record(g.uri, desired.lab, r.name);
    }
    return code;
}

}  // namespace virtform::cli
