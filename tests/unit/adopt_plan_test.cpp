// Adoption in the planner (`--adopt KIND.NAME`, `adopt: true`) and the pure
// half of `virtform export` (model -> YAML -> loader), on inline manifests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "virtform/export.h"
#include "virtform/manifest.h"
#include "virtform/plan.h"
#include "virtform/render.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;

Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

const char* kLab = R"(lab: demo
networks:
  labnat:
    bridge: virbr10
    ipv4:
      address: 192.168.100.1/24
      dhcp:
        range: 192.168.100.100-192.168.100.200
)";

/// The network of kLab as the host has it, carrying `owner`'s mark ("" none).
Live host_with(const std::string& owner, const std::string& text = kLab) {
    Live live;
    for (auto [name, n] : load(text).networks) {
        n.owner = owner;
        n.where = {};
        live.networks[name] = n;
    }
    return live;
}

std::string plan_errors(const Desired& d, const Live& live, const PlanOptions& o = {}) {
    try {
        make_plan(d, live, o);
    } catch (const ValidationError& e) {
        return e.diagnostics().str();
    }
    return "";
}

TEST(Adopt, WithoutItTheOwnershipRefusalStays) {
    const std::string errors = plan_errors(load(kLab), host_with(""));
    EXPECT_THAT(errors, HasSubstr("network 'labnat' already exists on the host and carries no "
                                  "virtform mark; virtform never modifies objects its lab does "
                                  "not own: choose another name"));
}

TEST(Adopt, AnUnchangedObjectIsAnAdoptActionWithNoChange) {
    PlanOptions o;
    o.adopt.insert({Kind::network, "labnat"});
    const Plan plan = make_plan(load(kLab), host_with(""), o);
    ASSERT_EQ(plan.actions.size(), 1u);
    const Action& a = plan.actions[0];
    EXPECT_TRUE(a.adopt);
    EXPECT_EQ(a.type, ActionType::update);
    EXPECT_TRUE(a.changes.empty());
    EXPECT_EQ(plan.to_adopt(), 1);
    EXPECT_EQ(plan.to_change(), 0);
    EXPECT_THAT(render_plan_text(plan), HasSubstr("# network.labnat will be adopted\n"));
    EXPECT_EQ(render_plan_summary(plan), "Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy.");
    const auto json = plan_to_json(plan);
    EXPECT_EQ(json["actions"][0]["action"], "adopt");
    EXPECT_EQ(json["summary"]["adopt"], 1);
    // Once marked, the same manifest plans nothing: adopt is not sticky.
    EXPECT_TRUE(make_plan(load(kLab), host_with("demo"), o).empty());
}

TEST(Adopt, AdoptTrueShowsTheDiffInTheSameAction) {
    const std::string wanted = std::string(kLab) + "    adopt: true\n    domain: demo.lab\n";
    const Plan plan = make_plan(load(wanted), host_with(""));
    ASSERT_EQ(plan.actions.size(), 1u);
    const Action& a = plan.actions[0];
    EXPECT_TRUE(a.adopt);
    ASSERT_EQ(a.changes.size(), 1u);
    EXPECT_EQ(a.changes[0].path, "domain");
    EXPECT_EQ(plan.to_change(), 1);
    EXPECT_THAT(render_plan_text(plan),
                HasSubstr("network.labnat will be adopted and updated (requires a restart)"));
}

TEST(Adopt, AnotherLabsObjectIsNeverAdopted) {
    PlanOptions o;
    o.adopt.insert({Kind::network, "labnat"});
    EXPECT_THAT(plan_errors(load(kLab), host_with("other"), o),
                HasSubstr("belongs to lab 'other'"));
    const std::string wanted = std::string(kLab) + "    adopt: true\n";
    EXPECT_THAT(plan_errors(load(wanted), host_with("other")), HasSubstr("belongs to lab 'other'"));
}

TEST(Adopt, AnAdoptTheManifestsDoNotDeclareIsAnError) {
    PlanOptions o;
    o.adopt.insert({Kind::vm, "web"});
    EXPECT_THAT(plan_errors(load(kLab), Live{}, o),
                HasSubstr("--adopt vm.web: the manifests declare no vm 'web'"));
}

