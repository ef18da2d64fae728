// VMs, pools and volumes: manifest rules and plan classes, on inline manifests.
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

std::string errors_of(const std::string& text) {
    try {
        load(text);
    } catch (const ValidationError& e) {
        return e.diagnostics().str();
    }
    ADD_FAILURE() << "accepted:\n" << text;
    return {};
}

const std::string kBase = R"(lab: demo
networks:
  net: {ipv4: {address: 10.10.0.1/24}}
pools:
  p: {path: /var/lib/virtform/pools/demo}
vms:
  web:
    cpus: 1
    max_cpus: 4
    memory: 256MiB
    max_memory: 512MiB
    kernel: /img/vmlinuz
    initrd: /img/initrd.gz
    cmdline: console=ttyS0
    disks: [{name: root, pool: p, size: 1GiB}]
    nics: [{network: net, mac: "52:54:00:00:0a:01"}]
)";

/// Applies kBase to a fake host, then plans `edited` against it.
Plan replan(const std::string& edited, Live* out = nullptr) {
    FakeProvider host("demo");
    EXPECT_TRUE(execute(make_plan(load(kBase), host.read()), host).ok());
    Live live = host.read();
    if (out) *out = live;
    return make_plan(load(edited), live);
}

std::string edit(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
}

Action only_action(const Plan& plan) {
    EXPECT_EQ(plan.actions.size(), 1u) << render_plan_text(plan);
    return plan.actions.at(0);
}

TEST(VmManifest, LoadsDisksNicsAndDerivedVolumes) {
    const Desired d = load(kBase);
    const Vm& vm = d.vms.at("web");
    EXPECT_EQ(vm.memory, 256ULL << 20);
    EXPECT_EQ(vm.max_memory, 512ULL << 20);
    ASSERT_EQ(vm.disks.size(), 1u);
    EXPECT_EQ(vm.disks[0].target, "vda");
    EXPECT_EQ(vm.disks[0].volume, "web-root.qcow2");
    ASSERT_EQ(d.volumes.count("p/web-root.qcow2"), 1u);
    EXPECT_EQ(d.volumes.at("p/web-root.qcow2").capacity, 1ULL << 30);
    EXPECT_EQ(vm.nics[0].mac, "52:54:00:00:0a:01");
    EXPECT_EQ(vm.state, VmState::running);
    EXPECT_EQ(vm.accel, Accel::auto_);
}

TEST(VmManifest, Errors) {
    EXPECT_THAT(errors_of(edit(kBase, "pool: p, size: 1GiB", "pool: q, size: 1GiB")),
                HasSubstr("names pool 'q', which the manifest does not declare"));
    EXPECT_THAT(errors_of(edit(kBase, "size: 1GiB", "size: 1 gallon")),
                HasSubstr("is not a size: '1 gallon'"));
    EXPECT_THAT(errors_of(edit(kBase, "max_cpus: 4", "max_cpus: 0")),
                HasSubstr("between 1 and 1024"));
    EXPECT_THAT(
        errors_of(edit(kBase, "max_memory: 512MiB", "max_memory: 128MiB")),
        HasSubstr(
            "lab.yaml:11:17: error: 'max_memory' of VM 'web' (128MiB) is below 'memory' (256MiB)"));
    EXPECT_THAT(errors_of(edit(kBase, "{name: root, pool: p, size: 1GiB}",
                               "{name: root, pool: p, size: 1GiB, cdrom: /x.iso}")),
                HasSubstr("must be exactly one of"));
    EXPECT_THAT(errors_of(edit(kBase, "{network: net, mac", "{network: net, bridge: br0, mac")),
                HasSubstr("needs exactly one of 'network'"));
    EXPECT_THAT(
        errors_of(edit(kBase, "    cpus: 1\n", "    cpus: 1\n    firmware: uefy\n")),
        HasSubstr(
            "'firmware' of VM 'web' must be one of bios, uefi; got 'uefy'; did you mean 'uefi'?"));
    EXPECT_THAT(errors_of(edit(kBase, "kernel: /img/vmlinuz", "kernel: img/vmlinuz")),
                HasSubstr("must be an absolute path"));
    EXPECT_THAT(errors_of(edit(kBase, "    cpus: 1\n", "    cpus: 1\n    memroy: 1GiB\n")),
                HasSubstr("unknown key 'memroy' in VM 'web'; did you mean 'memory'?"));
}

TEST(VmPlan, AppliedIsNoChangeAndAccelAutoWarnsOnTcg) {
    const Plan plan = replan(kBase);
    EXPECT_TRUE(plan.empty()) << render_plan_text(plan);
    ASSERT_EQ(plan.warnings.size(), 1u);
    EXPECT_THAT(plan.warnings[0], HasSubstr("runs under TCG"));
}

TEST(VmPlan, MemoryWithinMaxIsLiveBeyondIsRestart) {
    const Action live = only_action(replan(edit(kBase, "memory: 256MiB", "memory: 384MiB")));
    EXPECT_EQ(live.cls, ChangeClass::live);
    const Plan beyond = replan(edit(edit(kBase, "memory: 256MiB", "memory: 1GiB"),
                                    "max_memory: 512MiB", "max_memory: 1GiB"));
    EXPECT_EQ(only_action(beyond).cls, ChangeClass::restart);
    EXPECT_THAT(render_plan_text(beyond), HasSubstr("requires a restart"));
}

