// `virtform snapshot create|list|revert|delete NAME`: every VM of the lab at
// once (internal qcow2 snapshots; running VMs are paused together so the set
// is consistent), with the lab's network definitions recorded beside them so
// that a revert restores both.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common.h"
#include "virtform/adapters/host/lab_lock.h"
#include "virtform/adapters/host/snapshot_record.h"
#include "virtform/adapters/libvirt/snapshots.h"
#include "virtform/diag.h"
#include "virtform/error.h"

namespace virtform::cli {
namespace {

using host::SnapshotRecord;

std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", tm);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The lab's VMs and networks as the host has them now.
struct LabObjects {
    std::vector<std::string> vms;
    std::vector<std::string> networks;
};
LabObjects lab_objects(const GlobalOptions& g, const Desired& desired) {
    auto provider = connect(g, desired);
    const Live live = provider->read();
    LabObjects out;
    for (const auto& [name, vm] : live.vms)
        if (vm.owner == desired.lab) out.vms.push_back(name);
    for (const auto& [name, net] : live.networks)
        if (net.owner == desired.lab) out.networks.push_back(name);
    return out;
}

SnapshotRecord need_record(const GlobalOptions& g, const std::string& lab,
                           const std::string& name) {
    auto record = host::read_snapshot_record(g.uri, lab, name);
    if (!record) {
        throw Error(
            fmt::format("lab '{}' has no snapshot '{}' (see `virtform snapshot list`)", lab, name));
    }
    return *record;
}

int create(const GlobalOptions& g, const Desired& desired, const std::string& name, bool json) {
    const std::string& lab = desired.lab;
    if (host::read_snapshot_record(g.uri, lab, name)) {
        throw Error(
            fmt::format("lab '{}' already has a snapshot '{}'; delete it first or choose "
                        "another name",
                        lab, name));
    }
    const LabObjects objects = lab_objects(g, desired);
    if (objects.vms.empty()) throw Error(fmt::format("lab '{}' owns no VM to snapshot", lab));
    libvirt::SnapshotClient client(g.uri);

    // Every VM is checked before anything is taken: all or nothing.
    std::vector<std::string> refusals;
    for (const auto& vm : objects.vms) {
        for (const auto& why : libvirt::snapshot_refusals(client.domain_xml(vm)))
            refusals.push_back(fmt::format("vm.{}: {}", vm, why));
        const auto existing = client.list(vm);
        if (std::find(existing.begin(), existing.end(), name) != existing.end())
            refusals.push_back(fmt::format("vm.{}: already has a snapshot named '{}'", vm, name));
    }
    if (!refusals.empty()) {
        throw Error(fmt::format("cannot snapshot lab '{}': {}. No snapshot was taken", lab,
                                terminal_escape(fmt::format("{}", fmt::join(refusals, "; ")))));
    }

    SnapshotRecord record{lab, name, now_utc(), {}, {}};
    for (const auto& net : objects.networks) {
        const auto state = client.network(net);
        record.networks.push_back({net, state.xml, state.active, state.autostart});
    }
    // Running VMs are paused together, then each snapshot (disks and memory)
    // is taken, then all resume: one consistent moment for the whole lab.
    std::vector<std::string> paused, taken;
    const auto t0 = std::chrono::steady_clock::now();
    double paused_for = 0;
    try {
        for (const auto& vm : objects.vms) {
            const bool running = client.is_active(vm);
            record.vms.push_back({vm, running});
            if (running) {
                client.suspend(vm);
                paused.push_back(vm);
            }
        }
        const auto p0 = std::chrono::steady_clock::now();
        for (const auto& vm : objects.vms) {
            client.create(vm, name, fmt::format("virtform: snapshot '{}' of lab '{}'", name, lab));
            taken.push_back(vm);
        }
        for (const auto& vm : paused) client.resume(vm);
        paused_for = paused.empty() ? 0 : seconds_since(p0);
        paused.clear();
        host::write_snapshot_record(g.uri, record);
    } catch (const Error&) {
        for (const auto& vm : taken) {
            try {
                client.remove(vm, name);
            } catch (const Error& e) {
                std::cerr << "warning: " << terminal_escape(e.what()) << "\n";
            }
        }
        for (const auto& vm : paused) {
            try {
                client.resume(vm);
            } catch (const Error& e) {
                std::cerr << "warning: " << terminal_escape(e.what()) << "\n";
            }
        }
        throw;
    }
    const std::size_t running = static_cast<std::size_t>(std::count_if(
        record.vms.begin(), record.vms.end(), [](const auto& v) { return v.running; }));
    if (json) {
        std::cout << nlohmann::json{{"lab", lab},
                                    {"snapshot", name},
                                    {"vms", objects.vms},
                                    {"networks", objects.networks},
                                    {"running_paused", running},
                                    {"paused_seconds", paused_for},
                                    {"seconds", seconds_since(t0)}}
                         .dump(2)
                  << "\n";
    } else {
        std::cout << fmt::format(
            "Snapshot '{}' of lab '{}': {} VM{} ({} running, paused together for {:.1f}s), {} "
            "network definition{} recorded.\n",
            name, lab, objects.vms.size(), objects.vms.size() == 1 ? "" : "s", running, paused_for,
            objects.networks.size(), objects.networks.size() == 1 ? "" : "s");
    }
    return 0;
}

int revert(const GlobalOptions& g, const Desired& desired, const std::string& name, bool json) {
    const SnapshotRecord record = need_record(g, desired.lab, name);
    libvirt::SnapshotClient client(g.uri);
    std::vector<std::string> missing;
    for (const auto& vm : record.vms) {
        if (!client.exists(vm.name)) {
            missing.push_back(fmt::format("vm.{} no longer exists", vm.name));
            continue;
        }
        const auto names = client.list(vm.name);
        if (std::find(names.begin(), names.end(), name) == names.end())
            missing.push_back(fmt::format("vm.{} has no snapshot '{}'", vm.name, name));
    }
    if (!missing.empty()) {
        throw Error(fmt::format("cannot revert lab '{}' to '{}': {}. Nothing was changed",
                                desired.lab, name,
                                terminal_escape(fmt::format("{}", fmt::join(missing, "; ")))));
    }
    // Networks first, so that the VMs find them as they were.
    std::vector<std::string> restored;
    for (const auto& net : record.networks) {
        if (client.restore_network(net.name, {net.xml, net.active, net.autostart}))
            restored.push_back(net.name);
    }
    // VMs taken running come back paused, and resume together once all are
    // back: the lab runs on from one moment, as it was taken.
    for (const auto& vm : record.vms) client.revert(vm.name, name, vm.running);
    for (const auto& vm : record.vms) {
        if (vm.running) client.resume(vm.name);
    }
    if (json) {
        nlohmann::json vms = nlohmann::json::array();
        for (const auto& vm : record.vms) vms.push_back(vm.name);
        std::cout << nlohmann::json{{"lab", desired.lab},
                                    {"snapshot", name},
                                    {"vms", vms},
                                    {"networks_restored", restored}}
                         .dump(2)
                  << "\n";
    } else {
        std::cout << fmt::format(
            "Reverted lab '{}' to snapshot '{}' (taken {}): {} VM{}; network definitions "
            "restored: {}.\n",
            desired.lab, name, record.created, record.vms.size(), record.vms.size() == 1 ? "" : "s",
            restored.empty() ? std::string("none differed")
                             : fmt::format("{}", fmt::join(restored, ", ")));
    }
    return 0;
}

int remove(const GlobalOptions& g, const Desired& desired, const std::string& name, bool json) {
    const SnapshotRecord record = need_record(g, desired.lab, name);
    libvirt::SnapshotClient client(g.uri);
    for (const auto& vm : record.vms) {
        // A VM destroyed since took its snapshots along.
        if (!client.exists(vm.name)) continue;
        const auto names = client.list(vm.name);
        if (std::find(names.begin(), names.end(), name) != names.end())
            client.remove(vm.name, name);
    }
    host::remove_snapshot_record(g.uri, desired.lab, name);
    if (json) {
        std::cout << nlohmann::json{{"lab", desired.lab}, {"deleted", name}}.dump(2) << "\n";
    } else {
        std::cout << fmt::format("Deleted snapshot '{}' of lab '{}'.\n", name, desired.lab);
    }
    return 0;
}

}  // namespace

nlohmann::json snapshots_json(const GlobalOptions& g, const std::string& lab) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : host::list_snapshot_records(g.uri, lab)) {
        nlohmann::json vms = nlohmann::json::array();
        for (const auto& v : r.vms)
            vms.push_back({{"name", v.name}, {"state", v.running ? "running" : "stopped"}});
        nlohmann::json nets = nlohmann::json::array();
        for (const auto& n : r.networks) nets.push_back(n.name);
        out.push_back({{"name", r.name}, {"created", r.created}, {"vms", vms}, {"networks", nets}});
    }
    return out;
}

