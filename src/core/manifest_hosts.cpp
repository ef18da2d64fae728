// `hosts:` and `host:` (docs/manifest.md, "Hosts"): reading them, the checks
// that keep each host's part a lab of its own (no reference crosses hosts, no
// bridge away from this host), and the split of the desired state by host.
#include <fmt/format.h>

#include "manifest_sections.h"
#include "virtform/lab_hosts.h"

namespace virtform {
namespace detail {

namespace {
constexpr std::size_t kMaxUriBytes = 1024;
}

void read_host_key(const Context& ctx, MapReader& r, std::string& host, Location& where) {
    const YAML::Node node = r.get("host");
    auto name = r.str("host");
    if (!name) return;
    where = ctx.at(node);
    // `host: local` is the default host, as if `host:` were not there.
    host = *name == kLocalHost ? "" : *name;
}

void read_hosts(const Context& ctx, const YAML::Node& hosts, Desired& desired) {
    MapReader all(ctx, hosts, "hosts");  // reports duplicate names in this file
    if (!all.ok()) return;
    for (const auto& kv : hosts) {
        const std::string name = kv.first.Scalar();
        const std::string what = fmt::format("host '{}'", name);
        LabHost host;
        host.name = name;
        host.where = ctx.at(kv.first);
        if (name == kLocalHost) {
            ctx.error(kv.first,
                      "host 'local' is reserved: it is the default host, the --connect URI "
                      "(or LIBVIRT_DEFAULT_URI); objects without 'host:' live there");
            continue;
        }
        if (!valid_object_name(name)) {
            ctx.error(kv.first, fmt::format("host name '{}' is not valid: use letters, digits, "
                                            "'-', '_', '.' or '+', starting with a letter or "
                                            "digit (at most 64)",
                                            name));
        }
        MapReader r(ctx, kv.second.IsNull() ? YAML::Node(YAML::NodeType::Map) : kv.second, what,
                    key_section("lab_host"));
        if (!r.ok()) continue;
        if (auto uri = r.str("uri")) {
            if (uri->size() > kMaxUriBytes) {
                ctx.error(r.get("uri"), fmt::format("'uri' of {} is {} bytes; at most {}", what,
                                                    uri->size(), kMaxUriBytes));
            } else if (uri->find("://") == std::string::npos ||
                       uri->find_first_of(" \"'<>\\`") != std::string::npos) {
                ctx.error(r.get("uri"), fmt::format("'uri' of {} is not a libvirt URI (e.g. "
                                                    "qemu+ssh://root@host.example/system): '{}'",
                                                    what, *uri));
            } else {
                host.uri = *uri;
            }
        } else if (!r.get("uri").IsDefined()) {
            ctx.error(kv.first, fmt::format("{} needs 'uri': its libvirt URI", what));
        }
        r.finish();
        auto it = desired.hosts.find(name);
        if (it != desired.hosts.end()) {
            if (it->second.where.file != ctx.file) {
                ctx.error(kv.first, fmt::format("host '{}' is declared twice (first at {})", name,
                                                it->second.where.str()));
            }
            continue;
        }
        desired.hosts.emplace(name, std::move(host));
    }
}

void finish_hosts(Desired& desired, Diagnostics& diags) {
    // Two names for one host would each prune the other's objects.
    std::map<std::string, const LabHost*> uris;
    for (const auto& [name, host] : desired.hosts) {
        if (host.uri.empty()) continue;
        auto [it, inserted] = uris.emplace(host.uri, &host);
        if (!inserted) {
            diags.error(host.where,
                        fmt::format("host '{}' has the URI {} of host '{}' ({}); one host has one "
                                    "name (each would delete the other's objects)",
                                    name, host.uri, it->second->name, it->second->where.str()));
        }
    }
    std::vector<std::string> names = {kLocalHost};
    for (const auto& [name, host] : desired.hosts) names.push_back(name);
    // An undeclared host is one error, at its `host:`; nothing else is said of it.
    auto declared = [&](const std::string& host) {
        return host.empty() || desired.hosts.count(host) != 0;
    };
    auto known = [&](const std::string& kind, const std::string& object, const std::string& host,
                     const Location& where) {
        if (declared(host)) return;
        const std::string hint = closest_match(host, names);
        diags.error(where, fmt::format("{} '{}' names host '{}', which 'hosts:' does not declare "
                                       "(hosts: {}){}",
                                       kind, object, host, fmt::join(names, ", "),
                                       hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    };
    for (const auto& [name, net] : desired.networks)
        known("network", name, net.host, net.host_where);
    for (const auto& [name, pool] : desired.pools) known("pool", name, pool.host, pool.host_where);
    for (const auto& [name, vm] : desired.vms) known("VM", name, vm.host, vm.host_where);
    for (const auto& [name, br] : desired.bridges) {
        known("bridge", name, br.host, br.host_where);
        if (!br.host.empty() && declared(br.host)) {
            diags.error(br.host_where,
                        fmt::format("bridge '{}' is on host '{}': bridges are netlink objects, "
                                    "managed on the host virtform runs on only; run virtform on "
                                    "'{}' for it (a lab there with --connect qemu:///system)",
                                    name, br.host, br.host));
        }
    }
    // A volume lives where its VM does.
    for (auto& [id, vol] : desired.volumes) {
        if (auto vm = desired.vms.find(vol.vm); vm != desired.vms.end()) {
            vol.host = vm->second.host;
            vol.host_where = vm->second.host_where;
        }
    }
    // No reference crosses hosts (a later issue may bring cross-host segments).
    auto cross = [&](const Location& where, const std::string& from, const std::string& from_host,
                     const std::string& to, const std::string& to_host) {
        if (from_host == to_host || !declared(from_host) || !declared(to_host)) return;
        diags.error(where, fmt::format("{} on host '{}' refers to {} on host '{}': references "
                                       "across hosts are not supported; put both on one host",
                                       from, host_label(from_host), to, host_label(to_host)));
    };
    for (const auto& [name, vm] : desired.vms) {
        const std::string self = fmt::format("VM '{}'", name);
        for (const auto& nic : vm.nics) {
            if (nic.type == Nic::Type::network) {
                if (auto net = desired.networks.find(nic.source); net != desired.networks.end())
                    cross(vm.where, self, vm.host, fmt::format("network '{}'", nic.source),
                          net->second.host);
            } else if (auto br = desired.bridges.find(nic.source); br != desired.bridges.end()) {
                cross(vm.where, self, vm.host, fmt::format("bridge '{}'", nic.source),
                      br->second.host);
            }
        }
        for (const auto& disk : vm.disks) {
            if (disk.type != Disk::Type::volume) continue;
            if (auto pool = desired.pools.find(disk.pool); pool != desired.pools.end())
                cross(vm.where,
                      fmt::format("{} (disk '{}', volume {}/{})", self, disk.name, disk.pool,
                                  disk.volume),
                      vm.host, fmt::format("pool '{}'", disk.pool), pool->second.host);
        }
    }
    for (const auto& [name, net] : desired.networks) {
        if (net.mode != NetworkMode::bridge || !net.bridge) continue;
        if (auto br = desired.bridges.find(*net.bridge); br != desired.bridges.end())
            cross(net.where, fmt::format("network '{}'", name), net.host,
                  fmt::format("bridge '{}'", *net.bridge), br->second.host);
    }
}

}  // namespace detail

std::vector<std::string> lab_host_names(const Desired& desired) {
    std::vector<std::string> names = {kLocalHost};
    for (const auto& [name, host] : desired.hosts) names.push_back(name);
    return names;
}

Desired desired_for_host(const Desired& desired, const std::string& host) {
    const std::string key = host == kLocalHost ? "" : host;
    Desired part;
    part.lab = desired.lab;
    part.files = desired.files;
    part.variables = desired.variables;
    auto copy = [&](const auto& from, auto& to) {
        for (const auto& [k, v] : from) {
            if (v.host == key) to.emplace(k, v);
        }
    };
    copy(desired.bridges, part.bridges);
    copy(desired.networks, part.networks);
    copy(desired.pools, part.pools);
    copy(desired.volumes, part.volumes);
    copy(desired.vms, part.vms);
    return part;
}

std::string host_of(const Desired& desired, const ResourceId& id) {
    auto find = [&](const auto& map, const std::string& k) {
        auto it = map.find(k);
        return it == map.end() ? std::string(kLocalHost) : host_label(it->second.host);
    };
    switch (id.kind) {
        case Kind::bridge:
            return find(desired.bridges, id.name);
        case Kind::network:
            return find(desired.networks, id.name);
        case Kind::pool:
            return find(desired.pools, id.name);
        case Kind::volume:
            return find(desired.volumes, id.name);
        case Kind::vm:
            return find(desired.vms, id.name);
    }
    return kLocalHost;
}

}  // namespace virtform
