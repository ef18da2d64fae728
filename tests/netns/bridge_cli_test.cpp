/// The real CLI (VIRTFORM_BINARY) driving bridges inside the test's private network
/// namespace: the child processes inherit it, so `virtform apply` creates, changes
/// and deletes bridges here and nowhere else. Every result is checked with iproute2
/// and /sys (mounted for this namespace by fresh_netns()), not only with virtform.
/// The manifests here declare bridges only, so libvirt has nothing to do: the CLI
/// connects to libvirt's test driver over an empty <node/> (no daemon, nothing
/// shared), so that other tests defining and undefining objects in the host's
/// libvirtd at the same time cannot fail these reads (see the retry in cli()).
/// VIRTFORM_BRIDGE_TEST_CONNECT=qemu:///system runs them against libvirtd instead.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "netns/netns_util.h"

namespace virtform::netns_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

/// Where the bridge provider keeps take-over records (BridgeProviderOptions).
constexpr const char* kTakeOverDir = "/var/lib/virtform/takeover";
/// Where apply keeps each lab's drift record.
constexpr const char* kStateDir = "/var/lib/virtform/state";

struct CliRun {
    int status = -1;
    std::string out;  ///< stdout and stderr
    double seconds = 0;
};


std::string sysfs(const std::string& path) {
    std::ifstream in(path);
    std::string v;
    std::getline(in, v);
    return v;
}

/// The lines of `ip addr show dev <link>` that carry a global address, without the
/// lifetime lines (they count down) and link-local ones (their DAD state changes
/// with the carrier).
std::string address_lines(const std::string& link) {
    std::istringstream in(sh("ip addr show dev " + link));
    std::string line;
    std::string out;
    while (std::getline(in, line)) {
        if (line.find("inet") != std::string::npos && line.find("scope global") != std::string::npos) {
            out += line + "\n";
        }
    }
    return out;
}

/// `ip route show` without the carrier state ("linkdown" comes and goes with the
/// peer, not with anything virtform does).
std::string routes() {
    return std::regex_replace(sh("ip route show"), std::regex(" linkdown"), "");
}

/// What a bridge is configured as, without its running timers.
std::string bridge_state(const std::string& br) {
    std::string out;
    for (const char* f : {"mtu", "address", "ifalias", "flags"}) {
        out += std::string(f) + "=" + sysfs("/sys/class/net/" + br + "/" + f) + "\n";
    }
    for (const char* f : {"stp_state", "forward_delay", "hello_time", "max_age", "priority", "vlan_filtering"}) {
        out += std::string(f) + "=" + sysfs("/sys/class/net/" + br + "/bridge/" + f) + "\n";
    }
    std::error_code ec;
    std::set<std::string> ports;
    for (const auto& e : fs::directory_iterator("/sys/class/net/" + br + "/brif", ec)) {
        ports.insert(e.path().filename().string());
    }
    for (const auto& p : ports) out += "port=" + p + "\n";
    return out + address_lines(br);
}

bool link_exists(const std::string& name) {
    int status = 0;
    sh("ip link show dev " + name, &status);
    return status == 0;
}

/// The bridge a device is a port of, "" when none.
std::string master_of(const std::string& port) {
    std::error_code ec;
    auto target = fs::read_symlink("/sys/class/net/" + port + "/master", ec);
    return ec ? std::string() : target.filename().string();
}

/// A veth pair whose peer is up, so that `name` is a plain device with a carrier
/// (this kernel has no CONFIG_DUMMY).
void add_device(const std::string& name) {
    must("ip link add " + name + " type veth peer name " + name + "p");
    must("ip link set " + name + "p up");
}

class BridgeCli : public ::testing::Test {
  protected:
    void SetUp() override {
        fresh_netns();
        char tmpl[] = "/tmp/virtform-bridge-cli.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        static int counter = 0;
        lab_ = "brcli-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
        if (const char* uri = std::getenv("VIRTFORM_BRIDGE_TEST_CONNECT"); uri != nullptr && *uri != 0) {
            connect_ = uri;
        } else {
            std::ofstream(dir_ + "/libvirt-node.xml") << "<node/>\n";
            connect_ = "test://" + dir_ + "/libvirt-node.xml";
        }
    }

