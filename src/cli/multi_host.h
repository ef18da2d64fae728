#pragma once
// A lab across several libvirt hosts (`hosts:`, docs/architecture.md "Multi-host
// labs"): the desired state split by host, each part read, planned and applied
// on its own connection, under its own lab lock, in a thread of its own. A
// host that fails fails its part only. Labs without `hosts:` never come here.
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "host_provider.h"
#include "virtform/adapters/host/lab_lock.h"
#include "virtform/exec.h"
#include "virtform/model.h"
#include "virtform/plan.h"

namespace virtform::cli {

/// One host's share of the lab.
struct HostPart {
    std::string name;  ///< `local` or a name of `hosts:`
    std::string uri;
    Desired desired;       ///< this host's objects only
    bool targeted = true;  ///< --target names something here (or no --target)
    std::unique_ptr<host::LabLock> lock;
    std::unique_ptr<HostProvider> provider;
    Live live;
    Plan plan;
    /// Why this host could not be read, planned or applied; "" when it could.
    std::string error;
    /// The error is the manifests' (a plan error on that host, e.g. a name
    /// another lab holds), not the host's: apply then changes no host at all.
    bool invalid = false;
    bool executed = false;
    ExecResult result;
    std::vector<std::string> problems;  ///< verify's, after apply
};

/// "host 'b' (qemu+tcp://...)": how messages name a host.
std::string describe(const HostPart& part);

/// Runs `f(part)` for every part in a thread of its own and waits for all.
template <typename F>
void each_host(std::vector<HostPart>& parts, F f) {
    std::vector<std::thread> threads;
    threads.reserve(parts.size());
    for (auto& part : parts) threads.emplace_back([&part, &f] { f(part); });
    for (auto& t : threads) t.join();
}

/// The lab's hosts (local, with the --connect URI, first), each with its
/// objects; validated before anything is read (files, remote-host rules, one
/// URI per host). Throws ValidationError / Error.
std::vector<HostPart> host_parts(const GlobalOptions& g, const Desired& desired);

struct HostReadOptions {
    std::vector<std::string> targets;
    std::vector<std::string> adopt;
    /// Take each host's lab lock first (apply, destroy), named after `lock_command`.
    bool lock = false;
    std::string lock_command;
    std::chrono::milliseconds lock_timeout{0};
    bool allow_restart = false;
    bool no_rollback = false;
};

/// One thread per host: lock, connect, read, plan. Failures land in
/// HostPart::error. `desired` is the whole lab (the host of each --target).
/// `local`: the `local` host as `plan` read it while the manifests loaded; its
/// first read.
void read_and_plan(const GlobalOptions& g, const Desired& desired, std::vector<HostPart>& parts,
                   const HostReadOptions& o, EarlyRead local = {});

/// The hosts' plans as one (depends_on re-indexed), and the host of each action.
Plan merged_plan(const std::vector<HostPart>& parts, std::vector<std::string>* hosts = nullptr);

/// Per host a header ("Host b (qemu+tcp://...):") and its actions, then one summary.
std::string render_hosts_plan_text(const std::vector<HostPart>& parts, bool color);
/// plan_to_json of the merged plan, each action with "host", and "hosts":
/// [{name, uri, error}].
nlohmann::json hosts_plan_json(const std::vector<HostPart>& parts);
nlohmann::json hosts_json(const std::vector<HostPart>& parts);

/// `plan` and `apply`/`destroy` of a lab with `hosts:`.
int plan_hosts(const GlobalOptions& g, const Desired& desired, const PlanOptionsCli& o,
               EarlyRead local = {});
/// `heartbeat`, when set, is told of every action's start and end (under
/// g_out_mutex), for the "Still creating..." lines.
int reconcile_hosts(const GlobalOptions& g, const Desired& desired, const ApplyOptionsCli& o,
                    const std::string& question,
                    const std::function<void(const ExecEvent&)>& heartbeat = {});

}  // namespace virtform::cli
