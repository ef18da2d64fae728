#include "multi_host.h"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include "common.h"
#include "interrupt.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/adapters/libvirt/connect.h"
#include "virtform/diag.h"
#include "virtform/error.h"
#include "virtform/exec_json.h"
#include "virtform/host_checks.h"
#include "virtform/lab_hosts.h"
#include "virtform/render.h"
#include "virtform/targets.h"

namespace virtform::cli {

std::string describe(const HostPart& part) {
    return fmt::format("host '{}' ({})", part.name, part.uri);
}

namespace {

/// The message of whatever a host's thread threw, naming the host.
std::string host_failure(const HostPart& part, const std::exception_ptr& e) {
    std::string what;
    try {
        std::rethrow_exception(e);
    } catch (const ValidationError& v) {
        what = v.diagnostics().str();
        while (!what.empty() && what.back() == '\n') what.pop_back();
    } catch (const std::exception& x) {
        what = x.what();
    }
    return fmt::format("{}: {}", describe(part), what);
}

bool declared(const Desired& d, const ResourceId& id) {
    switch (id.kind) {
        case Kind::bridge:
            return d.bridges.count(id.name) != 0;
        case Kind::network:
            return d.networks.count(id.name) != 0;
        case Kind::pool:
            return d.pools.count(id.name) != 0;
        case Kind::volume:
            return d.volumes.count(id.name) != 0;
        case Kind::vm:
            return d.vms.count(id.name) != 0;
    }
    return false;
}

}  // namespace

std::vector<HostPart> host_parts(const GlobalOptions& g, const Desired& desired) {
    std::vector<HostPart> parts;
    Diagnostics diags;
    for (const auto& [name, host] : desired.hosts) {
        if (host.uri == g.uri) {
            diags.error(host.where,
                        fmt::format("host '{}' has the URI {} of the default host 'local' (the "
                                    "--connect URI); one host has one name (each would delete "
                                    "the other's objects): drop it, or use 'host: local'",
                                    name, host.uri));
        }
    }
    diags.throw_if_any();
    for (const auto& name : lab_host_names(desired)) {
        HostPart part;
        part.name = name;
        part.uri = name == kLocalHost ? g.uri : desired.hosts.at(name).uri;
        part.desired = desired_for_host(desired, name);
        const std::string remote = libvirt::remote_host_of(part.uri);
        if (!remote.empty()) check_remote_host(part.desired, remote, diags);
        parts.push_back(std::move(part));
    }
    diags.throw_if_any();
    for (const auto& part : parts) check_files(part.desired, part.uri);
    return parts;
}

void read_and_plan(const GlobalOptions& g, const Desired& desired, std::vector<HostPart>& parts,
                   const HostReadOptions& o, EarlyRead local) {
    const auto targets = parse_targets(o.targets);
    const auto adopt = parse_targets(o.adopt, "--adopt");
    each_host(parts, [&](HostPart& part) {
        try {
            PlanOptions popts;
            for (const auto& t : targets) {
                // A target the manifests do not declare (destroy, a removed
                // object) may be on any host: every host is asked.
                if (!declared(desired, t) || host_of(desired, t) == part.name)
                    popts.targets.push_back(t);
            }
            if (!targets.empty() && popts.targets.empty()) {
                part.targeted = false;  // nothing of this host is asked for
                return;
            }
            for (const auto& a : adopt) {
                if (host_of(desired, a) == part.name) popts.adopt.insert(a);
            }
            if (o.lock) {
                part.lock = std::make_unique<host::LabLock>(part.uri, part.desired.lab,
                                                            o.lock_command, o.lock_timeout);
            }
            GlobalOptions hg = g;
            hg.uri = part.uri;
            EarlyRead early;
            if (part.name == kLocalHost) early = std::move(local);  // one thread only
            part.provider =
                connect(hg, part.desired, o.allow_restart, o.no_rollback, std::move(early));
            popts.last_applied = host::read_applied_record(part.uri, part.desired.lab);
            part.live = part.provider->read();
            part.plan = make_plan(part.desired, part.live, popts);
        } catch (const ValidationError&) {
            part.invalid = true;
            part.error = host_failure(part, std::current_exception());
            part.plan = Plan{};
            part.plan.lab = part.desired.lab;
        } catch (...) {
            part.error = host_failure(part, std::current_exception());
            part.plan = Plan{};
            part.plan.lab = part.desired.lab;
        }
    });
}

Plan merged_plan(const std::vector<HostPart>& parts, std::vector<std::string>* hosts) {
    Plan all;
    for (const auto& part : parts) {
        if (all.lab.empty()) all.lab = part.desired.lab;
        const std::size_t offset = all.actions.size();
        for (auto a : part.plan.actions) {
            for (auto& d : a.depends_on) d += offset;
            all.actions.push_back(std::move(a));
            if (hosts != nullptr) hosts->push_back(part.name);
        }
        for (const auto& w : part.plan.warnings)
            all.warnings.push_back(fmt::format("host {}: {}", part.name, w));
        all.drift.insert(all.drift.end(), part.plan.drift.begin(), part.plan.drift.end());
    }
    return all;
}

std::string render_hosts_plan_text(const std::vector<HostPart>& parts, bool color) {
    std::string out;
    for (const auto& part : parts) {
        out +=
            fmt::format("Host {} ({}):\n", terminal_escape(part.name), terminal_escape(part.uri));
        if (!part.error.empty()) {
            out += fmt::format("  error: {}\n\n", terminal_escape(part.error));
            continue;
        }
        if (!part.targeted) {
            out += "  Not targeted.\n\n";
            continue;
        }
        std::string text = render_plan_text(part.plan, TextStyle{color});
        // One summary for all hosts, at the end: this host's goes.
        const std::string summary = render_plan_summary(part.plan) + "\n";
        if (text.size() >= summary.size() &&
            text.compare(text.size() - summary.size(), summary.size(), summary) == 0) {
            text.resize(text.size() - summary.size());
        }
        if (part.plan.empty()) text += "No changes on this host.\n";
        out += text;
        if (out.size() < 2 || out.compare(out.size() - 2, 2, "\n\n") != 0) out += "\n";
    }
    out += render_plan_summary(merged_plan(parts)) + "\n";
    return out;
}

nlohmann::json hosts_json(const std::vector<HostPart>& parts) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& part : parts) {
        list.push_back(
            {{"name", part.name},
             {"uri", part.uri},
             {"error", part.error.empty() ? nlohmann::json() : nlohmann::json(part.error)}});
    }
    return list;
}

