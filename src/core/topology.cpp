#include "virtform/topology.h"

#include <fmt/format.h>

#include <algorithm>

#include "virtform/diag.h"

namespace virtform {

namespace {

using Type = TopologyNode::Type;

std::string subnet_text(const IpConfig& ip) {
    Cidr subnet{ip.address.address.masked(ip.address.prefix), ip.address.prefix};
    return fmt::format("subnet {}, gateway {}", subnet.str(), ip.address.address.str());
}

std::string addresses_line(const std::vector<Cidr>& addrs) {
    std::vector<std::string> parts;
    for (const auto& a : addrs) parts.push_back(a.str());
    return fmt::format("{}", fmt::join(parts, ", "));
}

class Builder {
public:
    Builder(const Desired& desired, const TopologyLive* host) : d_(desired), h_(host) {
        t_.lab = desired.lab;
        t_.live = host != nullptr && host->live != nullptr;
    }

    Topology build() {
        add_uplink();
        for (const auto& [name, b] : d_.bridges) add_bridge(b);
        for (const auto& [name, n] : d_.networks) add_network(n);
        for (const auto& [name, vm] : d_.vms) add_vm(vm);
        return std::move(t_);
    }

private:
    const Live* live() const { return t_.live ? h_->live : nullptr; }

    TopologyNode& add(Type type, std::string id, std::string title) {
        TopologyNode n;
        n.type = type;
        n.id = std::move(id);
        n.title = std::move(title);
        t_.nodes.push_back(std::move(n));
        return t_.nodes.back();
    }

    void drift(TopologyNode& n, const ResourceId& id) {
        if (!t_.live) return;
        if (auto it = h_->drift.find(id.str()); it != h_->drift.end()) n.drift = it->second;
    }

    /// The host's way out: the default route's interface. After a take-over
    /// the route is on the bridge: the uplink is then the port it took over.
    void add_uplink() {
        std::string dev = t_.live ? h_->uplink : "";
        if (auto b = d_.bridges.find(dev); b != d_.bridges.end() && b->second.take_over) {
            dev = *b->second.take_over;
        }
        if (dev.empty() && !t_.live) {
            for (const auto& [name, b] : d_.bridges) {
                if (b.take_over) {
                    dev = *b.take_over;
                    break;
                }
            }
        }
        uplink_ = dev;
        auto& n = add(Type::uplink, "uplink", dev.empty() ? "host uplink" : "host uplink " + dev);
        if (const Live* l = live(); l != nullptr && !dev.empty()) {
            if (auto it = l->interfaces.find(dev); it != l->interfaces.end()) {
                if (!it->second.addresses.empty())
                    n.lines.push_back(addresses_line(it->second.addresses));
                if (!it->second.master.empty()) n.lines.push_back("port of " + it->second.master);
            }
        }
    }

    /// The node an interface name stands for: the uplink, a manifest bridge,
    /// or a host interface outside the manifest (added once).
    std::string interface_node(const std::string& name) {
        if (!uplink_.empty() && name == uplink_) return "uplink";
        if (d_.bridges.count(name) != 0) return "bridge:" + name;
        const std::string id = "interface:" + name;
        if (t_.find(id) == nullptr) {
            auto& n = add(Type::interface, id, "host interface " + name);
            if (const Live* l = live())
                n.state = l->interfaces.count(name) != 0 ? "present" : "absent";
        }
        return id;
    }

    void add_bridge(const Bridge& b) {
        auto& n = add(Type::bridge, "bridge:" + b.name, "bridge " + b.name);
        const std::string id = n.id;
        const Live* l = live();
        const Bridge* lb = nullptr;
        if (l != nullptr) {
            auto it = l->bridges.find(b.name);
            lb = it == l->bridges.end() ? nullptr : &it->second;
            n.state = lb == nullptr ? "absent" : lb->up ? "up" : "down";
        }
        // The addresses: what the host holds, else what the manifest says.
        const auto& addrs = lb != nullptr && !lb->addresses.empty() ? lb->addresses : b.addresses;
        if (b.take_over) {
            n.lines.push_back(addrs.empty()
                                  ? "takes over the addresses of " + *b.take_over
                                  : "took over " + addresses_line(addrs) + " from " + *b.take_over);
        } else if (!addrs.empty()) {
            n.lines.push_back(addresses_line(addrs));
        }
        if (b.stp) n.lines.push_back("STP on");
        drift(n, {Kind::bridge, b.name});
        for (const auto& port : b.ports) {
            t_.edges.push_back({id, interface_node(port),
                                b.take_over == port ? "port (addresses taken over)" : "port"});
        }
    }

