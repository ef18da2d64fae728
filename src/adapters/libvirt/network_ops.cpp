#include "network_ops.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "virtform/adapters/libvirt/network_xml.h"

namespace virtform::libvirt {
namespace {

/// virNetworkDefineXML, one at a time in this process. libvirt (9.0) picks a
/// free virbrN for a network without `<bridge name>` while it defines it, but
/// two defines in flight at once can both pick the same one: the second start
/// then fails with "error creating bridge interface virbrN: File exists". Seen
/// in 4 of 4 parallel applies of 8 NAT networks without `bridge:`
/// (NetworkTest.ParallelNetworksWithoutABridgeNameGetOneEach). A define takes
/// milliseconds; the starts, which take the time, still run in parallel.
NetworkPtr define_xml(virConnectPtr conn, const std::string& xml) {
    static std::mutex defining;
    const std::lock_guard lock(defining);
    return NetworkPtr(virNetworkDefineXML(conn, xml.c_str()));
}

const std::string& net_name(const Action& a) {
    return a.id.name;
}

NetworkPtr lookup(virConnectPtr conn, const std::string& name, RoundTrips& trips) {
    trips.add();
    NetworkPtr net(virNetworkLookupByName(conn, name.c_str()));
    if (!net) throw_last_error("network " + name, "look up");
    return net;
}

std::string inactive_xml(virNetworkPtr net, const std::string& name, RoundTrips& trips) {
    trips.add();
    CString xml(virNetworkGetXMLDesc(net, VIR_NETWORK_XML_INACTIVE));
    if (!xml && virGetLastErrorCode() == VIR_ERR_INVALID_ARG) {
        // Drivers without separate inactive definitions (the test driver,
        // test:///default) refuse the flag ("unsupported flags"): their one
        // definition is the inactive one.
        trips.add();
        xml.reset(virNetworkGetXMLDesc(net, 0));
    }
    if (!xml) throw_last_error("network " + name, "read the definition of");
    return xml.get();
}

bool is_active(virNetworkPtr net, const std::string& name, RoundTrips& trips) {
    trips.add();
    const int active = virNetworkIsActive(net);
    if (active < 0) throw_last_error("network " + name, "read the state of");
    return active == 1;
}

void set_autostart(virNetworkPtr net, const Network& want, RoundTrips& trips) {
    trips.add();
    if (virNetworkSetAutostart(net, want.autostart ? 1 : 0) < 0) {
        throw_last_error("network " + want.name,
                         want.autostart ? "enable autostart of" : "disable autostart of");
    }
}

void start(virNetworkPtr net, const std::string& name, RoundTrips& trips) {
    trips.add();
    if (virNetworkCreate(net) < 0) throw_last_error("network " + name, "start");
}

void stop(virNetworkPtr net, const std::string& name, RoundTrips& trips) {
    trips.add();
    if (virNetworkDestroy(net) < 0) throw_last_error("network " + name, "stop");
}

NetworkPtr define(virConnectPtr conn, const Network& want, const std::string& lab,
                  const NetworkIdentity& identity, RoundTrips& trips) {
    const std::string xml = network_to_xml(want, lab, identity);
    spdlog::debug("defining network {}:\n{}", want.name, xml);
    trips.add();
    NetworkPtr net = define_xml(conn, xml);
    if (!net) throw_last_error("network " + want.name, "define");
    return net;
}

void create(virConnectPtr conn, const Network& want, const std::string& lab, RoundTrips& trips) {
    // Define, set autostart, start: if a later step fails, the network exists
    // with the mark and the next plan shows exactly what is left to do.
    NetworkPtr net;
    bool adopted = false;
    try {
        net = define(conn, want, lab, {}, trips);
    } catch (const AdapterError&) {
        // A network of that name appeared after the plan was made. Most often it
        // is the in-flight define of an apply that was killed: libvirtd finishes
        // it after the client is gone. Ours: redefine it with its identity.
        // Anyone else's: the error stands.
        trips.add();
        NetworkPtr existing(virNetworkLookupByName(conn, want.name.c_str()));
        if (!existing) throw;
        const std::string xml = inactive_xml(existing.get(), want.name, trips);
        if (owner_from_metadata(xml) != lab) throw;
        net = define(conn, want, lab, network_identity_from_xml(xml), trips);
        adopted = true;
    }
    set_autostart(net.get(), want, trips);
    if (want.active && !(adopted && is_active(net.get(), want.name, trips))) {
        try {
            start(net.get(), want.name, trips);
        } catch (const AdapterError&) {
            // libvirt refused to start it (a clash the plan could not see):
            // leave nothing half-made, no defined, inactive network with
            // autostart. One a killed apply left behind stays for the next plan.
            if (!adopted) {
                trips.add();
                if (virNetworkUndefine(net.get()) < 0) {
                    spdlog::warn("network {} failed to start and could not be undefined: {}",
                                 want.name, virGetLastErrorMessage());
                }
            }
            throw;
        }
    }
}

void destroy(virConnectPtr conn, const std::string& name, RoundTrips& trips) {
    NetworkPtr net = lookup(conn, name, trips);
    if (is_active(net.get(), name, trips)) stop(net.get(), name, trips);
    trips.add();
    if (virNetworkUndefine(net.get()) < 0) throw_last_error("network " + name, "undefine");
}

void update_section(virNetworkPtr net, const std::string& name, unsigned command, unsigned section,
                    int ip_index, const std::string& xml, bool live, RoundTrips& trips) {
    unsigned flags = VIR_NETWORK_UPDATE_AFFECT_CONFIG;
    if (live) flags |= VIR_NETWORK_UPDATE_AFFECT_LIVE;
    spdlog::debug("virNetworkUpdate {} command={} section={} {}", name, command, section, xml);
    trips.add();
    if (virNetworkUpdate(net, command, section, ip_index, xml.c_str(), flags) < 0) {
        const char* what = section == VIR_NETWORK_SECTION_IP_DHCP_HOST    ? "a DHCP host of"
                           : section == VIR_NETWORK_SECTION_IP_DHCP_RANGE ? "the DHCP range of"
                                                                          : "a DNS host of";
        const char* verb = command == VIR_NETWORK_UPDATE_COMMAND_DELETE ? "remove" : "update";
        throw_last_error("network " + name, fmt::format("{} {}", verb, what));
    }
}

/// Keyed list diff: calls on_remove/on_add/on_modify per key.
template <class T, class Key, class F1, class F2, class F3>
void diff_keyed(const std::vector<T>& before, const std::vector<T>& after, Key key, F1 on_remove,
                F2 on_add, F3 on_modify) {
    std::map<std::string, const T*> b, a;
    for (const auto& x : before) b[key(x)] = &x;
    for (const auto& x : after) a[key(x)] = &x;
    for (const auto& [k, x] : b) {
        auto it = a.find(k);
        if (it == a.end())
            on_remove(*x);
        else if (!(*it->second == *x))
            on_modify(*x, *it->second);
    }
    for (const auto& [k, x] : a) {
        if (b.count(k) == 0) on_add(*x);
    }
}

void update_live(virNetworkPtr net, const Network& before, const Network& after, bool live,
                 RoundTrips& trips) {
    const std::string& name = after.name;
    // virNetworkUpdate's parentIndex picks the <ip> element; -1 would let libvirt
    // pick the first one with DHCP, which may be the other address family.
    const auto ip_index = ip_element_indexes(inactive_xml(net, name, trips));
    auto cmd_family = [&](int family, unsigned command, unsigned section, const std::string& xml) {
        update_section(net, name, command, section, family == 6 ? ip_index.ipv6 : ip_index.ipv4,
                       xml, live, trips);
    };
    auto cmd = [&](unsigned command, unsigned section, const std::string& xml) {
        cmd_family(4, command, section, xml);
    };
    const auto no_hosts = std::vector<DhcpHost>{};
    const auto& hb = before.ipv4 ? before.ipv4->hosts : no_hosts;
    const auto& ha = after.ipv4 ? after.ipv4->hosts : no_hosts;
    diff_keyed(
        hb, ha, [](const DhcpHost& h) { return h.mac; },
        [&](const DhcpHost& h) {
            cmd(VIR_NETWORK_UPDATE_COMMAND_DELETE, VIR_NETWORK_SECTION_IP_DHCP_HOST,
                dhcp_host_xml(h));
        },
        [&](const DhcpHost& h) {
            cmd(VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, VIR_NETWORK_SECTION_IP_DHCP_HOST,
                dhcp_host_xml(h));
        },
        [&](const DhcpHost&, const DhcpHost& h) {
            cmd(VIR_NETWORK_UPDATE_COMMAND_MODIFY, VIR_NETWORK_SECTION_IP_DHCP_HOST,
                dhcp_host_xml(h));
        });
    for (auto family : {&Network::ipv4, &Network::ipv6}) {
        const auto& b = before.*family;
        const auto& a = after.*family;
        const auto rb = b ? b->dhcp_range : std::nullopt;
        const auto ra = a ? a->dhcp_range : std::nullopt;
        if (rb == ra) continue;
        const int family_number = family == &Network::ipv6 ? 6 : 4;
        if (rb) {
            cmd_family(family_number, VIR_NETWORK_UPDATE_COMMAND_DELETE,
                       VIR_NETWORK_SECTION_IP_DHCP_RANGE, dhcp_range_xml(*rb));
        }
        if (ra) {
            cmd_family(family_number, VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                       VIR_NETWORK_SECTION_IP_DHCP_RANGE, dhcp_range_xml(*ra));
        }
    }
    // DNS hosts have no MODIFY in libvirt: remove the old entry, add the new.
    diff_keyed(
        before.dns_hosts, after.dns_hosts, [](const DnsHost& h) { return h.ip.str(); },
        [&](const DnsHost& h) {
            cmd(VIR_NETWORK_UPDATE_COMMAND_DELETE, VIR_NETWORK_SECTION_DNS_HOST, dns_host_xml(h));
        },
        [&](const DnsHost& h) {
            cmd(VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, VIR_NETWORK_SECTION_DNS_HOST, dns_host_xml(h));
        },
        [&](const DnsHost& old, const DnsHost& h) {
            cmd(VIR_NETWORK_UPDATE_COMMAND_DELETE, VIR_NETWORK_SECTION_DNS_HOST, dns_host_xml(old));
            cmd(VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, VIR_NETWORK_SECTION_DNS_HOST, dns_host_xml(h));
        });
}

void update(virConnectPtr conn, const std::string& lab, const Action& action, RoundTrips& trips) {
    const auto& before = std::get<Network>(*action.before);
    const auto& after = std::get<Network>(*action.after);
    NetworkPtr net = lookup(conn, after.name, trips);
    const bool was_active = is_active(net.get(), after.name, trips);
    if (action.cls == ChangeClass::restart) {
        const auto identity = network_identity_from_xml(inactive_xml(net.get(), after.name, trips));
        // A bridge name libvirt picked stays: a restart must not rename it.
        Network definition = after;
        if (!definition.bridge && definition.mode != NetworkMode::bridge)
            definition.bridge = before.bridge;
        net = define(conn, definition, lab, identity, trips);
        if (was_active) stop(net.get(), after.name, trips);
        if (after.active) start(net.get(), after.name, trips);
    } else {
        update_live(net.get(), before, after, was_active, trips);
        if (after.active && !was_active) start(net.get(), after.name, trips);
        if (!after.active && was_active) stop(net.get(), after.name, trips);
    }
    if (before.autostart != after.autostart) set_autostart(net.get(), after, trips);
}

/// Adopting: the lab's mark added to the definition as it is (a redefine that
/// changes nothing else; a running network keeps running).
void mark(virConnectPtr conn, const std::string& name, const std::string& lab, RoundTrips& trips) {
    NetworkPtr net = lookup(conn, name, trips);
    std::string xml;
    try {
        xml = with_mark(inactive_xml(net.get(), name, trips), lab);
    } catch (const AdapterError&) {
        throw;
    } catch (const Error& e) {
        throw AdapterError("network " + name, "adopt", e.what());
    }
    spdlog::debug("adopting network {}:\n{}", name, xml);
    trips.add();
    NetworkPtr defined = define_xml(conn, xml);
    if (!defined) throw_last_error("network " + name, "adopt (redefine with the lab's mark)");
}

}  // namespace

void read_networks(virConnectPtr conn, Live& live, RoundTrips& trips) {
    // State and autostart come from two filtered listings rather than two calls
    // per network: a no-op plan costs one round trip per network, plus three.
    auto list = [&](unsigned flags) {
        virNetworkPtr* raw = nullptr;
        trips.add();
        const int n = virConnectListAllNetworks(conn, &raw, flags);
        if (n < 0) throw_last_error("networks", "list");
        return adopt_list<NetworkPtr>(raw, n);
    };
    auto names = [&](unsigned flags) {
        std::set<std::string> out;
        for (const auto& net : list(flags)) out.insert(virNetworkGetName(net.get()));  // local
        return out;
    };
    auto all = list(0);
    const auto active = names(VIR_CONNECT_LIST_NETWORKS_ACTIVE);
    const auto autostart = names(VIR_CONNECT_LIST_NETWORKS_AUTOSTART);
    for (auto& net : all) {
        const std::string name = virNetworkGetName(net.get());  // local, no round trip
        try {
            Network net_model = network_from_xml(inactive_xml(net.get(), name, trips));
            net_model.active = active.count(name) != 0;
            net_model.autostart = autostart.count(name) != 0;
            live.networks[name] = std::move(net_model);
        } catch (const AdapterError& e) {
            // Undefined by someone else between the listing and now: not there.
            if (e.code() == VIR_ERR_NO_NETWORK) continue;
            throw;
        }
    }
}

void apply_network(virConnectPtr conn, const std::string& lab, const Action& action,
                   RoundTrips& trips) {
    switch (action.type) {
        case ActionType::create:
            create(conn, std::get<Network>(*action.after), lab, trips);
            break;
        case ActionType::destroy:
            destroy(conn, net_name(action), trips);
            break;
        case ActionType::replace:
            destroy(conn, net_name(action), trips);
            create(conn, std::get<Network>(*action.after), lab, trips);
            break;
        case ActionType::update:
            if (action.adopt) mark(conn, net_name(action), lab, trips);
            if (!action.changes.empty()) update(conn, lab, action, trips);
            break;
    }
}

}  // namespace virtform::libvirt
