#pragma once
// What the commands share: loading manifests, connecting to the host,
// asking for confirmation, progress wording, and the apply/destroy engine.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "commands.h"
#include "host_provider.h"
#include "saved_plan.h"
#include "virtform/adapters/libvirt/addresses.h"
#include "virtform/manifest.h"
#include "virtform/plan.h"

namespace virtform::cli {

/// Serialises lines printed from parallel actions and notices.
extern std::mutex g_out_mutex;

Desired load(const ManifestOptions& m);

/// Files the manifests name must be there before anything is touched: a
/// missing kernel would otherwise fail half-way through an apply.
void check_files(const Desired& desired);

std::unique_ptr<HostProvider> connect(const GlobalOptions& g, const Desired& desired,
                                      bool allow_restart = false, bool no_rollback = false);

std::string addresses_text(const std::vector<libvirt::GuestAddress>& addrs);

/// Waits until every running VM with a NIC has an address; prints them.
bool wait_for_addresses(HostProvider& host, const Desired& desired, int timeout_seconds);

/// Asks `question` on the terminal; true only for "yes". Throws when stdin
/// is not a terminal.
bool confirm(const std::string& question);

const char* progress_verb(ActionType type, bool done);

/// With VIRTFORM_STATS set: libvirt round trips on stderr (benchmarks).
void print_stats(HostProvider& provider);

/// Locks the lab, plans, asks, executes, verifies. Shared by apply, destroy
/// and apply of a saved plan (which passes what the plan must match).
int reconcile(const GlobalOptions& g, const Desired& desired, const ApplyOptionsCli& o,
              const std::string& question, const SavedPlan* saved = nullptr);

}  // namespace virtform::cli
