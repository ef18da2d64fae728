#include <fmt/format.h>

#include <iostream>

#include "common.h"

namespace virtform::cli {

int cmd_validate(const GlobalOptions& /*g*/, const ManifestOptions& m) {
    const Desired d = load(m);
    std::cout << fmt::format(
        "The manifests are valid: lab '{}', {} network(s), {} pool(s), {} VM(s).\n", d.lab,
        d.networks.size(), d.pools.size(), d.vms.size());
    return 0;
}

}  // namespace virtform::cli