    void TearDown() override {
        // Whatever a failed test left: destroy everything the lab owns (this also
        // gives taken-over addresses back and removes the take-over record). The
        // namespace itself goes with the next fresh_netns().
        if (!last_manifest_.empty()) {
            CliRun r = cli("destroy " + last_manifest_ + " --auto-approve");
            if (r.status != 0) ADD_FAILURE() << "cleanup destroy failed:\n" << r.out;
        }
        std::error_code ec;
        fs::remove_all(dir_, ec);
        // apply keeps a drift record per lab (<lab>@<uri>.json), also after a
        // destroy: the labs here are single-use, so drop theirs.
        for (const auto& e : fs::directory_iterator(kStateDir, ec)) {
            if (e.path().filename().string().rfind(lab_ + "@", 0) == 0) fs::remove(e.path(), ec);
        }
    }

    /// Writes `lab: <lab>` plus `body` to a file of its own; returns its path.
    std::string manifest(const std::string& body) {
        const std::string path = dir_ + "/m" + std::to_string(++files_) + ".yaml";
        std::ofstream(path) << "lab: " << lab_ << "\n" << body;
        last_manifest_ = path;
        return path;
    }

    CliRun cli(const std::string& args) const {
        CliRun r;
        for (int attempt = 1;; ++attempt) {
            const auto start = std::chrono::steady_clock::now();
            r.out = sh(std::string("NO_COLOR=1 ") + VIRTFORM_BINARY + " --connect " + connect_ + " " + args +
                           " </dev/null",
                       &r.status);
            r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            // Other tests on this host define and undefine libvirt objects; one that
            // vanishes while the CLI reads the host fails the whole read (a known
            // adapter race, not what this file tests). The read comes before
            // anything is planned or changed, so a second try is safe.
            if (attempt < 6 && r.status != 0 && r.out.rfind("error: read ", 0) == 0 &&
                r.out.find(" not found") != std::string::npos) {
                std::cout << "[ retry    ] " << r.out;
                usleep(200 * 1000);
                continue;
            }
            return r;
        }
    }
    CliRun apply(const std::string& file, const std::string& extra = "") {
        return cli("apply " + file + " --auto-approve " + extra);
    }
    /// `plan --detailed-exitcode` must say there is nothing to do.
    void expect_converged(const std::string& file) {
        CliRun r = cli("plan " + file + " --detailed-exitcode");
        EXPECT_EQ(r.status, 0) << r.out;
        EXPECT_THAT(r.out, HasSubstr("No changes"));
    }

    std::string dir_;
    std::string lab_;
    std::string last_manifest_;
    std::string connect_;
    int files_ = 0;
};

// ---------------------------------------------------------------------------
// create / update / delete

