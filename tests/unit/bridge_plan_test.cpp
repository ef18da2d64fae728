// Bridges: manifest rules, plan against live netlink state, ordering with libvirt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_provider.h"
#include "virtform/manifest.h"
#include "virtform/plan.h"
#include "virtform/render.h"

namespace virtform {
namespace {

using testing::FakeProvider;
using ::testing::HasSubstr;

Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

const std::string kLab = R"(lab: br-demo
bridges:
  br0:
    ports: [ens33]
    take_over_addresses: ens33
    stp: {enabled: true, forward_delay: 4, priority: 4096}
    mtu: 1500
networks:
  lan: {mode: bridge, bridge: br0}
vms:
  web: {nics: [{bridge: br0}], kernel: /k}
)";

Live host_with_uplink() {
    Live live;
    live.interfaces["eth0"] = {"eth0", "", "", {*Cidr::parse("10.0.2.15/24")}};
    live.interfaces["ens33"] = {"ens33", "veth", "", {*Cidr::parse("192.168.80.138/24")}};
    for (const auto& [n, i] : live.interfaces) live.host_interfaces.insert(n);
    return live;
}

std::size_t index_of(const Plan& plan, const std::string& id) {
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        if (plan.actions[i].id.str() == id) return i;
    }
    ADD_FAILURE() << id;
    return 0;
}

TEST(BridgeManifest, Loads) {
    const Desired d = load(kLab);
    const Bridge& br = d.bridges.at("br0");
    EXPECT_EQ(br.ports, std::vector<std::string>{"ens33"});
    EXPECT_TRUE(br.stp);
    EXPECT_EQ(br.forward_delay_cs, 400u);
    EXPECT_EQ(br.priority, 4096);
    EXPECT_EQ(br.take_over, "ens33");
}

TEST(BridgeManifest, Errors) {
    auto err = [](const std::string& text) {
        try {
            load(text);
        } catch (const ValidationError& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_THAT(err("lab: x\nbridges:\n  br0: {take_over_addresses: ens33}\n"),
                HasSubstr("lab.yaml:3:30: error: 'take_over_addresses' of bridge 'br0' names "
                          "'ens33', which must also be listed in its 'ports'"));
    EXPECT_THAT(err("lab: x\nbridges:\n  br0: {ports: [a]}\n  br1: {ports: [a]}\n"),
                HasSubstr("port 'a' of bridge 'br1' is also a port of bridge 'br0'"));
    EXPECT_THAT(err("lab: x\nbridges:\n  bridge-name-too-long: {}\n"),
                HasSubstr("Linux allows at most 15"));
    EXPECT_THAT(err("lab: x\nbridges:\n  br0: {stp: {enabled: true, forward_delay: 99}}\n"),
                HasSubstr("'forward_delay' of the STP of bridge 'br0' must be a number of seconds "
                          "between 2 and 30"));
    EXPECT_THAT(err("lab: x\nbridges:\n  br0: {}\nnetworks:\n  n: {bridge: br0, ipv4: {address: "
                    "10.0.0.1/24}}\n"),
                HasSubstr("use mode: bridge"));
}

TEST(BridgePlan, BridgeFirstThenNetworkAndVmDeletedInReverse) {
    FakeProvider host("br-demo");
    host.live = host_with_uplink();
    const Desired desired = load(kLab);
    const Plan plan = make_plan(desired, host.read());
    ASSERT_EQ(plan.actions.size(), 3u);
    EXPECT_LT(index_of(plan, "bridge.br0"), index_of(plan, "network.lan"));
    EXPECT_THAT(plan.actions[index_of(plan, "vm.web")].depends_on,
                ::testing::Contains(index_of(plan, "bridge.br0")));
    ASSERT_TRUE(execute(plan, host).ok());
    Desired nothing;
    nothing.lab = "br-demo";
    const Plan down = make_plan(nothing, host.read());
    EXPECT_LT(index_of(down, "network.lan"), index_of(down, "bridge.br0"));
    EXPECT_LT(index_of(down, "vm.web"), index_of(down, "bridge.br0"));
}

TEST(BridgePlan, TakeOverDoneIsNoChange) {
    Live live = host_with_uplink();
    Bridge br = load(kLab).bridges.at("br0");
    br.owner = "br-demo";
    br.take_over.reset();  // the reader never knows about take-over
    br.addresses = {*Cidr::parse("192.168.80.138/24")};
    live.bridges["br0"] = br;
    live.interfaces["ens33"].addresses.clear();
    live.interfaces["ens33"].master = "br0";
    live.interfaces["br0"] = {"br0", "bridge", "", br.addresses};
    const std::string only_bridge = kLab.substr(0, kLab.find("networks:"));
    EXPECT_TRUE(make_plan(load(only_bridge), live).empty())
        << render_plan_text(make_plan(load(only_bridge), live));
    // The port got its address back: the take-over is planned again.
    live.interfaces["ens33"].addresses = {*Cidr::parse("192.168.80.138/24")};
    const Plan plan = make_plan(load(only_bridge), live);
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_EQ(plan.actions[0].changes[0].path, "take_over_addresses");
}

TEST(BridgePlan, RefusesWhatItDoesNotOwn) {
    Live live = host_with_uplink();
    live.interfaces["br0"] = {"br0", "dummy", "", {}};
    try {
        make_plan(load(kLab), live);
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_THAT(e.what(),
                    HasSubstr("bridge 'br0': the name is taken by a device of kind 'dummy'"));
    }
    Live other = host_with_uplink();
    other.bridges["br0"] = Bridge{.name = "br0"};  // unmarked bridge made by hand
    other.interfaces["br0"] = {"br0", "bridge", "", {}};
    try {
        make_plan(load(kLab), other);
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_THAT(
            e.what(),
            HasSubstr("bridge 'br0' already exists on the host and carries no virtform mark"));
    }
    Live enslaved = host_with_uplink();
    enslaved.interfaces["ens33"].master = "br9";
    try {
        make_plan(load(kLab), enslaved);
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_THAT(e.what(), HasSubstr("port 'ens33' of bridge 'br0' is already a port of 'br9'"));
    }
}

TEST(BridgePlan, PortsAndStpAreLive) {
    FakeProvider host("br-demo");
    host.live = host_with_uplink();
    host.live.interfaces["veth1"] = {"veth1", "veth", "", {}};
    const std::string simple = "lab: br-demo\nbridges:\n  br0: {ports: [ens33]}\n";
    ASSERT_TRUE(execute(make_plan(load(simple), host.read()), host).ok());
    const Plan plan = make_plan(
        load("lab: br-demo\nbridges:\n  br0: {ports: [ens33, veth1], stp: true}\n"), host.read());
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_EQ(plan.actions[0].cls, ChangeClass::live);
    EXPECT_THAT(render_plan_text(plan), HasSubstr("+ port[veth1]"));
    EXPECT_THAT(render_plan_text(plan), HasSubstr("~ stp"));
}

}  // namespace
}  // namespace virtform
