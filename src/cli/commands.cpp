#include "commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "host_provider.h"
#include "saved_plan.h"
#include "virtform/adapters/host/doctor.h"
#include "virtform/adapters/host/host_probe.h"
#include "virtform/adapters/host/lab_lock.h"
#include "virtform/adapters/libvirt/addresses.h"
#include "virtform/adapters/libvirt/provider.h"
#include "virtform/diag.h"
#include "virtform/exec.h"
#include "virtform/fingerprint.h"
#include "virtform/manifest.h"
#include "virtform/render.h"

namespace virtform::cli {
namespace {

Desired load(const ManifestOptions& m) {
    return load_manifest_files(m.paths);
}

/// Files the manifests name must be there before anything is touched: a
/// missing kernel would otherwise fail half-way through an apply.
void check_files(const Desired& desired) {
    Diagnostics diags;
    auto need = [&](const Location& where, const std::string& what,
                    const std::optional<std::string>& path) {
        std::error_code ec;
        if (path && !path->empty() && !std::filesystem::exists(*path, ec)) {
            diags.error(where, fmt::format("{}: no such file {}", what, *path));
        }
    };
    for (const auto& [name, vm] : desired.vms) {
        need(vm.where, fmt::format("kernel of VM '{}'", name), vm.kernel);
        need(vm.where, fmt::format("initrd of VM '{}'", name), vm.initrd);
        for (const auto& d : vm.disks) {
            if (d.type != Disk::Type::volume) {
                need(vm.where, fmt::format("disk '{}' of VM '{}'", d.name, name), d.path);
            }
        }
    }
    for (const auto& [id, vol] : desired.volumes) {
        need(vol.where, fmt::format("backing image of volume {}", id), vol.backing);
        need(vol.where, fmt::format("image to import into volume {}", id), vol.import_from);
    }
    diags.throw_if_any();
}

std::mutex g_out_mutex;  // progress lines come from parallel actions

/// The owned objects' fingerprints right after the last apply: how a plan
/// tells drift. A cache, not the truth: when missing, drift is just not shown.
std::string applied_record_path(const GlobalOptions& g, const std::string& lab) {
    std::string uri;
    for (char c : g.uri) uri += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
    return fmt::format("/var/lib/virtform/state/{}@{}.json", lab, uri);
}

std::optional<std::map<std::string, std::string>> read_applied_record(const GlobalOptions& g,
                                                                      const std::string& lab) {
    std::ifstream in(applied_record_path(g, lab));
    if (!in) return std::nullopt;
    auto doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
    try {
        return doc.get<std::map<std::string, std::string>>();
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

void write_applied_record(const GlobalOptions& g, const std::string& lab, const Live& live) {
    const std::string path = applied_record_path(g, lab);
    std::error_code ec;
    const auto owned = owned_fingerprint(live, lab);
    if (owned.empty()) {  // the lab owns nothing (destroyed): no record to keep
        std::filesystem::remove(path, ec);
        return;
    }
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << nlohmann::json(owned).dump(1) << "\n";
        if (!out) {
            spdlog::warn("cannot write {}: drift will not be shown", tmp);
            return;
        }
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) spdlog::warn("cannot write {}: {}", path, ec.message());
}

std::unique_ptr<HostProvider> connect(const GlobalOptions& g, const Desired& desired,
                                      bool allow_restart = false, bool no_rollback = false) {
    libvirt::ProviderOptions options;
    options.allow_restart = allow_restart;
    // accel: auto needs to know whether KVM really works here (a cached probe),
    // and accel: kvm where it does not is a plan error with the probe's reason.
    const bool needs_probe =
        std::any_of(desired.vms.begin(), desired.vms.end(),
                    [](const auto& kv) { return kv.second.accel != Accel::qemu; });
    if (needs_probe) {
        host::SystemProbe probe;
        const auto kvm = host::probe_kvm(probe);
        options.kvm_usable = kvm.usable;
        if (!kvm.usable) options.kvm_detail = kvm.detail;
        spdlog::info("KVM usable on this host: {}", *options.kvm_usable);
    }
    options.on_notice = [](const ResourceId& id, const std::string& message) {
        std::lock_guard lock(g_out_mutex);
        std::cout << fmt::format("{}: note: {}\n", id.str(), message) << std::flush;
    };
    spdlog::info("connecting to {}", g.uri);
    netlink::BridgeProviderOptions bridge_options;
    bridge_options.take_over.no_rollback = no_rollback;
    return std::make_unique<HostProvider>(
        std::make_unique<libvirt::LibvirtProvider>(g.uri, desired.lab, std::move(options)),
        std::make_unique<netlink::BridgeProvider>(desired.lab, bridge_options));
}

std::string addresses_text(const std::vector<libvirt::GuestAddress>& addrs) {
    std::string out;
    for (const auto& a : addrs) out += (out.empty() ? "" : ", ") + a.address;
    return out;
}

/// Waits until every running VM with a NIC has an address; prints them.
bool wait_for_addresses(HostProvider& host, const Desired& desired, int timeout_seconds) {
    std::vector<std::string> waiting;
    for (const auto& [name, vm] : desired.vms) {
        if (vm.state == VmState::running && !vm.nics.empty()) waiting.push_back(name);
    }
    if (waiting.empty()) return true;
    std::cout << fmt::format("\nWaiting up to {}s for the addresses of {} VM{}...\n",
                             timeout_seconds, waiting.size(), waiting.size() == 1 ? "" : "s");
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(timeout_seconds);
    while (!waiting.empty()) {
        std::erase_if(waiting, [&](const std::string& name) {
            const auto addrs = host.libvirt().vm_addresses(name);
            if (addrs.empty()) return false;
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::cout << fmt::format("vm.{}: {} (after {:.0f}s)\n", name, addresses_text(addrs),
                                     secs)
                      << std::flush;
            return true;
        });
        if (waiting.empty()) break;
        if (std::chrono::steady_clock::now() > deadline) {
            for (const auto& name : waiting) {
                std::cout << fmt::format("vm.{}: no address after {}s\n", name, timeout_seconds);
            }
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return true;
}

std::vector<ResourceId> parse_targets(const std::vector<std::string>& targets) {
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
            throw Error(fmt::format("--target '{}' must read KIND.NAME, e.g. network.labnat", t));
    }
    return out;
}

bool confirm(const std::string& question) {
    if (isatty(STDIN_FILENO) == 0) {
        throw Error(
            "standard input is not a terminal: pass --auto-approve to apply without asking");
    }
    std::cout << "\n"
              << question
              << "\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "yes";
}

const char* progress_verb(ActionType type, bool done) {
    switch (type) {
        case ActionType::create:
            return done ? "Creation complete" : "Creating...";
        case ActionType::update:
            return done ? "Modifications complete" : "Modifying...";
        case ActionType::replace:
            return done ? "Replacement complete" : "Replacing...";
        case ActionType::destroy:
            return done ? "Destruction complete" : "Destroying...";
    }
    return "";
}

void print_stats(HostProvider& provider) {
    if (std::getenv("VIRTFORM_STATS") == nullptr) return;
    std::cerr << fmt::format("virtform stats: libvirt round trips: {}\n",
                             provider.libvirt().round_trips());
}

nlohmann::json results_json(const Plan& plan, const ExecResult& result,
                            const std::vector<std::string>& problems,
                            std::chrono::steady_clock::time_point t0 = {}) {
    nlohmann::json actions = nlohmann::json::array();
    auto offset = [&](std::chrono::steady_clock::time_point t) -> nlohmann::json {
        if (t == std::chrono::steady_clock::time_point{}) return nullptr;
        return std::chrono::duration<double>(t - t0).count();
    };
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        const auto& r = result.results[i];
        actions.push_back(
            {{"address", plan.actions[i].id.str()},
             {"action", to_string(plan.actions[i].type)},
             {"class", to_string(plan.actions[i].cls)},
             {"outcome", to_string(r.outcome)},
             {"started_at", offset(r.started)},
             {"finished_at", offset(r.finished)},
             {"seconds",
              r.outcome == Outcome::done || r.outcome == Outcome::failed ? r.seconds() : 0.0},
             {"message", r.message}});
    }
    return {{"format_version", "1"},
            {"lab", plan.lab},
            {"plan", plan_to_json(plan)},
            {"results", actions},
            {"verify_problems", problems},
            {"summary",
             {{"done", result.count(Outcome::done)},
              {"failed", result.count(Outcome::failed)},
              {"skipped", result.count(Outcome::skipped)}}},
            {"ok", result.ok() && problems.empty()}};
}

/// Locks the lab, plans, asks, executes, verifies. Shared by apply, destroy
/// and apply of a saved plan (which passes what the plan must match).
int reconcile(const GlobalOptions& g, const Desired& desired, const ApplyOptionsCli& o,
              const std::string& question, const SavedPlan* saved = nullptr) {
    check_files(desired);
    const host::LabLock lab_lock(
        g.uri, desired.lab, question.rfind("Do you really", 0) == 0 ? "destroy" : "apply",
        std::chrono::milliseconds(static_cast<long>(o.lock_timeout * 1000)));
    auto provider = connect(g, desired, o.allow_restart, o.no_rollback);
    PlanOptions popts;
    popts.targets = parse_targets(saved ? saved->targets : o.targets);
    popts.last_applied = read_applied_record(g, desired.lab);
    const Live live = provider->read();
    if (saved) {
        const auto changes = fingerprint_changes(saved->fingerprint, fingerprint(live, desired));
        if (!changes.empty()) {
            throw Error(fmt::format(
                "the saved plan is stale: since it was made, {}. Nothing was changed; run "
                "`virtform plan -o` again",
                fmt::join(changes, ", ")));
        }
    }
    const Plan plan = make_plan(desired, live, popts);
    if (saved && plan_to_json(plan) != saved->plan) {
        throw Error(
            "the saved plan no longer matches what planning its manifests gives on this host; "
            "nothing was changed; run `virtform plan -o` again");
    }
    if (!o.json) std::cout << render_plan_text(plan, TextStyle{g.color});
    // --- issue 9: deleting what others use needs --force.
    std::vector<std::string> cut_off;
    for (const auto& a : plan.actions) {
        for (const auto& u : a.users) cut_off.push_back(fmt::format("{} ({})", u, a.id.str()));
    }
    if (!cut_off.empty() && !o.force) {
        throw Error(fmt::format(
            "refusing to delete what others on the host still use: {}. Nothing was changed; "
            "apply (or destroy) with --force to cut them off",
            fmt::join(cut_off, "; ")));
    }
    // ---
    if (plan.empty()) {
        write_applied_record(g, desired.lab, live);
        if (o.json) std::cout << results_json(plan, ExecResult{}, {}).dump(2) << "\n";
        print_stats(*provider);
        return o.wait_ip && !wait_for_addresses(*provider, desired, o.wait_timeout) ? 1 : 0;
    }
    if (!o.auto_approve && !saved && !confirm(question)) {
        std::cout << "\nApply cancelled.\n";
        return 1;
    }
    if (!o.json) std::cout << "\n";
    ExecOptions eopts;
    eopts.parallelism = o.parallelism;
    const auto t0 = std::chrono::steady_clock::now();
    if (!o.json) {
        eopts.on_event = [t0](const ExecEvent& e) {
            std::lock_guard lock(g_out_mutex);
            const double at =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (e.type == ExecEvent::Type::started) {
                std::cout << fmt::format("[{:6.1f}s] {}: {}\n", at, e.action.id.str(),
                                         progress_verb(e.action.type, false));
            } else if (e.result.outcome == Outcome::done) {
                std::cout << fmt::format("[{:6.1f}s] {}: {} after {:.1f}s\n", at, e.action.id.str(),
                                         progress_verb(e.action.type, true), e.result.seconds());
            } else {
                std::cout << fmt::format("[{:6.1f}s] {}: FAILED after {:.1f}s: {}\n", at,
                                         e.action.id.str(), e.result.seconds(), e.result.message);
            }
            std::cout.flush();
        };
    }
    const ExecResult result = execute(plan, *provider, eopts);
    for (const auto& c : cut_off) {
        if (!o.json) std::cout << fmt::format("warning: --force: cut off {}\n", c);
    }
    const Live after = provider->read();
    write_applied_record(g, desired.lab, after);
    const auto problems = verify(plan, result, desired, after);
    print_stats(*provider);
    if (o.json) {
        std::cout << results_json(plan, result, problems, t0).dump(2) << "\n";
        if (!result.ok() || !problems.empty()) return 1;
        return o.wait_ip && !wait_for_addresses(*provider, desired, o.wait_timeout) ? 1 : 0;
    }

    int added = 0, changed = 0, destroyed = 0;
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        if (result.results[i].outcome != Outcome::done) continue;
        switch (plan.actions[i].type) {
            case ActionType::create:
                ++added;
                break;
            case ActionType::update:
                ++changed;
                break;
            case ActionType::replace:
                ++added, ++destroyed;
                break;
            case ActionType::destroy:
                ++destroyed;
                break;
        }
    }
    if (result.ok() && problems.empty()) {
        std::cout << fmt::format(
            "\nApply complete! Resources: {} added, {} changed, {} destroyed.\n", added, changed,
            destroyed);
        if (o.wait_ip && !wait_for_addresses(*provider, desired, o.wait_timeout)) return 1;
        return 0;
    }
    std::cout << fmt::format(
        "\nApply incomplete. Resources: {} added, {} changed, {} destroyed; {} "
        "failed, {} skipped.\n",
        added, changed, destroyed, result.count(Outcome::failed), result.count(Outcome::skipped));
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        const auto& r = result.results[i];
        if (r.outcome == Outcome::failed || r.outcome == Outcome::skipped) {
            std::cout << fmt::format("  {} {} {}: {}\n", to_string(r.outcome),
                                     to_string(plan.actions[i].type), plan.actions[i].id.str(),
                                     r.message);
        }
    }
    for (const auto& p : problems) std::cout << "  not as desired after apply: " << p << "\n";
    std::cout << "Run apply again to finish: it plans from what is there now.\n";
    return 1;
}

}  // namespace

