// Collisions with the host and users of what a plan deletes (issue 9): one
// place, pure over Desired and Live.
#include "virtform/host_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace virtform {
namespace {

std::string owner_text(const std::string& owner) {
    return owner.empty() ? "no lab" : fmt::format("lab '{}'", owner);
}

/// The subnet of a network's address (canonical, host bits cleared).
Cidr subnet_of(const Cidr& c) {
    return Cidr{c.network(), c.prefix};
}

std::vector<Cidr> subnets_of(const Network& n) {
    std::vector<Cidr> out;
    if (n.ipv4) out.push_back(subnet_of(n.ipv4->address));
    if (n.ipv6) out.push_back(subnet_of(n.ipv6->address));
    return out;
}

/// The bridges a libvirt network runs on (its own, or the host bridge in mode bridge).
bool network_uses_bridge(const Network& n, const std::string& bridge) {
    return n.bridge && *n.bridge == bridge;
}

bool vm_uses(const Vm& vm, Kind kind, const std::string& name, const Live& live) {
    auto on = [&](const Nic& nic) {
        if (kind == Kind::network) return nic.type == Nic::Type::network && nic.source == name;
        if (nic.type == Nic::Type::bridge) return nic.source == name;
        // A NIC on a libvirt network in mode bridge over this bridge.
        auto net = live.networks.find(nic.source);
        return net != live.networks.end() && net->second.mode == NetworkMode::bridge &&
               network_uses_bridge(net->second, name);
    };
    const bool defined = std::any_of(vm.nics.begin(), vm.nics.end(), on);
    const bool running =
        vm.running && std::any_of(vm.running->nics.begin(), vm.running->nics.end(), on);
    return defined || running;
}

}  // namespace

void check_host_collisions(const Desired& desired, const Live& live, Diagnostics& diags) {
    // Networks: subnets against other libvirt networks, interface addresses, routes.
    // The bridges libvirt networks make: the same for every network checked.
    std::set<std::string> libvirt_bridges;
    for (const auto& [n, other] : live.networks) {
        if (other.bridge && other.mode != NetworkMode::bridge)
            libvirt_bridges.insert(*other.bridge);
    }
    // The subnets of the active libvirt networks that stay, each computed
    // once rather than once per network of the manifest.
    struct Other {
        const std::string* name;
        const Network* network;
        std::vector<Cidr> subnets;
    };
    std::vector<Other> others;
    for (const auto& [other_name, other] : live.networks) {
        if (!other.active) continue;
        // A network of this lab that the manifest drops is deleted first.
        if (other.owner == desired.lab && desired.networks.count(other_name) == 0) continue;
        others.push_back({&other_name, &other, subnets_of(other)});
    }
    for (const auto& [name, want] : desired.networks) {
        if (want.mode == NetworkMode::bridge) continue;
        const auto self = live.networks.find(name);
        const std::string own_bridge =
            self != live.networks.end() && self->second.owner == desired.lab
                ? self->second.bridge.value_or("")
                : want.bridge.value_or("");
        for (const auto& mine : subnets_of(want)) {
            for (const auto& other : others) {
                if (*other.name == name) continue;
                for (const auto& theirs : other.subnets) {
                    if (!mine.overlaps(theirs)) continue;
                    diags.error(want.where,
                                fmt::format("network '{}': subnet {} overlaps {} of libvirt "
                                            "network '{}' ({}), which is active on the host",
                                            name, mine.str(), theirs.str(), *other.name,
                                            owner_text(other.network->owner)));
                }
            }
            for (const auto& [ifname, iface] : live.interfaces) {
                // The network's own bridge holds its gateway; other networks'
                // bridges were checked above.
                if ((!own_bridge.empty() && ifname == own_bridge) ||
                    libvirt_bridges.count(ifname) != 0) {
                    continue;
                }
                for (const auto& addr : iface.addresses) {
                    if (!mine.overlaps(addr)) continue;
                    diags.error(want.where,
                                fmt::format("network '{}': subnet {} overlaps address {} of host "
                                            "interface '{}'",
                                            name, mine.str(), addr.str(), ifname));
                }
            }
            for (const auto& route : live.routes) {
                if ((!own_bridge.empty() && route.device == own_bridge) ||
                    libvirt_bridges.count(route.device) != 0 || !mine.overlaps(route.destination)) {
                    continue;
                }
                diags.error(want.where,
                            fmt::format("network '{}': subnet {} overlaps the host's route to {} "
                                        "(dev {}{})",
                                        name, mine.str(), route.destination.str(), route.device,
                                        route.gateway.empty() ? "" : " via " + route.gateway));
            }
        }
        // Static DHCP hosts: inside the subnet, each IP once.
        if (want.ipv4) {
            std::map<IpAddress, std::string> seen;
            for (const auto& h : want.ipv4->hosts) {
                if (!want.ipv4->address.contains(h.ip)) {
                    diags.error(
                        want.where,
                        fmt::format("network '{}': DHCP host {} has IP {}, outside the "
                                    "subnet {}",
                                    name, h.mac, h.ip.str(), subnet_of(want.ipv4->address).str()));
                }
                auto [it, fresh] = seen.emplace(h.ip, h.mac);
                if (!fresh) {
                    diags.error(want.where,
                                fmt::format("network '{}': DHCP hosts {} and {} both have IP {}",
                                            name, it->second, h.mac, h.ip.str()));
                }
            }
        }
    }
    // Fixed MACs against every other domain on the host (of any lab or none).
    for (const auto& [name, vm] : desired.vms) {
        for (const auto& nic : vm.nics) {
            if (!nic.mac) continue;
            for (const auto& [other_name, other] : live.vms) {
                // The VM itself: this lab's, or one being adopted (any other
                // owner is refused by the ownership check already).
                if (other_name == name) continue;
                // A VM of this lab that the manifest drops is deleted first.
                if (other.owner == desired.lab && desired.vms.count(other_name) == 0) continue;
                auto has = [&](const Vm& v) {
                    return std::any_of(v.nics.begin(), v.nics.end(),
                                       [&](const Nic& n) { return n.mac == nic.mac; });
                };
                if (has(other) || (other.running && has(*other.running))) {
                    diags.error(vm.where,
                                fmt::format("VM '{}': MAC {} is already used by domain '{}' ({}) "
                                            "on the host",
                                            name, *nic.mac, other_name, owner_text(other.owner)));
                }
            }
        }
    }
}