nlohmann::json hosts_plan_json(const std::vector<HostPart>& parts) {
    std::vector<std::string> hosts;
    auto doc = plan_to_json(merged_plan(parts, &hosts));
    auto& actions = doc["actions"];
    for (std::size_t i = 0; i < actions.size() && i < hosts.size(); ++i)
        actions[i]["host"] = hosts[i];
    doc["hosts"] = hosts_json(parts);
    return doc;
}

int plan_hosts(const GlobalOptions& g, const Desired& desired, const PlanOptionsCli& o,
               EarlyRead local) {
    if (!o.out.empty()) {
        throw Error(
            "plan -o: saved plans do not cover a lab with 'hosts:' yet; plan and apply it "
            "directly (docs/cli.md)");
    }
    const OutputFormat format = output_format(o.format, o.json);
    if (format == OutputFormat::markdown) {
        throw Error(
            "plan --format markdown does not cover a lab with 'hosts:' yet; use text or json");
    }
    auto parts = host_parts(g, desired);
    HostReadOptions ro;
    ro.targets = o.targets;
    ro.adopt = o.adopt;
    read_and_plan(g, desired, parts, ro, std::move(local));
    bool failed = false;
    for (const auto& part : parts) {
        if (part.error.empty()) continue;
        failed = true;
        std::cerr << fmt::format("error: {}\n", terminal_escape(part.error));
        if (auto hint = hint_for(part.error); !hint.empty()) std::cerr << hint << "\n";
    }
    if (format == OutputFormat::json) {
        auto doc = hosts_plan_json(parts);
        if (failed) doc["ok"] = false;
        std::cout << doc.dump(2) << "\n";
    } else {
        std::cout << render_hosts_plan_text(parts, g.color);
    }
    for (auto& part : parts) {
        if (part.provider) print_stats(*part.provider);
    }
    if (failed) return 1;
    if (o.detailed_exitcode && !merged_plan(parts).empty()) return 2;
    return 0;
}

