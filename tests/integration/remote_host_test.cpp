// A lab on another libvirt host, over libvirt's remote protocol (qemu+tcp):
// host B is a second libvirtd on this machine in its own network, mount and
// PID namespaces (tests/hosts/host_b.sh), with none of this host's networks.
// What virtform reads, checks and changes must be host B's, not this host's:
// - the network is made on host B and not here; a second plan is empty;
// - a subnet that overlaps an address of *this* host is no collision there,
//   while one that overlaps a libvirt network of host B is, naming it;
// - what cannot be done over the protocol (bridges, pools, cloud-init) is a
//   plan error naming the object, and nothing is touched on either host.
//
// Names: host B's namespace vfhb<n>, lab vf-remote-<pid>, objects vfrm<pid>-...
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "integration/host_b.h"
#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());

class RemoteHostTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // A /30 per test process: 10.254.X.Y from the pid, so parallel runs differ.
        const int x = (kPid / 64) % 250;
        const int y = (kPid % 64) * 4;
        host_net_ = "10.253." + std::to_string(x) + ".0/24";
        const auto started = host_b::start(ns(), "10.254." + std::to_string(x) + ".", y);
        start_error_ = started.error;
        uri_ = started.uri;
        // An address only this host has: a subnet over it is a collision here, not there.
        if (start_error_.empty())
            sh("ip addr add 10.253." + std::to_string(x) + ".1/24 dev " + ns() + "-a");
    }
    static void TearDownTestSuite() { host_b::stop(ns()); }

    void SetUp() override { ASSERT_EQ(start_error_, "") << "host B did not start"; }

    void TearDown() override {
        for (const auto& n : {net("a"), net("b"), net("taken")}) {
            on_b("net-destroy " + n + " >/dev/null 2>&1");
            on_b("net-undefine " + n + " >/dev/null 2>&1");
            remove_network(n);
        }
    }

    static std::string ns() { return "vfhb" + std::to_string(kPid % 1000000); }
    static std::string lab() { return "vf-remote-" + std::to_string(kPid); }
    static std::string net(const std::string& which) {
        return "vfrm" + std::to_string(kPid) + "-" + which;
    }
    static CommandResult on_b(const std::string& args) { return host_b::virsh(uri_, args); }
    static bool on_b_has_network(const std::string& name) {
        return host_b::has_network(uri_, name);
    }

    /// A NAT network `which` on `subnet` (third octet form "a.b.c"), bridge vfrmb<which><pid>.
    std::string network(const std::string& which, const std::string& prefix) const {
        return "  " + net(which) + ":\n    mode: nat\n    bridge: vr" + which +
               std::to_string(kPid % 1000000) + "\n    ipv4:\n      address: " + prefix +
               ".1/24\n      dhcp: {range: " + prefix + ".10-" + prefix + ".20}\n";
    }
    std::string manifest(const std::string& body) {
        return dir_.write("lab" + std::to_string(++files_) + ".yaml", "lab: " + lab() + "\n" + body)
            .string();
    }
    std::string host_prefix() const { return host_net_.substr(0, host_net_.rfind('.')); }

    static std::string uri_;
    static std::string start_error_;
    static std::string host_net_;
    TempDir dir_{"virtform-remote"};
    int files_ = 0;
};

std::string RemoteHostTest::uri_;
std::string RemoteHostTest::start_error_;
std::string RemoteHostTest::host_net_;