TEST(VmPlan, CpusWithinMaxIsLive) {
    EXPECT_EQ(only_action(replan(edit(kBase, "cpus: 1", "cpus: 3"))).cls, ChangeClass::live);
    EXPECT_EQ(only_action(replan(edit(kBase, "max_cpus: 4", "max_cpus: 8"))).cls,
              ChangeClass::restart);
}

TEST(VmPlan, SecondNicIsLiveChangingANicIsRestart) {
    const Action add = only_action(
        replan(edit(kBase, "nics: [{network: net, mac: \"52:54:00:00:0a:01\"}]",
                    "nics: [{network: net, mac: \"52:54:00:00:0a:01\"}, {network: net}]")));
    EXPECT_EQ(add.cls, ChangeClass::live);
    EXPECT_EQ(add.changes[0].path, "nic[1]");
    const Action change =
        only_action(replan(edit(kBase, "{network: net, mac: \"52:54:00:00:0a:01\"}",
                                "{network: net, mac: \"52:54:00:00:0a:01\", model: e1000}")));
    EXPECT_EQ(change.cls, ChangeClass::restart);
}

TEST(VmPlan, CdromCannotHotPlug) {
    const Action a =
        only_action(replan(edit(kBase, "size: 1GiB}]", "size: 1GiB}, {cdrom: /iso/x.iso}]")));
    EXPECT_EQ(a.cls, ChangeClass::restart);
    EXPECT_THAT(a.reason, HasSubstr("cannot be hot-plugged"));
}

TEST(VmPlan, StateIsLive) {
    const Action a =
        only_action(replan(edit(kBase, "    cpus: 1\n", "    cpus: 1\n    state: stopped\n")));
    EXPECT_EQ(a.cls, ChangeClass::live);
    EXPECT_EQ(a.changes[0].path, "state");
}

TEST(VmPlan, DiskGrowsLiveShrinkAndFormatChangeAreRefused) {
    const Action grow = only_action(replan(edit(kBase, "size: 1GiB", "size: 2GiB")));
    EXPECT_EQ(grow.id.str(), "volume.p/web-root.qcow2");
    EXPECT_EQ(grow.cls, ChangeClass::live);
    EXPECT_EQ(grow.changes[0].before, "1GiB");
    EXPECT_EQ(grow.changes[0].after, "2GiB");
    try {
        replan(edit(kBase, "size: 1GiB", "size: 512MiB"));
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_THAT(
            e.what(),
            HasSubstr("would shrink from 1GiB to 512MiB: shrinking loses data and is refused"));
    }
    Live live;
    replan(kBase, &live);
    live.volumes["p/web-root.qcow2"].backing = "/img/base.qcow2";
    EXPECT_THROW(make_plan(load(kBase), live), ValidationError);
}

TEST(VmPlan, VolumesGoWithTheirVmUnlessKept) {
    const std::string no_vm = kBase.substr(0, kBase.find("vms:"));
    Plan plan = replan(no_vm);
    std::vector<std::string> ids;
    for (const auto& a : plan.actions)
        ids.push_back(std::string(to_string(a.type)) + " " + a.id.str());
    EXPECT_EQ(ids, (std::vector<std::string>{"destroy vm.web", "destroy volume.p/web-root.qcow2"}));

    // keep: true survives, and the pool stays because it still holds it.
    Live live;
    replan(kBase, &live);
    live.volumes["p/web-root.qcow2"].keep = true;  // as the pool's mark records it
    Desired nothing;
    nothing.lab = "demo";
    plan = make_plan(nothing, live);
    ids.clear();
    for (const auto& a : plan.actions)
        ids.push_back(std::string(to_string(a.type)) + " " + a.id.str());
    EXPECT_EQ(ids, (std::vector<std::string>{"destroy vm.web", "destroy network.net"}));
    EXPECT_THAT(render_plan_text(plan), HasSubstr("volume.p/web-root.qcow2 is kept"));
    EXPECT_THAT(render_plan_text(plan), HasSubstr("pool.p stays"));
}

TEST(VmPlan, CloudInitIsSensitive) {
    const std::string with_ci = edit(
        kBase, "    cpus: 1\n",
        "    cpus: 1\n    cloud_init: {user_data: \"#cloud-config\\npassword: hunter2\\n\"}\n");
    const Plan plan = replan(with_ci);
    const std::string text = render_plan_text(plan);
    EXPECT_THAT(text, HasSubstr("cloud_init"));
    EXPECT_THAT(text, HasSubstr("(sensitive)"));
    EXPECT_THAT(text, ::testing::Not(HasSubstr("hunter2")));
    EXPECT_THAT(plan_to_json(plan).dump(), ::testing::Not(HasSubstr("hunter2")));
    EXPECT_EQ(load(with_ci).vms.at("web").seed_iso, "/var/lib/virtform/seeds/demo/web.iso");
}

TEST(VmPlan, NicOnUnknownNetworkIsAnError) {
    try {
        make_plan(load(edit(kBase, "{network: net, mac", "{network: nowhere, mac")), Live{});
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_THAT(e.what(), HasSubstr("VM 'web' has a NIC on network 'nowhere', which neither "
                                        "the manifest nor libvirt has"));
    }
}

TEST(VmPlan, UnmarkedVmIsNeverTouched) {
    Live live;
    live.vms["web"] = Vm{.name = "web"};
    EXPECT_THROW(make_plan(load(kBase), live), ValidationError);
    Live other;
    other.vms["handmade"] = Vm{.name = "handmade"};
    const Plan plan = make_plan(load(kBase), other);
    for (const auto& a : plan.actions) EXPECT_NE(a.id.name, "handmade");
}

}  // namespace
}  // namespace virtform