TEST_F(BridgeCli, CreateUpdateAndDeleteABridgeThroughApply) {
    for (const char* d : {"p1", "p2", "p3"}) add_device(d);

    // Create: two ports, STP with timers, MTU, MAC and an address.
    const std::string v1 = manifest(R"(bridges:
  vftb0:
    ports: [p1, p2]
    stp: {enabled: true, forward_delay: 4, priority: 4096}
    mtu: 1400
    mac: "02:00:00:AA:BB:01"
    addresses: [10.99.0.1/24]
)");
    CliRun r = apply(v1);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("1 added, 0 changed, 0 destroyed"));
    std::string d = sh("ip -d link show vftb0");
    EXPECT_THAT(d, HasSubstr("alias virtform:" + lab_ + "\n"));
    EXPECT_THAT(d, HasSubstr("mtu 1400 "));
    EXPECT_THAT(d, HasSubstr("link/ether 02:00:00:aa:bb:01 "));
    EXPECT_THAT(d, HasSubstr("stp_state 1 "));
    EXPECT_THAT(d, HasSubstr("forward_delay 400 "));
    EXPECT_THAT(d, HasSubstr("priority 4096 "));
    EXPECT_THAT(sh("ip link show vftb0"), HasSubstr(",UP"));
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/ifalias"), "virtform:" + lab_);
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/bridge/stp_state"), "1");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/bridge/forward_delay"), "400");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/bridge/priority"), "4096");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/mtu"), "1400");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/address"), "02:00:00:aa:bb:01");
    EXPECT_EQ(master_of("p1"), "vftb0");
    EXPECT_EQ(master_of("p2"), "vftb0");
    EXPECT_EQ(master_of("p3"), "");
    EXPECT_THAT(sh("ip -d link show p1"), HasSubstr("master vftb0"));
    // Enslaved ports are brought up: a port that is down carries nothing.
    EXPECT_EQ(std::stoul(sysfs("/sys/class/net/p1/flags"), nullptr, 16) & 1U, 1U) << "p1 is not up";
    EXPECT_EQ(std::stoul(sysfs("/sys/class/net/p2/flags"), nullptr, 16) & 1U, 1U) << "p2 is not up";
    EXPECT_THAT(address_lines("vftb0"), HasSubstr("inet 10.99.0.1/24 brd 10.99.0.255 scope global vftb0"));
    EXPECT_THAT(routes(), HasSubstr("10.99.0.0/24 dev vftb0 proto kernel scope link src 10.99.0.1"));
    expect_converged(v1);

    // Changed by hand behind virtform's back: the plan sees it, apply puts it back.
    must("ip link set dev vftb0 mtu 1450");
    must("ip link set dev p1 nomaster");
    must("ip addr del 10.99.0.1/24 dev vftb0");
    r = cli("plan " + v1 + " --detailed-exitcode");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr("port[p1]"));
    EXPECT_THAT(r.out, HasSubstr("mtu"));
    r = apply(v1);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/mtu"), "1400");
    EXPECT_EQ(master_of("p1"), "vftb0");
    EXPECT_THAT(address_lines("vftb0"), HasSubstr("inet 10.99.0.1/24"));
    expect_converged(v1);

    // Update: p1 out, p3 in; other timers, MTU, MAC, addresses.
    const std::string v2 = manifest(R"(bridges:
  vftb0:
    ports: [p2, p3]
    stp: {enabled: true, forward_delay: 6.5, hello_time: 1, max_age: 10, priority: 8192}
    mtu: 1300
    mac: "02:00:00:aa:bb:02"
    addresses: [10.99.1.1/24, 10.98.0.1/16]
)");
    r = apply(v2);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("0 added, 1 changed, 0 destroyed"));
    EXPECT_EQ(master_of("p1"), "") << "released, not deleted";
    EXPECT_TRUE(link_exists("p1"));
    EXPECT_EQ(master_of("p2"), "vftb0");
    EXPECT_EQ(master_of("p3"), "vftb0");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/bridge/forward_delay"), "650");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/bridge/hello_time"), "100");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/bridge/max_age"), "1000");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/bridge/priority"), "8192");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/mtu"), "1300");
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/address"), "02:00:00:aa:bb:02");
    std::string addrs = address_lines("vftb0");
    EXPECT_THAT(addrs, Not(HasSubstr("10.99.0.1")));
    EXPECT_THAT(addrs, HasSubstr("inet 10.99.1.1/24"));
    EXPECT_THAT(addrs, HasSubstr("inet 10.98.0.1/16"));
    std::string rt = routes();
    EXPECT_THAT(rt, Not(HasSubstr("10.99.0.0/24")));
    EXPECT_THAT(rt, HasSubstr("10.98.0.0/16 dev vftb0"));
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/ifalias"), "virtform:" + lab_) << "the mark stays";
    expect_converged(v2);

    // STP off in its boolean form, no addresses, the bridge down.
    const std::string v3 = manifest(R"(bridges:
  vftb0:
    ports: [p2, p3]
    stp: false
    mtu: 1300
    up: false
)");
    r = apply(v3);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(sysfs("/sys/class/net/vftb0/bridge/stp_state"), "0");
    EXPECT_THAT(sh("ip -d link show vftb0"), HasSubstr("stp_state 0 "));
    EXPECT_THAT(address_lines("vftb0"), Not(HasSubstr("inet ")));
    EXPECT_THAT(sh("ip link show vftb0"), Not(HasSubstr(",UP")));
    expect_converged(v3);

    // Removed from the manifest: deleted, its ports released but kept.
    const std::string v4 = manifest("bridges: {}\n");
    r = apply(v4);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("0 added, 0 changed, 1 destroyed"));
    EXPECT_FALSE(link_exists("vftb0"));
    for (const char* p : {"p1", "p2", "p3"}) {
        EXPECT_TRUE(link_exists(p)) << p;
        EXPECT_EQ(master_of(p), "") << p;
    }
    expect_converged(v4);
}

