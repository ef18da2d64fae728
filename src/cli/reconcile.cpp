#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common.h"
#include "interrupt.h"
#include "multi_host.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/adapters/host/lab_lock.h"
#include "virtform/diag.h"
#include "virtform/error.h"
#include "virtform/exec.h"
#include "virtform/exec_json.h"
#include "virtform/fingerprint.h"
#include "virtform/render.h"
#include "virtform/targets.h"

namespace virtform::cli {
namespace {

const char* still_verb(ActionType type) {
    switch (type) {
        case ActionType::create:
            return "Still creating...";
        case ActionType::update:
            return "Still modifying...";
        case ActionType::replace:
            return "Still replacing...";
        case ActionType::destroy:
            return "Still destroying...";
    }
    return "Still working...";
}

/// Terraform's heartbeat: every `interval` an action has been running, one
/// line on stderr ("vm.web1: Still creating... [10s elapsed]"), so a long
/// shutdown or volume copy is not silent. A thread of the CLI: the executor
/// only reports started/finished.
class Heartbeat {
public:
    explicit Heartbeat(std::chrono::milliseconds interval) : interval_(interval) {
        if (interval_.count() > 0) thread_ = std::thread([this] { run(); });
    }
    ~Heartbeat() { stop(); }
    Heartbeat(const Heartbeat&) = delete;
    Heartbeat& operator=(const Heartbeat&) = delete;

    /// Called under g_out_mutex (from the executor's on_event).
    void started(const Action& a) {
        std::lock_guard lock(mutex_);
        running_[a.id.str()] = {a.type, std::chrono::steady_clock::now(), 1};
    }
    void finished(const Action& a) {
        std::lock_guard lock(mutex_);
        running_.erase(a.id.str());
    }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    struct Running {
        ActionType type;
        std::chrono::steady_clock::time_point since;
        long beats;  ///< the next beat reports beats * interval
    };

    void run() {
        const auto tick = std::min<std::chrono::milliseconds>(
            interval_ / 4 + std::chrono::milliseconds(1), std::chrono::milliseconds(250));
        std::unique_lock lock(mutex_);
        while (!cv_.wait_for(lock, tick, [this] { return stopping_; })) {
            const auto now = std::chrono::steady_clock::now();
            std::vector<std::string> lines;
            for (auto& [id, r] : running_) {
                if (now - r.since < interval_ * r.beats) continue;
                lines.push_back(fmt::format("{}: {} [{} elapsed]", id, still_verb(r.type),
                                            format_duration(interval_ * r.beats)));
                ++r.beats;
            }
            if (lines.empty()) continue;
            lock.unlock();
            {
                std::lock_guard out(g_out_mutex);
                for (const auto& l : lines) std::cerr << l << "\n";
                std::cerr.flush();
            }
            lock.lock();
        }
    }