TEST(Adopt, TheKeyIsABoolean) {
    EXPECT_TRUE(load(std::string(kLab) + "    adopt: yes\n").networks.at("labnat").adopt);
    EXPECT_THROW(load(std::string(kLab) + "    adopt: maybe\n"), ValidationError);
}

// --- export: what is read from the host comes back equal through the loader.

Vm handmade_vm() {
    Vm vm;
    vm.name = "web";
    vm.cpus = 2;
    vm.memory = 256ULL << 20;
    vm.max_memory = 512ULL << 20;
    vm.accel = Accel::qemu;
    vm.machine = "q35";
    Disk d;
    d.type = Disk::Type::file;
    d.path = "/srv/images/web \"main\": #1.qcow2";
    d.name = "web";
    d.target = "vda";
    vm.disks.push_back(d);
    vm.boot = {"hd"};
    vm.kernel = "/boot/vmlinuz";
    vm.cmdline = "console=ttyS0 quiet: \"x\" # not a comment";
    Nic n;
    n.source = "labnat";
    n.mac = "52:54:00:00:64:10";
    vm.nics.push_back(n);
    vm.state = VmState::stopped;
    return vm;
}

TEST(Export, RoundTripsThroughTheLoaderAndPlansNoChange) {
    Live live = host_with("");
    live.vms["web"] = handmade_vm();
    const auto result = export_manifest(
        "imported", {Resource(live.networks.at("labnat")), Resource(live.vms.at("web"))}, live);
    EXPECT_TRUE(result.left_out.empty())
        << result.left_out[0].object << ": " << result.left_out[0].detail;
    ASSERT_EQ(result.exported.size(), 2u);
    const Desired d = load(result.yaml);
    // Quotes, colons and hashes in host strings survive as data.
    EXPECT_EQ(d.vms.at("web").cmdline, handmade_vm().cmdline);
    EXPECT_EQ(d.vms.at("web").disks.at(0).path, handmade_vm().disks[0].path);
    PlanOptions o;
    o.adopt = {{Kind::network, "labnat"}, {Kind::vm, "web"}};
    const Plan plan = make_plan(d, live, o);
    for (const auto& a : plan.actions) {
        EXPECT_TRUE(a.adopt) << a.id.str();
        EXPECT_TRUE(a.changes.empty()) << a.id.str() << " " << a.changes[0].path;
    }
}

TEST(Export, WhatTheManifestCannotSayIsListed) {
    Live live = host_with("");
    Vm vm = handmade_vm();
    vm.machine = "microvm";
    Disk vol;
    vol.type = Disk::Type::volume;
    vol.pool = "default";
    vol.volume = "web.qcow2";
    vol.target = "vdb";
    vm.disks.push_back(vol);
    live.vms["web"] = vm;
    Network odd = live.networks.at("labnat");
    odd.name = "odd name";
    live.networks["odd name"] = odd;
    const auto result = export_manifest("imported", {Resource(vm), Resource(odd)}, live,
                                        {{"vm.web", "<rng> device"}});
    std::string all;
    for (const auto& l : result.left_out) all += l.object + ": " + l.detail + "\n";
    EXPECT_THAT(all, HasSubstr("vm.web: machine 'microvm'"));
    EXPECT_THAT(all, HasSubstr("vm.web: disk vdb on volume default/web.qcow2"));
    EXPECT_THAT(all, HasSubstr("vm.web: <rng> device"));
    EXPECT_THAT(all, HasSubstr("network.odd name: not exported: network name 'odd name'"));
    // The planner's view of the gap, too: the machine the manifest left unset
    // is libvirt's choice, but the dropped disk shows.
    EXPECT_THAT(all, HasSubstr("disk[1]"));
    EXPECT_THAT(result.yaml, HasSubstr("# Exported by `virtform export`. Left out"));
    ASSERT_EQ(result.exported.size(), 1u);
    EXPECT_EQ(result.exported[0].str(), "vm.web");
}

}  // namespace
}  // namespace virtform