TEST_F(BridgeCli, ABridgeWithNoOptionsTakesTheKernelDefaultsAndConverges) {
    const std::string m = manifest("bridges:\n  vftb5:\n");
    CliRun r = apply(m);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(sysfs("/sys/class/net/vftb5/ifalias"), "virtform:" + lab_);
    EXPECT_EQ(sysfs("/sys/class/net/vftb5/bridge/stp_state"), "0");
    expect_converged(m);
    r = cli("destroy " + m + " --auto-approve");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_FALSE(link_exists("vftb5"));
    expect_converged(manifest("bridges: {}\n"));
}

// ---------------------------------------------------------------------------
// take-over of the uplink's address (the bridge-mode lab), through the CLI

class BridgeCliTakeOver : public BridgeCli {
  protected:
    /// Where the take-over of br0 by this test's lab is recorded.
    std::string record() const { return std::string(kTakeOverDir) + "/" + lab_ + "/br0.json"; }

    void SetUp() override {
        BridgeCli::SetUp();
        // The record is kept per lab and bridge: this run's lab is new.
        ASSERT_FALSE(fs::exists(record())) << record() << " exists before the test made it";
        router = std::make_unique<PeerNetns>();
        const std::string pid = std::to_string(router->pid());
        must("ip link add ens33 type veth peer name lan0");
        must("ip link set lan0 netns " + pid);
        must(router->in("ip addr add 192.168.80.1/24 dev lan0"));
        must(router->in("ip link set lan0 up"));
        must("ip addr add 192.168.80.138/24 brd + dev ens33");
        must("ip link set ens33 up");
        must("ip route add default via 192.168.80.1 dev ens33");
        must("ip route add 10.20.0.0/16 via 192.168.80.1 dev ens33 metric 100 proto static");
        must("ping -c1 -W2 192.168.80.1");  // the LAN works before we start
        addresses_before = address_lines("ens33");
        routes_before = routes();
        // The bridge part of manifests/bridge-lab.yaml.
        file = manifest(R"(bridges:
  br0:
    ports: [ens33]
    take_over_addresses: ens33
    stp: {enabled: false}
)");
    }
    void TearDown() override {
        BridgeCli::TearDown();  // destroy first: it needs ens33 and may need the router
        router.reset();
        EXPECT_FALSE(fs::exists(record())) << "take-over record left behind";
    }

    void expect_original_state() {
        EXPECT_EQ(address_lines("ens33"), addresses_before);
        EXPECT_EQ(routes(), routes_before);
        EXPECT_EQ(master_of("ens33"), "");
    }

    std::unique_ptr<PeerNetns> router;
    std::string addresses_before;
    std::string routes_before;
    std::string file;
};

