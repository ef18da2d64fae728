/// Address take-over against the real kernel: a veth pair stands in for the uplink
/// ens33 (192.168.80.138/24, default route via 192.168.80.1), its other end lives in
/// a second network namespace, the LAN router, holding 192.168.80.1/24.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <sstream>

#include "netns/netns_util.h"
#include "virtform/adapters/netlink/client.h"
#include "virtform/adapters/netlink/take_over.h"

namespace virtform::netlink {
namespace {

using netns_test::must;
using netns_test::PeerNetns;
using netns_test::sh;
using ::testing::HasSubstr;
using ::testing::Not;

/// The lines of `ip addr show dev <link>` that carry an address, without the
/// lifetime lines (they count down).
std::string address_lines(const std::string& link) {
    std::istringstream in(sh("ip addr show dev " + link));
    std::string line;
    std::string out;
    while (std::getline(in, line)) {
        if (line.find("inet") != std::string::npos) out += line + "\n";
    }
    return out;
}

class TakeOver : public ::testing::Test {
  protected:
    void SetUp() override {
        netns_test::fresh_netns();
        router = std::make_unique<PeerNetns>();
        const std::string pid = std::to_string(router->pid());
        must("ip link add ens33 type veth peer name lan0");
        must("ip link set lan0 netns " + pid);
        must(router->in("ip addr add 192.168.80.1/24 dev lan0"));
        must(router->in("ip addr add fd00:80::1/64 dev lan0 nodad"));
        must(router->in("ip link set lan0 up"));
        must("sysctl -qw net.ipv6.conf.ens33.accept_dad=0");
        must("ip addr add 192.168.80.138/24 brd + dev ens33");
        must("ip addr add fd00:80::138/64 dev ens33");
        must("ip link set ens33 up");
        must("ip route add default via 192.168.80.1 dev ens33");
        must("ip route add 10.20.0.0/16 via 192.168.80.1 dev ens33 metric 100 proto static");
        must("ip -6 route add fd00:99::/64 via fd00:80::1 dev ens33 metric 100");
        must("ping -c1 -W2 192.168.80.1");  // the LAN works before we start
        client = std::make_unique<Client>();
        client->create_bridge("br0");
        addresses_before = address_lines("ens33");
        routes_before = sh("ip route show");
        routes6_before = sh("ip -6 route show");
    }
    void TearDown() override {
        client.reset();
        router.reset();  // the router's namespace dies with its process
    }

    void break_the_gateway() { must(router->in("ip addr del 192.168.80.1/24 dev lan0")); }

