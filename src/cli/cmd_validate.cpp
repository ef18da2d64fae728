#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "common.h"

namespace virtform::cli {

int cmd_validate(const GlobalOptions& /*g*/, const ManifestOptions& m, bool json) {
    const Desired d = load(m);
    if (json) {
        std::cout << nlohmann::json{{"format_version", "1"},
                                    {"ok", true},
                                    {"lab", d.lab},
                                    {"files", d.files},
                                    {"counts",
                                     {{"networks", d.networks.size()},
                                      {"bridges", d.bridges.size()},
                                      {"pools", d.pools.size()},
                                      {"volumes", d.volumes.size()},
                                      {"vms", d.vms.size()}}}}
                         .dump(2)
                  << "\n";
        return 0;
    }
    std::cout << fmt::format(
        "The manifests are valid: lab '{}', {} network(s), {} pool(s), {} VM(s).\n", d.lab,
        d.networks.size(), d.pools.size(), d.vms.size());
    return 0;
}

}  // namespace virtform::cli
