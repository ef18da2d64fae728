// Networks end to end: the real CLI binary against the real libvirtd on
// qemu:///system, checked on the host with virsh, ip, /sys, pgrep and dnsmasq's
// own files (never only with virtform itself).
//
// Every test has its own lab, network and bridge names (built from the pid and a
// per-process counter) and its own 10.2xx.<pid%250>.0/24 subnets, so that runs
// cannot clash with each other, with libvirt's `default` network
// (192.168.122.0/24) or with the host's uplink. The fixture removes whatever the test made
// with virsh and ip even when the test fails, then checks that nothing is left.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());

/// Holds the host state that no test may change: libvirt's `default` network
/// and the host's uplink. Compared after the last test of the binary.
class HostUntouched : public ::testing::Environment {
public:
    void SetUp() override {
        // Whatever this host has: `default` may be absent (then it must stay absent), and
        // the uplink is the interface of the default route, whatever its name.
        default_exists_ = network_exists("default");
        default_xml_ = virsh("net-dumpxml default").out;
        default_active_ = net_info("default", "Active");
        default_autostart_ = net_info("default", "Autostart");
        routes_ = sh("ip -4 route show default").out;
        uplink_ = trim(sh("ip -4 route show default | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p' | head -1").out);
        uplink_addresses_ = uplink_addresses();
    }
    void TearDown() override {
        EXPECT_EQ(network_exists("default"), default_exists_);
        EXPECT_EQ(virsh("net-dumpxml default").out, default_xml_) << "the default network was changed";
        EXPECT_EQ(net_info("default", "Active"), default_active_);
        EXPECT_EQ(net_info("default", "Autostart"), default_autostart_);
        EXPECT_EQ(uplink_addresses(), uplink_addresses_) << "the uplink " << uplink_ << " was changed";
        EXPECT_EQ(sh("ip -4 route show default").out, routes_);
        for (const auto& name : libvirt_networks()) {
            EXPECT_NE(name.rfind("vfit-" + std::to_string(kPid) + "-", 0), 0u)
                << "network left behind: " << name;
        }
    }

private:
    /// The uplink's addresses; "" when the host has no default route.
    std::string uplink_addresses() const {
        if (uplink_.empty()) return "";
        return sh("ip -4 addr show dev " + uplink_ + "; ip -6 addr show dev " + uplink_ + " scope global").out;
    }

    bool default_exists_ = false;
    std::string default_xml_, default_active_, default_autostart_, routes_, uplink_, uplink_addresses_;
};

[[maybe_unused]] const auto* const kHostUntouched = ::testing::AddGlobalTestEnvironment(new HostUntouched);

class NetworkTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        n_ = ++counter;
        ASSERT_EQ(virsh("version >/dev/null").code, 0)
            << "libvirtd does not answer on " << connect_uri() << " (scripts/start-libvirtd.sh)";
    }

    void TearDown() override {
        for (const auto& name : libvirt_networks()) {
            if (name.rfind(net_prefix(), 0) == 0) remove_network(name);
        }
        for (const auto& link : links_) remove_link(link);
        remove_lab_files(cat("vf-it-", kPid, "-", n_, "-"));
        for (const auto& name : libvirt_networks()) {
            EXPECT_NE(name.rfind(net_prefix(), 0), 0u) << "cannot remove network " << name;
        }
        const auto left = sh("ls /sys/class/net | grep '^" + link_prefix() + "' || true").out;
        EXPECT_EQ(left, "") << "interfaces left behind";
    }

    // Names: unique per process and test; k numbers the objects of one test.
    std::string lab(int k = 1) const { return cat("vf-it-", kPid, "-", n_, "-", k); }
    std::string net_prefix() const { return cat("vfit-", kPid, "-", n_, "-"); }
    std::string net(int k) const { return net_prefix() + std::to_string(k); }
    std::string link_prefix() const { return cat("vfit", kPid % 100000, "t", n_, "x"); }
    /// A Linux interface name (at most 15 characters).
    std::string bridge(int k) const { return link_prefix() + std::to_string(k); }
    /// "10.A.B": the first three octets of subnet k of this test.
    std::string subnet(int k) const {
        return cat("10.", 200 + ((n_ - 1) * 4 + k) % 55, ".", kPid % 250);
    }
    /// Registers an interface the test makes outside virtform, for TearDown.
    void own_link(const std::string& name) { links_.push_back(name); }

    /// "fd00:A:B:": the IPv6 counterpart of subnet k (a /64 with "${v6K}:1").
    std::string subnet6(int k) const {
        return cat("fd00:", 200 + ((n_ - 1) * 4 + k) % 55, ":", kPid % 250, ":");
    }

    /// Replaces ${lab}, ${lab2}, ${netK}, ${brK}, ${subK}, ${v6K} (K = 1..4).
    std::string expand(std::string text) const {
        std::map<std::string, std::string> vars{{"${lab}", lab(1)}, {"${lab2}", lab(2)}};
        for (int k = 1; k <= 4; ++k) {
            vars[cat("${net", k, "}")] = net(k);
            vars[cat("${br", k, "}")] = bridge(k);
            vars[cat("${sub", k, "}")] = subnet(k);
            vars[cat("${v6", k, "}")] = subnet6(k);
        }
        for (const auto& [key, value] : vars) {
            for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
                text.replace(at, key.size(), value);
                at += value.size();
            }
        }
        return text;
    }

    /// Writes the manifest (after expand) to the test's directory.
    std::string manifest(const std::string& text, const std::string& name = "lab.yaml") {
        return dir_.write(name, expand(text)).string();
    }

    template <class... T>
    static std::string cat(const T&... parts) {
        std::ostringstream out;
        (out << ... << parts);
        return out.str();
    }

    TempDir dir_;
    int n_ = 0;
    std::vector<std::string> links_;
};

