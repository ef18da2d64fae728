// `virtform graph`: the lab's topology as DOT, mermaid, SVG or one HTML page.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "common.h"
#include "multi_host.h"
#include "virtform/adapters/graphviz/svg.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/adapters/host/hosts_file.h"
#include "virtform/topology.h"

namespace virtform::cli {

namespace {

/// What `status` calls drift, per object: changes a plan would make.
std::map<std::string, std::string> drift_by_object(const Plan& plan) {
    std::map<std::string, std::string> out;
    for (const auto& a : plan.actions) {
        const std::string key = a.id.str();
        if (a.type == ActionType::create)
            out[key] = "missing";
        else if (a.type == ActionType::destroy)
            out[key] = "not in the manifests";
        else
            out[key] =
                fmt::format("{} change{}", a.changes.size(), a.changes.size() == 1 ? "" : "s");
    }
    for (const auto& d : plan.drift) {
        const std::string key = d.substr(0, d.find(' '));
        out[key] = out.count(key) != 0 ? out[key] + ", changed outside" : "changed outside";
    }
    return out;
}

std::string topology_json(const Topology& t) {
    nlohmann::json nodes = nlohmann::json::array(), edges = nlohmann::json::array();
    for (const auto& n : t.nodes) {
        nodes.push_back({{"id", n.id},
                         {"title", n.title},
                         {"lines", n.lines},
                         {"state", n.state},
                         {"drift", n.drift}});
    }
    for (const auto& e : t.edges)
        edges.push_back({{"from", e.from}, {"to", e.to}, {"label", e.label}});
    return nlohmann::json{{"format_version", "1"},
                          {"lab", t.lab},
                          {"live", t.live},
                          {"nodes", nodes},
                          {"edges", edges}}
               .dump(2) +
           "\n";
}

/// The graph of one host's objects (`local`: with this host's uplink).
Topology host_topology(const GlobalOptions& g, const Desired& desired, const GraphOptions& o,
                       bool local) {
    Topology topology;
    std::unique_ptr<HostProvider> provider;
    Live live;
    if (!o.offline) {
        // Unreachable host: the manifests alone, said on stderr and in the title.
        try {
            provider = connect(g, desired);
            live = provider->read();
        } catch (const AdapterError& e) {
            std::cerr << fmt::format("warning: {}; drawing from the manifests alone\n", e.what());
            provider.reset();
        }
    }
    if (!provider) {
        topology = build_topology(desired, nullptr);
    } else {
        TopologyLive host;
        host.live = &live;
        if (local) host.uplink = host::default_route_interface();
        host.addresses = discover_addresses(g, desired);
        try {
            PlanOptions popts;
            popts.last_applied = host::read_applied_record(g.uri, desired.lab);
            host.drift = drift_by_object(make_plan(desired, live, popts));
        } catch (const ValidationError& e) {
            std::cerr << e.diagnostics().str();  // drawn without drift
        }
        topology = build_topology(desired, &host);
    }
    return topology;
}

}  // namespace

int cmd_graph(const GlobalOptions& g, const ManifestOptions& m, const GraphOptions& o, bool json) {
    const Desired desired = load(m);
    Topology topology;
    if (desired.hosts.empty()) {
        topology = host_topology(g, desired, o, true);
    } else {
        // Each host's graph, its objects labelled with their host, drawn as one.
        topology.lab = desired.lab;
        topology.live = !o.offline;
        for (const auto& part : host_parts(g, desired)) {
            GlobalOptions hg = g;
            hg.uri = part.uri;
            Topology t = host_topology(hg, part.desired, o, part.name == kLocalHost);
            topology.live = topology.live && t.live;
            // Another host's way out is its own, not this host's uplink.
            const std::string uplink = part.name == kLocalHost ? "uplink" : "uplink@" + part.name;
            for (auto& e : t.edges) {
                if (e.from == "uplink") e.from = uplink;
                if (e.to == "uplink") e.to = uplink;
            }
            for (auto& n : t.nodes) {
                if (n.type == TopologyNode::Type::uplink && part.name != kLocalHost) {
                    n.id = uplink;
                    n.title = "uplink of host " + part.name;
                }
                if (topology.find(n.id) != nullptr) continue;
                if (n.type != TopologyNode::Type::uplink && n.type != TopologyNode::Type::interface)
                    n.lines.insert(n.lines.begin(), "host " + part.name);
                topology.nodes.push_back(std::move(n));
            }
            for (auto& e : t.edges) topology.edges.push_back(std::move(e));
        }
    }
    if (json) {
        std::cout << topology_json(topology);
        return 0;
    }
    std::string text;
    if (o.format == "dot") {
        text = render_dot(topology);
    } else if (o.format == "mermaid") {
        text = render_mermaid(topology);
    } else {
        const std::string svg = graphviz::dot_to_svg(render_dot(topology));
        text = o.format == "svg" ? svg : render_html(topology, svg);
    }
    emit(text, o.out);
    return 0;
}

}  // namespace virtform::cli
