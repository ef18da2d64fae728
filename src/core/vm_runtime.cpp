// A running VM against its definition and the manifest: what runs is part of
// the state plan compares (issue 9). Pure, like the rest of the planner.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "virtform/plan.h"

namespace virtform {
namespace {

bool hot_pluggable(const Disk& d) {
    return d.bus == DiskBus::virtio || d.bus == DiskBus::scsi;
}

bool starts_with(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

/// Attributes the restart-pending comparison leaves to others: live-class
/// ones (compared against the manifest) and devices (compared by identity).
bool compared_elsewhere(const Attribute& a) {
    return a.cls == ChangeClass::live || starts_with(a.path, "disk[") ||
           starts_with(a.path, "nic[");
}

constexpr const char* kLiveOnly =
    "the running VM differs from its definition: set on the running VM only "
    "(VIR_DOMAIN_AFFECT_LIVE)";

}  // namespace

bool is_running_change(const AttributeChange& change) {
    return starts_with(change.path, kRunningPrefix);
}

bool is_pending_restart(const AttributeChange& change) {
    return is_running_change(change) && change.cls != ChangeClass::live;
}

std::vector<std::string> restart_pending_paths(const Vm& live) {
    std::vector<std::string> out;
    if (!live.running) return out;
    const Vm& run = *live.running;
    const auto defined = attributes_of(live);
    const auto running = attributes_of(run);
    std::map<std::string, const Attribute*> now;
    for (const auto& a : running) now[a.path] = &a;
    std::set<std::string> seen;
    for (const auto& a : defined) {
        seen.insert(a.path);
        if (compared_elsewhere(a)) continue;
        // Unset in the definition: libvirt chose, and a running domain shows
        // its choice (a host-model CPU runs as "custom").
        if (a.computed || (a.path == "cpu_mode" && a.value == "host-model")) continue;
        auto it = now.find(a.path);
        if (it == now.end() || it->second->value != a.value) out.push_back(a.path);
    }
    for (const auto& a : running) {
        if (!compared_elsewhere(a) && !a.computed && seen.count(a.path) == 0) out.push_back(a.path);
    }
    // Devices by identity: a NIC by its MAC, a disk by its guest device.
    std::map<std::string, const Nic*> run_nics;
    for (const auto& n : run.nics) run_nics[n.mac.value_or("")] = &n;
    for (const auto& n : live.nics) {
        auto it = run_nics.find(n.mac.value_or(""));
        if (it != run_nics.end() && nic_text(*it->second) != nic_text(n))
            out.push_back(fmt::format("nic[{}]", n.mac.value_or("")));
    }
    std::map<std::string, const Disk*> run_disks;
    for (const auto& d : run.disks) run_disks[d.target] = &d;
    for (const auto& d : live.disks) {
        auto it = run_disks.find(d.target);
        if (it != run_disks.end() && !(*it->second == d))
            out.push_back(fmt::format("disk[{}]", d.target));
    }
    return out;
}

RunningDiff running_changes(const Vm& want, const Vm& live) {
    RunningDiff diff;
    if (!live.running || want.state != VmState::running) return diff;
    const Vm& run = *live.running;
    auto add = [&](std::string path, std::optional<std::string> before,
                   std::optional<std::string> after, ChangeClass cls, std::string reason) {
        diff.changes.push_back({kRunningPrefix + path, std::move(before), std::move(after), cls,
                                std::move(reason), false});
    };

    // vCPUs and balloon: against the manifest, once the running VM has left
    // its definition (otherwise the definition's own change carries it).
    const int run_max_cpus = run.max_cpus.value_or(run.cpus);
    if (run.cpus != live.cpus && run.cpus != want.cpus) {
        const bool fits = want.cpus <= run_max_cpus;
        add("cpus", std::to_string(run.cpus), std::to_string(want.cpus),
            fits ? ChangeClass::live : ChangeClass::restart,
            fits ? fmt::format("{}; removing a vCPU needs the guest to release it", kLiveOnly)
                 : fmt::format("beyond the running VM's {} vCPUs: needs a restart", run_max_cpus));
    }
    const std::uint64_t run_max_mem = run.max_memory.value_or(run.memory);
    // A guest's balloon settles within a page or so of its target.
    auto near = [](std::uint64_t a, std::uint64_t b) {
        return (a > b ? a - b : b - a) < (1ULL << 20);
    };
    if (!near(run.memory, live.memory) && !near(run.memory, want.memory)) {
        if (run.memory == run_max_mem && want.memory < run_max_mem) {
            // The balloon is not inflated at all: the guest never took a target
            // (no balloon driver, or not loaded yet). A live change cannot reach it.
            diff.warnings.push_back(fmt::format(
                "vm.{} runs with all {} of its maximum memory, not the {} asked for: the guest "
                "has not taken the balloon target (no virtio_balloon driver, or it has not "
                "loaded yet), so live memory changes do not reach it",
                want.name, format_size(run.memory), format_size(want.memory)));
        } else {
            const bool fits = want.memory <= run_max_mem;
            add("memory", format_size(run.memory), format_size(want.memory),
                fits ? ChangeClass::live : ChangeClass::restart,
                fits ? fmt::format("{} through the balloon", kLiveOnly)
                     : fmt::format("beyond the running VM's {}: needs a restart",
                                   format_size(run_max_mem)));
        }
    }

    // NICs by MAC, against the definition (whose own changes then apply to both).
    std::set<std::string> defined_macs;
    for (std::size_t i = 0; i < live.nics.size(); ++i) {
        const std::string mac = live.nics[i].mac.value_or("");
        defined_macs.insert(mac);
        const bool runs = std::any_of(run.nics.begin(), run.nics.end(),
                                      [&](const Nic& n) { return n.mac.value_or("") == mac; });
        // A NIC the manifest drops anyway is not attached first.
        if (!runs && !mac.empty() && i < want.nics.size()) {
            add(fmt::format("nic[{}]", mac), std::nullopt, nic_text(live.nics[i]),
                ChangeClass::live,
                "in the definition but not in the running VM: attached live with its MAC");
        }
    }
    for (const auto& n : run.nics) {
        if (defined_macs.count(n.mac.value_or("")) != 0) continue;
        add(fmt::format("nic[{}]", n.mac.value_or("")), nic_text(n), std::nullopt,
            ChangeClass::live, "in the running VM but not in its definition: detached live");
    }

    // Disks by guest device.
    std::set<std::string> defined_targets;
    for (std::size_t i = 0; i < live.disks.size(); ++i) {
        const Disk& d = live.disks[i];
        defined_targets.insert(d.target);
        const bool runs = std::any_of(run.disks.begin(), run.disks.end(),
                                      [&](const Disk& r) { return r.target == d.target; });
        if (runs || i >= want.disks.size()) continue;
        add(fmt::format("disk[{}]", d.target), std::nullopt, disk_text(d),
            hot_pluggable(d) ? ChangeClass::live : ChangeClass::restart,
            hot_pluggable(d) ? "in the definition but not in the running VM: attached live"
                             : "in the definition but not in the running VM; SATA and IDE "
                               "devices cannot be hot-plugged: needs a restart");
    }
    for (const auto& r : run.disks) {
        if (defined_targets.count(r.target) != 0) continue;
        add(fmt::format("disk[{}]", r.target), disk_text(r), std::nullopt,
            hot_pluggable(r) ? ChangeClass::live : ChangeClass::restart,
            hot_pluggable(r) ? "in the running VM but not in its definition: detached live"
                             : "in the running VM but not in its definition; SATA and IDE "
                               "devices cannot be hot-unplugged: needs a restart");
    }

    // Everything else waits for the next boot of the definition.
    const auto pending = restart_pending_paths(live);
    std::size_t restart_count = pending.size();
    for (const auto& c : diff.changes) restart_count += c.cls == ChangeClass::restart ? 1 : 0;
    const std::string reason = fmt::format(
        "restart pending ({} change{}): the running VM still runs an older definition; "
        "apply --allow-restart restarts it (graceful shutdown, forced after shutdown_timeout, "
        "then start), apply without it leaves it waiting",
        restart_count, restart_count == 1 ? "" : "s");
    const auto defined = attributes_of(live);
    const auto running = attributes_of(run);
    auto value_in = [](const std::vector<Attribute>& attrs,
                       const std::string& path) -> std::optional<std::string> {
        for (const auto& a : attrs) {
            if (a.path == path) return a.computed ? std::optional<std::string>() : a.value;
        }
        return std::nullopt;
    };
    for (const auto& path : pending) {
        std::optional<std::string> before = value_in(running, path);
        std::optional<std::string> after = value_in(defined, path);
        if (starts_with(path, "nic[") || starts_with(path, "disk[")) {
            // Keyed by identity: show what runs and what is defined.
            const std::string key = path.substr(path.find('[') + 1, path.size() - path.find('[') - 2);
            for (const auto& n : run.nics)
                if (n.mac.value_or("") == key) before = nic_text(n);
            for (const auto& n : live.nics)
                if (n.mac.value_or("") == key) after = nic_text(n);
            for (const auto& d : run.disks)
                if (d.target == key) before = disk_text(d);
            for (const auto& d : live.disks)
                if (d.target == key) after = disk_text(d);
        }
        AttributeChange c{kRunningPrefix + path, before, after, ChangeClass::restart, reason,
                          path == "cloud_init"};
        diff.changes.push_back(std::move(c));
    }
    for (auto& c : diff.changes) {
        if (c.cls == ChangeClass::restart) c.reason = reason;
    }
    return diff;
}

}  // namespace virtform