/// A NAT network with DHCP (range and one static host), DNS and a domain.
const char* kNatLab = R"(lab: ${lab}
networks:
  ${net1}:
    mode: nat
    bridge: ${br1}
    ipv4:
      address: ${sub1}.1/24
      dhcp:
        range: ${sub1}.100-${sub1}.120
        hosts:
          - {mac: "52:54:00:00:00:10", ip: ${sub1}.10, name: web1}
    dns:
      hosts:
        - {ip: ${sub1}.10, names: [web1.it.lab]}
    domain: it.lab
)";

std::string edit(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error("edit: no '" + from + "' in the manifest");
    return text.replace(at, from.size(), to);
}

std::string dnsmasq_file(const std::string& network, const std::string& ext) {
    return read_text("/var/lib/libvirt/dnsmasq/" + network + "." + ext);
}

bool dnsmasq_running(const std::string& network) {
    return sh("pgrep -f '/var/lib/libvirt/dnsmasq/" + network + "\\.conf' >/dev/null").code == 0;
}

/// What the network's dnsmasq answers for `name` ("" when it does not resolve).
std::string resolve(const std::string& name, const std::string& server) {
    const auto r = sh("timeout 5 busybox nslookup " + name + " " + server + " 2>/dev/null");
    std::smatch m;
    static const std::regex answer(R"(Name:\s*\S+\s*\nAddress:\s*([0-9.]+))");
    return std::regex_search(r.out, m, answer) ? m[1].str() : "";
}

// ---------------------------------------------------------------------------

