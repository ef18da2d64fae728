#pragma once
/// The planner: a pure function of (Desired, Live) -> Plan. No I/O, no clock,
/// no globals. Every changed attribute is classified as live, restart or
/// replace, with the reason, and the actions are ordered by their dependencies.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform {

/// How a change reaches the running object.
enum class ChangeClass {
    live,     ///< applied to the running object, no interruption
    restart,  ///< redefine; takes effect when the object restarts
    replace,  ///< delete, then create anew
};
const char* to_string(ChangeClass cls);

enum class ActionType { create, update, replace, destroy };
const char* to_string(ActionType type);

/// One attribute of an object, flattened: "ipv4.dhcp.host[52:54:00:00:00:10]".
struct Attribute {
    std::string path;
    std::string value;
    ChangeClass cls = ChangeClass::live;
    std::string reason;      ///< why a change of it has this class
    bool computed = false;   ///< desired side: unset, the host picks; never diffed
    bool sensitive = false;  ///< shown as (sensitive)
};
/// The attributes of any resource, in display order.
std::vector<Attribute> attributes_of(const Resource& resource);
/// The same for one kind, without copying the object into a Resource (the
/// planner and the fingerprint call these once or twice per object).
std::vector<Attribute> attributes_of(const Bridge& bridge);
std::vector<Attribute> attributes_of(const Network& network);
std::vector<Attribute> attributes_of(const Pool& pool);
std::vector<Attribute> attributes_of(const Volume& volume);
std::vector<Attribute> attributes_of(const Vm& vm);
/// How a VM's disk and NIC read in the plan ("volume pool/vol bus=virtio dev=vda",
/// "network labnat model=virtio").
std::string disk_text(const Disk& disk);
std::string nic_text(const Nic& nic);

struct AttributeChange {
    std::string path;
    std::optional<std::string> before;  ///< nullopt: the attribute is new
    std::optional<std::string> after;   ///< nullopt: the attribute goes away
    ChangeClass cls = ChangeClass::live;
    std::string reason;
    bool sensitive = false;
};

struct Action {
    ResourceId id;
    ActionType type = ActionType::create;
    /// The strongest class among the changes (update/replace), live for create/destroy.
    ChangeClass cls = ChangeClass::live;
    std::string reason;
    std::vector<AttributeChange> changes;
    std::optional<Resource> before;  ///< live object (update, replace, destroy)
    std::optional<Resource> after;   ///< desired object (create, update, replace)
    /// Indexes (into Plan::actions) of the actions that must finish first.
    std::vector<std::size_t> depends_on;
    /// A destroy or replace of a bridge or network: who else on the host uses
    /// it (VMs of any lab or none, ports the manifest does not declare). apply
    /// refuses such an action unless forced, then says what it cut off.
    std::vector<std::string> users;
    /// An update that first marks an existing, unmarked object as the lab's
    /// (`apply --adopt KIND.NAME` or `adopt: true`); `changes` is what then
    /// differs from the manifest, and may be empty.
    bool adopt = false;
};

struct Plan {
    std::string lab;
    /// In a valid execution order; depends_on points backwards only.
    std::vector<Action> actions;
    /// Things the user should know that are not actions (TCG fallback, kept volumes).
    std::vector<std::string> warnings;
    /// Objects the lab owns that changed outside virtform since the last apply
    /// ("network.labnat"), when PlanOptions::last_applied is known.
    std::vector<std::string> drift;

    bool empty() const { return actions.empty(); }
    /// Terraform's counts: a replace adds one and destroys one.
    int to_add() const;
    int to_change() const;
    int to_destroy() const;
    int to_adopt() const;
};

struct PlanOptions {
    /// Plan only these objects (and what they depend on); empty: everything.
    std::vector<ResourceId> targets;
    /// owned_fingerprint() of the host right after the last apply, if recorded:
    /// objects whose fingerprint differs now changed outside virtform.
    std::optional<std::map<std::string, std::string>> last_applied;
    /// Objects to adopt (besides those whose manifest entry says `adopt: true`):
    /// an existing object of this name without any virtform mark becomes the
    /// lab's, through an update with Action::adopt. Each must be declared in
    /// the manifests; one marked by another lab stays refused.
    std::set<ResourceId> adopt;
};

/// Changes to a running VM's domain alone (not its definition) have paths with
/// this prefix: "running.cpus", "running.nic[52:54:00:00:00:10]". Live-class ones
/// are applied to the running domain only (VIR_DOMAIN_AFFECT_LIVE); restart-class
/// ones are a pending restart, carried out by `apply --allow-restart`.
inline constexpr const char* kRunningPrefix = "running.";
bool is_running_change(const AttributeChange& change);
/// A running change of class restart: the VM waits for a restart to boot its definition.
bool is_pending_restart(const AttributeChange& change);

/// How the running domain of a live VM (`live.running`) differs from its
/// definition (`live`) and from the desired VM: vCPUs and balloon size against
/// `want`, NICs (by MAC) and disks (by guest device) against the definition,
/// restart-class attributes as pending restarts. Empty when the VM does not run.
struct RunningDiff {
    std::vector<AttributeChange> changes;  ///< paths prefixed kRunningPrefix
    std::vector<std::string> warnings;     ///< divergences no change can remove
};
RunningDiff running_changes(const Vm& want, const Vm& live);
/// The restart-class attributes (see attributes_of) in which `live.running`
/// differs from the definition `live`: what waits for the next boot.
std::vector<std::string> restart_pending_paths(const Vm& live);

/// Diffs desired against live. Throws ValidationError when the manifests
/// cannot be reconciled with the host (a name held by an object the lab does
/// not own, a bridge already in use, ...), naming the object.
Plan make_plan(const Desired& desired, const Live& live, const PlanOptions& options = {});

}  // namespace virtform