TEST_F(RemoteHostTest, ANetworkIsMadeThereNotHereAndTheNextPlanIsEmpty) {
    // The subnet overlaps an address of this host (on host B's veth end here):
    // against this host it is a collision, against host B it is not.
    const auto file = manifest("networks:\n" + network("a", host_prefix()));
    const auto local = virtform({"plan", file});
    EXPECT_EQ(local.code, 1) << local.describe();
    EXPECT_THAT(local.err, HasSubstr("of host interface '" + ns() + "-a'"));

    const auto apply = virtform({"apply", "-c", uri_, "--auto-approve", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_THAT(apply.err, HasSubstr("is another host"));
    EXPECT_TRUE(on_b_has_network(net("a")));
    EXPECT_THAT(trim(on_b("net-info " + net("a") + " | grep ^Active").out), HasSubstr("yes"));
    EXPECT_FALSE(network_exists(net("a"))) << "the network was made on this host";

    const auto again = virtform({"plan", "-c", uri_, "--detailed-exitcode", file});
    EXPECT_EQ(again.code, 0) << again.describe();

    const auto status = virtform({"status", "-c", uri_, "--json", file});
    ASSERT_EQ(status.code, 0) << status.describe();
    EXPECT_THAT(status.out, HasSubstr(net("a")));

    const auto destroy = virtform({"destroy", "-c", uri_, "--auto-approve", file});
    EXPECT_EQ(destroy.code, 0) << destroy.describe();
    EXPECT_FALSE(on_b_has_network(net("a")));
}

TEST_F(RemoteHostTest, ASubnetTakenByALibvirtNetworkThereIsAPlanError) {
    // Made by hand on host B, owned by no lab.
    const std::string xml =
        dir_.write("taken.xml",
                   "<network><name>" + net("taken") + "</name><bridge name='vrt" +
                       std::to_string(kPid % 1000000) +
                       "'/><ip address='10.252.7.1' netmask='255.255.255.0'/></network>")
            .string();
    ASSERT_EQ(on_b("net-define " + xml).code, 0);
    ASSERT_EQ(on_b("net-start " + net("taken")).code, 0);
    const auto file = manifest("networks:\n" + network("b", "10.252.7"));
    const auto plan = virtform({"plan", "-c", uri_, file});
    EXPECT_EQ(plan.code, 1) << plan.describe();
    EXPECT_THAT(plan.err, HasSubstr(net("taken")));
    // This host has no such network: here the same manifest plans.
    const auto local = virtform({"plan", file});
    EXPECT_EQ(local.code, 0) << local.describe();
    EXPECT_FALSE(on_b_has_network(net("b")));
}

TEST_F(RemoteHostTest, BridgesPoolsAndCloudInitAreRefusedNamingEachAndNothingIsTouched) {
    const auto file = manifest(
        "bridges:\n  vrbr" + std::to_string(kPid % 1000000) + ": {}\npools:\n  " + net("pool") +
        ": {path: " + dir_.path().string() + "/pool}\nnetworks:\n" + network("a", "10.252.9") +
        "vms:\n  " + net("vm") +
        ":\n    memory: 128MiB\n    accel: qemu\n    kernel: /nonexistent/on/this/host\n"
        "    state: stopped\n    cloud_init: {ssh_authorized_keys: [\"ssh-ed25519 AAAA lab\"]}\n");
    const auto apply = virtform({"apply", "-c", uri_, "--auto-approve", file});
    EXPECT_EQ(apply.code, 1) << apply.describe();
    EXPECT_THAT(apply.err, HasSubstr(":3:3: error: bridge 'vrbr"));
    EXPECT_THAT(apply.err, HasSubstr("run virtform on 10.254."));
    EXPECT_THAT(apply.err, HasSubstr("error: pool '" + net("pool") + "'"));
    EXPECT_THAT(apply.err, HasSubstr("error: VM '" + net("vm") + "'"));
    EXPECT_THAT(apply.err, HasSubstr("cloud_init seed ISO"));
    // The kernel path is host B's to have: it is not checked here.
    EXPECT_THAT(apply.err, Not(HasSubstr("no such file")));
    EXPECT_FALSE(on_b_has_network(net("a")));
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "pool"));
    EXPECT_FALSE(link_exists("vrbr" + std::to_string(kPid % 1000000)));
}

}  // namespace
}  // namespace virtform::testing
