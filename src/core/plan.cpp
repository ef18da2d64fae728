#include "virtform/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "virtform/dag.h"

namespace virtform {

const char* to_string(ChangeClass cls) {
    switch (cls) {
        case ChangeClass::live: return "live";
        case ChangeClass::restart: return "restart";
        case ChangeClass::replace: return "replace";
    }
    return "?";
}

const char* to_string(ActionType type) {
    switch (type) {
        case ActionType::create: return "create";
        case ActionType::update: return "update";
        case ActionType::replace: return "replace";
        case ActionType::destroy: return "destroy";
    }
    return "?";
}

int Plan::to_add() const {
    return static_cast<int>(std::count_if(actions.begin(), actions.end(), [](const Action& a) {
        return a.type == ActionType::create || a.type == ActionType::replace;
    }));
}
int Plan::to_change() const {
    return static_cast<int>(std::count_if(actions.begin(), actions.end(),
                                          [](const Action& a) { return a.type == ActionType::update; }));
}
int Plan::to_destroy() const {
    return static_cast<int>(std::count_if(actions.begin(), actions.end(), [](const Action& a) {
        return a.type == ActionType::destroy || a.type == ActionType::replace;
    }));
}

namespace {

/// Generic attribute diff: desired attributes that are computed are skipped;
/// an attribute only one side has is an addition or a removal.
std::vector<AttributeChange> diff_attributes(const std::vector<Attribute>& want,
                                             const std::vector<Attribute>& have) {
    std::map<std::string, const Attribute*> have_by_path;
    for (const auto& a : have) have_by_path[a.path] = &a;
    std::set<std::string> seen;
    std::vector<AttributeChange> out;
    for (const auto& w : want) {
        seen.insert(w.path);
        if (w.computed) continue;
        auto it = have_by_path.find(w.path);
        if (it == have_by_path.end() || it->second->computed) {
            out.push_back({w.path, std::nullopt, w.value, w.cls, w.reason, w.sensitive});
        } else if (it->second->value != w.value) {
            out.push_back({w.path, it->second->value, w.value, w.cls, w.reason, w.sensitive});
        }
    }
    for (const auto& h : have) {
        if (seen.count(h.path) != 0 || h.computed) continue;
        out.push_back({h.path, h.value, std::nullopt, h.cls, h.reason, h.sensitive});
    }
    return out;
}

/// Kind-specific classification that a single attribute cannot express.
void refine_network_changes(std::vector<AttributeChange>& changes) {
    for (auto& c : changes) {
        if (c.path == "mode" && (c.before == "bridge" || c.after == "bridge")) {
            c.cls = ChangeClass::replace;
            c.reason = "the network switches between a libvirt-made bridge and a host bridge: it is "
                       "deleted and created anew";
        }
    }
}

ChangeClass strongest(const std::vector<AttributeChange>& changes) {
    ChangeClass cls = ChangeClass::live;
    for (const auto& c : changes) cls = std::max(cls, c.cls);
    return cls;
}

/// The objects a resource needs to exist first.
std::vector<ResourceId> dependencies_of(const Resource& /*resource*/) { return {}; }

/// Errors that come from the host rather than the manifest: a bridge name that
/// an interface or another network already holds.
void check_network_against_host(const Network& want, const Desired& desired, const Live& live,
                                Diagnostics& diags) {
    if (!want.bridge) return;
    const std::string& br = *want.bridge;
    if (want.mode == NetworkMode::bridge) {
        if (live.host_interfaces.count(br) == 0) {
            diags.error(want.where, fmt::format("network '{}' is in mode bridge over '{}', but the host "
                                                "has no interface '{}' and the manifest declares no "
                                                "such bridge",
                                                want.name, br, br));
        }
        return;
    }
    for (const auto& [name, other] : live.networks) {
        if (name == want.name || !other.bridge || *other.bridge != br ||
            other.mode == NetworkMode::bridge) {
            continue;
        }
        // A network of this lab that the manifest no longer has will be deleted first.
        if (other.owner == desired.lab && desired.networks.count(name) == 0) continue;
        diags.error(want.where, fmt::format("network '{}' wants bridge '{}', which libvirt network '{}' "
                                            "already uses",
                                            want.name, br, name));
        return;
    }
    auto self = live.networks.find(want.name);
    const bool ours = self != live.networks.end() && self->second.bridge == br;
    if (!ours && live.host_interfaces.count(br) != 0) {
        bool freed = false;
        for (const auto& [name, other] : live.networks) {
            freed = freed || (other.bridge == br && other.owner == desired.lab);
        }
        if (!freed) {
            diags.error(want.where, fmt::format("network '{}' wants bridge '{}', but the host already has "
                                                "an interface '{}' that no network of this lab made",
                                                want.name, br, br));
        }
    }
}

std::string owner_text(const std::string& owner) {
    return owner.empty() ? "carries no virtform mark" : fmt::format("belongs to lab '{}'", owner);
}

}  // namespace

Plan make_plan(const Desired& desired, const Live& live, const PlanOptions& options) {
    Diagnostics diags;
    std::vector<Action> actions;

    for (const auto& [name, want] : desired.networks) {
        check_network_against_host(want, desired, live, diags);
        auto it = live.networks.find(name);
        if (it == live.networks.end()) {
            Action a{ResourceId{Kind::network, name}, ActionType::create};
            a.after = want;
            for (const auto& attr : attributes_of(want)) {
                if (!attr.computed) {
                    a.changes.push_back({attr.path, std::nullopt, attr.value, attr.cls, attr.reason,
                                         attr.sensitive});
                }
            }
            actions.push_back(std::move(a));
            continue;
        }
        const Network& have = it->second;
        if (have.owner != desired.lab) {
            diags.error(want.where, fmt::format("network '{}' already exists on the host and {}; virtform "
                                                "never modifies objects its lab does not own: choose "
                                                "another name",
                                                name, owner_text(have.owner)));
            continue;
        }
        auto changes = diff_attributes(attributes_of(want), attributes_of(have));
        if (changes.empty()) continue;
        refine_network_changes(changes);
        Action a{ResourceId{Kind::network, name}};
        a.cls = strongest(changes);
        a.type = a.cls == ChangeClass::replace ? ActionType::replace : ActionType::update;
        a.changes = std::move(changes);
        a.before = have;
        a.after = want;
        for (const auto& c : a.changes) {
            if (c.cls == a.cls) {
                a.reason = c.reason;
                break;
            }
        }
        if (a.cls == ChangeClass::restart && !have.active) {
            a.reason = "redefined; the network is stopped, so the change takes effect when it starts";
        }
        actions.push_back(std::move(a));
    }
    for (const auto& [name, have] : live.networks) {
        if (have.owner != desired.lab || desired.networks.count(name) != 0) continue;
        Action a{ResourceId{Kind::network, name}, ActionType::destroy};
        a.reason = fmt::format("owned by lab '{}' and no longer in the manifest", desired.lab);
        a.before = have;
        actions.push_back(std::move(a));
    }
    diags.throw_if_any();

    // Targeting: keep the targets and, transitively, what they depend on.
    if (!options.targets.empty()) {
        std::set<ResourceId> keep(options.targets.begin(), options.targets.end());
        bool grew = true;
        while (grew) {
            grew = false;
            for (const auto& a : actions) {
                if (keep.count(a.id) == 0 || !a.after) continue;
                for (const auto& dep : dependencies_of(*a.after)) grew = keep.insert(dep).second || grew;
            }
        }
        std::erase_if(actions, [&](const Action& a) { return keep.count(a.id) == 0; });
    }

    // Dependencies: creates and updates after what they use is in place;
    // deletes before what they used goes away.
    Dag dag;
    std::map<ResourceId, std::size_t> by_id;
    for (std::size_t i = 0; i < actions.size(); ++i) {
        dag.add_node(fmt::format("{} {}", to_string(actions[i].type), actions[i].id.str()));
        by_id[actions[i].id] = i;
    }
    for (std::size_t i = 0; i < actions.size(); ++i) {
        const Action& a = actions[i];
        if (a.after) {
            for (const auto& dep : dependencies_of(*a.after)) {
                auto it = by_id.find(dep);
                if (it != by_id.end() && actions[it->second].type != ActionType::destroy) {
                    dag.add_edge(it->second, i);
                }
            }
        }
        if (a.before) {
            for (const auto& dep : dependencies_of(*a.before)) {
                auto it = by_id.find(dep);
                if (it == by_id.end()) continue;
                const Action& d = actions[it->second];
                if (d.type == ActionType::destroy || d.type == ActionType::replace) {
                    dag.add_edge(i, it->second);
                }
            }
        }
    }
    // Among independent actions: deletes first (most dependent kinds first),
    // then creates and updates in creation order, then by name.
    auto key = [&](std::size_t i) {
        const Action& a = actions[i];
        const bool del = a.type == ActionType::destroy;
        const int rank = creation_rank(a.id.kind);
        return std::make_tuple(del ? 0 : 1, del ? -rank : rank, a.id.name);
    };
    const auto order = dag.topological_order([&](std::size_t x, std::size_t y) { return key(x) < key(y); });
    std::vector<std::size_t> position(actions.size());
    for (std::size_t p = 0; p < order.size(); ++p) position[order[p]] = p;

    Plan plan;
    plan.lab = desired.lab;
    for (std::size_t node : order) {
        Action a = std::move(actions[node]);
        for (std::size_t pred : dag.predecessors(node)) a.depends_on.push_back(position[pred]);
        std::sort(a.depends_on.begin(), a.depends_on.end());
        plan.actions.push_back(std::move(a));
    }
    return plan;
}

}  // namespace virtform