int run_guarded(const std::function<int()>& command) {
    try {
        return command();
    } catch (const ValidationError& e) {
        std::cerr << e.diagnostics().str();
        std::cerr << fmt::format("{} error{}; nothing was changed.\n", e.diagnostics().size(),
                                 e.diagnostics().size() == 1 ? "" : "s");
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
    }
    return 1;
}

int cmd_validate(const GlobalOptions& /*g*/, const ManifestOptions& m) {
    const Desired d = load(m);
    std::cout << fmt::format(
        "The manifests are valid: lab '{}', {} network(s), {} pool(s), {} VM(s).\n", d.lab,
        d.networks.size(), d.pools.size(), d.vms.size());
    return 0;
}

int cmd_plan(const GlobalOptions& g, const ManifestOptions& m, const PlanOptionsCli& o) {
    Diagnostics diags;
    const auto sources = read_manifest_sources(m.paths, diags);
    diags.throw_if_any();
    const Desired desired = load_manifests(sources);
    check_files(desired);
    auto provider = connect(g, desired);
    PlanOptions popts;
    popts.targets = parse_targets(o.targets);
    popts.last_applied = read_applied_record(g, desired.lab);
    const Live live = provider->read();
    const Plan plan = make_plan(desired, live, popts);
    if (o.json) {
        std::cout << plan_to_json(plan).dump(2) << "\n";
    } else {
        std::cout << render_plan_text(plan, TextStyle{g.color});
    }
    if (!o.out.empty()) {
        write_saved_plan(o.out, SavedPlan{g.uri, desired.lab, sources, o.targets,
                                          fingerprint(live, desired), plan_to_json(plan)});
        if (!o.json) {
            std::cout << fmt::format(
                "\nSaved the plan to {}. `virtform apply {}` carries out exactly "
                "this plan, and refuses if the host changes first.\n",
                o.out, o.out);
        }
    }
    print_stats(*provider);
    if (o.detailed_exitcode && !plan.empty()) return 2;
    return 0;
}

