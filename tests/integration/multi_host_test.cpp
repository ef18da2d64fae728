// One lab across two libvirt hosts (`hosts:`, issue 13 part 3): this host
// (local, qemu:///system) and host B, a second libvirtd on this machine in its
// own network, mount and PID namespaces reached over qemu+tcp
// (tests/hosts/host_b.sh). Checked with virsh on each host:
// - each network is made on its own host and not on the other; one plan lists
//   both hosts, the next is empty (--detailed-exitcode 0), --json has the hosts;
// - with host B stopped, plan and apply fail B's part naming b and its URI,
//   while local's part is applied; with B back, apply finishes;
// - status shows each object's host; destroy removes both.
//
// Names: host B's namespace vfmh<n>, lab vfmh-<pid>, networks vfmh<pid>a/b,
// addresses in 10.252.X.Y (RemoteHostTest uses 10.254 and 10.253).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "integration/host_b.h"
#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());

class MultiHostTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { start_error_ = start_b(); }
    static void TearDownTestSuite() {
        host_b::stop(ns());
        // What virtform keeps per lab and host: the lock files and drift records.
        sh("rm -f /run/virtform/locks/" + lab() + "@* /var/lib/virtform/state/" + lab() + "@*");
    }

    /// Starts (or restarts) host B; "" when it answers.
    static std::string start_b() {
        // A /30 per test process from the pid (10.252.10-99.Y), so parallel runs differ.
        const int x = 10 + (kPid / 64) % 90;
        const int y = (kPid % 64) * 4;
        const auto started = host_b::start(ns(), "10.252." + std::to_string(x) + ".", y);
        if (!started.error.empty()) return started.error;
        uri_ = started.uri;
        return "";
    }

    void SetUp() override { ASSERT_EQ(start_error_, "") << "host B did not start"; }

    void TearDown() override {
        for (const auto& n : {net("a"), net("b")}) {
            on_b("net-destroy " + n + " >/dev/null 2>&1");
            on_b("net-undefine " + n + " >/dev/null 2>&1");
            remove_network(n);
        }
    }

    static std::string ns() { return "vfmh" + std::to_string(kPid % 1000000); }
    static std::string lab() { return "vfmh-" + std::to_string(kPid); }
    static std::string net(const std::string& which) {
        return "vfmh" + std::to_string(kPid) + which;
    }
    static CommandResult on_b(const std::string& args) { return host_b::virsh(uri_, args); }
    static bool on_b_has_network(const std::string& name) {
        return host_b::has_network(uri_, name);
    }

    /// net-a on local, net-b on host b: NAT networks in 10.252.200-249.0/25 and .128/25.
    std::string manifest() {
        const std::string p = "10.252." + std::to_string(200 + kPid % 50) + ".";
        return dir_
            .write("lab.yaml",
                   "lab: " + lab() + "\nhosts:\n  b:\n    uri: " + uri_ + "\nnetworks:\n  " +
                       net("a") + ":\n    mode: nat\n    ipv4: {address: " + p + "1/25}\n  " +
                       net("b") + ":\n    host: b\n    mode: nat\n    ipv4: {address: " + p +
                       "129/25}\n")
            .string();
    }

    static std::string uri_;
    static std::string start_error_;
    TempDir dir_{"vfmh"};
};

std::string MultiHostTest::uri_;
std::string MultiHostTest::start_error_;

TEST_F(MultiHostTest, EachNetworkIsMadeOnItsHostAndTheNextPlanIsEmpty) {
    const auto file = manifest();
    const auto plan = virtform({"plan", file});
    ASSERT_EQ(plan.code, 0) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("Host local ("));
    EXPECT_THAT(plan.out, HasSubstr("Host b (" + uri_ + "):"));
    EXPECT_THAT(plan.out, HasSubstr("Plan: 2 to add, 0 to change, 0 to destroy."));

    const auto json = virtform({"plan", "--json", file});
    ASSERT_EQ(json.code, 0) << json.describe();
    const auto doc = nlohmann::json::parse(json.out);
    ASSERT_EQ(doc["hosts"].size(), 2u) << json.out;
    EXPECT_EQ(doc["hosts"][0]["name"], "local");
    EXPECT_EQ(doc["hosts"][1]["name"], "b");
    EXPECT_EQ(doc["hosts"][1]["uri"], uri_);
    EXPECT_TRUE(doc["hosts"][1]["error"].is_null());
    std::map<std::string, std::string> host_of;
    for (const auto& a : doc["actions"]) host_of[a["name"]] = a["host"];
    EXPECT_EQ(host_of[net("a")], "local");
    EXPECT_EQ(host_of[net("b")], "b");

    const auto apply = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_THAT(apply.err, HasSubstr("b: network." + net("b") + ": Creating..."));
    EXPECT_TRUE(network_exists(net("a")));
    EXPECT_FALSE(network_exists(net("b"))) << "host B's network was made on this host";
    EXPECT_TRUE(on_b_has_network(net("b")));
    EXPECT_FALSE(on_b_has_network(net("a"))) << "this host's network was made on host B";

    const auto again = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(again.code, 0) << again.describe();

    const auto status = virtform({"status", file});
    ASSERT_EQ(status.code, 0) << status.describe();
    EXPECT_THAT(status.out, HasSubstr("HOST"));
    EXPECT_THAT(status.out, ::testing::ContainsRegex("b +network\\." + net("b") + " +active"));
    EXPECT_THAT(status.out, ::testing::ContainsRegex("local +network\\." + net("a") + " +active"));

    const auto graph = virtform({"graph", "--format", "mermaid", file});
    ASSERT_EQ(graph.code, 0) << graph.describe();
    EXPECT_THAT(graph.out, HasSubstr("network " + net("b") + "<br/>host b<br/>"));
    EXPECT_THAT(graph.out, HasSubstr("network " + net("a") + "<br/>host local<br/>"));
    EXPECT_THAT(graph.out, HasSubstr("uplink of host b"));

    const auto destroy = virtform({"destroy", "--auto-approve", file});
    EXPECT_EQ(destroy.code, 0) << destroy.describe();
    EXPECT_FALSE(network_exists(net("a")));
    EXPECT_FALSE(on_b_has_network(net("b")));
}