TEST_F(NetworkTest, CreateStartsBridgeAndDnsmasqThenPlansNoChanges) {
    const auto file = manifest(kNatLab);
    const auto apply = virtform({"apply", "--auto-approve", "-f", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_THAT(apply.out, HasSubstr("Apply complete! Resources: 1 added, 0 changed, 0 destroyed."));

    EXPECT_EQ(net_info(net(1), "Active"), "yes");
    EXPECT_EQ(net_info(net(1), "Autostart"), "yes");
    EXPECT_EQ(net_info(net(1), "Bridge"), bridge(1));
    const auto addr = sh("ip -4 -o addr show dev " + bridge(1));
    EXPECT_THAT(addr.out, HasSubstr("inet " + subnet(1) + ".1/24")) << addr.describe();

    // The lab's mark is in the definition libvirt keeps.
    const auto xml = virsh("net-dumpxml --inactive " + net(1)).out;
    EXPECT_THAT(xml, HasSubstr("xmlns:virtform=\"https://virtform.dev/xmlns/lab/1\">" + lab() + "<"));

    EXPECT_TRUE(dnsmasq_running(net(1)));
    const auto conf = dnsmasq_file(net(1), "conf");
    EXPECT_THAT(conf, HasSubstr("dhcp-range=" + subnet(1) + ".100," + subnet(1) + ".120"));
    EXPECT_THAT(conf, HasSubstr("domain=it.lab"));
    EXPECT_THAT(conf, HasSubstr("interface=" + bridge(1)));
    EXPECT_THAT(dnsmasq_file(net(1), "hostsfile"), HasSubstr("52:54:00:00:00:10," + subnet(1) + ".10,web1"));
    EXPECT_EQ(resolve("web1.it.lab", subnet(1) + ".1"), subnet(1) + ".10");

    const auto plan = virtform({"plan", "--detailed-exitcode", "-f", file});
    EXPECT_EQ(plan.code, 0) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("No changes"));

    // A second apply changes nothing.
    const auto again = virtform({"apply", "--auto-approve", "-f", file});
    EXPECT_EQ(again.code, 0) << again.describe();
    EXPECT_THAT(again.out, HasSubstr("No changes"));
    EXPECT_THAT(again.err, Not(HasSubstr("Modifying")));
}

TEST_F(NetworkTest, LiveUpdateOfDhcpAndDnsHostsKeepsTheBridge) {
    const auto file = manifest(kNatLab);
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    const int index_before = ifindex(bridge(1));
    const std::string uuid_before = virsh("net-uuid " + net(1)).out;
    ASSERT_GT(index_before, 0);

    std::string text = edit(kNatLab, "ip: ${sub1}.10, name: web1", "ip: ${sub1}.11, name: web1");
    text = edit(text, "{ip: ${sub1}.10, names: [web1.it.lab]}",
                "{ip: ${sub1}.11, names: [web1.it.lab, www.it.lab]}");
    manifest(text);

    const auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 2) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("# network." + net(1) + " will be updated in place (live)"));
    EXPECT_THAT(plan.out, HasSubstr("ipv4.dhcp.host[52:54:00:00:00:10]"));
    EXPECT_THAT(plan.out, HasSubstr("dns.host[" + subnet(1) + ".11]"));
    EXPECT_THAT(plan.out, Not(HasSubstr("restart")));
    EXPECT_THAT(plan.out, HasSubstr("Plan: 0 to add, 1 to change, 0 to destroy."));

    const auto apply = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();

    // Not restarted: the same bridge device, the same dnsmasq files updated.
    EXPECT_EQ(ifindex(bridge(1)), index_before);
    EXPECT_EQ(virsh("net-uuid " + net(1)).out, uuid_before);
    const auto hosts = dnsmasq_file(net(1), "hostsfile");
    EXPECT_THAT(hosts, HasSubstr("52:54:00:00:00:10," + subnet(1) + ".11,web1"));
    EXPECT_THAT(hosts, Not(HasSubstr(subnet(1) + ".10,")));
    const auto addn = dnsmasq_file(net(1), "addnhosts");
    EXPECT_THAT(addn, HasSubstr(subnet(1) + ".11"));
    EXPECT_THAT(addn, HasSubstr("www.it.lab"));
    EXPECT_THAT(addn, Not(HasSubstr(subnet(1) + ".10\t")));
    // dnsmasq itself answers with the new entry (it rereads its files on SIGHUP).
    EXPECT_TRUE(eventually([&] { return resolve("www.it.lab", subnet(1) + ".1") == subnet(1) + ".11"; }))
        << "dnsmasq does not resolve the new DNS name";
    // And the persistent definition holds it too (it survives a restart).
    EXPECT_THAT(virsh("net-dumpxml --inactive " + net(1)).out,
                HasSubstr("ip='" + subnet(1) + ".11'"));

    const auto replan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(replan.code, 0) << replan.describe();
}

