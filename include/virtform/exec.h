#pragma once
/// The executor: walks a plan's DAG, runs independent actions in parallel,
/// skips the dependents of a failed action, reports what was done and what was
/// not, and verifies the result against the desired state.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "virtform/plan.h"

namespace virtform {

/// The host side the executor drives: implemented by the libvirt/netlink
/// adapters, and by in-memory fakes in the planner and executor tests.
class Provider {
public:
    virtual ~Provider() = default;
    /// Everything visible on the host, owned by the lab or not.
    virtual Live read() = 0;
    /// Carries out one action; throws virtform::Error on failure. Called
    /// concurrently for actions that do not depend on each other.
    virtual void apply(const Action& action) = 0;
};

/// `not_started`: the run was stopped (ExecOptions::stop_requested, e.g. Ctrl-C)
/// before this action's turn came; nothing was done for it.
enum class Outcome { pending, done, failed, skipped, not_started };
const char* to_string(Outcome outcome);

struct ActionResult {
    Outcome outcome = Outcome::pending;
    std::string message;  ///< the error, or why it was skipped
    std::chrono::steady_clock::time_point started{};
    std::chrono::steady_clock::time_point finished{};
    double seconds() const { return std::chrono::duration<double>(finished - started).count(); }
};

struct ExecEvent {
    enum class Type { started, finished };
    Type type;
    std::size_t index;
    const Action& action;
    const ActionResult& result;
};

struct ExecOptions {
    /// How many actions may run at once (>= 1).
    int parallelism = 4;
    /// Called (serialised, never concurrently) as actions start and finish.
    std::function<void(const ExecEvent&)> on_event;
    /// Asked before each action starts (from the worker threads, so it must be
    /// thread-safe; an atomic flag is). Once it answers true no new action
    /// starts: running actions finish, every action not yet started ends
    /// `not_started`. Empty: never stop.
    std::function<bool()> stop_requested;
};

struct ExecResult {
    std::vector<ActionResult> results;  ///< one per plan action, same index
    /// stop_requested answered true before the last action started.
    bool stopped = false;
    int count(Outcome outcome) const;
    bool ok() const {
        return count(Outcome::failed) == 0 && count(Outcome::skipped) == 0 &&
               count(Outcome::not_started) == 0;
    }
};

ExecResult execute(const Plan& plan, Provider& provider, const ExecOptions& options = {});

/// After an apply: what still differs for the objects the plan touched, one
/// line per object ("network.labnat: ipv4.address is ... want ..."). Empty
/// when the host matches. A pending restart of a running VM is not a problem
/// (apply without --allow-restart leaves it), unless `restarts_allowed`: then
/// the VM was restarted and must run its definition.
std::vector<std::string> verify(const Plan& executed, const ExecResult& result,
                                const Desired& desired, const Live& after,
                                bool restarts_allowed = false);

}  // namespace virtform
