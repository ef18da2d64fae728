// Flattening resources into attributes: the one place that decides how each
// field is named, printed and classified. The planner diffs these generically.
#include <fmt/format.h>

#include "virtform/plan.h"

namespace virtform {
namespace {

constexpr const char* kNetRestart =
    "needs a redefine and a restart of the network (guests on it lose connectivity briefly)";
constexpr const char* kNetUpdate = "applied to the running network (virNetworkUpdate)";

std::string join(const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (const auto& s : items) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

void add_ip(std::vector<Attribute>& out, const std::string& family, const IpConfig& ip) {
    out.push_back({family + ".address", ip.address.str(), ChangeClass::restart, kNetRestart});
    if (ip.dhcp_range) {
        out.push_back({family + ".dhcp.range",
                       ip.dhcp_range->start.str() + "-" + ip.dhcp_range->end.str(), ChangeClass::live,
                       kNetUpdate});
    }
    for (const auto& h : ip.hosts) {
        std::string value = "ip=" + h.ip.str();
        if (!h.name.empty()) value += " name=" + h.name;
        out.push_back({fmt::format("{}.dhcp.host[{}]", family, h.mac), value, ChangeClass::live,
                       kNetUpdate});
    }
}

std::vector<Attribute> network_attributes(const Network& n) {
    std::vector<Attribute> out;
    out.push_back({"mode", to_string(n.mode), ChangeClass::restart, kNetRestart});
    Attribute bridge{"bridge", n.bridge.value_or(""), ChangeClass::restart, kNetRestart};
    bridge.computed = !n.bridge;
    out.push_back(bridge);
    if (n.ipv4) add_ip(out, "ipv4", *n.ipv4);
    if (n.ipv6) add_ip(out, "ipv6", *n.ipv6);
    for (const auto& h : n.dns_hosts) {
        out.push_back({fmt::format("dns.host[{}]", h.ip.str()), join(h.names, ","),
                       ChangeClass::live, kNetUpdate});
    }
    if (n.domain) out.push_back({"domain", *n.domain, ChangeClass::restart, kNetRestart});
    Attribute mtu{"mtu", n.mtu ? std::to_string(*n.mtu) : "", ChangeClass::restart, kNetRestart};
    mtu.computed = !n.mtu;
    out.push_back(mtu);
    if (n.mode != NetworkMode::bridge) {
        out.push_back({"stp", n.stp ? "true" : "false", ChangeClass::restart, kNetRestart});
    }
    out.push_back({"autostart", n.autostart ? "true" : "false", ChangeClass::live,
                   "applied at once (virNetworkSetAutostart)"});
    out.push_back({"active", n.active ? "true" : "false", ChangeClass::live,
                   n.active ? "the network is started" : "the network is stopped"});
    return out;
}

}  // namespace

std::vector<Attribute> attributes_of(const Resource& resource) {
    return std::visit([](const auto& r) { return network_attributes(r); }, resource);
}

}  // namespace virtform
