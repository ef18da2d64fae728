#include "virtform/fingerprint.h"

#include <set>
#include <type_traits>

#include <fmt/format.h>

#include "virtform/plan.h"

namespace virtform {
namespace {

/// "path=value\n" per attribute: what a digest is taken of.
void append_canonical(std::string& canonical, const std::vector<Attribute>& attributes) {
    for (const auto& a : attributes) {
        canonical.append(a.path).append(1, '=').append(a.value).append(1, '\n');
    }
}

/// id_of(Resource{object}).str() without copying the object into a Resource.
template <class T>
std::string id_text(const T& object) {
    if constexpr (std::is_same_v<T, Volume>) {
        return ResourceId{Kind::volume, object.id_name()}.str();
    } else if constexpr (std::is_same_v<T, Bridge>) {
        return ResourceId{Kind::bridge, object.name}.str();
    } else if constexpr (std::is_same_v<T, Network>) {
        return ResourceId{Kind::network, object.name}.str();
    } else if constexpr (std::is_same_v<T, Pool>) {
        return ResourceId{Kind::pool, object.name}.str();
    } else {
        static_assert(std::is_same_v<T, Vm>);
        return ResourceId{Kind::vm, object.name}.str();
    }
}

template <class T>
void add_all(std::map<std::string, std::string>& out, const std::map<std::string, T>& objects,
             const std::string* only_lab = nullptr) {
    for (const auto& [name, object] : objects) {
        if (only_lab != nullptr && object.owner != *only_lab) continue;
        std::string canonical = "owner=" + object.owner + "\n";
        append_canonical(canonical, attributes_of(object));
        out.insert_or_assign(out.end(), id_text(object), digest_text(canonical));
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

std::map<std::string, std::string> fingerprint(const Live& live, const Desired& desired) {
    std::set<std::string> bridges;  // names a plan's conflict checks look at
    for (const auto& [name, br] : desired.bridges) {
        bridges.insert(name);
        bridges.insert(br.ports.begin(), br.ports.end());
    }
    for (const auto& [name, net] : desired.networks) {
        if (net.bridge) bridges.insert(*net.bridge);
    }
    auto relevant = [&](const Resource& r, const std::string& owner) {
        if (owner == desired.lab) return true;
        const ResourceId id = id_of(r);
        switch (id.kind) {
            case Kind::bridge:
                return desired.bridges.count(id.name) != 0 || bridges.count(id.name) != 0;
            case Kind::network: {
                const auto& net = std::get<Network>(r);
                return desired.networks.count(id.name) != 0 ||
                       (net.bridge && bridges.count(*net.bridge) != 0);
            }
            case Kind::pool:
                return desired.pools.count(id.name) != 0;
            case Kind::volume:
                return desired.pools.count(std::get<Volume>(r).pool) != 0;
            case Kind::vm:
                return desired.vms.count(id.name) != 0;
        }
        return false;
    };
    std::map<std::string, std::string> out;
    for (const auto& [id, digest] : fingerprint(live)) out[id] = digest;
    auto keep_relevant = [&](const auto& objects) {
        for (const auto& [name, object] : objects) {
            const Resource r{object};
            if (!relevant(r, object.owner)) out.erase(id_of(r).str());
        }
    };
    keep_relevant(live.bridges);
    keep_relevant(live.networks);
    keep_relevant(live.pools);
    keep_relevant(live.volumes);
    keep_relevant(live.vms);
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
        append_canonical(canonical, attributes_of(vol));
        out[id_text(vol)] = digest_text(canonical);
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
