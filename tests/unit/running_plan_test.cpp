// A running VM is planned as it runs (issue 9): its live divergence from the
// definition and the manifest, and pending restarts, are changes with a class.
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

const std::string kBase = R"(lab: demo
networks:
  net: {ipv4: {address: 10.10.0.1/24}}
vms:
  web:
    cpus: 1
    max_cpus: 4
    memory: 256MiB
    max_memory: 512MiB
    kernel: /img/vmlinuz
    cmdline: console=ttyS0
    disks: [{file: /img/data.img}]
    nics: [{network: net, mac: "52:54:00:00:0a:01"}]
    shutdown_timeout: 30
)";

std::string edit(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
}

/// The host after applying kBase, with the running domain equal to its definition.
Live applied() {
    FakeProvider host("demo");
    EXPECT_TRUE(execute(make_plan(load(kBase), host.read()), host).ok());
    Live live = host.read();
    Vm& vm = live.vms.at("web");
    vm.running = std::make_shared<const Vm>(vm);
    return live;
}

/// The running domain of `live`'s VM web, changed by `change`.
template <typename F>
Live with_running(F change) {
    Live live = applied();
    Vm& vm = live.vms.at("web");
    Vm run = *vm.running;
    change(run);
    vm.running = std::make_shared<const Vm>(run);
    return live;
}

const AttributeChange* find_change(const Action& a, const std::string& path) {
    for (const auto& c : a.changes) {
        if (c.path == path) return &c;
    }
    return nullptr;
}

Action only_action(const Plan& plan) {
    EXPECT_EQ(plan.actions.size(), 1u) << render_plan_text(plan);
    return plan.actions.at(0);
}

TEST(RunningPlan, RunningAsDefinedIsNoChange) {
    const Plan plan = make_plan(load(kBase), applied());
    EXPECT_TRUE(plan.empty()) << render_plan_text(plan);
}

TEST(RunningPlan, BalloonSetByHandIsALiveChangeOfTheRunningVm) {
    const Live live = with_running([](Vm& r) { r.memory = 320ULL << 20; });
    const Plan plan = make_plan(load(kBase), live);
    const Action a = only_action(plan);
    EXPECT_EQ(a.type, ActionType::update);
    EXPECT_EQ(a.cls, ChangeClass::live);
    ASSERT_EQ(a.changes.size(), 1u);
    EXPECT_EQ(a.changes[0].path, "running.memory");
    EXPECT_EQ(a.changes[0].before, "320MiB");
    EXPECT_EQ(a.changes[0].after, "256MiB");
    EXPECT_THAT(render_plan_text(plan), HasSubstr("running.memory"));
    const auto json = plan_to_json(plan);
    EXPECT_EQ(json["actions"][0]["changes"][0]["scope"], "running");
    EXPECT_EQ(json["actions"][0]["restart_pending"], 0);
    // Beyond the running maximum it needs a restart.
    const Live tight = with_running([](Vm& r) {
        r.memory = 100ULL << 20;
        r.max_memory = 200ULL << 20;
    });
    const Action b = only_action(make_plan(load(kBase), tight));
    EXPECT_EQ(find_change(b, "running.memory")->cls, ChangeClass::restart);
}

TEST(RunningPlan, UninflatedBalloonIsAWarningNotAChange) {
    // The guest never took a balloon target (no driver): all of max_memory.
    const Live live = with_running([](Vm& r) { r.memory = 512ULL << 20; });
    const Plan plan = make_plan(load(kBase), live);
    EXPECT_TRUE(plan.empty()) << render_plan_text(plan);
    EXPECT_THAT(::testing::PrintToString(plan.warnings), HasSubstr("balloon"));
}

TEST(RunningPlan, VcpusSetByHandOrLeftByAFailedUnplugAreLive) {
    const Live live = with_running([](Vm& r) { r.cpus = 2; });
    const Action a = only_action(make_plan(load(kBase), live));
    const auto* c = find_change(a, "running.cpus");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->before, "2");
    EXPECT_EQ(c->after, "1");
    EXPECT_EQ(c->cls, ChangeClass::live);
    // The manifest now asks for what runs: only the definition changes.
    const Action b = only_action(make_plan(load(edit(kBase, "cpus: 1", "cpus: 2")), live));
    EXPECT_EQ(find_change(b, "running.cpus"), nullptr);
    ASSERT_NE(find_change(b, "cpus"), nullptr);
}

TEST(RunningPlan, NicsAttachedOrDetachedByHandAreLive) {
    const Live attached = with_running([](Vm& r) {
        Nic extra;
        extra.source = "net";
        extra.mac = "52:54:00:00:0a:99";
        r.nics.push_back(extra);
    });
    const Action a = only_action(make_plan(load(kBase), attached));
    const auto* c = find_change(a, "running.nic[52:54:00:00:0a:99]");
    ASSERT_NE(c, nullptr) << render_plan_text(make_plan(load(kBase), attached));
    EXPECT_FALSE(c->after.has_value());
    EXPECT_EQ(c->cls, ChangeClass::live);

    const Live detached = with_running([](Vm& r) { r.nics.clear(); });
    const Action b = only_action(make_plan(load(kBase), detached));
    const auto* d = find_change(b, "running.nic[52:54:00:00:0a:01]");
    ASSERT_NE(d, nullptr);
    EXPECT_FALSE(d->before.has_value());
    EXPECT_EQ(d->after, "network net model=virtio");
    EXPECT_EQ(d->cls, ChangeClass::live);
}

