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

}  // namespace
}  // namespace virtform