TEST_F(NetworkTest, RestartUpdateRedefinesAndKeepsTheUuid) {
    const auto file = manifest(kNatLab);
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    const std::string uuid_before = virsh("net-uuid " + net(1)).out;
    ASSERT_FALSE(trim(uuid_before).empty());

    std::string text = edit(kNatLab, "address: ${sub1}.1/24", "address: ${sub1}.1/25");
    text = edit(text, "domain: it.lab", "domain: it2.lab");
    manifest(text);

    const auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 2) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("# network." + net(1) + " will be updated and requires a restart"));
    EXPECT_THAT(plan.out, HasSubstr("\"" + subnet(1) + ".1/24\" -> \"" + subnet(1) + ".1/25\""));
    EXPECT_THAT(plan.out, HasSubstr("\"it.lab\" -> \"it2.lab\""));

    const auto apply = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();

    const auto addr = sh("ip -4 -o addr show dev " + bridge(1)).out;
    EXPECT_THAT(addr, HasSubstr("inet " + subnet(1) + ".1/25"));
    EXPECT_THAT(addr, Not(HasSubstr("/24")));
    const auto xml = virsh("net-dumpxml " + net(1)).out;
    EXPECT_THAT(xml, HasSubstr("prefix='25'"));
    EXPECT_THAT(xml, HasSubstr("<domain name='it2.lab'/>"));
    EXPECT_THAT(xml, HasSubstr(lab()));  // still marked
    EXPECT_EQ(virsh("net-uuid " + net(1)).out, uuid_before);
    EXPECT_EQ(net_info(net(1), "Active"), "yes");
    EXPECT_TRUE(dnsmasq_running(net(1)));
    EXPECT_THAT(dnsmasq_file(net(1), "conf"), HasSubstr("domain=it2.lab"));

    const auto replan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(replan.code, 0) << replan.describe();
}

TEST_F(NetworkTest, SwitchToBridgeModeReplacesTheNetwork) {
    const auto file = manifest(kNatLab);
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    const std::string uuid_before = trim(virsh("net-uuid " + net(1)).out);

    // A host bridge made outside virtform, as an admin would.
    own_link(bridge(2));
    ASSERT_EQ(sh("ip link add " + bridge(2) + " type bridge").code, 0);
    manifest(R"(lab: ${lab}
networks:
  ${net1}:
    mode: bridge
    bridge: ${br2}
)");

    const auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 2) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("# network." + net(1) + " must be replaced"));
    EXPECT_THAT(plan.out, HasSubstr("-/+ network \"" + net(1) + "\""));
    EXPECT_THAT(plan.out, HasSubstr("forces replacement"));
    EXPECT_THAT(plan.out, HasSubstr("Plan: 1 to add, 0 to change, 1 to destroy."));

    const auto apply = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    const auto xml = virsh("net-dumpxml " + net(1)).out;
    EXPECT_THAT(xml, HasSubstr("<forward mode='bridge'/>"));
    EXPECT_THAT(xml, HasSubstr("<bridge name='" + bridge(2) + "'/>"));
    EXPECT_THAT(xml, HasSubstr(lab()));
    EXPECT_NE(trim(virsh("net-uuid " + net(1)).out), uuid_before) << "a replace makes a new network";
    EXPECT_EQ(net_info(net(1), "Active"), "yes");
    // The libvirt-made bridge and its dnsmasq are gone; the host bridge stays.
    EXPECT_FALSE(link_exists(bridge(1)));
    EXPECT_FALSE(dnsmasq_running(net(1)));
    EXPECT_TRUE(link_exists(bridge(2)));

    const auto replan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(replan.code, 0) << replan.describe();

    // Destroying the network leaves the host bridge it used.
    const auto destroy = virtform({"destroy", "--auto-approve", file});
    EXPECT_EQ(destroy.code, 0) << destroy.describe();
    EXPECT_FALSE(network_exists(net(1)));
    EXPECT_TRUE(link_exists(bridge(2)));
}

const char* kTwoNetworks = R"(lab: ${lab}
networks:
  ${net1}:
    bridge: ${br1}
    ipv4: {address: ${sub1}.1/24, dhcp: {range: ${sub1}.100-${sub1}.120}}
  ${net2}:
    mode: isolated
    bridge: ${br2}
    ipv4: {address: ${sub2}.1/24}
)";

TEST_F(NetworkTest, NetworkRemovedFromTheManifestIsPruned) {
    const auto file = manifest(kTwoNetworks);
    const auto apply = virtform({"apply", "--auto-approve", "--parallelism", "2", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    ASSERT_EQ(net_info(net(2), "Active"), "yes");
    ASSERT_TRUE(link_exists(bridge(2)));
    const int index1 = ifindex(bridge(1));

    manifest(R"(lab: ${lab}
networks:
  ${net1}:
    bridge: ${br1}
    ipv4: {address: ${sub1}.1/24, dhcp: {range: ${sub1}.100-${sub1}.120}}
)");
    const auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 2) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("# network." + net(2) + " will be destroyed"));
    EXPECT_THAT(plan.out, HasSubstr("Plan: 0 to add, 0 to change, 1 to destroy."));
    EXPECT_THAT(plan.out, Not(HasSubstr("network." + net(1))));

    const auto prune = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(prune.code, 0) << prune.describe();
    EXPECT_FALSE(network_exists(net(2)));
    EXPECT_FALSE(link_exists(bridge(2)));
    EXPECT_EQ(ifindex(bridge(1)), index1) << "the network that stays was restarted";
    EXPECT_EQ(net_info(net(1), "Active"), "yes");
}

