#include "virtform/adapters/libvirt/network_xml.h"

#include <fmt/format.h>

#include <cstring>
#include <pugixml.hpp>
#include <sstream>

#include "virtform/error.h"
#include "xml_util.h"

namespace virtform::libvirt {
namespace {

void append_host(pugi::xml_node parent, const DhcpHost& h) {
    auto host = parent.append_child("host");
    host.append_attribute("mac") = h.mac.c_str();
    if (!h.name.empty()) host.append_attribute("name") = h.name.c_str();
    host.append_attribute("ip") = h.ip.str().c_str();
}

void append_range(pugi::xml_node parent, const DhcpRange& r) {
    auto range = parent.append_child("range");
    range.append_attribute("start") = r.start.str().c_str();
    range.append_attribute("end") = r.end.str().c_str();
}

void append_dns_host(pugi::xml_node parent, const DnsHost& h) {
    auto host = parent.append_child("host");
    host.append_attribute("ip") = h.ip.str().c_str();
    for (const auto& name : h.names) host.append_child("hostname").text() = name.c_str();
}

void append_ip(pugi::xml_node net, const IpConfig& ip) {
    auto node = net.append_child("ip");
    if (ip.address.address.family == 6) node.append_attribute("family") = "ipv6";
    node.append_attribute("address") = ip.address.address.str().c_str();
    node.append_attribute("prefix") = ip.address.prefix;
    if (ip.dhcp_range || !ip.hosts.empty()) {
        auto dhcp = node.append_child("dhcp");
        if (ip.dhcp_range) append_range(dhcp, *ip.dhcp_range);
        for (const auto& h : ip.hosts) append_host(dhcp, h);
    }
}

int prefix_from_netmask(const std::string& netmask) {
    auto ip = IpAddress::parse(netmask);
    if (!ip) return 0;
    int prefix = 0;
    for (auto b : ip->bytes) {
        for (int bit = 7; bit >= 0; --bit) {
            if ((b >> bit) & 1) ++prefix;
        }
    }
    return prefix;
}

}  // namespace

std::string network_to_xml(const Network& n, const std::string& lab,
                           const NetworkIdentity& identity) {
    pugi::xml_document doc;
    auto net = doc.append_child("network");
    net.append_child("name").text() = n.name.c_str();
    if (!identity.uuid.empty()) net.append_child("uuid").text() = identity.uuid.c_str();
    auto mark =
        net.append_child("metadata").append_child(fmt::format("{}:lab", kMetadataPrefix).c_str());
    mark.append_attribute(fmt::format("xmlns:{}", kMetadataPrefix).c_str()) = kMetadataUri;
    mark.text() = lab.c_str();

    if (n.mode != NetworkMode::isolated) {
        net.append_child("forward").append_attribute("mode") = to_string(n.mode);
    }
    if (n.mode == NetworkMode::bridge) {
        net.append_child("bridge").append_attribute("name") = n.bridge.value_or("").c_str();
        return doc_to_string(doc);
    }
    auto bridge = net.append_child("bridge");
    if (n.bridge) bridge.append_attribute("name") = n.bridge->c_str();
    bridge.append_attribute("stp") = n.stp ? "on" : "off";
    bridge.append_attribute("delay") = "0";
    if (n.mtu) net.append_child("mtu").append_attribute("size") = *n.mtu;
    if (!identity.mac.empty())
        net.append_child("mac").append_attribute("address") = identity.mac.c_str();
    if (n.domain) net.append_child("domain").append_attribute("name") = n.domain->c_str();
    if (!n.dns_hosts.empty()) {
        auto dns = net.append_child("dns");
        for (const auto& h : n.dns_hosts) append_dns_host(dns, h);
    }
    if (n.ipv4) append_ip(net, *n.ipv4);
    if (n.ipv6) append_ip(net, *n.ipv6);
    return doc_to_string(doc);
}

std::string owner_from_metadata(const std::string& xml) {
    pugi::xml_document doc;
    if (!doc.load_string(xml.c_str())) return {};
    for (auto child : doc.document_element().child("metadata").children()) {
        for (auto attr : child.attributes()) {
            if (std::strncmp(attr.name(), "xmlns", 5) == 0 &&
                std::strcmp(attr.value(), kMetadataUri) == 0) {
                return child.text().as_string();
            }
        }
    }
    return {};
}

std::string with_mark(const std::string& xml, const std::string& lab) {
    if (const std::string owner = owner_from_metadata(xml); !owner.empty())
        throw Error(fmt::format("it already carries the mark of lab '{}'", owner));
    pugi::xml_document doc;
    if (!doc.load_string(xml.c_str(), pugi::parse_default | pugi::parse_ws_pcdata_single))
        throw Error("cannot parse its XML");
    auto root = doc.document_element();
    auto metadata = root.child("metadata");
    if (!metadata) {
        // libvirt's schemas put <metadata> after <name>/<uuid>/<title>/<description>.
        pugi::xml_node after;
        for (const char* e : {"name", "uuid", "title", "description"})
            if (auto n = root.child(e)) after = n;
        metadata =
            after ? root.insert_child_after("metadata", after) : root.prepend_child("metadata");
    }
    auto mark = metadata.append_child(fmt::format("{}:lab", kMetadataPrefix).c_str());
    mark.append_attribute(fmt::format("xmlns:{}", kMetadataPrefix).c_str()) = kMetadataUri;
    mark.text() = lab.c_str();
    return doc_to_string(doc);
}

Network network_from_xml(const std::string& xml) {
    auto doc = parse_xml(xml, "network");
    auto net = doc.child("network");
    if (!net) throw Error("libvirt returned XML without a <network> element");
    Network n;
    n.name = net.child("name").text().as_string();
    n.owner = owner_from_metadata(xml);
    const std::string mode = net.child("forward").attribute("mode").as_string();
    if (!net.child("forward")) {
        n.mode = NetworkMode::isolated;
    } else if (auto m = network_mode_from_string(mode.empty() ? "nat" : mode)) {
        n.mode = *m;
    } else {
        n.mode = NetworkMode::bridge;  // passthrough, hostdev, ...: not ours, only its name matters
    }
    if (auto b = net.child("bridge")) {
        if (auto name = b.attribute("name")) n.bridge = name.as_string();
        if (auto stp = b.attribute("stp")) n.stp = std::strcmp(stp.as_string(), "off") != 0;
    }
    if (auto mtu = net.child("mtu")) n.mtu = mtu.attribute("size").as_int();
    if (auto domain = net.child("domain")) n.domain = domain.attribute("name").as_string();
    for (auto h : net.child("dns").children("host")) {
        DnsHost host;
        if (auto ip = IpAddress::parse(h.attribute("ip").as_string())) host.ip = *ip;
        for (auto name : h.children("hostname")) host.names.emplace_back(name.text().as_string());
        n.dns_hosts.push_back(std::move(host));
    }
    for (auto ipn : net.children("ip")) {
        auto addr = IpAddress::parse(ipn.attribute("address").as_string());
        if (!addr) continue;
        int prefix = ipn.attribute("prefix").as_int(-1);
        if (prefix < 0) prefix = prefix_from_netmask(ipn.attribute("netmask").as_string());
        IpConfig ip{Cidr{*addr, prefix}, std::nullopt, {}};
        auto dhcp = ipn.child("dhcp");
        if (auto r = dhcp.child("range")) {
            auto s = IpAddress::parse(r.attribute("start").as_string());
            auto e = IpAddress::parse(r.attribute("end").as_string());
            if (s && e) ip.dhcp_range = DhcpRange{*s, *e};
        }
        for (auto h : dhcp.children("host")) {
            DhcpHost host;
            host.mac = normalize_mac(h.attribute("mac").as_string()).value_or("");
            if (auto a = IpAddress::parse(h.attribute("ip").as_string())) host.ip = *a;
            host.name = h.attribute("name").as_string();
            ip.hosts.push_back(std::move(host));
        }
        auto& slot = addr->family == 6 ? n.ipv6 : n.ipv4;
        if (!slot) slot = std::move(ip);  // the model holds one subnet per family
    }
    n.normalize();
    return n;
}

NetworkIdentity network_identity_from_xml(const std::string& xml) {
    auto doc = parse_xml(xml, "network");
    auto net = doc.child("network");
    return {net.child("uuid").text().as_string(),
            net.child("mac").attribute("address").as_string()};
}

IpElementIndexes ip_element_indexes(const std::string& xml) {
    auto doc = parse_xml(xml, "network");
    IpElementIndexes out;
    int i = 0;
    for (auto ip : doc.child("network").children("ip")) {
        const bool v6 = std::strcmp(ip.attribute("family").as_string(), "ipv6") == 0 ||
                        std::strchr(ip.attribute("address").as_string(), ':') != nullptr;
        int& slot = v6 ? out.ipv6 : out.ipv4;
        if (slot < 0) slot = i;
        ++i;
    }
    return out;
}

std::string dhcp_host_xml(const DhcpHost& host) {
    pugi::xml_document doc;
    append_host(doc, host);
    return node_to_string(doc.first_child());
}

std::string dhcp_range_xml(const DhcpRange& range) {
    pugi::xml_document doc;
    append_range(doc, range);
    return node_to_string(doc.first_child());
}

std::string dns_host_xml(const DnsHost& host) {
    pugi::xml_document doc;
    append_dns_host(doc, host);
    return node_to_string(doc.first_child());
}

}  // namespace virtform::libvirt