    void add_network(const Network& net) {
        auto& n = add(Type::network, "network:" + net.name, "network " + net.name);
        const std::string id = n.id;
        n.lines.push_back(std::string("mode ") + to_string(net.mode));
        if (net.ipv4) n.lines.push_back(subnet_text(*net.ipv4));
        if (net.ipv6) n.lines.push_back(subnet_text(*net.ipv6));
        if (const Live* l = live()) {
            auto it = l->networks.find(net.name);
            n.state = it == l->networks.end() ? "absent"
                      : it->second.active     ? "active"
                                              : "inactive";
            if (it != l->networks.end() && it->second.bridge && net.mode != NetworkMode::bridge) {
                n.lines.push_back("on " + *it->second.bridge);
            }
        } else if (net.bridge && net.mode != NetworkMode::bridge) {
            n.lines.push_back("on " + *net.bridge);
        }
        drift(n, {Kind::network, net.name});
        if (net.mode == NetworkMode::nat || net.mode == NetworkMode::route) {
            t_.edges.push_back({id, "uplink", net.mode == NetworkMode::nat ? "NAT" : "routed"});
        } else if (net.mode == NetworkMode::bridge && net.bridge) {
            t_.edges.push_back({id, interface_node(*net.bridge), "bridged"});
        }
    }

    /// The node a NIC attaches to: a lab network, a manifest bridge, or a
    /// network or interface outside the manifest.
    std::string nic_target(const Nic& nic) {
        if (nic.type == Nic::Type::bridge) return interface_node(nic.source);
        if (d_.networks.count(nic.source) != 0) return "network:" + nic.source;
        const std::string id = "network:" + nic.source;
        if (t_.find(id) == nullptr) {
            auto& n = add(Type::network, id, "network " + nic.source);
            n.lines.push_back("not in the manifests");
            if (const Live* l = live()) {
                auto it = l->networks.find(nic.source);
                n.state = it == l->networks.end() ? "absent"
                          : it->second.active     ? "active"
                                                  : "inactive";
            }
        }
        return id;
    }

    void add_vm(const Vm& vm) {
        auto& n = add(Type::vm, "vm:" + vm.name, "vm " + vm.name);
        const std::string id = n.id;
        const Vm* lv = nullptr;
        std::vector<VmAddress> addrs;
        if (const Live* l = live()) {
            auto it = l->vms.find(vm.name);
            lv = it == l->vms.end() ? nullptr : &it->second;
            n.state = lv == nullptr ? "absent" : to_string(lv->state);
            if (lv != nullptr && lv->restart_pending) n.lines.push_back("restart pending");
            if (auto a = h_->addresses.find(vm.name); a != h_->addresses.end()) addrs = a->second;
        } else {
            n.lines.push_back(std::string("declared ") + to_string(vm.state));
        }
        n.lines.push_back(fmt::format("{} vCPU, {}", vm.cpus, format_size(vm.memory)));
        drift(n, {Kind::vm, vm.name});
        std::vector<std::string> shown;
        for (std::size_t i = 0; i < vm.nics.size(); ++i) {
            const Nic& nic = vm.nics[i];
            // The live NIC at the same place knows the MAC libvirt generated.
            std::optional<std::string> mac = nic.mac;
            if (!mac && lv != nullptr && i < lv->nics.size()) mac = lv->nics[i].mac;
            std::string label = fmt::format("nic{} {}", i, nic.model);
            if (mac) label += "\n" + *mac;
            for (const auto& a : addrs) {
                if (mac && a.mac == *mac) {
                    label += "\n" + a.address;
                    shown.push_back(a.address);
                }
            }
            t_.edges.push_back({id, nic_target(nic), label});
        }
        for (const auto& a : addrs) {
            if (std::find(shown.begin(), shown.end(), a.address) == shown.end())
                t_.nodes[index_of(id)].lines.push_back(a.address);
        }
    }

    std::size_t index_of(const std::string& id) const {
        for (std::size_t i = 0; i < t_.nodes.size(); ++i) {
            if (t_.nodes[i].id == id) return i;
        }
        return 0;
    }