TEST_F(BridgeCliTakeOver, ApplyMovesAddressAndDefaultRouteToBr0AndDestroyGivesThemBack) {
    CliRun r = cli("-v apply " + file + " --auto-approve");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("1 added, 0 changed, 0 destroyed"));
    std::smatch m;
    if (std::regex_search(r.out, m, std::regex(R"(took over .* in (\d+) us)"))) {
        std::cout << "[ info     ] take-over switch window " << m[1] << " us, whole apply " << r.seconds
                  << " s\n";
    }
    EXPECT_THAT(r.out, HasSubstr("gateway 192.168.80.1 reachable"));

    EXPECT_EQ(master_of("ens33"), "br0");
    EXPECT_EQ(sysfs("/sys/class/net/br0/ifalias"), "virtform:" + lab_);
    EXPECT_EQ(sysfs("/sys/class/net/br0/bridge/stp_state"), "0");
    EXPECT_THAT(address_lines("br0"), HasSubstr("inet 192.168.80.138/24 brd 192.168.80.255 scope global br0"));
    EXPECT_THAT(address_lines("ens33"), Not(HasSubstr("inet ")));
    std::string rt = routes();
    EXPECT_THAT(rt, HasSubstr("default via 192.168.80.1 dev br0"));
    EXPECT_THAT(rt, HasSubstr("10.20.0.0/16 via 192.168.80.1 dev br0 proto static metric 100"));
    EXPECT_THAT(rt, Not(HasSubstr("dev ens33")));
    must("ping -c1 -W2 192.168.80.1");
    must(router->in("ping -c1 -W2 192.168.80.138"));
    EXPECT_TRUE(fs::exists(record()));
    expect_converged(file);
    // A second apply is a no-op too.
    r = apply(file);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("No changes"));

    r = cli("destroy " + file + " --auto-approve");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("1 destroyed"));
    EXPECT_FALSE(link_exists("br0"));
    expect_original_state();
    EXPECT_FALSE(fs::exists(record()));
    must("ping -c1 -W2 192.168.80.1");
}

TEST_F(BridgeCliTakeOver, ALostGatewayRollsBackAndASecondApplyAfterTheRepairConverges) {
    must(router->in("ip link set lan0 down"));  // the path breaks before apply
    CliRun r = apply(file);
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("rolled back"));
    EXPECT_THAT(r.out, HasSubstr("192.168.80.1"));
    std::cout << "[ info     ] failed apply with rollback took " << r.seconds << " s\n";
    expect_original_state();
    if (link_exists("br0")) {
        EXPECT_THAT(address_lines("br0"), Not(HasSubstr("192.168.80.138")));
        // What is left is the lab's own, half-made bridge: the next apply finishes it.
        EXPECT_EQ(sysfs("/sys/class/net/br0/ifalias"), "virtform:" + lab_);
    }
    EXPECT_FALSE(fs::exists(record()));

    // The plan still wants the take-over.
    CliRun p = cli("plan " + file + " --detailed-exitcode");
    EXPECT_EQ(p.status, 2) << p.out;

    must(router->in("ip link set lan0 up"));
    must("ping -c1 -W3 192.168.80.1");
    r = apply(file);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(master_of("ens33"), "br0");
    EXPECT_THAT(address_lines("br0"), HasSubstr("inet 192.168.80.138/24"));
    EXPECT_THAT(address_lines("ens33"), Not(HasSubstr("inet ")));
    EXPECT_THAT(routes(), HasSubstr("default via 192.168.80.1 dev br0"));
    must("ping -c1 -W2 192.168.80.1");
    expect_converged(file);

    r = cli("destroy " + file + " --auto-approve");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_FALSE(link_exists("br0"));
    expect_original_state();
}

TEST_F(BridgeCliTakeOver, NoRollbackKeepsTheTakeOverAndDestroyStillGivesItBack) {
    must(router->in("ip link set lan0 down"));
    CliRun r = apply(file, "--no-rollback");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("left in place: --no-rollback"));
    EXPECT_EQ(master_of("ens33"), "br0");
    EXPECT_THAT(address_lines("br0"), HasSubstr("inet 192.168.80.138/24"));
    EXPECT_THAT(address_lines("ens33"), Not(HasSubstr("inet ")));
    EXPECT_THAT(routes(), HasSubstr("default via 192.168.80.1 dev br0"));

    r = cli("destroy " + file + " --auto-approve");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_FALSE(link_exists("br0"));
    expect_original_state();
}

// ---------------------------------------------------------------------------
// ownership: what virtform does not own it does not touch

