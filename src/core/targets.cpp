#include "virtform/targets.h"

#include <fmt/format.h>

#include "virtform/error.h"

namespace virtform {

std::vector<ResourceId> parse_targets(const std::vector<std::string>& targets,
                                      const std::string& flag) {
    std::vector<ResourceId> out;
    for (const auto& t : targets) {
        const auto dot = t.find('.');
        bool ok = false;
        if (dot != std::string::npos) {
            const std::string kind = t.substr(0, dot);
            for (auto k : {Kind::bridge, Kind::network, Kind::pool, Kind::volume, Kind::vm}) {
                if (kind == to_string(k)) {
                    out.push_back({k, t.substr(dot + 1)});
                    ok = true;
                }
            }
        }
        if (!ok)
            throw Error(fmt::format("{} '{}' must read KIND.NAME, e.g. network.labnat", flag, t));
    }
    return out;
}

}  // namespace virtform