    const Desired& d_;
    const TopologyLive* h_;
    Topology t_;
    std::string uplink_;
};

/// Every line of a node, as drawn.
std::vector<std::string> node_lines(const TopologyNode& n) {
    std::vector<std::string> lines{n.title};
    lines.insert(lines.end(), n.lines.begin(), n.lines.end());
    if (!n.state.empty()) lines.push_back("state: " + n.state);
    if (!n.drift.empty()) lines.push_back("drift: " + n.drift);
    for (auto& l : lines) l = terminal_escape(l);  // no control character reaches any output
    return lines;
}

/// An edge label as drawn: each line escaped for a terminal's sake (no
/// control character reaches any output), the line breaks kept.
std::string edge_label(const std::string& label) {
    std::string out, line;
    bool first = true;
    for (std::size_t i = 0; i <= label.size(); ++i) {
        if (i == label.size() || label[i] == '\n') {
            out += (first ? "" : "\n") + terminal_escape(line);
            first = false;
            line.clear();
        } else {
            line += label[i];
        }
    }
    return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
    return out;
}

std::string dot_id(const std::string& id) {
    return dot_quote(terminal_escape(id));
}

const char* dot_shape(Type type) {
    switch (type) {
        case Type::uplink:
            return "shape=house, fillcolor=\"#e8e8e8\"";
        case Type::interface:
            return "shape=box, style=\"rounded,filled,dashed\", fillcolor=\"#f4f4f4\"";
        case Type::bridge:
            return "shape=box, fillcolor=\"#fff2cc\"";
        case Type::network:
            return "shape=ellipse, fillcolor=\"#dae8fc\"";
        case Type::vm:
            return "shape=box3d, fillcolor=\"#d5e8d4\"";
    }
    return "";
}

}  // namespace

const TopologyNode* Topology::find(const std::string& id) const {
    for (const auto& n : nodes) {
        if (n.id == id) return &n;
    }
    return nullptr;
}

Topology build_topology(const Desired& desired, const TopologyLive* host) {
    return Builder(desired, host).build();
}

std::string dot_quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            continue;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string mermaid_escape(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        std::size_t len = utf8_decode(text, i, cp);
        if (len == 0) {
            cp = 0xfffd;
            len = 1;
        }
        if (cp == '\n') {
            out += "<br/>";
        } else if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
                   (cp >= '0' && cp <= '9') || cp == ' ' || cp == '.' || cp == ',' || cp == '-' ||
                   cp == '_' || cp == '/' || cp == ':') {
            out += static_cast<char>(cp);
        } else {
            out += fmt::format("#{};", static_cast<unsigned long>(cp));  // mermaid's entity code
        }
        i += len;
    }
    return out;
}

std::string render_dot(const Topology& t) {
    std::string out = fmt::format(
        "digraph {} {{\n  graph [rankdir=BT, label={}, labelloc=t, fontname=\"Helvetica\"];\n"
        "  node [style=filled, fontname=\"Helvetica\", fontsize=11];\n"
        "  edge [fontname=\"Helvetica\", fontsize=9, dir=none];\n",
        dot_quote("lab " + t.lab),
        dot_quote(terminal_escape(
            fmt::format("lab {}{}", t.lab, t.live ? "" : " (from the manifests)"))));
    for (const auto& n : t.nodes) {
        std::string attrs = dot_shape(n.type);
        if (!n.drift.empty()) attrs += ", color=\"#cc0000\", penwidth=2";
        if (n.state == "absent") attrs += ", style=\"filled,dashed\"";
        out += fmt::format("  {} [label={}, {}, id={}];\n", dot_id(n.id),
                           dot_quote(join_lines(node_lines(n))), attrs, dot_id(n.id));
    }
    for (const auto& e : t.edges) {
        out += fmt::format("  {} -> {} [label={}];\n", dot_id(e.from), dot_id(e.to),
                           dot_quote(edge_label(e.label)));
    }
    return out + "}\n";
}

std::string render_mermaid(const Topology& t) {
    std::map<std::string, std::string> ids;
    for (const auto& n : t.nodes) ids[n.id] = fmt::format("n{}", ids.size());
    std::string out = "flowchart BT\n";
    for (const auto& n : t.nodes) {
        const std::string label = mermaid_escape(join_lines(node_lines(n)));
        const std::string& id = ids[n.id];
        switch (n.type) {
            case Type::network:
                out += fmt::format("  {}([\"{}\"])\n", id, label);
                break;
            case Type::uplink:
                out += fmt::format("  {}[/\"{}\"\\]\n", id, label);
                break;
            default:
                out += fmt::format("  {}[\"{}\"]\n", id, label);
        }
        if (!n.drift.empty()) out += fmt::format("  style {} stroke:#c00,stroke-width:2px\n", id);
    }
    for (const auto& e : t.edges) {
        const std::string label = mermaid_escape(edge_label(e.label));
        if (label.empty())
            out += fmt::format("  {} --- {}\n", ids[e.from], ids[e.to]);
        else
            out += fmt::format("  {} ---|\"{}\"| {}\n", ids[e.from], label, ids[e.to]);
    }
    return out;
}

std::string render_html(const Topology& t, const std::string& svg) {
    // The SVG from Graphviz starts with an XML declaration and a DOCTYPE, which
    // do not belong inside HTML: inline from its <svg element on.
    const auto at = svg.find("<svg");
    const std::string inline_svg = at == std::string::npos ? svg : svg.substr(at);
    const std::string title = html_escape(terminal_escape("lab " + t.lab));
    return fmt::format(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">\n"
        "<title>{}</title>\n<style>\nbody {{ font-family: Helvetica, Arial, sans-serif; margin: "
        "1em; }}\nsvg {{ max-width: 100%; height: auto; }}\n</style>\n</head>\n<body>\n"
        "<h1>{}</h1>\n<p>{}</p>\n<div id=\"topology\">\n{}</div>\n</body>\n</html>\n",
        title, title,
        t.live ? "Drawn with the host's state: VM states, addresses, drift (red)."
               : "Drawn from the manifests alone (--offline).",
        inline_svg);
}

}  // namespace virtform
