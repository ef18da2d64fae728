#pragma once
/// What the host makes of a valid manifest (issue 9): collisions with objects
/// that exist (a subnet, a MAC, an interface name) and the users of what a plan
/// deletes. Pure functions over Desired and Live, so the fake host tests them.
#include <string>
#include <vector>

#include "virtform/diag.h"
#include "virtform/model.h"
#include "virtform/plan.h"

namespace virtform {

/// Plan errors, each naming both sides, before anything is touched:
/// - a network's subnet overlapping an active libvirt network (of any lab or
///   none; not one this lab prunes), an address of a host interface, or a route;
/// - a fixed NIC MAC that a domain of the host other than this VM already has;
/// - a static DHCP host outside its network's subnet, or one IP twice.
/// (A bridge name taken by another kind of device is checked with the bridges.)
void check_host_collisions(const Desired& desired, const Live& live, Diagnostics& diags);

/// The host's users of a bridge or network that `deleted` (a destroy or a
/// replace of this plan) removes: domains of any lab or of none with a NIC on
/// it that the plan does not delete or move elsewhere first, and interfaces
/// enslaved to the bridge that the lab did not declare as its ports (against
/// the manifest, or Live::declared_ports once the manifest dropped it).
/// E.g. "vm.web of lab 'b' (a NIC on network.x)".
std::vector<std::string> users_of(const Action& deleted, const std::vector<Action>& actions,
                                  const Desired& desired, const Live& live);

/// Warnings for read-only use: a VM of the manifest with a NIC on a network or
/// bridge that another lab owns ("vm.web uses network.x of lab 'b' (read-only)").
std::vector<std::string> shared_uses(const Desired& desired, const Live& live);

/// What a lab cannot have on a host other than the one virtform runs on
/// (`host`: what remote_host_of made of the URI), as errors at each object:
/// bridges (Linux bridges, made over this host's netlink), pools (their
/// ownership mark is a file virtform writes in the directory, here), and VMs
/// with cloud_init (the seed ISO is built here). Networks and VMs otherwise go
/// over libvirt's protocol like on this host; the files a VM names (kernel,
/// initrd, disk files) are that host's.
void check_remote_host(const Desired& desired, const std::string& host, Diagnostics& diags);

}  // namespace virtform
