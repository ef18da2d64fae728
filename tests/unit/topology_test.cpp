// The topology model of `virtform graph` (issue 11) and its DOT, mermaid and
// HTML renderings, with labels escaped for each language.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "virtform/manifest.h"
#include "virtform/topology.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* kLab = R"(lab: topo
bridges:
  vftbr0:
    ports: [eth9]
    take_over_addresses: eth9
networks:
  nat1:
    mode: nat
    ipv4: {address: 10.40.0.1/24}
  iso1:
    mode: isolated
  brnet:
    mode: bridge
    bridge: vftbr0
vms:
  web1:
    nics: [{network: nat1, mac: "52:54:00:00:40:10"}, {bridge: vftbr0}]
  db1:
    state: stopped
    nics: [{network: iso1}]
)";

Desired lab() {
    return load_manifests({{"lab.yaml", kLab}});
}

bool has_edge(const Topology& t, const std::string& from, const std::string& to) {
    for (const auto& e : t.edges) {
        if (e.from == from && e.to == to) return true;
    }
    return false;
}

TEST(Topology, OfflineFromTheManifests) {
    const Topology t = build_topology(lab(), nullptr);
    EXPECT_FALSE(t.live);
    for (const char* id : {"uplink", "bridge:vftbr0", "network:nat1", "network:iso1",
                           "network:brnet", "vm:web1", "vm:db1"}) {
        EXPECT_NE(t.find(id), nullptr) << id;
    }
    EXPECT_EQ(t.find("uplink")->title, "host uplink eth9");  // the taken-over port
    EXPECT_TRUE(has_edge(t, "bridge:vftbr0", "uplink"));
    EXPECT_TRUE(has_edge(t, "network:nat1", "uplink"));
    EXPECT_FALSE(has_edge(t, "network:iso1", "uplink"));
    EXPECT_TRUE(has_edge(t, "network:brnet", "bridge:vftbr0"));
    EXPECT_TRUE(has_edge(t, "vm:web1", "network:nat1"));
    EXPECT_TRUE(has_edge(t, "vm:web1", "bridge:vftbr0"));
    EXPECT_TRUE(has_edge(t, "vm:db1", "network:iso1"));
    const auto* nat = t.find("network:nat1");
    EXPECT_THAT(nat->lines, ::testing::Contains("mode nat"));
    EXPECT_THAT(nat->lines, ::testing::Contains("subnet 10.40.0.0/24, gateway 10.40.0.1"));
    EXPECT_THAT(t.find("vm:db1")->lines, ::testing::Contains("declared stopped"));
    EXPECT_EQ(t.find("vm:db1")->state, "");
}

TEST(Topology, LiveStateAddressesAndDrift) {
    const Desired d = lab();
    Live live;
    live.bridges["vftbr0"].name = "vftbr0";
    live.bridges["vftbr0"].addresses = {*Cidr::parse("192.168.7.5/24")};
    live.networks["nat1"].active = true;
    live.networks["iso1"].active = false;
    Vm web = d.vms.at("web1");
    web.state = VmState::running;
    web.nics[1].mac = "52:54:00:aa:00:01";
    live.vms["web1"] = web;
    live.interfaces["eth9"] = {"eth9", "", "vftbr0", {}};
    TopologyLive host;
    host.live = &live;
    host.uplink = "vftbr0";  // after the take-over the default route is on the bridge
    host.addresses["web1"] = {{"52:54:00:00:40:10", "10.40.0.10/24"},
                              {"52:54:00:aa:00:01", "192.168.7.20/24"}};
    host.drift["network.iso1"] = "2 changes";
    const Topology t = build_topology(d, &host);
    EXPECT_TRUE(t.live);
    EXPECT_EQ(t.find("uplink")->title, "host uplink eth9");
    EXPECT_THAT(t.find("bridge:vftbr0")->lines,
                ::testing::Contains("took over 192.168.7.5/24 from eth9"));
    EXPECT_EQ(t.find("vm:web1")->state, "running");
    EXPECT_EQ(t.find("vm:db1")->state, "absent");
    EXPECT_EQ(t.find("network:iso1")->state, "inactive");
    EXPECT_EQ(t.find("network:iso1")->drift, "2 changes");
    bool nic0 = false, nic1 = false;
    for (const auto& e : t.edges) {
        if (e.from != "vm:web1") continue;
        nic0 |= e.label == "nic0 virtio\n52:54:00:00:40:10\n10.40.0.10/24";
        nic1 |= e.label == "nic1 virtio\n52:54:00:aa:00:01\n192.168.7.20/24";  // generated MAC
    }
    EXPECT_TRUE(nic0);
    EXPECT_TRUE(nic1);
    const std::string dot = render_dot(t);
    EXPECT_THAT(dot, HasSubstr("drift: 2 changes"));
    EXPECT_THAT(dot, HasSubstr("color=\"#cc0000\""));
}

TEST(Topology, EveryLabelIsEscapedForItsLanguage) {
    EXPECT_EQ(dot_quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    EXPECT_EQ(html_escape("<a href='x'>&\"</a>"),
              "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    EXPECT_EQ(mermaid_escape("a\"]-->x<b>#\n\xc3\xa9"), "a#34;#93;--#62;x#60;b#62;#35;<br/>#233;");

    // Names the loader would refuse still cannot break out of any output.
    Desired d;
    d.lab = "x\"y";
    Vm vm;
    vm.name = "evil\"];<script>alert(1)</script>\\N\x1b[31m";
    Nic nic;
    nic.source = "net\"-->";
    vm.nics.push_back(nic);
    d.vms[vm.name] = vm;
    const Topology t = build_topology(d, nullptr);
    const std::string dot = render_dot(t);
    EXPECT_THAT(dot, HasSubstr("evil\\\"];<script>alert(1)</script>\\\\N\\\\x1b[31m"));
    EXPECT_THAT(dot, Not(HasSubstr("\x1b")));
    const std::string mermaid = render_mermaid(t);
    EXPECT_THAT(mermaid, Not(HasSubstr("<script>")));
    EXPECT_THAT(mermaid, Not(HasSubstr("evil\"")));
    EXPECT_THAT(mermaid, HasSubstr("evil#34;#93;#59;#60;script#62;"));
    const std::string html = render_html(t, "<?xml version=\"1.0\"?>\n<svg>inline</svg>");
    EXPECT_THAT(html, HasSubstr("<title>lab x&quot;y</title>"));
    EXPECT_THAT(html, HasSubstr("<svg>inline</svg>"));
    EXPECT_THAT(html, Not(HasSubstr("<?xml")));
    EXPECT_THAT(html, Not(HasSubstr("src=")));  // nothing fetched
}

TEST(Topology, MermaidShapesAndEdges) {
    const std::string m = render_mermaid(build_topology(lab(), nullptr));
    EXPECT_THAT(m, HasSubstr("flowchart BT\n"));
    EXPECT_THAT(m, HasSubstr("([\"network nat1<br/>mode nat"));
    EXPECT_THAT(m, HasSubstr("---|\"NAT\"|"));
}

}  // namespace
}  // namespace virtform
