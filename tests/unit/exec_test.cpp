// The executor over an in-memory host: ordering, parallelism, failure
// handling and verification.
#include "virtform/exec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fake_provider.h"
#include "virtform/manifest.h"

namespace virtform {
namespace {

using testing::FakeProvider;
using ::testing::HasSubstr;

Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

const char* kVmLab = R"(lab: demo
networks:
  net: {ipv4: {address: 10.10.0.1/24}}
pools:
  p: {path: /var/lib/virtform/pools/demo}
vms:
  a: {nics: [{network: net}], disks: [{name: root, pool: p, size: 1GiB}]}
  b: {nics: [{network: net}]}
)";

std::size_t index_of(const Plan& plan, const std::string& id) {
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        if (plan.actions[i].id.str() == id) return i;
    }
    ADD_FAILURE() << "no action for " << id;
    return 0;
}

TEST(Exec, CreatesInDependencyOrderAndConverges) {
    const Desired desired = load(kVmLab);
    FakeProvider host("demo");
    const Plan plan = make_plan(desired, host.read());
    ASSERT_EQ(plan.actions.size(), 5u);
    // Dependencies are explicit and point backwards.
    const auto vm_a = index_of(plan, "vm.a");
    const auto& deps = plan.actions[vm_a].depends_on;
    EXPECT_THAT(deps, ::testing::Contains(index_of(plan, "network.net")));
    EXPECT_THAT(deps, ::testing::Contains(index_of(plan, "volume.p/a-root.qcow2")));
    EXPECT_LT(index_of(plan, "pool.p"), index_of(plan, "volume.p/a-root.qcow2"));
    const ExecResult result = execute(plan, host, ExecOptions{1, {}});
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(result.count(Outcome::done), 5);
    EXPECT_TRUE(verify(plan, result, desired, host.read()).empty());
    EXPECT_TRUE(make_plan(desired, host.read()).empty());
}

TEST(Exec, DestroyGoesInReverse) {
    const Desired desired = load(kVmLab);
    FakeProvider host("demo");
    execute(make_plan(desired, host.read()), host);
    Desired nothing;
    nothing.lab = "demo";
    const Plan plan = make_plan(nothing, host.read());
    ASSERT_EQ(plan.actions.size(), 5u);
    EXPECT_LT(index_of(plan, "vm.a"), index_of(plan, "volume.p/a-root.qcow2"));
    EXPECT_LT(index_of(plan, "volume.p/a-root.qcow2"), index_of(plan, "pool.p"));
    EXPECT_LT(index_of(plan, "vm.b"), index_of(plan, "network.net"));
    const ExecResult result = execute(plan, host, ExecOptions{4, {}});
    EXPECT_TRUE(result.ok());
    EXPECT_TRUE(host.read().vms.empty());
    EXPECT_TRUE(host.read().pools.empty());
}

TEST(Exec, IndependentActionsOverlap) {
    const Desired desired = load(
        "lab: demo\nnetworks:\n  a: {mode: isolated}\n  b: {mode: isolated}\n"
        "  c: {mode: isolated}\n");
    FakeProvider host("demo");
    std::atomic<int> running{0}, peak{0};
    host.before_apply = [&](const Action&) {
        const int now = ++running;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        --running;
    };
    const Plan plan = make_plan(desired, host.read());
    const ExecResult result = execute(plan, host, ExecOptions{3, {}});
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(peak.load(), 3);
    // Overlap seen in the timestamps too: each started before the others finished.
    for (const auto& r : result.results) {
        for (const auto& other : result.results) EXPECT_LT(r.started, other.finished);
    }
    peak = 0;
    FakeProvider serial_host("demo");
    serial_host.before_apply = host.before_apply;
    execute(plan, serial_host, ExecOptions{1, {}});
    EXPECT_EQ(peak.load(), 1);
}

TEST(Exec, FailureSkipsOnlyDependents) {
    const Desired desired = load(kVmLab);
    FakeProvider host("demo");
    host.before_apply = [](const Action& a) {
        if (a.id.str() == "volume.p/a-root.qcow2")
            throw Error("create volume p/a-root.qcow2: disk full");
    };
    const Plan plan = make_plan(desired, host.read());
    std::vector<std::string> events;
    std::mutex mu;
    const ExecResult result =
        execute(plan, host, ExecOptions{2, [&](const ExecEvent& e) {
                                            std::lock_guard lock(mu);
                                            events.push_back(e.action.id.str());
                                        }});
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.results[index_of(plan, "volume.p/a-root.qcow2")].outcome, Outcome::failed);
    EXPECT_THAT(result.results[index_of(plan, "volume.p/a-root.qcow2")].message,
                HasSubstr("disk full"));
    EXPECT_EQ(result.results[index_of(plan, "vm.a")].outcome, Outcome::skipped);
    EXPECT_THAT(result.results[index_of(plan, "vm.a")].message,
                HasSubstr("depends on create volume.p/a-root.qcow2, which failed"));
    EXPECT_EQ(result.results[index_of(plan, "vm.b")].outcome, Outcome::done);
    EXPECT_EQ(result.results[index_of(plan, "network.net")].outcome, Outcome::done);
    EXPECT_EQ(events.size(), 8u);  // 4 started + 4 finished; the skipped one never starts
    // A second apply finishes the job.
    host.before_apply = nullptr;
    const Plan again = make_plan(desired, host.read());
    ASSERT_EQ(again.actions.size(), 2u);
    EXPECT_TRUE(execute(again, host).ok());
    EXPECT_TRUE(make_plan(desired, host.read()).empty());
}