int cmd_apply(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o) {
    if (m.paths.size() == 1) {
        if (auto saved = read_saved_plan(m.paths[0])) {
            if (saved->uri != g.uri) {
                throw Error(fmt::format("the plan was made for {}, not {}", saved->uri, g.uri));
            }
            return reconcile(g, load_manifests(saved->manifests), o, "", &*saved);
        }
    }
    return reconcile(g, load(m), o, "Do you want to perform these actions?");
}

int cmd_destroy(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o) {
    Desired desired = load(m);
    Desired nothing;
    nothing.lab = desired.lab;
    nothing.files = desired.files;
    return reconcile(
        g, nothing, o,
        fmt::format("Do you really want to destroy everything lab '{}' owns?", desired.lab)
            .c_str());
}

int cmd_status(const GlobalOptions& g, const ManifestOptions& m) {
    const Desired desired = load(m);
    auto provider = connect(g, desired);
    const Live live = provider->read();
    Plan plan;
    try {
        PlanOptions popts;
        popts.last_applied = read_applied_record(g, desired.lab);
        plan = make_plan(desired, live, popts);
    } catch (const ValidationError& e) {
        std::cerr << e.diagnostics().str();
    }
    std::cout << fmt::format("lab {} on {}\n\n", desired.lab, g.uri);
    std::cout << fmt::format("  {:<34} {:<10} {:<10} {:<26} {}\n", "OBJECT", "STATE", "AUTOSTART",
                             "DRIFT", "ADDRESSES");
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
        std::cout << fmt::format("  {:<34} {:<10} {:<10} {:<26} {}\n", id.str(), state, autostart,
                                 drift_of(id), extra);
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
    bool any_diverged = false;
    for (const auto& name : owned(live.vms, desired.vms)) {
        const ResourceId id{Kind::vm, name};
        auto it = live.vms.find(name);
        if (it == live.vms.end()) {
            row(id, "absent", "-", "");
            continue;
        }
        std::string addrs;
        if (it->second.state == VmState::running) {
            try {
                addrs = addresses_text(provider->libvirt().vm_addresses(name));
            } catch (const Error& e) {
                addrs = e.what();
            }
        }
        // --- issue 9: the running VM against its definition and the manifest.
        std::vector<std::string> diverged;
        for (const auto& a : plan.actions) {
            if (a.id != id) continue;
            for (const auto& c : a.changes) {
                if (!is_running_change(c)) continue;
                auto shown = [&](const std::optional<std::string>& v) {
                    return !v ? std::string("(none)") : c.sensitive ? "(sensitive)" : *v;
                };
                diverged.push_back(fmt::format("{} {} -> {} ({})",
                                               c.path.substr(std::strlen(kRunningPrefix)),
                                               shown(c.before), shown(c.after), to_string(c.cls)));
            }
        }
        std::string state = to_string(it->second.state);
        if (it->second.restart_pending || !diverged.empty()) state += "*";
        any_diverged = any_diverged || state.back() == '*';
        row(id, state, it->second.autostart ? "yes" : "no", addrs);
        for (const auto& d : diverged) std::cout << fmt::format("      running: {}\n", d);
    }
    if (any_diverged) {
        std::cout << "\n  * the running VM differs from its definition or the manifest: a live "
                     "change (apply sets it) or a restart pending (apply --allow-restart)\n";
    }
    return 0;
}

int cmd_doctor(const GlobalOptions& g, bool json) {
    host::DoctorOptions options;
    options.connect_uri = g.uri;
    const auto checks = host::run_doctor(options);
    if (json)
        std::cout << host::doctor_to_json(checks).dump(2) << "\n";
    else
        std::cout << host::render_doctor_text(checks);
    return host::doctor_exit_code(checks);
}

}  // namespace virtform::cli
