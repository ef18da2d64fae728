#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "common.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/adapters/host/lab_lock.h"
#include "virtform/error.h"
#include "virtform/exec.h"
#include "virtform/exec_json.h"
#include "virtform/fingerprint.h"
#include "virtform/render.h"
#include "virtform/targets.h"

namespace virtform::cli {

int reconcile(const GlobalOptions& g, const Desired& desired, const ApplyOptionsCli& o,
              const std::string& question, const SavedPlan* saved) {
    check_files(desired);
    const host::LabLock lab_lock(
        g.uri, desired.lab, question.rfind("Do you really", 0) == 0 ? "destroy" : "apply",
        std::chrono::milliseconds(static_cast<long>(o.lock_timeout * 1000)));
    auto provider = connect(g, desired, o.allow_restart, o.no_rollback);
    PlanOptions popts;
    popts.targets = parse_targets(saved ? saved->targets : o.targets);
    popts.last_applied = host::read_applied_record(g.uri, desired.lab);
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
    if (plan.empty()) {
        host::write_applied_record(g.uri, desired.lab, live);
        if (o.json) std::cout << results_to_json(plan, ExecResult{}, {}).dump(2) << "\n";
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
    const Live after = provider->read();
    host::write_applied_record(g.uri, desired.lab, after);
    const auto problems = verify(plan, result, desired, after);
    print_stats(*provider);
    if (o.json) {
        std::cout << results_to_json(plan, result, problems, t0).dump(2) << "\n";
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

}  // namespace virtform::cli
