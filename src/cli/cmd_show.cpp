// `virtform show PLANFILE`: a saved plan as `plan` printed it, with where and
// when it was made and whether the host changed since (the check `apply FILE`
// makes, reported instead of refused). Reads only: no lock, no change, and
// never the saved manifests themselves (they may hold secrets).
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/adapters/libvirt/connect.h"
#include "virtform/diag.h"
#include "virtform/error.h"
#include "virtform/fingerprint.h"
#include "virtform/render.h"
#include "virtform/targets.h"

namespace virtform::cli {
namespace {

struct HostCheck {
    std::optional<bool> changed;       ///< nullopt: the host could not be read
    std::vector<std::string> changes;  ///< "network.x changed", as apply names them
    bool plan_differs = false;         ///< same fingerprint, yet planning gives another plan
    std::string error;
};

/// The plan file may come from anyone (a CI artifact): its URI is never
/// connected to (`qemu+ext://...?command=` would run a program). The check
/// runs against the URI the user connects to anyway (-c, or libvirt's
/// default) and only when the plan was made for it.
HostCheck check_host(const GlobalOptions& g, const SavedPlan& saved) {
    HostCheck check;
    try {
        GlobalOptions here = g;
        here.uri = libvirt::resolve_uri(g.uri);
        if (here.uri != saved.uri) {
            check.error = fmt::format(
                "the plan was made for {}, and this host is {}; show connects only to your own "
                "URI (--connect URI)",
                saved.uri, here.uri);
            return check;
        }
        const Desired desired = load_manifests(saved.manifests);
        auto provider = connect(here, desired);
        const Live live = provider->read();
        check.changes = fingerprint_changes(saved.fingerprint, fingerprint(live, desired));
        if (check.changes.empty()) {
            PlanOptions popts;
            popts.targets = parse_targets(saved.targets);
            popts.last_applied = host::read_applied_record(saved.uri, desired.lab);
            check.plan_differs = plan_to_json(make_plan(desired, live, popts)) != saved.plan;
        }
        check.changed = !check.changes.empty() || check.plan_differs;
    } catch (const ValidationError& e) {
        check.error = e.diagnostics().str();
        while (!check.error.empty() && check.error.back() == '\n') check.error.pop_back();
    } catch (const std::exception& e) {
        check.error = e.what();
    }
    return check;
}

std::string verdict_text(const HostCheck& c, const std::string& file) {
    if (!c.changed) return fmt::format("not checked: {}", c.error);
    if (!*c.changed) {
        return fmt::format("no; `virtform apply {}` would carry out exactly this plan", file);
    }
    const std::string what = c.plan_differs ? "planning its manifests now gives another plan"
                                            : fmt::format("{}", fmt::join(c.changes, ", "));
    return fmt::format(
        "yes ({}); `virtform apply {}` would refuse it: make a new one with `virtform plan -o`",
        what, file);
}

}  // namespace

int cmd_show(const GlobalOptions& g, const ShowOptionsCli& o) {
    const OutputFormat format = output_format(o.format, o.json);
    const auto saved = read_saved_plan(o.plan_file, false);
    if (!saved) {
        throw Error(
            fmt::format("{}: not a saved virtform plan; make one with `virtform plan -o FILE`",
                        terminal_escape(o.plan_file)));
    }
    const Plan plan = plan_from_json(saved->plan);
    const HostCheck check = check_host(g, *saved);
    const std::string created = saved->created.empty() ? "(not recorded)" : saved->created;

    if (format == OutputFormat::json) {
        nlohmann::json doc = {{"format_version", "1"},
                              {"file", o.plan_file},
                              {"lab", saved->lab},
                              {"uri", saved->uri},
                              {"created", saved->created.empty() ? nlohmann::json(nullptr)
                                                                 : nlohmann::json(saved->created)},
                              {"targets", saved->targets},
                              {"host_changed", check.changed ? nlohmann::json(*check.changed)
                                                             : nlohmann::json(nullptr)},
                              {"changes", check.changes},
                              {"plan_differs", check.plan_differs},
                              {"plan", saved->plan}};
        if (!check.error.empty()) doc["check_error"] = check.error;
        std::cout << doc.dump(2) << "\n";
        return 0;
    }
    if (format == OutputFormat::markdown) {
        MarkdownOptions md;
        md.max_actions = o.max_actions;
        md.full_plan_hint =
            "The whole plan: " +
            markdown_code("virtform show --format markdown --max-actions 0 " + o.plan_file) + ".";
        md.preamble.push_back(fmt::format("Saved plan {}, made {} for {}.",
                                          markdown_code(o.plan_file), markdown_code(created),
                                          markdown_code(saved->uri)));
        if (!saved->targets.empty()) {
            md.preamble.push_back(
                "Targets: " + markdown_code(fmt::format("{}", fmt::join(saved->targets, " "))) +
                ".");
        }
        md.preamble.push_back("");
        if (!check.changed) {
            md.preamble.push_back(
                "Whether the host changed since is unknown: " + markdown_code(check.error) + ".");
        } else if (*check.changed) {
            md.preamble.push_back(
                "**The host has changed since this plan was made** (" +
                markdown_code(check.plan_differs
                                  ? "planning now gives another plan"
                                  : fmt::format("{}", fmt::join(check.changes, ", "))) +
                "): applying it will be refused; make a new plan.");
        } else {
            md.preamble.push_back(
                "The host has not changed since: applying this file carries out exactly this "
                "plan.");
        }
        std::cout << render_plan_markdown(plan, md);
        return 0;
    }
    std::cout << fmt::format("Saved plan {}\n", terminal_escape(o.plan_file));
    std::cout << fmt::format("  lab:     {}\n", terminal_escape(saved->lab));
    std::cout << fmt::format("  host:    {}\n", terminal_escape(saved->uri));
    std::cout << fmt::format("  made:    {}\n", created);
    if (!saved->targets.empty()) {
        std::cout << fmt::format(
            "  targets: {}\n", terminal_escape(fmt::format("{}", fmt::join(saved->targets, " "))));
    }
    std::cout << fmt::format("  host changed since: {}\n",
                             terminal_escape(verdict_text(check, o.plan_file)));
    std::cout << "\n" << render_plan_text(plan, TextStyle{g.color});
    return 0;
}

}  // namespace virtform::cli
