// The planner, on manifests written inline and live state built by hand.
#include "virtform/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "virtform/fingerprint.h"
#include "virtform/manifest.h"
#include "virtform/render.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;

Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

/// Live state as if `text` had been applied by lab `owner`.
Live applied(const std::string& text, const std::string& owner = "demo") {
    Live live;
    for (auto [name, n] : load(text).networks) {
        n.owner = owner;
        n.where = {};
        live.networks[name] = n;
    }
    return live;
}

const char* kLab = R"(lab: demo
networks:
  labnat:
    bridge: virbr10
    ipv4:
      address: 192.168.100.1/24
      dhcp:
        range: 192.168.100.100-192.168.100.200
        hosts: [{mac: "52:54:00:00:64:10", ip: 192.168.100.10, name: web1}]
    domain: demo.lab
)";

std::string edit(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
}

TEST(Plan, CreateListsEveryAttribute) {
    const Plan plan = make_plan(load(kLab), Live{});
    ASSERT_EQ(plan.actions.size(), 1u);
    const Action& a = plan.actions[0];
    EXPECT_EQ(a.id.str(), "network.labnat");
    EXPECT_EQ(a.type, ActionType::create);
    EXPECT_EQ(plan.to_add(), 1);
    std::vector<std::string> paths;
    for (const auto& c : a.changes) paths.push_back(c.path);
    EXPECT_THAT(paths, ::testing::Contains("ipv4.dhcp.host[52:54:00:00:64:10]"));
    EXPECT_THAT(paths, ::testing::Contains("ipv4.address"));
    const std::string text = render_plan_text(plan);
    EXPECT_THAT(text, HasSubstr("# network.labnat will be created"));
    EXPECT_THAT(text, HasSubstr("+ network \"labnat\" {"));
    EXPECT_THAT(text, HasSubstr("Plan: 1 to add, 0 to change, 0 to destroy."));
}

TEST(Plan, AppliedManifestPlansNoChanges) {
    const Plan plan = make_plan(load(kLab), applied(kLab));
    EXPECT_TRUE(plan.empty());
    EXPECT_EQ(render_plan_text(plan), "No changes. The lab matches the manifests.\n");
}

TEST(Plan, UnsetBridgeIsComputedNotAChange) {
    const std::string no_bridge = edit(kLab, "    bridge: virbr10\n", "");
    Live live = applied(kLab);  // libvirt picked virbr10
    EXPECT_TRUE(make_plan(load(no_bridge), live).empty());
}

TEST(Plan, DhcpHostChangeIsLive) {
    const std::string edited =
        edit(kLab, "ip: 192.168.100.10, name: web1", "ip: 192.168.100.11, name: web1");
    const Plan plan = make_plan(load(edited), applied(kLab));
    ASSERT_EQ(plan.actions.size(), 1u);
    const Action& a = plan.actions[0];
    EXPECT_EQ(a.type, ActionType::update);
    EXPECT_EQ(a.cls, ChangeClass::live);
    ASSERT_EQ(a.changes.size(), 1u);
    EXPECT_EQ(a.changes[0].path, "ipv4.dhcp.host[52:54:00:00:64:10]");
    EXPECT_EQ(a.changes[0].before, "ip=192.168.100.10 name=web1");
    EXPECT_EQ(a.changes[0].after, "ip=192.168.100.11 name=web1");
    EXPECT_THAT(render_plan_text(plan),
                HasSubstr("# network.labnat will be updated in place (live)"));
    EXPECT_EQ(plan.to_change(), 1);
}

TEST(Plan, AddedAndRemovedListEntries) {
    const std::string edited =
        edit(kLab, "hosts: [{mac: \"52:54:00:00:64:10\", ip: 192.168.100.10, name: web1}]",
             "hosts: [{mac: \"52:54:00:00:64:11\", ip: 192.168.100.11}]");
    const Plan plan = make_plan(load(edited), applied(kLab));
    ASSERT_EQ(plan.actions.size(), 1u);
    const auto& changes = plan.actions[0].changes;
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].path, "ipv4.dhcp.host[52:54:00:00:64:11]");
    EXPECT_FALSE(changes[0].before);
    EXPECT_EQ(changes[1].path, "ipv4.dhcp.host[52:54:00:00:64:10]");
    EXPECT_FALSE(changes[1].after);
}

