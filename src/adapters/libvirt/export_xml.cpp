#include "virtform/adapters/libvirt/export_xml.h"

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <set>

#include "xml_util.h"

namespace virtform::libvirt {
namespace {

bool is(const pugi::xml_node& n, const char* name) {
    return std::strcmp(n.name(), name) == 0;
}

/// Children of `node` whose element name is not in `known`, counted by name:
/// "<rng> device", "2 <channel> devices".
void unknown_children(const pugi::xml_node& node, const std::set<std::string>& known,
                      const char* what, std::vector<std::string>& out) {
    std::map<std::string, int> count;
    for (auto c : node.children()) {
        if (c.type() == pugi::node_element && known.count(c.name()) == 0) ++count[c.name()];
    }
    for (const auto& [name, n] : count) {
        out.push_back(n == 1 ? fmt::format("<{}> {}", name, what)
                             : fmt::format("{} <{}> {}s", n, name, what));
    }
}

}  // namespace

XmlGaps domain_gaps(const std::string& xml) {
    XmlGaps gaps;
    auto doc = parse_xml(xml, "domain");
    auto dom = doc.child("domain");
    auto& out = gaps.left_out;
    unknown_children(
        dom,
        {"name", "uuid", "metadata", "memory", "currentMemory", "vcpu", "os", "features", "cpu",
         "devices", "on_poweroff", "on_reboot", "on_crash", "clock", "resource", "seclabel"},
        "element", out);
    auto clock = dom.child("clock");
    if (clock && (std::strcmp(clock.attribute("offset").as_string("utc"), "utc") != 0 ||
                  clock.first_child())) {
        out.push_back(fmt::format("<clock offset='{}'> and its timers",
                                  clock.attribute("offset").as_string("utc")));
    }
    for (const auto& [element, normal] : std::map<std::string, std::string>{
             {"on_poweroff", "destroy"}, {"on_reboot", "restart"}, {"on_crash", "destroy"}}) {
        auto n = dom.child(element.c_str());
        if (n && normal != n.text().as_string()) {
            out.push_back(fmt::format("<{}>{}</{}>", element, n.text().as_string(), element));
        }
    }
    unknown_children(dom.child("features"), {"acpi", "apic", "pae"}, "feature", out);
    auto cpu = dom.child("cpu");
    if (auto model = cpu.child("model")) {
        out.push_back(fmt::format("the CPU model '{}'", model.text().as_string()));
    }
    if (cpu.child("feature") || cpu.child("topology") || cpu.child("numa"))
        out.push_back("the <cpu> features, topology or NUMA cells");
    auto os = dom.child("os");
    if (auto loader = os.child("loader"); loader && !os.attribute("firmware")) {
        out.push_back(
            fmt::format("the firmware loader {} (the manifest's `firmware: uefi` lets "
                        "libvirt pick one)",
                        loader.text().as_string()));
    }
    if (auto nvram = os.child("nvram")) {
        out.push_back(fmt::format("the NVRAM file {}", nvram.text().as_string()));
    }
    unknown_children(os, {"type", "loader", "nvram", "kernel", "initrd", "cmdline", "boot"},
                     "element of <os>", out);

    auto devices = dom.child("devices");
    unknown_children(devices,
                     {"emulator", "disk", "interface", "serial", "console", "graphics",
                      "memballoon", "controller", "input", "video", "audio"},
                     "device", out);
    for (auto d : devices.children("disk")) {
        const std::string type = d.attribute("type").as_string();
        const std::string device = d.attribute("device").as_string("disk");
        const std::string target = d.child("target").attribute("dev").as_string();
        if (device != "disk" && device != "cdrom") {
            out.push_back(fmt::format("disk {}: a {} drive", target, device));
        } else if (type != "file" && type != "volume") {
            out.push_back(fmt::format("disk {}: of type '{}' (the manifest gives it as a file)",
                                      target, type));
        }
        if (d.child("boot")) out.push_back(fmt::format("disk {}: its own boot order", target));
    }
    for (auto i : devices.children("interface")) {
        const std::string type = i.attribute("type").as_string();
        const std::string mac = i.child("mac").attribute("address").as_string();
        if (type != "network" && type != "bridge") {
            out.push_back(
                fmt::format("interface {}: of type '{}' (a manifest says network or "
                            "bridge)",
                            mac, type));
        }
        if (i.child("vlan") || i.child("bandwidth") || i.child("virtualport") ||
            i.child("filterref")) {
            out.push_back(
                fmt::format("interface {}: VLAN, bandwidth, virtualport or filter "
                            "settings",
                            mac));
        }
    }
    int serials = 0;
    for (auto s : devices.children("serial")) {
        const std::string type = s.attribute("type").as_string();
        if (++serials > 1 || (type != "pty" && type != "file")) {
            out.push_back(fmt::format("serial port of type '{}'", type));
        }
    }
    int graphics = 0;
    for (auto g : devices.children("graphics")) {
        const std::string listen = g.attribute("listen").as_string("127.0.0.1");
        if (++graphics > 1) {
            out.push_back(fmt::format("a second <graphics> ({})", g.attribute("type").as_string()));
        } else if (listen != "127.0.0.1" && listen != "localhost") {
            out.push_back(
                fmt::format("graphics listening on {} (a manifest's listens on "
                            "127.0.0.1)",
                            listen));
        }
    }
    return gaps;
}

XmlGaps network_gaps(const std::string& xml) {
    XmlGaps gaps;
    auto doc = parse_xml(xml, "network");
    auto net = doc.child("network");
    auto& out = gaps.left_out;
    if (auto forward = net.child("forward")) {
        const std::string mode = forward.attribute("mode").as_string("nat");
        if (mode != "nat" && mode != "route" && mode != "open" && mode != "bridge") {
            gaps.unrepresentable = fmt::format(
                "forward mode '{}' (a manifest says nat, route, isolated, open or "
                "bridge)",
                mode);
            return gaps;
        }
        if (mode == "bridge" && !net.child("bridge")) {
            gaps.unrepresentable = "forward mode 'bridge' without a <bridge> (a macvtap network)";
            return gaps;
        }
        for (auto c : forward.children()) {
            if (c.type() != pugi::node_element) continue;
            out.push_back(is(c, "nat") ? "the NAT address or port range"
                                       : fmt::format("<forward><{}>", c.name()));
        }
        if (forward.attribute("dev")) {
            out.push_back(fmt::format("forward dev='{}'", forward.attribute("dev").as_string()));
        }
    }
    unknown_children(
        net, {"name", "uuid", "metadata", "forward", "bridge", "mtu", "mac", "domain", "dns", "ip"},
        "element", out);
    if (auto domain = net.child("domain"); domain && domain.attribute("localOnly"))
        out.push_back("domain localOnly");
    if (auto dns = net.child("dns")) {
        if (dns.attribute("enable") || dns.attribute("forwardPlainNames"))
            out.push_back("<dns> enable/forwardPlainNames");
        unknown_children(dns, {"host"}, "DNS record", out);
    }
    int v4 = 0, v6 = 0;
    for (auto ip : net.children("ip")) {
        const std::string address = ip.attribute("address").as_string();
        const bool six = std::strcmp(ip.attribute("family").as_string(), "ipv6") == 0 ||
                         address.find(':') != std::string::npos;
        if (++(six ? v6 : v4) > 1) {
            out.push_back(fmt::format("a second {} subnet ({})", six ? "IPv6" : "IPv4", address));
        }
        unknown_children(ip, {"dhcp"}, "element of <ip>", out);
        auto dhcp = ip.child("dhcp");
        unknown_children(dhcp, {"range", "host"}, "DHCP element", out);
        if (dhcp.child("range").child("lease")) out.push_back("the DHCP lease time");
        if (six && dhcp.child("host")) out.push_back("IPv6 DHCP hosts");
    }
    return gaps;
}

XmlGaps pool_gaps(const std::string& xml) {
    XmlGaps gaps;
    auto doc = parse_xml(xml, "pool");
    const std::string type = doc.child("pool").attribute("type").as_string();
    if (type != "dir") {
        gaps.unrepresentable =
            fmt::format("a pool of type '{}' (virtform manages directory pools)", type);
    }
    return gaps;
}

}  // namespace virtform::libvirt
