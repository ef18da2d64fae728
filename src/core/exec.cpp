#include "virtform/exec.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <map>
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
    // Ready actions per kind, lowest index (the plan's order) first. A worker
    // takes the first ready action of the kind that has the fewest actions
    // running (ties: the lowest index): libvirtd does much of one kind's work
    // one at a time (it starts networks one after the other, each spawning
    // dnsmasq and adding firewall rules), so workers spread over kinds overlap
    // what libvirtd can overlap (VM defines with network starts) instead of
    // queueing behind each other. With one worker nothing runs when it
    // chooses: it follows the plan's order exactly.
    std::map<Kind, std::set<std::size_t>> ready;
    std::map<Kind, int> running_of_kind;
    std::size_t ready_count = 0;
    auto make_ready = [&](std::size_t i) {
        ready[plan.actions[i].id.kind].insert(i);
        ++ready_count;
    };
    auto take_ready = [&] {
        std::set<std::size_t>* best = nullptr;
        int best_running = 0;
        for (auto& [kind, queue] : ready) {
            if (queue.empty()) continue;
            const int r = running_of_kind[kind];
            if (best == nullptr || r < best_running ||
                (r == best_running && *queue.begin() < *best->begin())) {
                best = &queue;
                best_running = r;
            }
        }
        const std::size_t i = *best->begin();
        best->erase(best->begin());
        --ready_count;
        return i;
    };
    std::vector<bool> running(n, false);
    std::size_t settled = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (waiting[i] == 0) make_ready(i);
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
            cv.wait(lock, [&] { return ready_count != 0 || settled == n; });
            if (settled == n) return;
            if (!out.stopped && options.stop_requested && options.stop_requested()) {
                // Nothing new starts; what runs finishes and settles the rest.
                out.stopped = true;
                ready.clear();
                ready_count = 0;
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
            const std::size_t i = take_ready();
            running[i] = true;
            ++running_of_kind[plan.actions[i].id.kind];
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
            --running_of_kind[plan.actions[i].id.kind];
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
                        make_ready(d);
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
                                const Desired& desired, const Live& after, bool restarts_allowed) {
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
        // After a restart that was allowed, the VM runs its definition.
        auto tolerated = [&](const AttributeChange& c) {
            return !restarts_allowed && is_pending_restart(c);
        };
        if (std::all_of(a.changes.begin(), a.changes.end(), tolerated) &&
            a.type == ActionType::update) {
            continue;
        }
        for (const auto& c : a.changes) {
            if (tolerated(c)) continue;
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