TEST(RunningPlan, DisksAttachedByHandAreLiveOnVirtio) {
    const Live live = with_running([](Vm& r) {
        Disk d;
        d.type = Disk::Type::file;
        d.path = "/img/extra.img";
        d.target = "vdb";
        r.disks.push_back(d);
    });
    const Action a = only_action(make_plan(load(kBase), live));
    const auto* c = find_change(a, "running.disk[vdb]");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->cls, ChangeClass::live);
}

TEST(RunningPlan, PendingRestartIsStateUntilTheVmRestarts) {
    // The definition took a new cmdline; the running VM still has the old one.
    const Live live = with_running([](Vm& r) { r.cmdline = "console=ttyS0 old"; });
    const Plan plan = make_plan(load(kBase), live);
    const Action a = only_action(plan);
    EXPECT_EQ(a.type, ActionType::update);
    EXPECT_EQ(a.cls, ChangeClass::restart);
    const auto* c = find_change(a, "running.cmdline");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->before, "console=ttyS0 old");
    EXPECT_EQ(c->after, "console=ttyS0");
    EXPECT_TRUE(is_pending_restart(*c));
    EXPECT_THAT(a.reason, HasSubstr("restart pending (1 change)"));
    EXPECT_THAT(a.reason, HasSubstr("--allow-restart"));
    EXPECT_THAT(render_plan_text(plan), HasSubstr("will be updated: restart pending (1 change)"));
    EXPECT_EQ(plan_to_json(plan)["actions"][0]["restart_pending"], 1);
    // --target keeps it.
    PlanOptions only;
    only.targets = {{Kind::vm, "web"}};
    EXPECT_EQ(make_plan(load(kBase), live, only).actions.size(), 1u);
    only.targets = {{Kind::network, "net"}};
    EXPECT_TRUE(make_plan(load(kBase), live, only).empty());
    // Not running: nothing pending.
    Live stopped = live;
    stopped.vms.at("web").running.reset();
    stopped.vms.at("web").state = VmState::stopped;
    EXPECT_TRUE(make_plan(load(edit(kBase, "    cpus: 1\n", "    cpus: 1\n    state: stopped\n")),
                          stopped)
                    .empty());
}

TEST(RunningPlan, VerifyDoesNotCountAPendingRestartAsAFailure) {
    const Live live = with_running([](Vm& r) { r.cmdline = "console=ttyS0 old"; });
    const Plan plan = make_plan(load(kBase), live);
    ExecResult result;
    result.results.resize(plan.actions.size());
    for (auto& r : result.results) r.outcome = Outcome::done;
    EXPECT_TRUE(verify(plan, result, load(kBase), live).empty());
    // A live divergence left after the apply is one.
    const Live left = with_running([](Vm& r) { r.cpus = 2; });
    const auto problems = verify(make_plan(load(kBase), left), result, load(kBase), left);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0], HasSubstr("running.cpus is 2 but should be 1"));
}

TEST(RunningPlan, NicWithAFixedMacIsHotPluggedLive) {
    const std::string two = edit(kBase, "nics: [{network: net, mac: \"52:54:00:00:0a:01\"}]",
                                 "nics: [{network: net, mac: \"52:54:00:00:0a:01\"}, "
                                 "{network: net, mac: \"52:54:00:00:0a:02\"}]");
    const Action add = only_action(make_plan(load(two), applied()));
    EXPECT_EQ(add.cls, ChangeClass::live) << render_plan_text(make_plan(load(two), applied()));
    EXPECT_EQ(find_change(add, "nic[1].mac")->cls, ChangeClass::live);
    // Changing the MAC of an existing NIC is still a restart.
    const Action change = only_action(
        make_plan(load(edit(kBase, "52:54:00:00:0a:01", "52:54:00:00:0a:03")), applied()));
    EXPECT_EQ(change.cls, ChangeClass::restart);
}

TEST(RunningPlan, ShutdownTimeoutIsPlannedLive) {
    const Action a =
        only_action(make_plan(load(edit(kBase, "shutdown_timeout: 30", "shutdown_timeout: 90")),
                              applied()));
    ASSERT_EQ(a.changes.size(), 1u);
    EXPECT_EQ(a.changes[0].path, "shutdown_timeout");
    EXPECT_EQ(a.changes[0].before, "30");
    EXPECT_EQ(a.changes[0].after, "90");
    EXPECT_EQ(a.cls, ChangeClass::live);
}

}  // namespace
}  // namespace virtform
