#include "commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "virtform/adapters/libvirt/provider.h"
#include "virtform/diag.h"
#include "virtform/exec.h"
#include "virtform/manifest.h"
#include "virtform/render.h"

namespace virtform::cli {
namespace {

Desired load(const ManifestOptions& m) { return load_manifest_files(m.paths); }

std::unique_ptr<Provider> connect(const GlobalOptions& g, const std::string& lab) {
    spdlog::info("connecting to {}", g.uri);
    return std::make_unique<libvirt::LibvirtProvider>(g.uri, lab);
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
        if (!ok) throw Error(fmt::format("--target '{}' must read KIND.NAME, e.g. network.labnat", t));
    }
    return out;
}

bool confirm(const std::string& question) {
    if (isatty(STDIN_FILENO) == 0) {
        throw Error("standard input is not a terminal: pass --auto-approve to apply without asking");
    }
    std::cout << "\n" << question << "\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
              << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "yes";
}

const char* progress_verb(ActionType type, bool done) {
    switch (type) {
        case ActionType::create: return done ? "Creation complete" : "Creating...";
        case ActionType::update: return done ? "Modifications complete" : "Modifying...";
        case ActionType::replace: return done ? "Replacement complete" : "Replacing...";
        case ActionType::destroy: return done ? "Destruction complete" : "Destroying...";
    }
    return "";
}

/// Plans, asks, executes, verifies. Shared by apply and destroy.
int reconcile(const GlobalOptions& g, const Desired& desired, const ApplyOptionsCli& o,
              const char* question) {
    auto provider = connect(g, desired.lab);
    PlanOptions popts;
    popts.targets = parse_targets(o.targets);
    const Plan plan = make_plan(desired, provider->read(), popts);
    std::cout << render_plan_text(plan, TextStyle{g.color});
    if (plan.empty()) return 0;
    if (!o.auto_approve && !confirm(question)) {
        std::cout << "\nApply cancelled.\n";
        return 1;
    }
    std::cout << "\n";
    ExecOptions eopts;
    eopts.parallelism = o.parallelism;
    eopts.on_event = [](const ExecEvent& e) {
        if (e.type == ExecEvent::Type::started) {
            std::cout << fmt::format("{}: {}\n", e.action.id.str(), progress_verb(e.action.type, false));
        } else if (e.result.outcome == Outcome::done) {
            std::cout << fmt::format("{}: {} after {:.1f}s\n", e.action.id.str(),
                                     progress_verb(e.action.type, true), e.result.seconds());
        } else {
            std::cout << fmt::format("{}: FAILED after {:.1f}s: {}\n", e.action.id.str(),
                                     e.result.seconds(), e.result.message);
        }
        std::cout.flush();
    };
    const ExecResult result = execute(plan, *provider, eopts);
    const auto problems = verify(plan, result, desired, provider->read());

    int added = 0, changed = 0, destroyed = 0;
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        if (result.results[i].outcome != Outcome::done) continue;
        switch (plan.actions[i].type) {
            case ActionType::create: ++added; break;
            case ActionType::update: ++changed; break;
            case ActionType::replace: ++added, ++destroyed; break;
            case ActionType::destroy: ++destroyed; break;
        }
    }
    if (result.ok() && problems.empty()) {
        std::cout << fmt::format("\nApply complete! Resources: {} added, {} changed, {} destroyed.\n",
                                 added, changed, destroyed);
        return 0;
    }
    std::cout << fmt::format("\nApply incomplete. Resources: {} added, {} changed, {} destroyed; {} "
                             "failed, {} skipped.\n",
                             added, changed, destroyed, result.count(Outcome::failed),
                             result.count(Outcome::skipped));
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        const auto& r = result.results[i];
        if (r.outcome == Outcome::failed || r.outcome == Outcome::skipped) {
            std::cout << fmt::format("  {} {} {}: {}\n", to_string(r.outcome),
                                     to_string(plan.actions[i].type), plan.actions[i].id.str(), r.message);
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
    std::cout << fmt::format("The manifests are valid: lab '{}', {} network{}.\n", d.lab,
                             d.networks.size(), d.networks.size() == 1 ? "" : "s");
    return 0;
}

int cmd_plan(const GlobalOptions& g, const ManifestOptions& m, const PlanOptionsCli& o) {
    const Desired desired = load(m);
    auto provider = connect(g, desired.lab);
    PlanOptions popts;
    popts.targets = parse_targets(o.targets);
    const Plan plan = make_plan(desired, provider->read(), popts);
    if (o.json) {
        std::cout << plan_to_json(plan).dump(2) << "\n";
    } else {
        std::cout << render_plan_text(plan, TextStyle{g.color});
    }
    if (o.detailed_exitcode && !plan.empty()) return 2;
    return 0;
}

int cmd_apply(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o) {
    return reconcile(g, load(m), o, "Do you want to perform these actions?");
}

int cmd_destroy(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o) {
    Desired desired = load(m);
    Desired nothing;
    nothing.lab = desired.lab;
    nothing.files = desired.files;
    return reconcile(g, nothing, o,
                     fmt::format("Do you really want to destroy everything lab '{}' owns?", desired.lab)
                         .c_str());
}

int cmd_status(const GlobalOptions& g, const ManifestOptions& m) {
    const Desired desired = load(m);
    auto provider = connect(g, desired.lab);
    const Live live = provider->read();
    Plan plan;
    try {
        plan = make_plan(desired, live);
    } catch (const ValidationError& e) {
        std::cerr << e.diagnostics().str();
    }
    std::cout << fmt::format("lab {} on {}\n\n", desired.lab, g.uri);
    std::cout << fmt::format("  {:<28} {:<10} {:<10} {}\n", "OBJECT", "STATE", "AUTOSTART", "DRIFT");
    auto drift_of = [&](const ResourceId& id) -> std::string {
        for (const auto& a : plan.actions) {
            if (a.id == id) return fmt::format("{} ({} change{})", to_string(a.type), a.changes.size(),
                                               a.changes.size() == 1 ? "" : "s");
        }
        return "in sync";
    };
    for (const auto& [name, want] : desired.networks) {
        const ResourceId id{Kind::network, name};
        auto it = live.networks.find(name);
        if (it == live.networks.end()) {
            std::cout << fmt::format("  {:<28} {:<10} {:<10} {}\n", id.str(), "absent", "-", "to create");
            continue;
        }
        const Network& n = it->second;
        std::cout << fmt::format("  {:<28} {:<10} {:<10} {}\n", id.str(), n.active ? "active" : "inactive",
                                 n.autostart ? "yes" : "no", drift_of(id));
    }
    for (const auto& [name, n] : live.networks) {
        if (n.owner == desired.lab && desired.networks.count(name) == 0) {
            std::cout << fmt::format("  {:<28} {:<10} {:<10} {}\n", "network." + name,
                                     n.active ? "active" : "inactive", n.autostart ? "yes" : "no",
                                     "not in manifest (to delete)");
        }
    }
    return 0;
}

}  // namespace virtform::cli