TEST_F(BridgeCli, AnUnmarkedBridgeWithTheManifestsNameIsRefusedAndLeftAlone) {
    add_device("p1");
    must("ip link add vftb1 type bridge");
    must("ip link set vftb1 up");
    const std::string before = bridge_state("vftb1");
    const std::string m = manifest(R"(bridges:
  vftb1:
    ports: [p1]
    stp: true
    mtu: 1400
    addresses: [10.99.2.1/24]
)");
    CliRun r = cli("plan " + m + " --detailed-exitcode");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("carries no virtform mark"));
    EXPECT_THAT(r.out, HasSubstr("vftb1"));
    r = apply(m);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("carries no virtform mark"));
    r = cli("destroy " + m + " --auto-approve");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(bridge_state("vftb1"), before);
    EXPECT_EQ(master_of("p1"), "");
    EXPECT_EQ(sysfs("/sys/class/net/vftb1/ifalias"), "");
}

// Issue 11: a bridge made by hand is exported, then adopted: its alias
// becomes the lab's mark and the exported manifest plans no change.
TEST_F(BridgeCli, AHandMadeBridgeIsExportedAndAdopted) {
    add_device("p1");
    must("ip link add vftb7 type bridge");
    must("ip link set p1 master vftb7");
    must("ip addr add 10.99.7.1/24 dev vftb7");
    must("ip link set vftb7 up");
    const std::string file = dir_ + "/exported.yaml";
    CliRun r = cli("export bridge.vftb7 --lab " + lab_ + " -o " + file);
    ASSERT_EQ(r.status, 0) << r.out;
    last_manifest_ = file;
    r = cli("plan " + file + " --detailed-exitcode");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("carries no virtform mark"));
    EXPECT_EQ(sysfs("/sys/class/net/vftb7/ifalias"), "");
    r = apply(file, "--adopt bridge.vftb7");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("bridge.vftb7 will be adopted"));
    EXPECT_EQ(sysfs("/sys/class/net/vftb7/ifalias"), "virtform:" + lab_);
    EXPECT_EQ(master_of("p1"), "vftb7");
    expect_converged(file);
}

TEST_F(BridgeCli, ABridgeOfAnotherLabIsRefused) {
    must("ip link add vftb6 type bridge");
    must("ip link set dev vftb6 alias virtform:some-other-lab");
    const std::string m = manifest("bridges:\n  vftb6: {stp: true}\n");
    CliRun r = cli("plan " + m + " --detailed-exitcode");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("belongs to lab 'some-other-lab'"));
    r = cli("destroy " + m + " --auto-approve");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(link_exists("vftb6"));
    EXPECT_EQ(sysfs("/sys/class/net/vftb6/bridge/stp_state"), "0");
}

TEST_F(BridgeCli, ANameTakenByAnotherKindOfDeviceIsAnError) {
    add_device("vftb2");  // a veth: no CONFIG_DUMMY here
    const std::string before = sh("ip -d link show vftb2");
    const std::string m = manifest("bridges:\n  vftb2: {}\n");
    CliRun r = cli("plan " + m + " --detailed-exitcode");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("taken by a device of kind 'veth'"));
    r = apply(m);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("taken by a device of kind"));
    EXPECT_EQ(sh("ip -d link show vftb2"), before);

    int status = 0;
    sh("ip tuntap add vftb7 mode tap", &status);
    ASSERT_EQ(status, 0);
    r = cli("plan " + manifest("bridges:\n  vftb7: {}\n") + " --detailed-exitcode");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("taken by a device of kind 'tun'"));
}

TEST_F(BridgeCli, APortOfAnotherBridgeIsAnErrorNamingThatBridge) {
    add_device("p1");
    must("ip link add other0 type bridge");
    must("ip link set p1 master other0");
    const std::string m = manifest("bridges:\n  vftb3:\n    ports: [p1]\n");
    CliRun r = cli("plan " + m + " --detailed-exitcode");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("port 'p1' of bridge 'vftb3' is already a port of 'other0'"));
    r = apply(m);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_FALSE(link_exists("vftb3")) << "nothing is made when the plan is refused";
    EXPECT_EQ(master_of("p1"), "other0");
}

TEST_F(BridgeCli, APortThatDoesNotExistIsAnError) {
    const std::string m = manifest("bridges:\n  vftb8:\n    ports: [nosuch0]\n");
    CliRun r = apply(m);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("port 'nosuch0' of bridge 'vftb8' does not exist"));
    EXPECT_FALSE(link_exists("vftb8"));
}

