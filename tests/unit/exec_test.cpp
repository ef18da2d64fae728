// The executor over an in-memory host: ordering, parallelism, failure
// handling and verification.
#include "virtform/exec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
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

// ---------------------------------------------------------------------------
// Ordering around VMs that do not run (issue 13): libvirt defines and undefines
// a domain whatever its network's state; only starting it needs the network.

const char* kUpDownLab = R"(lab: demo
networks:
  net: {ipv4: {address: 10.10.0.1/24}}
vms:
  up: {nics: [{network: net}]}
  down: {nics: [{network: net}], state: stopped}
)";

TEST(Exec, AStoppedVmsCreateDoesNotWaitForItsNetworkARunningOnesDoes) {
    const Desired desired = load(kUpDownLab);
    FakeProvider host("demo");
    const Plan plan = make_plan(desired, host.read());
    ASSERT_EQ(plan.actions.size(), 3u);
    const auto net = index_of(plan, "network.net");
    EXPECT_THAT(plan.actions[index_of(plan, "vm.up")].depends_on, ::testing::ElementsAre(net));
    EXPECT_TRUE(plan.actions[index_of(plan, "vm.down")].depends_on.empty());
    // The displayed order stays networks first, then VMs by name.
    EXPECT_EQ(net, 0u);
    EXPECT_EQ(index_of(plan, "vm.down"), 1u);
    EXPECT_EQ(index_of(plan, "vm.up"), 2u);

    // The network's start lasts until the stopped VM is defined (at most 5 s):
    // only an executor that lets vm.down run meanwhile gets there first. The
    // running VM's create comes only after the start.
    std::mutex mu;
    std::condition_variable cv;
    bool net_done = false, down_done = false;
    int down_saw_net_done = -1, up_saw_net_done = -1;
    host.before_apply = [&](const Action& a) {
        std::unique_lock lock(mu);
        if (a.id.str() == "network.net") {
            cv.wait_for(lock, std::chrono::seconds(5), [&] { return down_done; });
            net_done = true;
        } else if (a.id.str() == "vm.down") {
            down_saw_net_done = net_done ? 1 : 0;
            down_done = true;
            cv.notify_all();
        } else {
            up_saw_net_done = net_done ? 1 : 0;
        }
    };
    const ExecResult result = execute(plan, host, ExecOptions{2, {}});
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(down_saw_net_done, 0) << "vm.down waited for the network's start";
    EXPECT_EQ(up_saw_net_done, 1) << "vm.up started before its network was up";
    EXPECT_LT(result.results[index_of(plan, "vm.down")].started, result.results[net].finished);
    EXPECT_GE(result.results[index_of(plan, "vm.up")].started, result.results[net].finished);
    EXPECT_TRUE(make_plan(desired, host.read()).empty());
}

TEST(Exec, AFailedNetworkSkipsTheRunningVmOnItAndNotTheStoppedOne) {
    const Desired desired = load(kUpDownLab);
    FakeProvider host("demo");
    host.before_apply = [](const Action& a) {
        if (a.id.str() == "network.net") throw Error("network net: start: address in use");
    };
    const Plan plan = make_plan(desired, host.read());
    const ExecResult result = execute(plan, host, ExecOptions{1, {}});
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.results[index_of(plan, "network.net")].outcome, Outcome::failed);
    EXPECT_EQ(result.results[index_of(plan, "vm.up")].outcome, Outcome::skipped);
    EXPECT_THAT(result.results[index_of(plan, "vm.up")].message,
                HasSubstr("depends on create network.net, which failed"));
    EXPECT_EQ(result.results[index_of(plan, "vm.down")].outcome, Outcome::done);
    EXPECT_EQ(host.read().vms.count("down"), 1u);
    // The next apply makes the network, then starts the running VM.
    host.before_apply = nullptr;
    const Plan again = make_plan(desired, host.read());
    ASSERT_EQ(again.actions.size(), 2u);
    EXPECT_EQ(again.actions[0].id.str(), "network.net");
    EXPECT_EQ(again.actions[1].id.str(), "vm.up");
    EXPECT_THAT(again.actions[1].depends_on, ::testing::ElementsAre(0u));
    EXPECT_TRUE(execute(again, host).ok());
    EXPECT_TRUE(make_plan(desired, host.read()).empty());
}

TEST(Exec, DestroyCutsOffOnlyStoppedVmsEarly) {
    const Desired desired = load(kUpDownLab);
    FakeProvider host("demo");
    ASSERT_TRUE(execute(make_plan(desired, host.read()), host).ok());
    Desired nothing;
    nothing.lab = "demo";
    const Plan plan = make_plan(nothing, host.read());
    ASSERT_EQ(plan.actions.size(), 3u);
    // VMs first (the displayed order), but only the running one must go
    // before its network: a network destroy cuts off running guests.
    EXPECT_EQ(index_of(plan, "vm.down"), 0u);
    EXPECT_EQ(index_of(plan, "vm.up"), 1u);
    EXPECT_THAT(plan.actions[index_of(plan, "network.net")].depends_on,
                ::testing::ElementsAre(index_of(plan, "vm.up")));
    EXPECT_TRUE(plan.actions[index_of(plan, "vm.down")].depends_on.empty());

    // The stopped VM's undefine lasts until the network is gone (at most 5 s):
    // only a network destroy that does not wait for it gets there first. The
    // running VM goes before its network.
    std::mutex mu;
    std::condition_variable cv;
    bool net_gone = false, up_gone = false;
    int net_saw_up_gone = -1, down_saw_net_gone = -1;
    host.before_apply = [&](const Action& a) {
        std::unique_lock lock(mu);
        if (a.id.str() == "vm.down") {
            cv.wait_for(lock, std::chrono::seconds(5), [&] { return net_gone; });
            down_saw_net_gone = net_gone ? 1 : 0;
        } else if (a.id.str() == "vm.up") {
            up_gone = true;
        } else {
            net_saw_up_gone = up_gone ? 1 : 0;
            net_gone = true;
            cv.notify_all();
        }
    };
    const ExecResult result = execute(plan, host, ExecOptions{2, {}});
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(net_saw_up_gone, 1) << "the network went while its running guest was on it";
    EXPECT_EQ(down_saw_net_gone, 1) << "the network's destroy waited for the stopped VM's undefine";
    EXPECT_TRUE(host.read().vms.empty());
    EXPECT_TRUE(host.read().networks.empty());
}