int reconcile_hosts(const GlobalOptions& g, const Desired& desired, const ApplyOptionsCli& o,
                    const std::string& question,
                    const std::function<void(const ExecEvent&)>& heartbeat) {
    auto parts = host_parts(g, desired);
    HostReadOptions ro;
    ro.targets = o.targets;
    ro.adopt = o.adopt;
    ro.lock = true;
    ro.lock_command = o.destroy ? "destroy" : "apply";
    ro.lock_timeout = o.lock_timeout;
    ro.allow_restart = o.allow_restart;
    ro.no_rollback = o.no_rollback;
    read_and_plan(g, desired, parts, ro);
    if (!o.json) std::cout << render_hosts_plan_text(parts, g.color) << std::flush;
    // A plan error is the manifests' problem, not a host's: nothing is applied
    // anywhere (a host that did not answer only fails its own part).
    std::vector<std::string> invalid;
    for (const auto& part : parts) {
        if (part.invalid) invalid.push_back(part.error);
    }
    if (!invalid.empty()) {
        throw Error(fmt::format("the plan has errors; nothing was changed on any host:\n{}",
                                fmt::join(invalid, "\n")));
    }
    // Deleting what others on a host still use needs --force, on every host.
    std::vector<std::string> cut_off;
    for (const auto& part : parts) {
        for (const auto& a : part.plan.actions) {
            for (const auto& u : a.users)
                cut_off.push_back(fmt::format("{} ({} on host {})", u, a.id.str(), part.name));
        }
    }
    refuse_cutting_off(cut_off, o.force, o.destroy, "the hosts");
    const bool anything = !merged_plan(parts).empty();
    if (anything && !o.auto_approve && !confirm(question))
        return print_cancelled(o.destroy, o.json);
    if (anything) std::cerr << "\n";
    const auto t0 = std::chrono::steady_clock::now();
    const InterruptGuard interrupt;
    each_host(parts, [&](HostPart& part) {
        if (!part.error.empty() || !part.targeted || !part.provider) return;
        try {
            if (!part.plan.empty()) {
                ExecOptions eopts;
                eopts.parallelism = o.parallelism;
                const std::string who = part.name;
                eopts.on_event = [t0, who, &heartbeat](const ExecEvent& e) {
                    std::lock_guard lock(g_out_mutex);
                    if (heartbeat) heartbeat(e);
                    print_progress(e, t0, who);
                };
                eopts.stop_requested = [&interrupt] { return interrupt.requested(); };
                part.result = execute(part.plan, *part.provider, eopts);
                part.executed = true;
            }
            const Live after = part.plan.empty() ? part.live : part.provider->read();
            host::write_applied_record(part.uri, part.desired.lab, after);
            if (part.executed)
                part.problems =
                    verify(part.plan, part.result, part.desired, after, o.allow_restart);
        } catch (...) {
            part.error = host_failure(part, std::current_exception());
        }
        if (part.executed && part.result.results.size() != part.plan.actions.size())
            part.result.results.resize(part.plan.actions.size());
    });
    // A plan that was not executed on a host (it failed first) has no results:
    // its actions count as not started.
    for (auto& part : parts) {
        if (!part.executed) {
            part.result.results.assign(part.plan.actions.size(), ActionResult{});
            for (auto& r : part.result.results) {
                r.outcome = Outcome::not_started;
                r.message = part.error.empty() ? "not run" : part.error;
            }
        }
    }
    for (const auto& c : cut_off)
        std::cerr << fmt::format("warning: --force: cut off {}\n", terminal_escape(c));
    for (auto& part : parts) {
        if (part.provider) print_stats(*part.provider);
    }
    std::vector<std::string> hosts_of;
    const Plan all = merged_plan(parts, &hosts_of);
    ExecResult result;
    std::vector<std::string> problems;
    bool host_failed = false;
    for (const auto& part : parts) {
        result.results.insert(result.results.end(), part.result.results.begin(),
                              part.result.results.end());
        for (const auto& p : part.problems) problems.push_back(fmt::format("{}: {}", part.name, p));
        host_failed = host_failed || !part.error.empty();
    }
    const bool ok = !host_failed && result.ok() && problems.empty() && !interrupt.requested();
    if (o.json) {
        auto doc = results_to_json(all, result, problems, t0);
        auto& actions = doc["plan"]["actions"];
        auto& results = doc["results"];
        for (std::size_t i = 0; i < hosts_of.size(); ++i) {
            if (i < actions.size()) actions[i]["host"] = hosts_of[i];
            if (i < results.size()) results[i]["host"] = hosts_of[i];
        }
        doc["hosts"] = hosts_json(parts);
        doc["ok"] = ok;
        std::cout << doc.dump(2) << "\n";
        if (interrupt.requested()) return interrupt.exit_code();
        return ok ? 0 : 1;
    }
    const ResultTally done = tally(all, result);
    if (ok) {
        std::cout << complete_line(o.destroy, done);
        if (o.wait_ip) {
            bool all_found = true;
            for (auto& part : parts) {
                if (part.provider && part.targeted)
                    all_found =
                        wait_for_addresses(*part.provider, part.desired, o.wait_timeout, true)
                            .missing.empty() &&
                        all_found;
            }
            return all_found ? 0 : 1;
        }
        return 0;
    }
    std::cout << incomplete_line(o.destroy, interrupt.requested(), done, result);
    for (const auto& part : parts) {
        if (!part.error.empty())
            std::cout << fmt::format("  failed {}\n", terminal_escape(part.error));
    }
    for (std::size_t i = 0; i < all.actions.size(); ++i) {
        const auto& r = result.results[i];
        if (r.outcome == Outcome::failed || r.outcome == Outcome::skipped) {
            std::cout << fmt::format("  {}: {} {} {}: {}\n", hosts_of[i], to_string(r.outcome),
                                     to_string(all.actions[i].type), all.actions[i].id.str(),
                                     r.message);
        }
    }
    for (const auto& p : problems) std::cout << "  not as desired after apply: " << p << "\n";
    std::cout << fmt::format("Run {} again to finish: it plans from what is there now.\n",
                             o.destroy ? "destroy" : "apply");
    return interrupt.requested() ? interrupt.exit_code() : 1;
}

}  // namespace virtform::cli
