// `virtform export`: live objects made by hand (virsh, virt-manager) written
// as a manifest, with what it cannot say listed; `apply --adopt` then makes
// them the lab's.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "common.h"
#include "virtform/adapters/libvirt/export_xml.h"
#include "virtform/diag.h"
#include "virtform/error.h"
#include "virtform/export.h"
#include "virtform/safe_file.h"
#include "virtform/targets.h"

namespace virtform::cli {
namespace {

/// The live object of `id`, or nullopt.
std::optional<Resource> find_live(const Live& live, const ResourceId& id) {
    auto get = [&](const auto& map) -> std::optional<Resource> {
        auto it = map.find(id.name);
        if (it == map.end()) return std::nullopt;
        return Resource(it->second);
    };
    switch (id.kind) {
        case Kind::bridge:
            return get(live.bridges);
        case Kind::network:
            return get(live.networks);
        case Kind::pool:
            return get(live.pools);
        case Kind::vm:
            return get(live.vms);
        case Kind::volume:
            break;
    }
    return std::nullopt;
}

std::string owner_of(const Resource& r) {
    return std::visit([](const auto& o) { return o.owner; }, r);
}

/// Every object without a virtform mark: VMs, networks, pools, and bridges
/// that are not a libvirt network's own.
std::vector<ResourceId> unowned(const Live& live) {
    std::vector<ResourceId> out;
    std::set<std::string> network_bridges;
    for (const auto& [name, n] : live.networks) {
        if (n.bridge) network_bridges.insert(*n.bridge);
        if (n.owner.empty()) out.push_back({Kind::network, name});
    }
    for (const auto& [name, b] : live.bridges) {
        if (b.owner.empty() && network_bridges.count(name) == 0)
            out.push_back({Kind::bridge, name});
    }
    for (const auto& [name, p] : live.pools)
        if (p.owner.empty()) out.push_back({Kind::pool, name});
    for (const auto& [name, v] : live.vms)
        if (v.owner.empty()) out.push_back({Kind::vm, name});
    return out;
}

}  // namespace

int cmd_export(const GlobalOptions& g, const ExportOptionsCli& o, bool json) {
    if (o.objects.empty() && !o.all_unowned)
        throw Error("name the objects to export (KIND.NAME, e.g. vm.web1) or give --all-unowned");
    if (!valid_object_name(o.lab))
        throw Error(fmt::format("--lab '{}' is not a valid lab name", terminal_escape(o.lab)));
    Desired none;
    none.lab = o.lab;
    auto provider = connect(g, none);
    const Live live = provider->read();

    std::vector<ResourceId> ids = parse_targets(o.objects, "export");
    if (o.all_unowned) {
        for (const auto& id : unowned(live)) {
            if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
        }
    }
    std::vector<Resource> objects;
    std::vector<LeftOut> extra;
    for (const auto& id : ids) {
        if (id.kind == Kind::volume)
            throw Error(fmt::format("{}: volumes are exported with the VM that uses them",
                                    terminal_escape(id.str())));
        auto object = find_live(live, id);
        if (!object) {
            throw Error(fmt::format("{}: there is no {} '{}' on this host",
                                    terminal_escape(id.str()), to_string(id.kind),
                                    terminal_escape(id.name)));
        }
        if (const std::string owner = owner_of(*object); !owner.empty()) {
            extra.push_back({id.str(), fmt::format("already belongs to lab '{}' (adopt takes only "
                                                   "unmarked objects)",
                                                   owner)});
        }
        if (id.kind != Kind::bridge) {
            const std::string xml = provider->libvirt().definition_xml(id);
            const auto gaps = id.kind == Kind::vm        ? libvirt::domain_gaps(xml)
                              : id.kind == Kind::network ? libvirt::network_gaps(xml)
                                                         : libvirt::pool_gaps(xml);
            if (!gaps.unrepresentable.empty()) {
                extra.push_back({id.str(), "not exported: " + gaps.unrepresentable});
                continue;
            }
            for (const auto& part : gaps.left_out) extra.push_back({id.str(), part});
        }
        objects.push_back(std::move(*object));
    }

    const ExportResult result = export_manifest(o.lab, objects, live, extra);
    for (const auto& l : result.left_out) {
        std::cerr << terminal_escape(fmt::format("{}: left out: {}", l.object, l.detail)) << "\n";
    }
    if (!o.out.empty()) {
        write_file_atomically(o.out, result.yaml, "write the exported manifest", {0644, false});
    }
    if (json) {
        nlohmann::json left = nlohmann::json::array();
        for (const auto& l : result.left_out)
            left.push_back({{"object", l.object}, {"detail", l.detail}});
        nlohmann::json exported = nlohmann::json::array();
        for (const auto& id : result.exported) exported.push_back(id.str());
        std::cout << nlohmann::json{{"lab", o.lab},
                                    {"exported", exported},
                                    {"left_out", left},
                                    {"file",
                                     o.out.empty() ? nlohmann::json() : nlohmann::json(o.out)},
                                    {"manifest", result.yaml}}
                         .dump(2)
                  << "\n";
    } else if (o.out.empty()) {
        std::cout << result.yaml;
    }
    if (!o.out.empty()) {
        std::cerr << fmt::format(
            "Wrote {} object{} to {}. `virtform apply {}{}` makes them lab "
            "'{}''s.\n",
            result.exported.size(), result.exported.size() == 1 ? "" : "s", terminal_escape(o.out),
            terminal_escape(o.out),
            [&] {
                std::string a;
                for (const auto& id : result.exported) a += " --adopt " + terminal_escape(id.str());
                return a;
            }(),
            o.lab);
    }
    print_stats(*provider);
    if (result.exported.empty()) {
        std::cerr << "error: nothing was exported\n";
        return 1;
    }
    return 0;
}

}  // namespace virtform::cli