TEST(Exec, AVmThatStartsWaitsForItsNetworkAndOneThatStopsDoesNot) {
    // Defined and stopped, then asked to run: the start needs the network.
    // Running, then asked to stop: the stop does not.
    const std::string before = R"(lab: demo
networks:
  net: {ipv4: {address: 10.10.0.1/24}}
vms:
  a: {nics: [{network: net}], state: stopped}
  b: {nics: [{network: net}]}
)";
    // Both VMs move to a new network: a starts, b stops.
    const std::string moved = R"(lab: demo
networks:
  net: {ipv4: {address: 10.10.0.1/24}}
  other: {ipv4: {address: 10.10.1.1/24}}
vms:
  a: {nics: [{network: other}]}
  b: {nics: [{network: other}], state: stopped}
)";
    FakeProvider host("demo");
    ASSERT_TRUE(execute(make_plan(load(before), host.read()), host).ok());
    const Plan plan = make_plan(load(moved), host.read());
    const auto other = index_of(plan, "network.other");
    EXPECT_EQ(plan.actions[other].type, ActionType::create);
    EXPECT_THAT(plan.actions[index_of(plan, "vm.a")].depends_on, ::testing::Contains(other));
    EXPECT_THAT(plan.actions[index_of(plan, "vm.b")].depends_on,
                ::testing::Not(::testing::Contains(other)));
    EXPECT_EQ(plan.actions[index_of(plan, "vm.a")].type, ActionType::update);
    EXPECT_EQ(plan.actions[index_of(plan, "vm.b")].type, ActionType::update);
    EXPECT_TRUE(execute(plan, host).ok());
    EXPECT_TRUE(make_plan(load(moved), host.read()).empty());
}

TEST(Exec, WorkersSpreadOverKindsAndOneWorkerFollowsThePlan) {
    // Three networks and three stopped VMs, all independent. Two workers: the
    // second takes a VM while the first starts a network, rather than queueing
    // a second network start behind it (libvirtd starts networks one at a time).
    const Desired desired = load(R"(lab: demo
networks:
  n1: {mode: isolated}
  n2: {mode: isolated}
  n3: {mode: isolated}
vms:
  v1: {nics: [{network: n1}], state: stopped}
  v2: {nics: [{network: n2}], state: stopped}
  v3: {nics: [{network: n3}], state: stopped}
)");
    // network.n1 runs until the three VMs are defined (or 5 s pass): only a
    // worker that leaves the other networks for later gets to them meanwhile.
    std::mutex mu;
    std::condition_variable cv;
    int vms_done = 0;
    FakeProvider host("demo");
    host.before_apply = [&](const Action& a) {
        std::unique_lock lock(mu);
        if (a.id.kind == Kind::vm) {
            ++vms_done;
            cv.notify_all();
        } else if (a.id.str() == "network.n1") {
            cv.wait_for(lock, std::chrono::seconds(5), [&] { return vms_done == 3; });
        }
    };
    const Plan plan = make_plan(desired, host.read());
    ASSERT_EQ(plan.actions.size(), 6u);
    for (const auto& a : plan.actions) EXPECT_TRUE(a.depends_on.empty()) << a.id.str();
    std::vector<std::string> started;
    ExecOptions options;
    options.parallelism = 2;
    options.on_event = [&](const ExecEvent& e) {
        if (e.type == ExecEvent::Type::started) started.push_back(e.action.id.str());
    };
    const ExecResult result = execute(plan, host, options);
    ASSERT_TRUE(result.ok());
    ASSERT_EQ(started.size(), 6u);
    EXPECT_EQ(started[0], "network.n1");
    EXPECT_EQ(started[1], "vm.v1") << "the second worker queued a second network start";
    // Every VM's define began while the first network was still starting.
    EXPECT_EQ(vms_done, 3);
    for (const char* vm : {"vm.v1", "vm.v2", "vm.v3"}) {
        EXPECT_LT(result.results[index_of(plan, vm)].started,
                  result.results[index_of(plan, "network.n1")].finished)
            << vm;
    }

    FakeProvider serial("demo");
    execute(plan, serial, ExecOptions{1, {}});
    std::vector<std::string> in_plan_order;
    for (const auto& a : plan.actions) in_plan_order.push_back("create " + a.id.str());
    EXPECT_EQ(serial.calls(), in_plan_order);
}

}  // namespace
}  // namespace virtform
