#include <fmt/format.h>

#include <iostream>

#include "common.h"
#include "virtform/error.h"

namespace virtform::cli {

int cmd_apply(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o) {
    if (m.paths.size() == 1) {
        if (auto saved = read_saved_plan(m.paths[0])) {
            if (saved->uri != g.uri) {
                throw Error(fmt::format("the plan was made for {}, not {}", saved->uri, g.uri));
            }
            return reconcile(g, load_manifests(saved->manifests), o, "", &*saved);
        }
    }
    return reconcile(g, load(m), o, "Do you want to perform these actions?");
}

}  // namespace virtform::cli
