#pragma once
/// The lab's topology as a graph (`virtform graph`): the host uplink, the
/// manifest's bridges, libvirt networks and VMs, and the VMs' NICs as edges.
/// Built from the manifests, with the host's state drawn in when the caller
/// has read it. Pure: rendering to SVG happens in the graphviz adapter.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "virtform/access.h"
#include "virtform/model.h"

namespace virtform {

struct TopologyNode {
    enum class Type { uplink, interface, bridge, network, vm };
    Type type = Type::vm;
    std::string id;     ///< unique: "uplink", "bridge:br0", "network:labnat", "vm:web1"
    std::string title;  ///< first line: "vm web1"
    std::vector<std::string> lines;  ///< further lines: mode, subnet, state, addresses
    /// "running", "stopped", "active", "inactive", "absent"; "" when unknown (offline).
    std::string state;
    std::string drift;  ///< "" when in sync or unknown
};

struct TopologyEdge {
    std::string from, to;  ///< node ids
    std::string label;     ///< "nic0 virtio 52:54:00:..:10 10.0.0.10", "NAT", "port"
};

struct Topology {
    std::string lab;
    bool live = false;  ///< drawn with the host's state
    std::vector<TopologyNode> nodes;
    std::vector<TopologyEdge> edges;
    const TopologyNode* find(const std::string& id) const;
};

/// What the caller read from the host for the graph.
struct TopologyLive {
    const Live* live = nullptr;
    std::string uplink;  ///< the interface of the host's default route; "" when none
    std::map<std::string, std::vector<VmAddress>> addresses;  ///< by VM
    std::map<std::string, std::string> drift;                 ///< "network.x" -> "2 changes"
};

/// The lab's graph; `host` null draws from the manifests alone (--offline).
Topology build_topology(const Desired& desired, const TopologyLive* host);

/// Graphviz DOT. Every id and label is a quoted DOT string (dot_quote).
std::string render_dot(const Topology& topology);
/// A mermaid flowchart. Node ids are generated; labels are escaped (mermaid_escape).
std::string render_mermaid(const Topology& topology);
/// One self-contained HTML page holding `svg` inline (no script, no external
/// fetch): the title and a legend escaped with html_escape.
std::string render_html(const Topology& topology, const std::string& svg);

/// `text` as a DOT double-quoted string, quotes included: '"' and '\' escaped,
/// line breaks as \n (DOT's centred line break).
std::string dot_quote(std::string_view text);
/// `text` for inside a mermaid "quoted label": '"', '<', '>', '&', '#' and the
/// like as mermaid's #code; entities, line breaks as <br/>.
std::string mermaid_escape(std::string_view text);

}  // namespace virtform
