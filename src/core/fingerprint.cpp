#include "virtform/fingerprint.h"

#include <fmt/format.h>

#include "virtform/plan.h"

namespace virtform {
namespace {

template <class T>
void add_all(std::map<std::string, std::string>& out, const std::map<std::string, T>& objects,
             const std::string* only_lab = nullptr) {
    for (const auto& [name, object] : objects) {
        if (only_lab != nullptr && object.owner != *only_lab) continue;
        std::string canonical = "owner=" + object.owner + "\n";
        for (const auto& a : attributes_of(Resource{object})) {
            canonical += a.path + "=" + a.value + "\n";
        }
        out[id_of(Resource{object}).str()] = digest_text(canonical);
    }
}

}  // namespace

std::string digest_text(const std::string& text) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return fmt::format("fnv1a:{:016x}", h);
}

std::map<std::string, std::string> fingerprint(const Live& live) {
    std::map<std::string, std::string> out;
    add_all(out, live.bridges);
    add_all(out, live.networks);
    add_all(out, live.pools);
    add_all(out, live.volumes);
    add_all(out, live.vms);
    return out;
}

std::map<std::string, std::string> owned_fingerprint(const Live& live, const std::string& lab) {
    std::map<std::string, std::string> out;
    add_all(out, live.bridges, &lab);
    add_all(out, live.networks, &lab);
    add_all(out, live.pools, &lab);
    add_all(out, live.vms, &lab);
    // Volumes carry their pool's mark.
    for (const auto& [id, vol] : live.volumes) {
        auto pool = live.pools.find(vol.pool);
        if (pool == live.pools.end() || pool->second.owner != lab) continue;
        std::string canonical;
        for (const auto& a : attributes_of(Resource{vol}))
            canonical += a.path + "=" + a.value + "\n";
        out[id_of(Resource{vol}).str()] = digest_text(canonical);
    }
    return out;
}

std::vector<std::string> fingerprint_changes(const std::map<std::string, std::string>& before,
                                             const std::map<std::string, std::string>& after) {
    std::vector<std::string> out;
    for (const auto& [id, digest] : before) {
        auto it = after.find(id);
        if (it == after.end())
            out.push_back(id + " disappeared");
        else if (it->second != digest)
            out.push_back(id + " changed");
    }
    for (const auto& [id, digest] : after) {
        if (before.count(id) == 0) out.push_back(id + " appeared");
    }
    return out;
}

}  // namespace virtform