TEST_F(NetworkTest, DestroyRemovesOnlyTheLabsNetworks) {
    const auto mine = manifest(kTwoNetworks, "mine.yaml");
    // A second lab beside it, applied from its own manifest.
    const auto other = dir_.write("other.yaml", expand(R"(lab: ${lab2}
networks:
  ${net3}:
    bridge: ${br3}
    ipv4: {address: ${sub3}.1/24}
)"));
    ASSERT_EQ(virtform({"apply", "--auto-approve", mine}).code, 0);
    ASSERT_EQ(virtform({"apply", "--auto-approve", other}).code, 0);
    const std::string other_xml = virsh("net-dumpxml " + net(3)).out;
    const int other_index = ifindex(bridge(3));

    // Each lab's plan sees only its own objects.
    EXPECT_EQ(virtform({"plan", "--detailed-exitcode", mine}).code, 0);
    EXPECT_EQ(virtform({"plan", "--detailed-exitcode", other}).code, 0);

    const auto destroy = virtform({"destroy", "--auto-approve", mine});
    ASSERT_EQ(destroy.code, 0) << destroy.describe();
    EXPECT_THAT(destroy.out, HasSubstr("Plan: 0 to add, 0 to change, 2 to destroy."));
    EXPECT_THAT(destroy.out, Not(HasSubstr(net(3))));
    EXPECT_FALSE(network_exists(net(1)));
    EXPECT_FALSE(network_exists(net(2)));
    EXPECT_FALSE(link_exists(bridge(1)));
    EXPECT_FALSE(link_exists(bridge(2)));

    EXPECT_EQ(net_info(net(3), "Active"), "yes");
    EXPECT_EQ(virsh("net-dumpxml " + net(3)).out, other_xml);
    EXPECT_EQ(ifindex(bridge(3)), other_index);

    // Destroying an already destroyed lab is a no-op.
    const auto again = virtform({"destroy", "--auto-approve", mine});
    EXPECT_EQ(again.code, 0) << again.describe();
    EXPECT_THAT(again.out, HasSubstr("No changes"));
}

TEST_F(NetworkTest, NeverTouchesANetworkWithoutTheLabsMark) {
    // Made by hand: no <metadata>, defined but not started.
    const auto xml_file = dir_.write("hand.xml", expand(R"(<network>
  <name>${net1}</name>
  <forward mode='nat'/>
  <bridge name='${br1}' stp='on' delay='0'/>
  <ip address='${sub1}.1' prefix='24'/>
</network>
)"));
    ASSERT_EQ(virsh("net-define " + xml_file.string()).code, 0);
    const std::string before = virsh("net-dumpxml " + net(1)).out;
    const std::string uuid = virsh("net-uuid " + net(1)).out;
    const auto file = manifest(kNatLab);

    const auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 1) << plan.describe();
    EXPECT_THAT(plan.err, HasSubstr("carries no virtform mark"));
    EXPECT_THAT(plan.err, HasSubstr(net(1)));
    EXPECT_THAT(plan.err, HasSubstr("nothing was changed"));

    const auto apply = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(apply.code, 1) << apply.describe();
    EXPECT_THAT(apply.err, HasSubstr("carries no virtform mark"));

    // Nor destroy: an unmarked network is not the lab's to remove.
    const auto destroy = virtform({"destroy", "--auto-approve", file});
    EXPECT_EQ(destroy.code, 0) << destroy.describe();
    EXPECT_THAT(destroy.out, HasSubstr("No changes"));

    EXPECT_EQ(virsh("net-dumpxml " + net(1)).out, before);
    EXPECT_EQ(virsh("net-uuid " + net(1)).out, uuid);
    EXPECT_EQ(net_info(net(1), "Active"), "no");
    EXPECT_FALSE(link_exists(bridge(1)));
}

TEST_F(NetworkTest, NeverTouchesANetworkOfAnotherLab) {
    const auto theirs = manifest(kNatLab, "theirs.yaml");
    ASSERT_EQ(virtform({"apply", "--auto-approve", theirs}).code, 0);
    const std::string before = virsh("net-dumpxml " + net(1)).out;

    // The same network name, claimed by a second lab.
    const auto mine = dir_.write("mine.yaml", edit(read_text(theirs), "lab: " + lab(1), "lab: " + lab(2)));
    const auto apply = virtform({"apply", "--auto-approve", mine});
    EXPECT_EQ(apply.code, 1) << apply.describe();
    EXPECT_THAT(apply.err, HasSubstr("belongs to lab '" + lab(1) + "'"));
    EXPECT_EQ(virsh("net-dumpxml " + net(1)).out, before);
    EXPECT_EQ(net_info(net(1), "Active"), "yes");
}

TEST_F(NetworkTest, ValidateReportsEveryErrorWithItsPosition) {
    const auto file = manifest(R"(lab: ${lab}
networks:
  ${net1}:
    mdoe: nat
    bridge: ${br1}
    ipv4:
      address: ${sub1}.1/33
  ${net2}:
    mode: bridge
)");
    const auto r = virtform({"validate", file});
    EXPECT_EQ(r.code, 1) << r.describe();
    // One line per problem, each "file:line:col: error: ...".
    const std::regex line("^" + std::regex_replace(file, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                          R"(:\d+:\d+: error: .+$)");
    int located = 0;
    std::istringstream err(r.err);
    for (std::string l; std::getline(err, l);) located += std::regex_match(l, line) ? 1 : 0;
    EXPECT_GE(located, 3) << r.err;
    EXPECT_THAT(r.err, HasSubstr(file + ":4:5: error: unknown key 'mdoe'"));
    EXPECT_THAT(r.err, HasSubstr("did you mean 'mode'?"));
    EXPECT_THAT(r.err, HasSubstr(file + ":7:16: error:"));
    EXPECT_THAT(r.err, HasSubstr("needs 'bridge'"));
    EXPECT_THAT(r.err, HasSubstr("nothing was changed"));
    EXPECT_EQ(r.out, "");

    // apply refuses the same manifest before connecting: nothing appears on the host.
    const auto apply = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(apply.code, 1) << apply.describe();
    EXPECT_THAT(apply.err, HasSubstr("nothing was changed"));
    EXPECT_FALSE(network_exists(net(1)));
    EXPECT_FALSE(network_exists(net(2)));

    // And a YAML syntax error has its position too.
    const auto broken = manifest("lab: x\nnetworks: {a: [\n", "broken.yaml");
    const auto syntax = virtform({"validate", broken});
    EXPECT_EQ(syntax.code, 1) << syntax.describe();
    EXPECT_THAT(syntax.err, ::testing::ContainsRegex(broken + ":[0-9]+:[0-9]+: error: YAML syntax"));
}

TEST_F(NetworkTest, ApplyWithoutAutoApproveRefusesWithoutATerminal) {
    const auto file = manifest(kNatLab);
    const auto r = virtform({"apply", file});  // stdin is /dev/null
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("not a terminal"));
    EXPECT_THAT(r.err, HasSubstr("--auto-approve"));
    EXPECT_FALSE(network_exists(net(1)));
    EXPECT_FALSE(link_exists(bridge(1)));

    // Piping "yes" does not count as a confirmation either.
    const std::string yes = "yes\n";
    const auto piped = virtform({"apply", file}, &yes);
    EXPECT_EQ(piped.code, 1) << piped.describe();
    EXPECT_FALSE(network_exists(net(1)));

    // destroy asks the same way.
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    const auto destroy = virtform({"destroy", file});
    EXPECT_EQ(destroy.code, 1) << destroy.describe();
    EXPECT_THAT(destroy.err, HasSubstr("--auto-approve"));
    EXPECT_EQ(net_info(net(1), "Active"), "yes");
}

TEST_F(NetworkTest, SubnetHeldByAHostInterfaceIsAPlanErrorAndNothingIsMade) {
    // An interface outside virtform holds an address in net1's subnet. libvirt
    // would refuse to start net1 ("Network is already in use by interface
    // ...") and once left it defined, inactive, with autostart (issue 9): the
    // plan says so first, naming both sides, and nothing is touched.
    const std::string obstacle = bridge(4);
    own_link(obstacle);
    ASSERT_EQ(sh("ip link add " + obstacle + " type bridge && ip addr add " + subnet(1) + ".5/24 dev " +
                 obstacle + " && ip link set " + obstacle + " up")
                  .code,
              0);
    const auto file = manifest(kTwoNetworks);

    const auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 1) << plan.describe();
    EXPECT_THAT(plan.err, HasSubstr("network '" + net(1) + "': subnet " + subnet(1) +
                                    ".0/24 overlaps address " + subnet(1) + ".5/24 of host "
                                    "interface '" + obstacle + "'"));

    const auto failed = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(failed.code, 1) << failed.describe();
    EXPECT_THAT(failed.err, HasSubstr("nothing was changed"));
    EXPECT_FALSE(network_exists(net(1)));
    EXPECT_FALSE(network_exists(net(2)));

    remove_link(obstacle);
    const auto repaired = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(repaired.code, 0) << repaired.describe();
    EXPECT_EQ(net_info(net(1), "Active"), "yes");
    EXPECT_THAT(sh("ip -4 -o addr show dev " + bridge(1)).out, HasSubstr(subnet(1) + ".1/24"));
    EXPECT_TRUE(dnsmasq_running(net(1)));
    EXPECT_EQ(virtform({"plan", "--detailed-exitcode", file}).code, 0);
}

