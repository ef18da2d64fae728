#include "virtform/exec.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "virtform/error.h"

namespace virtform {

const char* to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::pending:
            return "pending";
        case Outcome::done:
            return "done";
        case Outcome::failed:
            return "failed";
        case Outcome::skipped:
            return "skipped";
        case Outcome::not_started:
            return "not_started";
    }
    return "?";
}

int ExecResult::count(Outcome outcome) const {
    return static_cast<int>(
        std::count_if(results.begin(), results.end(),
                      [&](const ActionResult& r) { return r.outcome == outcome; }));
}

ExecResult execute(const Plan& plan, Provider& provider, const ExecOptions& options) {
    const std::size_t n = plan.actions.size();
    ExecResult out;
    out.results.resize(n);
    if (n == 0) return out;

    std::vector<std::vector<std::size_t>> dependents(n);
    std::vector<std::size_t> waiting(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t d : plan.actions[i].depends_on) {
            dependents[d].push_back(i);
            ++waiting[i];
        }
    }
    std::mutex mu;
    std::condition_variable cv;
    std::set<std::size_t> ready;  // lowest index first: the plan's order
    std::vector<bool> running(n, false);
    std::size_t settled = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (waiting[i] == 0) ready.insert(i);
    }
    auto emit = [&](ExecEvent::Type type, std::size_t i) {
        if (options.on_event) options.on_event(ExecEvent{type, i, plan.actions[i], out.results[i]});
    };
    // Called with mu held: marks everything downstream of a failure as skipped.
    std::function<void(std::size_t, const std::string&)> skip_dependents =
        [&](std::size_t i, const std::string& because) {
            for (std::size_t d : dependents[i]) {
                auto& r = out.results[d];
                if (r.outcome != Outcome::pending) continue;
                r.outcome = Outcome::skipped;
                r.message = "skipped: depends on " + because;
                ++settled;
                skip_dependents(d, because);
            }
        };

    auto worker = [&] {
        std::unique_lock lock(mu);
        while (true) {
            cv.wait(lock, [&] { return !ready.empty() || settled == n; });
            if (settled == n) return;
            if (!out.stopped && options.stop_requested && options.stop_requested()) {
                // Nothing new starts; what runs finishes and settles the rest.
                out.stopped = true;
                ready.clear();
                for (std::size_t k = 0; k < n; ++k) {
                    auto& pending = out.results[k];
                    if (pending.outcome != Outcome::pending || running[k]) continue;
                    pending.outcome = Outcome::not_started;
                    pending.message = "not started: the run was stopped before its turn came";
                    ++settled;
                }
                cv.notify_all();
                continue;
            }
            const std::size_t i = *ready.begin();
            ready.erase(ready.begin());
            running[i] = true;
            auto& r = out.results[i];
            r.started = std::chrono::steady_clock::now();
            emit(ExecEvent::Type::started, i);
            lock.unlock();
            std::string error;
            bool ok = true;
            try {
                provider.apply(plan.actions[i]);
            } catch (const std::exception& e) {
                ok = false;
                error = e.what();
            }
            lock.lock();
            r.finished = std::chrono::steady_clock::now();
            running[i] = false;
            r.outcome = ok ? Outcome::done : Outcome::failed;
            r.message = error;
            ++settled;
            emit(ExecEvent::Type::finished, i);
            if (!ok) {
                skip_dependents(i,
                                fmt::format("{} {}, which failed", to_string(plan.actions[i].type),
                                            plan.actions[i].id.str()));
            } else {
                for (std::size_t d : dependents[i]) {
                    if (--waiting[d] == 0 && out.results[d].outcome == Outcome::pending)
                        ready.insert(d);
                }
            }
            cv.notify_all();
        }
    };
    const std::size_t threads =
        std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, options.parallelism)));
    if (threads == 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
        for (auto& t : pool) t.join();
    }
    return out;
}

std::vector<std::string> verify(const Plan& executed, const ExecResult& result,
                                const Desired& desired, const Live& after) {
    std::set<ResourceId> touched;
    for (std::size_t i = 0; i < executed.actions.size(); ++i) {
        if (result.results[i].outcome == Outcome::done) touched.insert(executed.actions[i].id);
    }
    std::vector<std::string> problems;
    Plan again;
    try {
        again = make_plan(desired, after);
    } catch (const Error& e) {
        problems.push_back(std::string("cannot re-plan after apply: ") + e.what());
        return problems;
    }
    for (const auto& a : again.actions) {
        if (touched.count(a.id) == 0) continue;
        std::string detail;
        // A pending restart is reported by the action itself (apply without
        // --allow-restart leaves the VM on its old definition), not a failure.
        if (std::all_of(a.changes.begin(), a.changes.end(),
                        [](const AttributeChange& c) { return is_pending_restart(c); }) &&
            a.type == ActionType::update) {
            continue;
        }
        for (const auto& c : a.changes) {
            if (is_pending_restart(c)) continue;
            if (!detail.empty()) detail += "; ";
            auto shown = [&](const std::optional<std::string>& v) -> std::string {
                if (!v) return "(none)";
                return c.sensitive ? "(sensitive)" : *v;
            };
            detail += fmt::format("{} is {} but should be {}", c.path, shown(c.before), shown(c.after));
        }
        if (a.type == ActionType::create) detail = "does not exist";
        if (a.type == ActionType::destroy) detail = "still exists";
        problems.push_back(fmt::format("{}: {}", a.id.str(), detail));
    }
    return problems;
}

}  // namespace virtform