TEST(Exec, VerifyReportsWhatDidNotTakeEffect) {
    const Desired desired = load("lab: demo\nnetworks:\n  a: {mode: isolated, autostart: true}\n");
    FakeProvider host("demo");
    const Plan plan = make_plan(desired, host.read());
    const ExecResult result = execute(plan, host);
    Live tampered = host.read();
    tampered.networks["a"].autostart = false;
    const auto problems = verify(plan, result, desired, tampered);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0], "network.a: autostart is false but should be true");
}


// Ctrl-C during apply: the CLI's signal handler sets a flag the executor reads
// before it starts each action.
TEST(Exec, StopRequestedStartsNothingNewAndLetsRunningActionsFinish) {
    const Desired desired = load(
        "lab: demo\nnetworks:\n  a: {mode: isolated}\n  b: {mode: isolated}\n"
        "  c: {mode: isolated}\n  d: {mode: isolated}\n");
    FakeProvider host("demo");
    std::atomic<bool> stop{false};
    std::atomic<int> finished{0};
    // The stop arrives while network.a runs; it must still complete.
    host.before_apply = [&](const Action& a) {
        if (a.id.str() == "network.a") {
            stop = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        ++finished;
    };
    const Plan plan = make_plan(desired, host.read());
    ASSERT_EQ(plan.actions.size(), 4u);
    std::vector<std::string> started;
    ExecOptions options;
    options.parallelism = 1;
    options.stop_requested = [&] { return stop.load(); };
    options.on_event = [&](const ExecEvent& e) {
        if (e.type == ExecEvent::Type::started) started.push_back(e.action.id.str());
    };
    const ExecResult result = execute(plan, host, options);
    EXPECT_TRUE(result.stopped);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(started, std::vector<std::string>{"network.a"});
    EXPECT_EQ(result.results[index_of(plan, "network.a")].outcome, Outcome::done);
    EXPECT_EQ(result.count(Outcome::done), 1);
    EXPECT_EQ(result.count(Outcome::not_started), 3);
    EXPECT_EQ(result.count(Outcome::skipped), 0);
    for (const char* id : {"network.b", "network.c", "network.d"}) {
        const auto& r = result.results[index_of(plan, id)];
        EXPECT_EQ(r.outcome, Outcome::not_started) << id;
        EXPECT_THAT(r.message, HasSubstr("not started")) << id;
        EXPECT_EQ(r.started, std::chrono::steady_clock::time_point{}) << id;
    }
    EXPECT_STREQ(to_string(Outcome::not_started), "not_started");
    EXPECT_EQ(finished.load(), 1);
    EXPECT_EQ(host.calls(), std::vector<std::string>{"create network.a"});
    // The next run converges from what is there.
    host.before_apply = nullptr;
    const Plan again = make_plan(desired, host.read());
    EXPECT_EQ(again.actions.size(), 3u);
    EXPECT_TRUE(execute(again, host).ok());
    EXPECT_TRUE(make_plan(desired, host.read()).empty());
}

TEST(Exec, StopWaitsForEveryRunningActionInParallel) {
    const Desired desired = load(kVmLab);
    FakeProvider host("demo");
    std::atomic<bool> stop{false};
    std::atomic<int> running{0};
    // network.net and pool.p run together; the stop comes while both are running.
    host.before_apply = [&](const Action&) {
        if (++running == 2) stop = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    };
    const Plan plan = make_plan(desired, host.read());
    ExecOptions options;
    options.parallelism = 4;
    options.stop_requested = [&] { return stop.load(); };
    const ExecResult result = execute(plan, host, options);
    EXPECT_TRUE(result.stopped);
    int done = 0;
    for (const auto& r : result.results) {
        EXPECT_NE(r.outcome, Outcome::pending);
        EXPECT_NE(r.outcome, Outcome::failed);
        if (r.outcome == Outcome::done) {
            ++done;
            EXPECT_NE(r.finished, std::chrono::steady_clock::time_point{});
        }
    }
    EXPECT_GE(done, 2);  // both running ones completed
    EXPECT_EQ(static_cast<std::size_t>(done), host.calls().size());
    EXPECT_GE(result.count(Outcome::not_started), 1);
    // vm.a needs the pool's volume: it never starts once stopped before it.
    EXPECT_EQ(result.results[index_of(plan, "vm.a")].outcome, Outcome::not_started);
}

TEST(Exec, StopRequestedBeforeTheFirstActionStartsNothing) {
    const Desired desired = load(kVmLab);
    FakeProvider host("demo");
    const Plan plan = make_plan(desired, host.read());
    ExecOptions options;
    options.stop_requested = [] { return true; };
    const ExecResult result = execute(plan, host, options);
    EXPECT_TRUE(result.stopped);
    EXPECT_EQ(result.count(Outcome::not_started), static_cast<int>(plan.actions.size()));
    EXPECT_TRUE(host.calls().empty());

    // Never asked to stop: an empty function and one that says no behave alike.
    options.stop_requested = [] { return false; };
    const ExecResult full = execute(plan, host, options);
    EXPECT_FALSE(full.stopped);
    EXPECT_TRUE(full.ok());
}

}  // namespace
}  // namespace virtform