TEST(Plan, AddressChangeNeedsRestartAndSaysWhy) {
    const std::string edited = edit(kLab, "192.168.100.1/24", "192.168.100.1/23");
    const Plan plan = make_plan(load(edited), applied(kLab));
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_EQ(plan.actions[0].type, ActionType::update);
    EXPECT_EQ(plan.actions[0].cls, ChangeClass::restart);
    EXPECT_THAT(plan.actions[0].reason, HasSubstr("restart of the network"));
    const std::string text = render_plan_text(plan);
    EXPECT_THAT(text, HasSubstr("requires a restart"));
    EXPECT_THAT(text, HasSubstr("~ ipv4.address"));
    EXPECT_THAT(text, HasSubstr("\"192.168.100.1/24\" -> \"192.168.100.1/23\"  # restart"));
}

TEST(Plan, ModeSwitchToHostBridgeIsReplace) {
    Live live = applied(kLab);
    live.host_interfaces.insert("br-lan");
    const Plan plan =
        make_plan(load("lab: demo\nnetworks:\n  labnat: {mode: bridge, bridge: br-lan}\n"), live);
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_EQ(plan.actions[0].type, ActionType::replace);
    EXPECT_EQ(plan.to_add(), 1);
    EXPECT_EQ(plan.to_destroy(), 1);
    EXPECT_THAT(render_plan_text(plan), HasSubstr("-/+ network \"labnat\""));
    EXPECT_THAT(render_plan_text(plan), HasSubstr("# forces replacement"));
}

TEST(Plan, StateChangesAreLive) {
    const std::string stopped =
        edit(kLab, "    domain: demo.lab\n",
             "    domain: demo.lab\n    active: false\n    autostart: false\n");
    const Plan plan = make_plan(load(stopped), applied(kLab));
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_EQ(plan.actions[0].cls, ChangeClass::live);
    EXPECT_EQ(plan.actions[0].changes.size(), 2u);
}

TEST(Plan, OwnedNetworkLeftOutIsDestroyedOthersAreNot) {
    Live live = applied(kLab);
    live.networks["old"] = live.networks["labnat"];
    live.networks["old"].name = "old";
    live.networks["old"].bridge = "virbr11";
    live.networks["default"] = Network{.name = "default", .bridge = "virbr0"};  // unmarked
    live.networks["theirs"] = live.networks["old"];
    live.networks["theirs"].name = "theirs";
    live.networks["theirs"].owner = "someone-else";
    // Another subnet: two active networks cannot share one (a plan error now).
    live.networks["theirs"].ipv4->address = *Cidr::parse("192.168.101.1/24");
    const Plan plan = make_plan(load(kLab), live);
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_EQ(plan.actions[0].type, ActionType::destroy);
    EXPECT_EQ(plan.actions[0].id.str(), "network.old");
    EXPECT_THAT(plan.actions[0].reason, HasSubstr("no longer in the manifest"));
}

TEST(Plan, UnmarkedNetworkWithTheSameNameIsRefused) {
    Live live;
    live.networks["default"] = Network{.name = "default", .bridge = "virbr0"};
    try {
        make_plan(load("lab: demo\nnetworks:\n  default: {ipv4: {address: 10.9.0.1/24}}\n"), live);
        FAIL() << "expected a refusal";
    } catch (const ValidationError& e) {
        EXPECT_EQ(
            e.diagnostics().items()[0].str(),
            "lab.yaml:3:3: error: network 'default' already exists on the host and carries no "
            "virtform mark; virtform never modifies objects its lab does not own: choose another "
            "name");
    }
    Live other = applied(kLab, "other-lab");
    try {
        make_plan(load(kLab), other);
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_THAT(e.what(), HasSubstr("belongs to lab 'other-lab'"));
    }
}