    std::unique_ptr<PeerNetns> router;
    std::unique_ptr<Client> client;
    std::string addresses_before;
    std::string routes_before;
    std::string routes6_before;
};

TEST_F(TakeOver, MovesAddressesAndRoutesToTheBridgeAndTheRouterStillAnswers) {
    TakeOverReport report = take_over_addresses(*client, "ens33", "br0", {});
    EXPECT_TRUE(report.gateway_checked);
    EXPECT_TRUE(report.gateway_reachable);
    EXPECT_EQ(report.gateway, "192.168.80.1");
    EXPECT_TRUE(report.problem.empty());
    ASSERT_EQ(report.original.addresses.size(), 2u);
    ASSERT_EQ(report.original.routes.size(), 3u);
    EXPECT_TRUE(report.original.routes[0].is_default()) << "the default route moves first";
    EXPECT_LT(report.switch_time, std::chrono::seconds(1));

    std::string br0 = address_lines("br0");
    EXPECT_THAT(br0, HasSubstr("inet 192.168.80.138/24 brd 192.168.80.255 scope global br0"));
    EXPECT_THAT(br0, HasSubstr("inet6 fd00:80::138/64 scope global"));
    std::string ens33 = address_lines("ens33");
    EXPECT_THAT(ens33, Not(HasSubstr("inet ")));
    EXPECT_THAT(ens33, Not(HasSubstr("fd00:80::138")));
    EXPECT_THAT(sh("ip -d link show ens33"), HasSubstr("master br0"));
    std::string routes = sh("ip route show");
    EXPECT_THAT(routes, HasSubstr("default via 192.168.80.1 dev br0"));
    EXPECT_THAT(routes, HasSubstr("10.20.0.0/16 via 192.168.80.1 dev br0 proto static metric 100"));
    EXPECT_THAT(routes, Not(HasSubstr("dev ens33")));
    std::string routes6 = sh("ip -6 route show");
    EXPECT_THAT(routes6, HasSubstr("fd00:99::/64 via fd00:80::1 dev br0 metric 100"));
    EXPECT_THAT(routes6, Not(HasSubstr("fd00:99::/64 via fd00:80::1 dev ens33")));

    int status = 0;
    std::string out = sh("ping -c1 -W2 192.168.80.1", &status);
    EXPECT_EQ(status, 0) << out;
    out = sh("ping -6 -c1 -W2 fd00:80::1", &status);
    EXPECT_EQ(status, 0) << out;
    // The router reaches the host too, now through br0.
    out = sh(router->in("ping -c1 -W2 192.168.80.138"), &status);
    EXPECT_EQ(status, 0) << out;
}

TEST_F(TakeOver, ALostGatewayRollsBackToExactlyTheOriginalState) {
    break_the_gateway();
    TakeOverOptions options;
    options.timeout = std::chrono::milliseconds(1500);
    auto start = std::chrono::steady_clock::now();
    try {
        take_over_addresses(*client, "ens33", "br0", options);
        FAIL() << "expected TakeOverRolledBack";
    } catch (const TakeOverRolledBack& e) {
        EXPECT_THAT(e.what(), HasSubstr("rolled back"));
        EXPECT_THAT(e.what(), HasSubstr("gateway 192.168.80.1 did not answer via br0"));
        EXPECT_EQ(e.record().routes.size(), 3u);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

    EXPECT_EQ(address_lines("ens33"), addresses_before);
    EXPECT_EQ(sh("ip route show"), routes_before);
    EXPECT_EQ(sh("ip -6 route show"), routes6_before);
    EXPECT_THAT(sh("ip -d link show ens33"), Not(HasSubstr("master")));
    EXPECT_THAT(address_lines("br0"), Not(HasSubstr("192.168.80.138")));
    EXPECT_THAT(address_lines("br0"), Not(HasSubstr("fd00:80::138")));
    EXPECT_THAT(sh("ip link show br0"), Not(HasSubstr(",UP"))) << "the bridge was down before";

    // And the host works again once the router does.
    must(router->in("ip addr add 192.168.80.1/24 dev lan0"));
    must("ping -c1 -W2 192.168.80.1");
}

TEST_F(TakeOver, AStepThatFailsHalfWayRollsBackToo) {
    // Below 1280 bytes the kernel turns IPv6 off on br0: the IPv4 address moves, the
    // IPv6 one cannot.
    client->set_mtu("br0", 1200);
    try {
        take_over_addresses(*client, "ens33", "br0", {});
        FAIL() << "expected TakeOverRolledBack";
    } catch (const TakeOverRolledBack& e) {
        EXPECT_THAT(e.reason(), HasSubstr("add address fd00:80::138/64 to br0: IPv6 is not active "
                                          "on br0 (MTU 1200)"));
        EXPECT_THAT(e.what(), HasSubstr("rolled back"));
    }
    EXPECT_EQ(address_lines("ens33"), addresses_before);
    EXPECT_EQ(sh("ip route show"), routes_before);
    EXPECT_EQ(sh("ip -6 route show"), routes6_before);
    EXPECT_THAT(address_lines("br0"), Not(HasSubstr("192.168.80.138")));
    EXPECT_THAT(sh("ip -d link show ens33"), Not(HasSubstr("master")));
    must("ping -c1 -W2 192.168.80.1");
}

TEST_F(TakeOver, NoRollbackLeavesTheTakeOverInPlace) {
    break_the_gateway();
    TakeOverOptions options;
    options.timeout = std::chrono::milliseconds(1000);
    options.no_rollback = true;
    TakeOverReport report = take_over_addresses(*client, "ens33", "br0", options);
    EXPECT_TRUE(report.gateway_checked);
    EXPECT_FALSE(report.gateway_reachable);
    EXPECT_THAT(report.problem, HasSubstr("did not answer"));

    EXPECT_THAT(address_lines("br0"), HasSubstr("inet 192.168.80.138/24"));
    EXPECT_THAT(address_lines("ens33"), Not(HasSubstr("inet ")));
    EXPECT_THAT(sh("ip route show"), HasSubstr("default via 192.168.80.1 dev br0"));
    EXPECT_THAT(sh("ip -d link show ens33"), HasSubstr("master br0"));

    // The record still puts it back by hand.
    revert_take_over(*client, report.original);
    EXPECT_EQ(address_lines("ens33"), addresses_before);
    EXPECT_EQ(sh("ip route show"), routes_before);
}

TEST_F(TakeOver, RevertPutsASuccessfulTakeOverBack) {
    TakeOverReport report = take_over_addresses(*client, "ens33", "br0", {});
    ASSERT_TRUE(report.gateway_reachable);
    revert_take_over(*client, report.original);
    EXPECT_EQ(address_lines("ens33"), addresses_before);
    EXPECT_EQ(sh("ip route show"), routes_before);
    EXPECT_EQ(sh("ip -6 route show"), routes6_before);
    EXPECT_THAT(sh("ip -d link show ens33"), Not(HasSubstr("master")));
    must("ping -c1 -W2 192.168.80.1");
}

TEST_F(TakeOver, APortOfAnotherBridgeIsRefusedBeforeAnythingChanges) {
    client->create_bridge("br9");
    client->enslave("ens33", "br9");
    try {
        take_over_addresses(*client, "ens33", "br0", {});
        FAIL() << "expected AdapterError";
    } catch (const TakeOverRolledBack&) {
        FAIL() << "nothing should have changed, so nothing rolled back";
    } catch (const AdapterError& e) {
        EXPECT_THAT(e.what(), HasSubstr("ens33 is already a port of br9"));
    }
    EXPECT_EQ(address_lines("ens33"), addresses_before);
    EXPECT_EQ(sh("ip route show"), routes_before);
    EXPECT_THAT(address_lines("br0"), Not(HasSubstr("inet ")));
}

TEST_F(TakeOver, AnExplicitGatewayIsCheckedInsteadOfTheDefaultRoutes) {
    TakeOverOptions options;
    options.gateway = "fd00:80::1";
    TakeOverReport report = take_over_addresses(*client, "ens33", "br0", options);
    EXPECT_EQ(report.gateway, "fd00:80::1");
    EXPECT_TRUE(report.gateway_reachable);
}

}  // namespace
}  // namespace virtform::netlink