TEST_F(MultiHostTest, AHostThatDoesNotAnswerFailsItsPartOnlyAndAReapplyFinishes) {
    const auto file = manifest();
    host_b::stop(ns());
    const auto plan = virtform({"plan", file});
    EXPECT_EQ(plan.code, 1) << plan.describe();
    EXPECT_THAT(plan.err, HasSubstr("host 'b' (" + uri_ + ")"));
    EXPECT_THAT(plan.out, HasSubstr("+ network \"" + net("a") + "\""));

    const auto json = virtform({"plan", "--json", file});
    EXPECT_EQ(json.code, 1) << json.describe();
    const auto doc = nlohmann::json::parse(json.out);
    EXPECT_EQ(doc["ok"], false);
    ASSERT_EQ(doc["hosts"].size(), 2u) << json.out;
    EXPECT_TRUE(doc["hosts"][0]["error"].is_null());
    EXPECT_THAT(doc["hosts"][1]["error"].get<std::string>(), HasSubstr(uri_));

    const auto apply = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(apply.code, 1) << apply.describe();
    EXPECT_THAT(apply.out, HasSubstr("Apply incomplete."));
    EXPECT_THAT(apply.out, HasSubstr("failed host 'b' (" + uri_ + ")"));
    EXPECT_TRUE(network_exists(net("a"))) << "local's part was not applied";

    const auto status = virtform({"status", file});
    EXPECT_EQ(status.code, 1) << status.describe();
    EXPECT_THAT(status.out, HasSubstr("not answering"));
    EXPECT_THAT(status.out, ::testing::ContainsRegex("local +network\\." + net("a")));

    ASSERT_EQ(start_b(), "") << "host B did not come back";
    const auto again = virtform({"apply", "--auto-approve", "--json", file});
    ASSERT_EQ(again.code, 0) << again.describe();
    const auto applied = nlohmann::json::parse(again.out);
    EXPECT_EQ(applied["ok"], true);
    ASSERT_EQ(applied["results"].size(), 1u) << again.out;
    EXPECT_EQ(applied["results"][0]["host"], "b");
    EXPECT_EQ(applied["results"][0]["address"], "network." + net("b"));
    EXPECT_EQ(applied["results"][0]["outcome"], "done");
    EXPECT_EQ(applied["hosts"].size(), 2u);
    EXPECT_TRUE(on_b_has_network(net("b")));
    const auto empty = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(empty.code, 0) << empty.describe();

    const auto destroy = virtform({"destroy", "--auto-approve", file});
    EXPECT_EQ(destroy.code, 0) << destroy.describe();
    EXPECT_FALSE(network_exists(net("a")));
    EXPECT_FALSE(on_b_has_network(net("b")));
}

TEST_F(MultiHostTest, APlanErrorOnOneHostChangesNoHost) {
    // Host B holds a network of the lab's name that no lab owns: the
    // manifests' problem, not B's, so local's part is not applied either.
    const std::string xml =
        dir_.write("taken.xml", "<network><name>" + net("b") + "</name></network>").string();
    ASSERT_EQ(on_b("net-define " + xml).code, 0);
    const auto file = manifest();
    const auto apply = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(apply.code, 1) << apply.describe();
    EXPECT_THAT(apply.err, HasSubstr("nothing was changed on any host"));
    EXPECT_THAT(apply.err, HasSubstr("host 'b' (" + uri_ + ")"));
    EXPECT_THAT(apply.err, HasSubstr("network '" + net("b") + "' already exists"));
    EXPECT_FALSE(network_exists(net("a"))) << "local's part was applied";
}

TEST_F(MultiHostTest, SavedPlansAndTheDefaultHostsUriTwiceAreRefused) {
    const auto file = manifest();
    const auto saved = virtform({"plan", "-o", dir_.path().string() + "/p.plan", file});
    EXPECT_EQ(saved.code, 1) << saved.describe();
    EXPECT_THAT(saved.err, HasSubstr("saved plans do not cover a lab with 'hosts:'"));
    // --connect names host B: it would be both `local` and `b`.
    const auto twice = virtform({"plan", "-c", uri_, file});
    EXPECT_EQ(twice.code, 1) << twice.describe();
    EXPECT_THAT(twice.err, HasSubstr("host 'b' has the URI " + uri_ + " of the default host"));
    EXPECT_FALSE(on_b_has_network(net("b")));
    EXPECT_FALSE(network_exists(net("a")));
}

}  // namespace
}  // namespace virtform::testing