TEST_F(NetworkTest, TargetAndJsonPlanOnlyTheNamedNetwork) {
    const auto file = manifest(kTwoNetworks);
    const auto plan = virtform({"plan", "--json", "--detailed-exitcode", "--target",
                                "network." + net(2), "-f", file});
    ASSERT_EQ(plan.code, 2) << plan.describe();
    const auto json = nlohmann::json::parse(plan.out);
    EXPECT_EQ(json["lab"], lab());
    ASSERT_EQ(json["actions"].size(), 1u) << plan.out;
    EXPECT_EQ(json["actions"][0]["address"], "network." + net(2));
    EXPECT_EQ(json["actions"][0]["action"], "create");
    EXPECT_EQ(json["summary"]["add"], 1);

    const auto apply =
        virtform({"apply", "--auto-approve", "--target", "network." + net(2), "-f", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_TRUE(network_exists(net(2)));
    EXPECT_FALSE(network_exists(net(1)));
    EXPECT_EQ(net_info(net(2), "Active"), "yes");
    // Isolated: no NAT forward in the definition.
    EXPECT_THAT(virsh("net-dumpxml " + net(2)).out, Not(HasSubstr("<forward")));

    const auto rest = virtform({"plan", "--json", file});
    ASSERT_EQ(rest.code, 0) << rest.describe();
    const auto rest_json = nlohmann::json::parse(rest.out);
    ASSERT_EQ(rest_json["actions"].size(), 1u) << rest.out;
    EXPECT_EQ(rest_json["actions"][0]["address"], "network." + net(1));

    const auto bad = virtform({"plan", "--target", "nonsense", "-f", file});
    EXPECT_EQ(bad.code, 1) << bad.describe();
    EXPECT_THAT(bad.err, HasSubstr("KIND.NAME"));
}

// Known bug: --target takes every following word, so a manifest named after it
// becomes a second target and the command fails with "no manifest given".
// Enable when --target takes exactly one value.
TEST_F(NetworkTest, TargetFollowedByAPositionalManifest) {
    const auto file = manifest(kTwoNetworks);
    const auto plan = virtform({"plan", "--detailed-exitcode", "--target", "network." + net(2), file});
    EXPECT_EQ(plan.code, 2) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("network." + net(2) + " will be created"));
    EXPECT_THAT(plan.out, Not(HasSubstr("network." + net(1))));
}

// Known bug: virNetworkUpdate is called with parentIndex -1, and libvirt then
// picks the first <ip> that already has a <dhcp>: here the IPv6 one, so the
// IPv4 host is refused ("Invalid to specify MAC address ... IPv6 static host").
TEST_F(NetworkTest, AddingIpv4DhcpBesideIpv6DhcpGoesToTheIpv4Subnet) {
    const auto file = manifest(R"(lab: ${lab}
networks:
  ${net1}:
    bridge: ${br1}
    ipv4: {address: ${sub1}.1/24}
    ipv6: {address: "${v61}:1/64", dhcp: {range: "${v61}:100-${v61}:1ff"}}
)");
    const std::string text = read_text(file);
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0) << text;
    write_text(file, edit(text, "ipv4: {address: " + subnet(1) + ".1/24}",
                          "ipv4: {address: " + subnet(1) + ".1/24, dhcp: {range: " + subnet(1) +
                              ".100-" + subnet(1) + ".120, hosts: [{mac: \"52:54:00:00:00:10\", ip: " +
                              subnet(1) + ".10}]}}"));
    const auto apply = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(apply.code, 0) << apply.describe();
    EXPECT_THAT(dnsmasq_file(net(1), "hostsfile"), HasSubstr("52:54:00:00:00:10," + subnet(1) + ".10"));
    EXPECT_EQ(virtform({"plan", "--detailed-exitcode", file}).code, 0);
}

