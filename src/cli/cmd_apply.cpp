#include <fmt/format.h>

#include <iostream>

#include "common.h"
#include "virtform/error.h"

namespace virtform::cli {

int cmd_apply(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o) {
    std::vector<std::string> given = m.paths;
    given.insert(given.end(), m.positional.begin(), m.positional.end());
    if (given.size() == 1 && given[0] != "-") {
        if (auto saved = read_saved_plan(given[0])) {
            if (saved->uri != g.uri) {
                throw Error(fmt::format("the plan was made for {}, not {}", saved->uri, g.uri));
            }
            return reconcile(
                g, load_manifests(saved->manifests, ManifestVars{saved->variables, false}), o, "",
                &*saved);
        }
    }
    return reconcile(g, load(m), o, "Do you want to perform these actions?");
}

}  // namespace virtform::cli
