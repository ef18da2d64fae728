/// The netlink adapter against the real kernel, in a private network namespace.
/// Every result is checked with iproute2 (`ip -d link`, `ip addr`, `ip route`) or
/// sysfs as well, not only with the adapter's own reader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>

#include "netns/netns_util.h"
#include "virtform/adapters/netlink/bridge_provider.h"
#include "virtform/adapters/netlink/client.h"
#include "virtform/error.h"

namespace virtform::netlink {
namespace {

using netns_test::must;
using netns_test::sh;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

/// A device that is not a bridge: a dummy where the kernel has CONFIG_DUMMY, else one
/// end of a veth pair. Returns its kind.
std::string add_plain_device(const std::string& name) {
    int status = 0;
    sh("ip link add " + name + " type dummy", &status);
    if (status == 0) return "dummy";
    must("ip link add " + name + " type veth peer name " + name + "p");
    must("ip link set " + name + "p up");  // carrier, as a dummy has
    return "veth";
}

std::string sysfs(const std::string& path) {
    std::ifstream in(path);
    std::string v;
    std::getline(in, v);
    return v;
}

class NetlinkClient : public ::testing::Test {
  protected:
    void SetUp() override {
        netns_test::fresh_netns();
        client = std::make_unique<Client>();  // after the move: the socket is in the new netns
    }
    std::unique_ptr<Client> client;
    Client& nl() { return *client; }
};

/// Runs `fn`, expects an AdapterError, and returns it.
template <class F>
AdapterError expect_error(F&& fn) {
    try {
        fn();
    } catch (const AdapterError& e) {
        return e;
    }
    ADD_FAILURE() << "expected an AdapterError";
    return AdapterError("", "", "", 0);
}

TEST_F(NetlinkClient, CreatesUpdatesAndDeletesABridge) {
    nl().create_bridge("br0");
    EXPECT_THAT(sh("ip -d link show br0"), HasSubstr("bridge forward_delay"));
    Link br = nl().link("br0");
    EXPECT_EQ(br.kind, "bridge");
    EXPECT_TRUE(br.is_bridge());
    EXPECT_GT(br.ifindex, 1);
    EXPECT_FALSE(br.admin_up);

    nl().set_alias("br0", "virtform:lab=nat-demo");
    nl().set_up("br0", true);
    EXPECT_THAT(sh("ip -d link show br0"), HasSubstr("alias virtform:lab=nat-demo"));
    EXPECT_THAT(sh("ip link show br0"), HasSubstr("<BROADCAST,MULTICAST,UP"));
    EXPECT_EQ(nl().link("br0").alias, "virtform:lab=nat-demo");
    EXPECT_TRUE(nl().link("br0").admin_up);

    nl().set_alias("br0", "");
    EXPECT_THAT(sh("ip -d link show br0"), Not(HasSubstr("alias")));
    EXPECT_EQ(nl().link("br0").alias, "");
    nl().set_up("br0", false);
    EXPECT_THAT(sh("ip link show br0"), Not(HasSubstr(",UP")));

    nl().delete_link("br0");
    int status = 0;
    sh("ip link show br0", &status);
    EXPECT_NE(status, 0);
    EXPECT_FALSE(nl().find_link("br0"));
    AdapterError e = expect_error([&] { nl().link("br0"); });
    EXPECT_EQ(e.code(), code::no_device);
}

TEST_F(NetlinkClient, CreatingAnExistingBridgeSaysSoAndEnsureIsIdempotent) {
    EXPECT_TRUE(nl().ensure_bridge("br0"));
    EXPECT_FALSE(nl().ensure_bridge("br0"));
    AdapterError e = expect_error([&] { nl().create_bridge("br0"); });
    EXPECT_EQ(e.code(), code::exists);
    EXPECT_THAT(e.what(), HasSubstr("a bridge named br0 already exists"));
    EXPECT_EQ(e.operation(), "create bridge");
    EXPECT_EQ(e.object(), "br0");
}

TEST_F(NetlinkClient, ANameTakenByADummyDeviceIsAnErrorNotANoOp) {
    const std::string kind = add_plain_device("vf0");
    AdapterError e = expect_error([&] { nl().create_bridge("vf0"); });
    EXPECT_EQ(e.code(), code::exists);
    EXPECT_THAT(e.what(), HasSubstr("taken by a " + kind + " device, not a bridge"));
    AdapterError e2 = expect_error([&] { nl().ensure_bridge("vf0"); });
    EXPECT_THAT(e2.what(), HasSubstr(kind));
    // Left exactly as it was.
    EXPECT_THAT(sh("ip -d link show vf0"), HasSubstr(kind));
    EXPECT_THAT(sh("ip -d link show vf0"), Not(HasSubstr("bridge")));
    EXPECT_EQ(nl().link("vf0").kind, kind);
}

TEST_F(NetlinkClient, PortsGoInAndOut) {
    nl().create_bridge("br0");
    must("ip link add p0 type veth peer name p1");
    nl().enslave("p0", "br0");
    EXPECT_THAT(sh("ip -d link show p0"), HasSubstr("master br0"));
    EXPECT_THAT(sh("ip -d link show p0"), HasSubstr("bridge_slave"));
    EXPECT_EQ(sysfs("/sys/class/net/p0/master/ifindex"), std::to_string(nl().link("br0").ifindex));
    EXPECT_THAT(nl().ports("br0"), ElementsAre("p0"));
    Link p0 = nl().link("p0");
    EXPECT_EQ(p0.master, "br0");
    EXPECT_EQ(p0.kind, "veth");

    nl().enslave("p0", "br0");  // already there: nothing to do
    EXPECT_THAT(nl().ports("br0"), ElementsAre("p0"));

    nl().release("p0");
    EXPECT_THAT(sh("ip -d link show p0"), Not(HasSubstr("master")));
    EXPECT_TRUE(nl().ports("br0").empty());
    EXPECT_EQ(nl().link("p0").master_ifindex, 0);
    nl().release("p0");  // no master: nothing to do
}

TEST_F(NetlinkClient, APortInAnotherBridgeIsAnErrorNamingThatBridge) {
    nl().create_bridge("br0");
    nl().create_bridge("br1");
    must("ip link add p0 type veth peer name p1");
    nl().enslave("p0", "br0");
    AdapterError e = expect_error([&] { nl().enslave("p0", "br1"); });
    EXPECT_THAT(e.what(), HasSubstr("p0 is already a port of br0"));
    EXPECT_EQ(e.operation(), "enslave");
    EXPECT_THAT(sh("ip -d link show p0"), HasSubstr("master br0"));

    AdapterError e2 = expect_error([&] { nl().enslave("p1", "p0"); });
    EXPECT_THAT(e2.what(), HasSubstr("p0 is not a bridge"));
}

TEST_F(NetlinkClient, StpOnOffAndTimersInCentiseconds) {
    nl().create_bridge("br0");
    BridgeInfo defaults = nl().bridge_info("br0");
    EXPECT_FALSE(defaults.stp_enabled());
    EXPECT_EQ(defaults.forward_delay_cs, 1500u);  // 15 s, the kernel's default
    EXPECT_EQ(defaults.priority, 32768);

    BridgeOptions on;
    on.stp = true;
    on.forward_delay_cs = 400;
    on.hello_time_cs = 200;
    on.max_age_cs = 1200;
    on.priority = 4096;
    nl().set_bridge_options("br0", on);
    std::string d = sh("ip -d link show br0");
    EXPECT_THAT(d, HasSubstr("forward_delay 400 hello_time 200 max_age 1200"));
    EXPECT_THAT(d, HasSubstr("stp_state 1 priority 4096"));
    EXPECT_EQ(sysfs("/sys/class/net/br0/bridge/stp_state"), "1");
    EXPECT_EQ(sysfs("/sys/class/net/br0/bridge/forward_delay"), "400");
    BridgeInfo info = nl().bridge_info("br0");
    EXPECT_EQ(info.stp_state, 1u);
    EXPECT_EQ(info.forward_delay_cs, 400u);
    EXPECT_EQ(info.hello_time_cs, 200u);
    EXPECT_EQ(info.max_age_cs, 1200u);
    EXPECT_EQ(info.priority, 4096);

    // With STP on the kernel enforces 2..30 s.
    BridgeOptions too_short;
    too_short.forward_delay_cs = 100;
    AdapterError e = expect_error([&] { nl().set_bridge_options("br0", too_short); });
    EXPECT_THAT(e.what(), HasSubstr("out of range"));
    EXPECT_EQ(nl().bridge_info("br0").forward_delay_cs, 400u);

    BridgeOptions off;
    off.stp = false;
    off.forward_delay_cs = 0;  // allowed once STP is off (kernel applies STP state after)
    nl().set_bridge_options("br0", BridgeOptions{.stp = false});
    nl().set_bridge_options("br0", off);
    EXPECT_THAT(sh("ip -d link show br0"), HasSubstr("stp_state 0"));
    EXPECT_THAT(sh("ip -d link show br0"), HasSubstr("forward_delay 0 "));
    EXPECT_EQ(sysfs("/sys/class/net/br0/bridge/stp_state"), "0");
    EXPECT_FALSE(nl().bridge_info("br0").stp_enabled());
}

// The read takes every bridge's options from one link dump (bridge_infos),
// not two requests per bridge: the same values as bridge_info, and only bridges.
TEST_F(NetlinkClient, OneDumpGivesEveryBridgesOptionsAsBridgeInfoDoes) {
    nl().create_bridge("br0");
    nl().create_bridge("br1");
    BridgeOptions on;
    on.stp = true;
    on.forward_delay_cs = 400;
    on.hello_time_cs = 200;
    on.max_age_cs = 1200;
    on.priority = 4096;
    nl().set_bridge_options("br1", on);
    add_plain_device("d0");
    const auto all = nl().bridge_infos();
    EXPECT_EQ(all.count("d0"), 0u);
    EXPECT_EQ(all.count("lo"), 0u);
    for (const std::string name : {"br0", "br1"}) {
        ASSERT_EQ(all.count(name), 1u) << name;
        const BridgeInfo one = nl().bridge_info(name);
        const BridgeInfo& dumped = all.at(name);
        EXPECT_EQ(dumped.stp_state, one.stp_state) << name;
        EXPECT_EQ(dumped.forward_delay_cs, one.forward_delay_cs) << name;
        EXPECT_EQ(dumped.hello_time_cs, one.hello_time_cs) << name;
        EXPECT_EQ(dumped.max_age_cs, one.max_age_cs) << name;
        EXPECT_EQ(dumped.priority, one.priority) << name;
        EXPECT_EQ(dumped.vlan_filtering, one.vlan_filtering) << name;
    }
    EXPECT_EQ(all.at("br1").stp_state, 1u);
    EXPECT_EQ(all.at("br1").forward_delay_cs, 400u);
    EXPECT_EQ(all.at("br0").stp_state, 0u);
}

TEST_F(NetlinkClient, VlanFilteringWhenTheKernelSupportsIt) {
    nl().create_bridge("br0");
    int status = 0;
    sh("ip link set br0 type bridge vlan_filtering 0", &status);
    EXPECT_EQ(nl().vlan_filtering_supported("br0"), status == 0)
        << "the probe agrees with iproute2";
    if (!nl().vlan_filtering_supported("br0")) {
        BridgeOptions o{.stp = true, .vlan_filtering = true};
        AdapterError e = expect_error([&] { nl().set_bridge_options("br0", o); });
        EXPECT_THAT(e.what(), HasSubstr("VLAN filtering on bridges is not supported"));
        EXPECT_THAT(sh("ip -d link show br0"), HasSubstr("stp_state 0")) << "nothing half-applied";
        GTEST_SKIP() << "no VLAN filtering in this kernel (the error was checked)";
    }
    nl().set_bridge_options("br0", BridgeOptions{.vlan_filtering = true});
    EXPECT_THAT(sh("ip -d link show br0"), HasSubstr("vlan_filtering 1"));
    EXPECT_EQ(nl().bridge_info("br0").vlan_filtering, true);
    nl().set_bridge_options("br0", BridgeOptions{.vlan_filtering = false});
    EXPECT_THAT(sh("ip -d link show br0"), HasSubstr("vlan_filtering 0"));
}

TEST_F(NetlinkClient, BridgeOptionsOfANonBridgeAreAnError) {
    const std::string kind = add_plain_device("vf0");
    AdapterError e = expect_error([&] { nl().bridge_info("vf0"); });
    EXPECT_THAT(e.what(), HasSubstr("a " + kind + " device, not a bridge"));
    AdapterError e2 = expect_error([&] { nl().set_bridge_options("vf0", {.stp = true}); });
    EXPECT_THAT(e2.what(), HasSubstr("not a bridge"));
}

TEST_F(NetlinkClient, MtuAndMac) {
    must("ip link add p0 type veth peer name p1");
    nl().set_mtu("p0", 1400);
    EXPECT_THAT(sh("ip link show p0"), HasSubstr("mtu 1400"));
    EXPECT_EQ(nl().link("p0").mtu, 1400u);
    AdapterError e = expect_error([&] { nl().set_mtu("p0", 70000); });
    EXPECT_THAT(e.what(), HasSubstr("set mtu 70000 on p0"));
    EXPECT_THAT(sh("ip link show p0"), HasSubstr("mtu 1400"));

    nl().set_mac("p0", "52:54:00:AB:CD:01");
    EXPECT_THAT(sh("ip link show p0"), HasSubstr("link/ether 52:54:00:ab:cd:01"));
    EXPECT_EQ(nl().link("p0").mac, "52:54:00:ab:cd:01");
    AdapterError bad = expect_error([&] { nl().set_mac("p0", "52:54:00:ab:cd"); });
    EXPECT_THAT(bad.what(), HasSubstr("not a MAC address"));
    AdapterError mc = expect_error([&] { nl().set_mac("p0", "01:00:5e:00:00:01"); });
    EXPECT_THAT(mc.what(), HasSubstr("multicast"));
}

TEST_F(NetlinkClient, AMissingDeviceIsNodevWithAClearMessage) {
    AdapterError e = expect_error([&] { nl().set_mtu("nope0", 1500); });
    EXPECT_EQ(e.code(), code::no_device);
    EXPECT_EQ(e.object(), "nope0");
    EXPECT_THAT(e.what(), HasSubstr("no such network device"));
    AdapterError e2 = expect_error([&] { nl().delete_link("nope0"); });
    EXPECT_EQ(e2.code(), code::no_device);
}

TEST_F(NetlinkClient, Addresses) {
    add_plain_device("vf0");
    nl().set_up("vf0", true);
    nl().add_address("vf0", "192.168.80.138/24");
    nl().add_address("vf0", "fd00:80::138/64");
    std::string a = sh("ip addr show dev vf0");
    EXPECT_THAT(a, HasSubstr("inet 192.168.80.138/24 brd 192.168.80.255 scope global vf0"));
    EXPECT_THAT(a, HasSubstr("inet6 fd00:80::138/64 scope global"));

    auto list = nl().addresses("vf0");
    ASSERT_GE(list.size(), 2u);
    EXPECT_EQ(list[0].cidr(), "192.168.80.138/24");
    EXPECT_EQ(list[0].broadcast, "192.168.80.255");
    EXPECT_TRUE(list[0].is_global());
    bool v6 = false;
    bool link_local = false;
    for (const Address& x : list) {
        if (x.cidr() == "fd00:80::138/64") v6 = x.is_global();
        if (x.address.starts_with("fe80:")) link_local = x.link_local() && !x.is_global();
    }
    EXPECT_TRUE(v6);
    EXPECT_TRUE(link_local) << "fe80:: is reported, marked link-local";

    AdapterError dup = expect_error([&] { nl().add_address("vf0", "192.168.80.138/24"); });
    EXPECT_THAT(dup.what(),
                HasSubstr("add address 192.168.80.138/24 to vf0: address 192.168.80.138/24 "
                          "already exists on vf0"));

    nl().delete_address("vf0", "192.168.80.138/24");
    nl().delete_address("vf0", "fd00:80::138/64");
    a = sh("ip addr show dev vf0");
    EXPECT_THAT(a, Not(HasSubstr("192.168.80.138")));
    EXPECT_THAT(a, Not(HasSubstr("fd00:80::138")));
    AdapterError gone = expect_error([&] { nl().delete_address("vf0", "192.168.80.138/24"); });
    EXPECT_THAT(gone.what(), HasSubstr("there is no address 192.168.80.138/24 on vf0"));
    AdapterError bad = expect_error([&] { nl().add_address("vf0", "192.168.80.300/24"); });
    EXPECT_THAT(bad.what(), HasSubstr("not an address"));
}

TEST_F(NetlinkClient, RoutesIncludingADefaultRouteViaAGateway) {
    add_plain_device("vf0");
    nl().set_up("vf0", true);
    nl().add_address("vf0", "10.9.0.1/24");

    Route net;
    net.dst = "10.50.0.0/16";
    net.gateway = "10.9.0.254";
    net.oif_name = "vf0";
    net.metric = 50;
    nl().add_route(net);
    Route def;
    def.gateway = "10.9.0.254";
    def.oif_name = "vf0";
    nl().add_route(def);
    std::string r = sh("ip route show");
    // iproute2 leaves out "proto boot", its default.
    EXPECT_THAT(r, HasSubstr("default via 10.9.0.254 dev vf0 \n"));
    EXPECT_THAT(r, HasSubstr("10.50.0.0/16 via 10.9.0.254 dev vf0 metric 50 \n"));

    auto routes = nl().routes({.link = "vf0"});
    int found = 0;
    for (const Route& x : routes) {
        if (x.is_default() && x.gateway == "10.9.0.254" && x.oif_name == "vf0") ++found;
        if (x.dst == "10.50.0.0/16" && x.metric == 50 && x.protocol == 3) ++found;
        if (x.dst == "10.9.0.0/24") {
            EXPECT_EQ(x.protocol, 2) << "the kernel's prefix route";
        }
    }
    EXPECT_EQ(found, 2);

    AdapterError dup = expect_error([&] { nl().add_route(def); });
    EXPECT_THAT(dup.what(), HasSubstr("already exists"));

    nl().delete_route(def);
    nl().delete_route(net);
    r = sh("ip route show");
    EXPECT_THAT(r, Not(HasSubstr("default")));
    EXPECT_THAT(r, Not(HasSubstr("10.50.0.0")));

    Route far;
    far.gateway = "172.31.0.1";
    far.oif_name = "vf0";
    AdapterError unreachable = expect_error([&] { nl().add_route(far); });
    EXPECT_THAT(unreachable.what(), HasSubstr("add route default via 172.31.0.1 dev vf0"));
    EXPECT_THAT(unreachable.detail(), HasSubstr("gateway"));
}

TEST_F(NetlinkClient, ReadsLinksWithNormalisedValues) {
    must("ip link add p0 address 52:54:00:AA:BB:CC type veth peer name p1");
    must("ip link set p0 up");
    must("ip link set p1 up");
    bool seen_lo = false;
    for (const Link& l : nl().links()) {
        if (l.name == "lo") seen_lo = l.admin_up && l.kind.empty();
        if (l.name == "p0") {
            EXPECT_EQ(l.mac, "52:54:00:aa:bb:cc");
            EXPECT_EQ(l.kind, "veth");
            EXPECT_TRUE(l.admin_up);
            EXPECT_EQ(l.mtu, 1500u);
        }
    }
    EXPECT_TRUE(seen_lo);
    // Carrier comes once both ends are up; the reader refreshes on every call.
    for (int i = 0; i < 50 && nl().link("p0").oper_state != "up"; ++i) usleep(20000);
    EXPECT_EQ(nl().link("p0").oper_state, "up");
    EXPECT_TRUE(nl().link("p0").lower_up);
}


// `plan` reads netlink while the manifests load (NetlinkSnapshot): the
// provider's first read is that snapshot, the same as a read at that moment,
// and later reads ask the kernel again.
TEST_F(NetlinkClient, AProviderGivenASnapshotReadsItFirstThenTheKernel) {
    must("ip link add vfsnap0 type bridge");
    must("ip addr add 10.9.8.1/24 dev vfsnap0");
    must("ip link set vfsnap0 up");
    Live fresh;
    BridgeProvider("vf-snap").read_into(fresh);
    NetlinkSnapshot snapshot;
    must("ip link add vfsnap1 type bridge");  // after the snapshot

    BridgeProvider provider("vf-snap", {}, std::move(snapshot));
    Live first;
    first.host_interfaces.insert("from-libvirt");  // what the libvirt half put there stays
    provider.read_into(first);
    ASSERT_EQ(first.bridges.count("vfsnap0"), 1u);
    EXPECT_TRUE(first.bridges.at("vfsnap0") == fresh.bridges.at("vfsnap0"));
    EXPECT_EQ(first.bridges.count("vfsnap1"), 0u);
    EXPECT_EQ(first.interfaces.size(), fresh.interfaces.size());
    EXPECT_EQ(first.routes.size(), fresh.routes.size());
    EXPECT_EQ(first.host_interfaces.count("from-libvirt"), 1u);
    first.host_interfaces.erase("from-libvirt");
    EXPECT_EQ(first.host_interfaces, fresh.host_interfaces);

    Live second;
    provider.read_into(second);
    EXPECT_EQ(second.bridges.count("vfsnap0"), 1u);
    EXPECT_EQ(second.bridges.count("vfsnap1"), 1u);

    BridgeProviderOptions elsewhere;
    elsewhere.state_dir = "/tmp/vf-snap-elsewhere";
    EXPECT_THROW(BridgeProvider("vf-snap", elsewhere, NetlinkSnapshot()), Error);
}

// A bridge someone else deletes between the link dump and the read of its
// options (another lab's destroy, libvirt stopping a network) is simply not
// there: the read must not fail (it did: "read bridge options of X: no such
// network device", seen in integration runs on a shared host).
TEST_F(NetlinkClient, AReadSkipsABridgeDeletedWhileItReads) {
    const pid_t churn = fork();
    ASSERT_GE(churn, 0);
    if (churn == 0) {
        // Bridges appear and vanish for as long as the test reads.
        for (;;) {
            (void)std::system(
                "ip link add vfchurn0 type bridge 2>/dev/null; ip link add vfchurn1 type bridge "
                "2>/dev/null; ip link del vfchurn0 2>/dev/null; ip link del vfchurn1 2>/dev/null");
        }
    }
    BridgeProvider provider("vf-churn");
    int reads = 0;
    std::string error;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < until && error.empty()) {
        try {
            Live live;
            provider.read_into(live);
            ++reads;
        } catch (const std::exception& e) {
            error = e.what();
        }
    }
    kill(churn, SIGKILL);
    waitpid(churn, nullptr, 0);
    EXPECT_EQ(error, "") << "after " << reads << " reads";
    EXPECT_GT(reads, 10);
}

}  // namespace
}  // namespace virtform::netlink