std::string snapshots_text(const nlohmann::json& snapshots) {
    if (snapshots.empty()) return "No snapshots.\n";
    std::string out = fmt::format("{:<20} {:<21} {}\n", "SNAPSHOT", "CREATED", "VMS / NETWORKS");
    for (const auto& s : snapshots) {
        std::vector<std::string> vms;
        for (const auto& v : s["vms"])
            vms.push_back(fmt::format("{} ({})", v["name"].get<std::string>(),
                                      v["state"].get<std::string>()));
        out += terminal_escape(
            fmt::format("{:<20} {:<21} {}; networks: {}", s["name"].get<std::string>(),
                        s["created"].get<std::string>(), fmt::join(vms, ", "),
                        s["networks"].empty() ? std::string("none")
                                              : fmt::format("{}", fmt::join(s["networks"], ", "))));
        out += "\n";
    }
    return out;
}

int cmd_snapshot(const GlobalOptions& g, const ManifestOptions& m, const SnapshotOptionsCli& o,
                 bool json) {
    const Desired desired = load(m);
    if (o.action == "list") {
        const auto snapshots = snapshots_json(g, desired.lab);
        if (json)
            std::cout << nlohmann::json{{"lab", desired.lab}, {"snapshots", snapshots}}.dump(2)
                      << "\n";
        else
            std::cout << snapshots_text(snapshots);
        return 0;
    }
    if (!valid_object_name(o.name)) {
        throw Error(
            fmt::format("snapshot name '{}' is not valid: use letters, digits, '-', '_', "
                        "'.' or '+', starting with a letter or digit",
                        terminal_escape(o.name)));
    }
    // One snapshot operation, apply or destroy of the lab at a time.
    const host::LabLock lock(g.uri, desired.lab, "snapshot " + o.action, std::chrono::seconds(0));
    if (o.action == "create") return create(g, desired, o.name, json);
    if (o.action == "revert") return revert(g, desired, o.name, json);
    return remove(g, desired, o.name, json);
}

}  // namespace virtform::cli