TEST_F(BridgeCli, ATapSomeoneElseAddedToAManagedBridgeIsNeverReleased) {
    add_device("p1");
    const std::string m = manifest("bridges:\n  vftb4:\n    ports: [p1]\n");
    CliRun r = apply(m);
    ASSERT_EQ(r.status, 0) << r.out;
    must("ip tuntap add vnet-test mode tap");
    must("ip link set vnet-test master vftb4");
    expect_converged(m);
    r = apply(m);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(master_of("vnet-test"), "vftb4");

    // A change of the bridge (a port out, STP on) still leaves the tap alone.
    add_device("p2");
    const std::string m2 = manifest("bridges:\n  vftb4:\n    ports: [p2]\n    stp: true\n");
    r = apply(m2);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(master_of("p1"), "");
    EXPECT_EQ(master_of("p2"), "vftb4");
    EXPECT_EQ(master_of("vnet-test"), "vftb4");
    expect_converged(m2);
}

// Issue 9, foreign users: deleting lab A's bridge names a port enslaved by hand
// (`ip link set X master BR`) and lab B's VM on it, is refused without --force,
// and with --force says what it cut off. Lab B's VM is a (stopped) domain of
// the real libvirtd, so this test talks to qemu:///system.
TEST_F(BridgeCli, DestroyNamesAHandEnslavedPortAndAnotherLabsVmAndNeedsForce) {
    connect_ = "qemu:///system";
    add_device("p1");
    add_device("hand0");
    const std::string a = manifest("bridges:\n  vftb9:\n    ports: [p1]\n");
    CliRun r = apply(a);
    ASSERT_EQ(r.status, 0) << r.out;
    must("ip link set hand0 master vftb9");

    // Lab B: a stopped VM with a NIC on lab A's bridge.
    const std::string lab_b = lab_ + "-b";
    const std::string vm = "vfusers-" + std::to_string(getpid()) + "-" + std::to_string(files_);
    struct Undefine {
        std::string vm;
        ~Undefine() {
            sh("virsh -c qemu:///system -q undefine " + vm + " --nvram >/dev/null 2>&1");
        }
    } undefine{vm};
    const std::string b = dir_ + "/b.yaml";
    std::ofstream(b) << "lab: " << lab_b << "\nvms:\n  " << vm
                     << ":\n    state: stopped\n    accel: qemu\n    memory: 64MiB\n"
                        "    nics: [{bridge: vftb9}]\n";
    r = apply(b);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("uses bridge.vftb9 of lab '" + lab_ + "' (read-only"));

    // Destroy of lab A: both users named, nothing touched.
    const std::string port_user =
        "interface hand0 (a port of bridge vftb9 that lab '" + lab_ + "' did not declare)";
    const std::string vm_user = "vm." + vm + " of lab '" + lab_b + "' (a NIC on bridge.vftb9)";
    r = cli("destroy " + a + " --auto-approve");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr(port_user));
    EXPECT_THAT(r.out, HasSubstr(vm_user));
    EXPECT_THAT(r.out, HasSubstr("refusing to delete what others on the host still use"));
    EXPECT_TRUE(link_exists("vftb9"));
    EXPECT_EQ(master_of("hand0"), "vftb9");
    EXPECT_EQ(master_of("p1"), "vftb9");

    // With --force: deleted, and it says what it cut off.
    r = cli("destroy " + a + " --auto-approve --force");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("warning: --force: cut off " + port_user + " (bridge.vftb9)"));
    EXPECT_THAT(r.out, HasSubstr("warning: --force: cut off " + vm_user + " (bridge.vftb9)"));
    EXPECT_FALSE(link_exists("vftb9"));
    EXPECT_EQ(master_of("hand0"), "");
    EXPECT_EQ(master_of("p1"), "");

    r = cli("destroy " + b + " --auto-approve");
    EXPECT_EQ(r.status, 0) << r.out;
}

}  // namespace
}  // namespace virtform::netns_test