std::vector<std::string> users_of(const Action& deleted, const std::vector<Action>& actions,
                                  const Desired& desired, const Live& live) {
    std::vector<std::string> out;
    const Kind kind = deleted.id.kind;
    const std::string& name = deleted.id.name;
    if (kind != Kind::network && kind != Kind::bridge) return out;
    auto action_on = [&](Kind k, const std::string& n) -> const Action* {
        for (const auto& a : actions) {
            if (a.id.kind == k && a.id.name == n) return &a;
        }
        return nullptr;
    };
    for (const auto& [vm_name, vm] : live.vms) {
        if (!vm_uses(vm, kind, name, live)) continue;
        if (vm.owner == desired.lab) {
            // This lab's VM: fine when the plan deletes it, or it leaves the
            // object by an update of its own. A replace brings it back.
            const Action* a = action_on(Kind::vm, vm_name);
            if (a && a->type == ActionType::destroy) continue;
            if (a && a->after && !vm_uses(std::get<Vm>(*a->after), kind, name, live) &&
                a->type != ActionType::replace) {
                continue;
            }
            if (deleted.type == ActionType::replace) continue;  // it comes back
        }
        out.push_back(fmt::format("vm.{} of {} (a NIC on {})", vm_name, owner_text(vm.owner),
                                  deleted.id.str()));
    }
    if (kind == Kind::bridge) {
        // Ports the lab did not declare: against the manifest while it still
        // declares the bridge (replace), else against the ports the lab last
        // gave it (destroy, prune). Without either, nothing tells a declared
        // port from one enslaved by hand, and none is named.
        const std::vector<std::string>* declared_list = nullptr;
        if (auto it = desired.bridges.find(name); it != desired.bridges.end()) {
            declared_list = &it->second.ports;
        } else if (auto rec = live.declared_ports.find(name); rec != live.declared_ports.end()) {
            declared_list = &rec->second;
        }
        if (declared_list == nullptr) return out;
        const std::set<std::string> declared(declared_list->begin(), declared_list->end());
        for (const auto& [ifname, iface] : live.interfaces) {
            if (iface.master != name || iface.kind == "tun" || declared.count(ifname) != 0)
                continue;
            out.push_back(
                fmt::format("interface {} (a port of bridge {} that lab '{}' did not "
                            "declare)",
                            ifname, name, desired.lab));
        }
    }
    return out;
}

std::vector<std::string> shared_uses(const Desired& desired, const Live& live) {
    std::vector<std::string> out;
    for (const auto& [name, vm] : desired.vms) {
        std::set<std::string> said;
        for (const auto& nic : vm.nics) {
            const bool net = nic.type == Nic::Type::network;
            if (net && desired.networks.count(nic.source) != 0) continue;
            if (!net && desired.bridges.count(nic.source) != 0) continue;
            std::string owner;
            if (net) {
                auto it = live.networks.find(nic.source);
                if (it == live.networks.end()) continue;
                owner = it->second.owner;
            } else {
                auto it = live.bridges.find(nic.source);
                if (it == live.bridges.end()) continue;
                owner = it->second.owner;
            }
            if (owner.empty() || owner == desired.lab) continue;
            const std::string what = fmt::format("{}.{}", net ? "network" : "bridge", nic.source);
            if (!said.insert(what).second) continue;
            out.push_back(
                fmt::format("vm.{} uses {} of lab '{}' (read-only: this lab does not "
                            "manage it; destroying lab '{}' would cut it off)",
                            name, what, owner, owner));
        }
    }
    return out;
}

void check_remote_host(const Desired& desired, const std::string& host, Diagnostics& diags) {
    const std::string where = terminal_escape(host);
    for (const auto& [name, bridge] : desired.bridges) {
        diags.error(bridge.where,
                    fmt::format("bridge '{}': the URI reaches another host ({}); bridges are made "
                                "over the netlink of the host virtform runs on, so run virtform "
                                "on {} for them",
                                name, where, where));
    }
    for (const auto& [name, pool] : desired.pools) {
        diags.error(pool.where,
                    fmt::format("pool '{}': the URI reaches another host ({}); a pool's ownership "
                                "mark is a file virtform writes in its directory, which it can "
                                "only do on the host it runs on: run virtform on {} for pools and "
                                "their volumes",
                                name, where, where));
    }
    for (const auto& [name, vm] : desired.vms) {
        if (!vm.cloud_init) continue;
        diags.error(vm.where,
                    fmt::format("VM '{}': the URI reaches another host ({}); its cloud_init seed "
                                "ISO is built on the host virtform runs on: run virtform on {}",
                                name, where, where));
    }
}

}  // namespace virtform