// Known bug: with no `bridge` in the manifest libvirt picks virbrN; a
// restart-class update redefines without it, so libvirt picks a new name,
// a change the plan never showed.
TEST_F(NetworkTest, RestartKeepsTheBridgeNameLibvirtPicked) {
    const auto file = manifest(R"(lab: ${lab}
networks:
  ${net1}:
    ipv4: {address: ${sub1}.1/24}
)");
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    const std::string picked = net_info(net(1), "Bridge");
    ASSERT_FALSE(picked.empty());
    manifest(R"(lab: ${lab}
networks:
  ${net1}:
    ipv4: {address: ${sub1}.1/24}
    domain: it.lab
)");
    const auto apply = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_EQ(net_info(net(1), "Bridge"), picked);
}

TEST_F(NetworkTest, ManifestDirectoryAndStoppedNetwork) {
    // Two files in a directory make one lab; active: false defines without starting.
    const auto sub = dir_.path() / "lab.d";
    std::filesystem::create_directory(sub);
    write_text(sub / "10-lab.yaml", expand("lab: ${lab}\n"));
    write_text(sub / "20-net.yml", expand(R"(networks:
  ${net1}:
    bridge: ${br1}
    ipv4: {address: ${sub1}.1/24}
    active: false
    autostart: false
)"));
    const auto apply = virtform({"apply", "--auto-approve", "-f", sub.string()});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_EQ(net_info(net(1), "Active"), "no");
    EXPECT_EQ(net_info(net(1), "Autostart"), "no");
    EXPECT_FALSE(link_exists(bridge(1)));

    // Starting it is a live change.
    write_text(sub / "20-net.yml", expand(R"(networks:
  ${net1}:
    bridge: ${br1}
    ipv4: {address: ${sub1}.1/24}
)"));
    const auto plan = virtform({"plan", "--detailed-exitcode", "-f", sub.string()});
    EXPECT_EQ(plan.code, 2) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("will be updated in place (live)"));
    ASSERT_EQ(virtform({"apply", "--auto-approve", "-f", sub.string()}).code, 0);
    EXPECT_EQ(net_info(net(1), "Active"), "yes");
    EXPECT_EQ(net_info(net(1), "Autostart"), "yes");
    EXPECT_TRUE(link_exists(bridge(1)));
    EXPECT_EQ(virtform({"plan", "--detailed-exitcode", "-f", sub.string()}).code, 0);
}

TEST_F(NetworkTest, ParallelNetworksWithoutABridgeNameGetOneEach) {
    // libvirt names the bridge of a network without `bridge:` when it defines
    // it; eight defines at once must still get eight bridges (before the
    // defines were serialised, two of them often got the same virbrN and the
    // second start failed with "File exists").
    std::string text = "lab: ${lab}\nnetworks:\n";
    for (int k = 1; k <= 4; ++k) {
        text += cat("  ${net", k, "}a:\n    mode: nat\n    ipv4: {address: ${sub", k, "}.1/25}\n");
        text += cat("  ${net", k, "}b:\n    mode: nat\n    ipv4: {address: ${sub", k,
                    "}.129/25}\n");
    }
    const auto file = manifest(text);
    const auto apply = virtform({"apply", "--auto-approve", "--parallelism", "8", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    std::set<std::string> bridges;
    for (int k = 1; k <= 4; ++k) {
        for (const char* half : {"a", "b"}) {
            const std::string name = net(k) + half;
            EXPECT_EQ(net_info(name, "Active"), "yes") << name;
            const std::string br = net_info(name, "Bridge");
            EXPECT_FALSE(br.empty()) << name;
            EXPECT_TRUE(bridges.insert(br).second) << name << " shares bridge " << br;
        }
    }
    EXPECT_EQ(bridges.size(), 8u);
}

}  // namespace
}  // namespace virtform::testing
