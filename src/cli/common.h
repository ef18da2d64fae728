#pragma once
// What the commands share: loading manifests, connecting to the host,
// asking for confirmation, progress wording, and the apply/destroy engine.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "host_provider.h"
#include "saved_plan.h"
#include "virtform/access.h"
#include "virtform/adapters/libvirt/addresses.h"
#include "virtform/exec.h"
#include "virtform/manifest.h"
#include "virtform/plan.h"

namespace virtform::cli {

/// Serialises lines printed from parallel actions and notices.
extern std::mutex g_out_mutex;

/// The manifests' text: `-f`/positional paths ("-" is standard input), or
/// with none, the *.yaml/*.yml files of the current directory that hold a
/// top-level `lab:` key (an error when there are none or several labs).
std::vector<ManifestSource> manifest_sources(const ManifestOptions& m);
/// `--var NAME=VALUE` options as the loader takes them; throws Error for a malformed one.
ManifestVars manifest_vars(const ManifestOptions& m);
Desired load(const ManifestOptions& m);
/// Whether a manifest's text has a top-level `lab:` key (a line starting "lab:").
bool holds_lab_key(const std::string& text);

/// "10s", "5m", "1h", "250ms", "1.5m"; a bare number is seconds. Throws
/// Error naming `flag` for anything else or a negative value.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& flag);
/// "10s", "5m", "1h30m" for messages.
std::string format_duration(std::chrono::milliseconds d);

/// What to run when `message` is a permission or connection error; "" otherwise.
std::string hint_for(const std::string& message);

/// Files the manifests name must be there before anything is touched: a
/// missing kernel would otherwise fail half-way through an apply. Not on
/// another host (a remote `uri`): its files are not this host's.
void check_files(const Desired& desired, const std::string& uri);

/// The host's provider for the lab. With `early` (of g.uri, read while the
/// manifests loaded), its first read() is that read.
std::unique_ptr<HostProvider> connect(const GlobalOptions& g, const Desired& desired,
                                      bool allow_restart = false, bool no_rollback = false,
                                      EarlyRead early = {});

std::string addresses_text(const std::vector<libvirt::GuestAddress>& addrs);

struct AddressWait {
    bool waited = false;  ///< some running VM with a NIC was waited for
    std::map<std::string, std::vector<std::string>> found;
    std::vector<std::string> missing;
};
/// Waits until every running VM with a NIC has an address. "Waiting up to
/// ..." goes to stderr; with `print`, each VM's addresses to stdout.
AddressWait wait_for_addresses(HostProvider& host, const Desired& desired,
                               std::chrono::milliseconds timeout, bool print);

/// The addresses the host reports for the lab's VMs that run (DHCP leases,
/// else the guest agent), by VM. VMs not defined or not running have none.
std::map<std::string, std::vector<VmAddress>> discover_addresses(const GlobalOptions& g,
                                                                 const Desired& desired);

/// How to reach each VM: `offline` from the manifests alone (their DHCP host
/// entries), else with the addresses discovered on the host.
std::vector<VmAccess> lab_access(const GlobalOptions& g, const Desired& desired, bool offline);

/// The manifests' VM `name`; an Error with a "did you mean" when there is none.
const Vm& find_vm(const Desired& desired, const std::string& name);

/// `text` to standard output, or with `path`, to that file (written atomically).
void emit(const std::string& text, const std::string& path);

/// The access entries as one JSON document (inventory, ssh-config, hosts --json).
std::string access_json(const Desired& desired, const std::vector<VmAccess>& vms);

/// Asks `question` on the terminal; true only for "yes". Throws when stdin
/// is not a terminal.
bool confirm(const std::string& question);

const char* progress_verb(ActionType type, bool done);

/// One progress line of apply/destroy on stderr ("[  1.2s] vm.web1: Creating..."),
/// after `host` and ": " when `host` is not empty (a lab with `hosts:`). The
/// caller holds g_out_mutex.
void print_progress(const ExecEvent& e, std::chrono::steady_clock::time_point t0,
                    const std::string& host = "");

/// "Apply cancelled." on stderr, and with `json` the one document saying so; returns 1.
int print_cancelled(bool destroy, bool json);
/// Deleting what others on `where` ("the host", "the hosts") still use needs
/// --force: throws Error listing `cut_off` ("user (object)") without it.
void refuse_cutting_off(const std::vector<std::string>& cut_off, bool force, bool destroy,
                        const std::string& where);

/// What an apply did, for its closing line.
struct ResultTally {
    int added = 0, changed = 0, destroyed = 0, adopted = 0;
};
/// Done actions only; adopting an object without changes counts as adopted alone.
ResultTally tally(const Plan& plan, const ExecResult& result);
/// "\nApply complete! Resources: ..." / "\nDestroy complete! ...".
std::string complete_line(bool destroy, const ResultTally& t);
/// "\nApply incomplete. Resources: ...; N failed, N skipped, N not started."
std::string incomplete_line(bool destroy, bool interrupted, const ResultTally& t,
                            const ExecResult& result);

/// With VIRTFORM_STATS set: libvirt round trips on stderr (benchmarks).
void print_stats(HostProvider& provider);

/// Locks the lab, plans, asks, executes, verifies. Shared by apply, destroy
/// and apply of a saved plan (which passes what the plan must match).
int reconcile(const GlobalOptions& g, const Desired& desired, const ApplyOptionsCli& o,
              const std::string& question, const SavedPlan* saved = nullptr);

}  // namespace virtform::cli