TEST(Plan, BridgeHeldByAnotherNetworkOrInterface) {
    Live live;
    live.networks["default"] = Network{.name = "default", .bridge = "virbr10"};
    EXPECT_THROW(make_plan(load(kLab), live), ValidationError);
    Live host;
    host.host_interfaces = {"lo", "eth0", "virbr10"};
    try {
        make_plan(load(kLab), host);
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_THAT(e.what(), HasSubstr("the host already has an interface 'virbr10'"));
    }
    // Bridge mode over a host bridge that does not exist.
    try {
        make_plan(load("lab: demo\nnetworks:\n  lan: {mode: bridge, bridge: br9}\n"), host);
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_THAT(e.what(), HasSubstr("the host has no interface 'br9'"));
    }
}

TEST(Plan, DeletesComeFirstAndOrderIsDeterministic) {
    Live live = applied("lab: demo\nnetworks:\n  zz: {mode: isolated}\n");
    const Plan plan = make_plan(
        load("lab: demo\nnetworks:\n  b: {mode: isolated}\n  a: {mode: isolated}\n"), live);
    ASSERT_EQ(plan.actions.size(), 3u);
    EXPECT_EQ(plan.actions[0].id.name, "zz");
    EXPECT_EQ(plan.actions[0].type, ActionType::destroy);
    EXPECT_EQ(plan.actions[1].id.name, "a");
    EXPECT_EQ(plan.actions[2].id.name, "b");
}

TEST(Plan, TargetsLimitThePlan) {
    const Plan plan =
        make_plan(load("lab: demo\nnetworks:\n  b: {mode: isolated}\n  a: {mode: isolated}\n"),
                  Live{}, PlanOptions{{ResourceId{Kind::network, "b"}}});
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_EQ(plan.actions[0].id.name, "b");
}

TEST(Plan, JsonCarriesClassesAndReasons) {
    const std::string edited = edit(kLab, "192.168.100.1/24", "192.168.100.1/23");
    const auto json = plan_to_json(make_plan(load(edited), applied(kLab)));
    EXPECT_EQ(json["format_version"], "1");
    EXPECT_EQ(json["lab"], "demo");
    ASSERT_EQ(json["actions"].size(), 1u);
    const auto& a = json["actions"][0];
    EXPECT_EQ(a["address"], "network.labnat");
    EXPECT_EQ(a["action"], "update");
    EXPECT_EQ(a["class"], "restart");
    EXPECT_EQ(a["changes"][0]["path"], "ipv4.address");
    EXPECT_EQ(a["changes"][0]["before"], "192.168.100.1/24");
    EXPECT_EQ(a["changes"][0]["after"], "192.168.100.1/23");
    EXPECT_EQ(json["summary"]["change"], 1);
}

TEST(Plan, DriftIsWhatChangedSinceTheLastApply) {
    Live live = applied(kLab);
    PlanOptions options;
    options.last_applied = owned_fingerprint(live, "demo");
    // Unchanged host: no drift, even when the manifest changed.
    const std::string edited = edit(kLab, "192.168.100.1/24", "192.168.100.1/23");
    EXPECT_TRUE(make_plan(load(edited), live, options).drift.empty());
    // Changed outside virtform: named, and the plan still puts it back.
    live.networks["labnat"].autostart = false;
    const Plan plan = make_plan(load(kLab), live, options);
    EXPECT_EQ(plan.drift, std::vector<std::string>{"network.labnat"});
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_THAT(
        render_plan_text(plan),
        HasSubstr(
            "Objects have changed outside virtform since the last apply:\n  ~ network.labnat"));
    EXPECT_EQ(plan_to_json(plan)["drift"][0], "network.labnat");
    live.networks.erase("labnat");
    EXPECT_EQ(make_plan(load(kLab), live, options).drift,
              std::vector<std::string>{"network.labnat (deleted outside virtform)"});
    // Without a record nothing is claimed.
    EXPECT_TRUE(make_plan(load(kLab), live).drift.empty());
}

}  // namespace
}  // namespace virtform
