#include <fmt/format.h>

#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common.h"
#include "multi_host.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/diag.h"
#include "virtform/render.h"

namespace virtform::cli {

namespace {

struct Row {
    std::string id, state, autostart, drift, extra;
    /// VMs: how the running VM differs from its definition or the manifest.
    std::vector<std::string> running;
    bool pending_restart = false;
    bool unreachable = false;  ///< a VM meant to run that is down or has no address
    std::string host;          ///< a lab with `hosts:`: the object's host
};

struct HostStatus {
    std::vector<Row> rows;
    Plan plan;
    std::string error;  ///< the host could not be read
};

/// One host's objects (the lab's on a host without `hosts:`).
HostStatus read_status(const GlobalOptions& g, const Desired& desired) {
    HostStatus out;
    auto provider = connect(g, desired);
    const Live live = provider->read();
    Plan& plan = out.plan;
    try {
        PlanOptions popts;
        popts.last_applied = host::read_applied_record(g.uri, desired.lab);
        plan = make_plan(desired, live, popts);
    } catch (const ValidationError& e) {
        std::cerr << e.diagnostics().str();
    }
    std::vector<Row>& rows = out.rows;
    auto drift_of = [&](const ResourceId& id) -> std::string {
        const std::string key = id.str();
        const bool outside = std::any_of(
            plan.drift.begin(), plan.drift.end(),
            [&](const std::string& d) { return d == key || d.rfind(key + " ", 0) == 0; });
        if (outside) {
            for (const auto& a : plan.actions) {
                if (a.id == id) return fmt::format("changed outside ({})", a.changes.size());
            }
            return "changed outside";
        }
        for (const auto& a : plan.actions) {
            if (a.id == id) {
                if (a.type == ActionType::destroy) return "not in manifest";
                if (a.type == ActionType::create) return "missing";
                return fmt::format("{} {} change{}", a.changes.size(), to_string(a.cls),
                                   a.changes.size() == 1 ? "" : "s");
            }
        }
        return "in sync";
    };
    auto row = [&](const ResourceId& id, const std::string& state, const std::string& autostart,
                   const std::string& extra) {
        rows.push_back({id.str(), state, autostart, drift_of(id), extra});
    };
    auto owned = [&](const auto& map, const auto& wanted) {
        std::vector<std::string> names;
        for (const auto& [name, obj] : wanted) names.push_back(name);
        for (const auto& [name, obj] : map) {
            if (obj.owner == desired.lab && wanted.count(name) == 0) names.push_back(name);
        }
        return names;
    };
    for (const auto& name : owned(live.networks, desired.networks)) {
        const ResourceId id{Kind::network, name};
        auto it = live.networks.find(name);
        if (it == live.networks.end())
            row(id, "absent", "-", "");
        else
            row(id, it->second.active ? "active" : "inactive", it->second.autostart ? "yes" : "no",
                it->second.bridge.value_or(""));
    }
    for (const auto& name : owned(live.pools, desired.pools)) {
        const ResourceId id{Kind::pool, name};
        auto it = live.pools.find(name);
        if (it == live.pools.end())
            row(id, "absent", "-", "");
        else
            row(id, it->second.active ? "active" : "inactive", it->second.autostart ? "yes" : "no",
                fmt::format("{:.1f} GiB free",
                            static_cast<double>(it->second.available) / (1ULL << 30)));
    }
    for (const auto& [vid, vol] : desired.volumes) {
        const ResourceId id{Kind::volume, vid};
        auto it = live.volumes.find(vid);
        row(id, it == live.volumes.end() ? "absent" : "present", "-",
            it == live.volumes.end() ? "" : format_size(it->second.capacity));
    }
    for (const auto& name : owned(live.vms, desired.vms)) {
        const ResourceId id{Kind::vm, name};
        auto it = live.vms.find(name);
        const auto want = desired.vms.find(name);
        const bool meant_to_run =
            want != desired.vms.end() && want->second.state == VmState::running;
        if (it == live.vms.end()) {
            row(id, "absent", "-", "");
            rows.back().unreachable = meant_to_run;
            continue;
        }
        std::string addrs;
        bool no_address = false;
        if (it->second.state == VmState::running) {
            try {
                addrs = addresses_text(provider->libvirt().vm_addresses(name));
                no_address = addrs.empty();
            } catch (const Error& e) {
                addrs = e.what();
                no_address = true;
            }
        }
        // The running VM against its definition and the manifest (running.* changes).
        std::vector<std::string> diverged;
        for (const auto& a : plan.actions) {
            if (a.id != id) continue;
            for (const auto& c : a.changes) {
                if (!is_running_change(c)) continue;
                auto shown = [&](const std::optional<std::string>& v) {
                    return !v ? std::string("(none)") : c.sensitive ? "(sensitive)" : *v;
                };
                diverged.push_back(terminal_escape(
                    fmt::format("{} {} -> {} ({})", c.path.substr(std::strlen(kRunningPrefix)),
                                shown(c.before), shown(c.after), to_string(c.cls))));
            }
        }
        std::string state = to_string(it->second.state);
        if (it->second.restart_pending || !diverged.empty()) state += "*";
        row(id, state, it->second.autostart ? "yes" : "no", addrs);
        rows.back().running = std::move(diverged);
        rows.back().pending_restart =
            it->second.restart_pending ||
            std::any_of(plan.actions.begin(), plan.actions.end(), [&](const Action& a) {
                return a.id == id &&
                       std::any_of(a.changes.begin(), a.changes.end(),
                                   [](const auto& c) { return is_pending_restart(c); });
            });
        rows.back().unreachable = meant_to_run && (it->second.state != VmState::running ||
                                                   (no_address && !want->second.nics.empty()));
    }
    return out;
}

}  // namespace

int cmd_status(const GlobalOptions& g, const ManifestOptions& m, bool json) {
    const Desired desired = load(m);
    const bool multi = !desired.hosts.empty();
    std::vector<Row> rows;
    Plan plan;
    std::vector<HostPart> parts;
    if (!multi) {
        HostStatus s = read_status(g, desired);
        rows = std::move(s.rows);
        plan = std::move(s.plan);
    } else {
        // Every host in a thread of its own; one that does not answer is reported.
        parts = host_parts(g, desired);
        std::vector<HostStatus> per(parts.size());
        each_host(parts, [&](HostPart& part) {
            HostStatus& mine = per[static_cast<std::size_t>(&part - parts.data())];
            GlobalOptions hg = g;
            hg.uri = part.uri;
            try {
                mine = read_status(hg, part.desired);
            } catch (const std::exception& e) {
                mine.error = fmt::format("{}: {}", describe(part), e.what());
            }
        });
        for (std::size_t i = 0; i < parts.size(); ++i) {
            parts[i].error = per[i].error;
            for (auto& r : per[i].rows) {
                r.host = parts[i].name;
                rows.push_back(std::move(r));
            }
            for (auto& a : per[i].plan.actions) plan.actions.push_back(std::move(a));
            for (auto& d : per[i].plan.drift) plan.drift.push_back(std::move(d));
            if (!per[i].error.empty())
                std::cerr << fmt::format("error: {}\n", terminal_escape(per[i].error));
        }
    }
    const bool host_failed =
        std::any_of(parts.begin(), parts.end(), [](const HostPart& p) { return !p.error.empty(); });
    const nlohmann::json snapshots = snapshots_json(g, desired.lab);
    if (json) {
        // What a monitor alerts on, as lists of addresses (docs/json.md).
        std::vector<std::string> drifted, out_of_sync, pending, unreachable;
        for (const auto& a : plan.actions) out_of_sync.push_back(a.id.str());
        for (const auto& d : plan.drift) drifted.push_back(d.substr(0, d.find(' ')));
        nlohmann::json objects = nlohmann::json::array();
        for (const auto& r : rows) {
            if (r.pending_restart) pending.push_back(r.id);
            if (r.unreachable) unreachable.push_back(r.id);
            objects.push_back({{"address", r.id},
                               {"state", r.state},
                               {"autostart", r.autostart},
                               {"drift", r.drift},
                               {"detail", r.extra},
                               {"running", r.running},
                               {"restart_pending", r.pending_restart},
                               {"unreachable", r.unreachable}});
            if (multi) objects.back()["host"] = r.host;
        }
        const bool healthy = drifted.empty() && out_of_sync.empty() && pending.empty() &&
                             unreachable.empty() && !host_failed;
        nlohmann::json doc{{"format_version", "1"},
                           {"lab", desired.lab},
                           {"uri", g.uri},
                           {"objects", objects},
                           {"drift", plan.drift},
                           {"in_sync", healthy},
                           {"alerts",
                            {{"drifted", drifted},
                             {"out_of_sync", out_of_sync},
                             {"restart_pending", pending},
                             {"unreachable", unreachable}}},
                           {"snapshots", snapshots}};
        if (multi) doc["hosts"] = hosts_json(parts);
        std::cout << doc.dump(2) << "\n";
        return host_failed ? 1 : 0;
    }
    if (!multi) {
        std::cout << fmt::format("lab {} on {}\n\n", desired.lab, g.uri);
        std::cout << fmt::format("  {:<34} {:<10} {:<10} {:<26} {}\n", "OBJECT", "STATE",
                                 "AUTOSTART", "DRIFT", "ADDRESSES");
    } else {
        std::vector<std::string> hosts;
        for (const auto& p : parts)
            hosts.push_back(
                fmt::format("{} ({}{})", p.name, p.uri, p.error.empty() ? "" : ", not answering"));
        std::cout << terminal_escape(
                         fmt::format("lab {} on hosts {}", desired.lab, fmt::join(hosts, ", ")))
                  << "\n\n";
        std::cout << fmt::format("  {:<12} {:<34} {:<10} {:<10} {:<26} {}\n", "HOST", "OBJECT",
                                 "STATE", "AUTOSTART", "DRIFT", "ADDRESSES");
    }
    for (const auto& r : rows) {
        if (multi) {
            std::cout << fmt::format("  {:<12} {:<34} {:<10} {:<10} {:<26} {}\n",
                                     terminal_escape(r.host), r.id, r.state, r.autostart, r.drift,
                                     r.extra);
        } else {
            std::cout << fmt::format("  {:<34} {:<10} {:<10} {:<26} {}\n", r.id, r.state,
                                     r.autostart, r.drift, r.extra);
        }
        for (const auto& d : r.running) std::cout << fmt::format("      running: {}\n", d);
    }
    if (std::any_of(rows.begin(), rows.end(),
                    [](const Row& r) { return !r.state.empty() && r.state.back() == '*'; })) {
        std::cout << "\n  * the running VM differs from its definition or the manifest: a live "
                     "change (apply sets it) or a restart pending (apply --allow-restart)\n";
    }
    if (!snapshots.empty()) {
        std::cout << "\nSnapshots (virtform snapshot revert NAME):\n";
        std::istringstream lines(snapshots_text(snapshots));
        for (std::string line; std::getline(lines, line);) std::cout << "  " << line << "\n";
    }
    return host_failed ? 1 : 0;
}

}  // namespace virtform::cli
