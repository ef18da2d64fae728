#pragma once
// Private to the manifest loader: the readers of each top-level section.
#include "virtform/manifest.h"
#include "virtform/model.h"
#include "yaml_reader.h"

namespace virtform::detail {

/// `bridges:` of one file into desired.bridges.
void read_bridges(const Context& ctx, const YAML::Node& bridges, Desired& desired);
/// Bridge checks across files (a port in two bridges, a network creating a declared bridge).
void finish_bridges(const Desired& desired, Diagnostics& diags);
/// `pools:` of one file into desired.pools.
void read_pools(const Context& ctx, const YAML::Node& pools, Desired& desired);
/// `vms:` of one file into desired.vms (and the volumes their disks need).
void read_vms(const Context& ctx, const YAML::Node& vms, Desired& desired);
/// Once every file is read: checks across files (pools named by disks exist,
/// MACs unique, ...) and fills what depends on the lab name (seed paths).
void finish_vms(Desired& desired, Diagnostics& diags);
/// `host:` of an object ("" for none or `local`) and where it was written.
void read_host_key(const Context& ctx, MapReader& r, std::string& host, Location& where);
/// `hosts:` of one file into desired.hosts.
void read_hosts(const Context& ctx, const YAML::Node& hosts, Desired& desired);
/// Once every file is read: unknown hosts, one URI per host, no reference
/// across hosts, no bridge away from the local host; volumes get their VM's host.
void finish_hosts(Desired& desired, Diagnostics& diags);

}  // namespace virtform::detail