    std::chrono::milliseconds interval_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::map<std::string, Running> running_;
    std::thread thread_;
};

}  // namespace

int reconcile(const GlobalOptions& g, const Desired& desired, const ApplyOptionsCli& o,
              const std::string& question, const SavedPlan* saved) {
    if (!desired.hosts.empty()) {
        if (saved) {
            throw Error(
                "a saved plan of a lab with 'hosts:' cannot be applied: saved plans cover one "
                "host; apply the manifests directly");
        }
        Heartbeat heartbeat(g.heartbeat);
        return reconcile_hosts(g, desired, o, question, [&heartbeat](const ExecEvent& e) {
            if (e.type == ExecEvent::Type::started)
                heartbeat.started(e.action);
            else
                heartbeat.finished(e.action);
        });
    }
    check_files(desired, g.uri);
    const host::LabLock lab_lock(g.uri, desired.lab, o.destroy ? "destroy" : "apply",
                                 o.lock_timeout);
    auto provider = connect(g, desired, o.allow_restart, o.no_rollback);
    PlanOptions popts;
    popts.targets = parse_targets(saved ? saved->targets : o.targets);
    for (const auto& id : parse_targets(saved ? saved->adopt : o.adopt, "--adopt"))
        popts.adopt.insert(id);
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
    if (!o.json) std::cout << render_plan_text(plan, TextStyle{g.color}) << std::flush;
    // Deleting what others on the host still use needs --force.
    std::vector<std::string> cut_off;
    for (const auto& a : plan.actions) {
        for (const auto& u : a.users) cut_off.push_back(fmt::format("{} ({})", u, a.id.str()));
    }
    refuse_cutting_off(cut_off, o.force, o.destroy, "the host");
    // With --json, stdout gets exactly one document, after everything else.
    auto finish_json = [&](nlohmann::json doc, const AddressWait& wait) {
        if (wait.waited) {
            doc["addresses"] = wait.found;
            doc["addresses_missing"] = wait.missing;
            if (!wait.missing.empty()) doc["ok"] = false;
        }
        std::cout << doc.dump(2) << "\n";
        return doc["ok"].get<bool>() ? 0 : 1;
    };
    auto wait = [&]() {
        return o.wait_ip ? wait_for_addresses(*provider, desired, o.wait_timeout, !o.json)
                         : AddressWait{};
    };
    if (plan.empty()) {
        host::write_applied_record(g.uri, desired.lab, live);
        print_stats(*provider);
        const AddressWait w = wait();
        if (o.json) return finish_json(results_to_json(plan, ExecResult{}, {}), w);
        return w.missing.empty() ? 0 : 1;
    }
    if (!o.auto_approve && !saved && !confirm(question)) return print_cancelled(o.destroy, o.json);
    std::cerr << "\n";
    ExecOptions eopts;
    eopts.parallelism = o.parallelism;
    const auto t0 = std::chrono::steady_clock::now();
    Heartbeat heartbeat(g.heartbeat);
    eopts.on_event = [t0, &heartbeat](const ExecEvent& e) {
        std::lock_guard lock(g_out_mutex);
        if (e.type == ExecEvent::Type::started)
            heartbeat.started(e.action);
        else
            heartbeat.finished(e.action);
        print_progress(e, t0);
    };
    // Ctrl-C / SIGTERM (interrupt.h): start nothing new, finish what runs, report, exit 128+sig.
    const InterruptGuard interrupt;
    eopts.stop_requested = [&interrupt] { return interrupt.requested(); };
    const ExecResult result = execute(plan, *provider, eopts);
    heartbeat.stop();
    for (const auto& c : cut_off) {
        std::cerr << fmt::format("warning: --force: cut off {}\n", terminal_escape(c));
    }
    const Live after = provider->read();
    host::write_applied_record(g.uri, desired.lab, after);
    const auto problems = verify(plan, result, desired, after, o.allow_restart);
    print_stats(*provider);
    const bool ok = result.ok() && problems.empty();
    if (o.json) {
        auto doc = results_to_json(plan, result, problems, t0);
        const int code = finish_json(doc, ok && !interrupt.requested() ? wait() : AddressWait{});
        return interrupt.requested() ? interrupt.exit_code() : code;
    }

    const ResultTally done = tally(plan, result);
    if (ok) {
        std::cout << complete_line(o.destroy, done);
        if (interrupt.requested()) {
            std::cerr << fmt::format("Interrupted ({}) after the last action had started.\n",
                                     signal_name(InterruptGuard::interrupt_signal()));
            return interrupt.exit_code();
        }
        const bool all_found = wait().missing.empty();
        if (interrupt.requested()) return interrupt.exit_code();
        return all_found ? 0 : 1;
    }
    std::cout << incomplete_line(o.destroy, interrupt.requested(), done, result);
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        const auto& r = result.results[i];
        if (r.outcome == Outcome::failed || r.outcome == Outcome::skipped) {
            std::cout << fmt::format("  {} {} {}: {}\n", to_string(r.outcome),
                                     to_string(plan.actions[i].type), plan.actions[i].id.str(),
                                     r.message);
        } else if (r.outcome == Outcome::not_started) {
            std::cout << fmt::format("  not started {} {}: interrupted ({}) before its turn\n",
                                     to_string(plan.actions[i].type), plan.actions[i].id.str(),
                                     signal_name(InterruptGuard::interrupt_signal()));
        }
    }
    for (const auto& p : problems) std::cout << "  not as desired after apply: " << p << "\n";
    std::cout << fmt::format("Run {} again to finish: it plans from what is there now.\n",
                             o.destroy ? "destroy" : "apply");
    return interrupt.requested() ? interrupt.exit_code() : 1;
}

}  // namespace virtform::cli
