// inventory, ssh-config, hosts, ssh and console through the CLI on the real
// libvirtd (issue 11), with a stopped VM: addresses from the manifest's DHCP
// host entry, the hosts block in a scratch file (never /etc/hosts) removed by
// destroy, and a file-backed console followed as it grows. The running-guest
// half (discovered addresses, the pty console, ssh to an sshd) is
// tests/e2e/console_ssh_test.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());

class AccessCliTest : public ::testing::Test {
protected:
    void SetUp() override {
        manifest_ = dir_.write(
            "lab.yaml",
            "lab: " + lab() + "\nnetworks:\n  " + net() + ":\n    mode: isolated\n    bridge: " +
                bridge() + "\n    ipv4:\n      address: 10.252." + octet() +
                ".1/24\n      dhcp:\n        range: 10.252." + octet() + ".100-10.252." + octet() +
                ".150\n        hosts: [{mac: \"52:54:00:fc:00:10\", ip: 10.252." + octet() +
                ".10}]\n    domain: vfg.lab\nvms:\n  " + vm() +
                ":\n    state: stopped\n    accel: qemu\n    memory: 64MiB\n"
                "    nics: [{network: " +
                net() +
                ", mac: \"52:54:00:fc:00:10\"}]\n"
                "    groups: [web, linux]\n"
                "    ssh: {user: admin, identity_file: /root/.ssh/vfg key, port: 2222}\n"
                "    console: {file: " +
                (dir_.path() / "console.log").string() + "}\n");
        const auto r = virtform({"apply", "--auto-approve", manifest_.string()});
        ASSERT_EQ(r.code, 0) << r.describe();
    }
    void TearDown() override {
        virtform({"destroy", "--auto-approve", manifest_.string()});
        virsh("undefine " + vm() + " >/dev/null 2>&1");
        remove_network(net());
        std::error_code ec;
        std::filesystem::remove("/var/lib/virtform/hosts/" + lab() + ".paths", ec);
        EXPECT_FALSE(network_exists(net())) << "network left behind";
    }

    std::string lab() const { return "vfg-acc-" + std::to_string(kPid); }
    std::string net() const { return lab() + "-net"; }
    std::string vm() const { return lab() + "-vm"; }
    std::string bridge() const { return "vfga" + std::to_string(kPid % 100000); }
    std::string octet() const { return std::to_string(kPid % 200 + 20); }
    std::string ip() const { return "10.252." + octet() + ".10"; }

    TempDir dir_{"vfg-access"};
    std::filesystem::path manifest_;
};

TEST_F(AccessCliTest, InventoryGroupsAndVars) {
    const auto r = virtform({"inventory", manifest_.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    const YAML::Node inv = YAML::Load(r.out);
    const YAML::Node host = inv["all"]["hosts"][vm()];
    ASSERT_TRUE(host.IsMap()) << r.out;
    EXPECT_EQ(host["ansible_host"].as<std::string>(), ip());  // the DHCP host entry
    EXPECT_EQ(host["ansible_user"].as<std::string>(), "admin");
    EXPECT_EQ(host["ansible_ssh_private_key_file"].as<std::string>(), "/root/.ssh/vfg key");
    EXPECT_EQ(host["ansible_port"].as<int>(), 2222);
    const YAML::Node groups = inv["all"]["children"];
    std::string net_group = net();
    std::replace(net_group.begin(), net_group.end(), '-', '_');
    for (const auto& g : {net_group, std::string("web"), std::string("linux")}) {
        EXPECT_TRUE(groups[g]["hosts"][vm()].IsDefined()) << g << "\n" << r.out;
    }
    const auto json = virtform({"--json", "inventory", manifest_.string()});
    ASSERT_EQ(json.code, 0) << json.describe();
    EXPECT_THAT(json.out, HasSubstr("\"address_source\": \"manifest\""));
}

TEST_F(AccessCliTest, SshConfigReadBackBySsh) {
    const auto file = dir_.path() / "ssh_config";
    const auto r = virtform({"ssh-config", "-o", file.string(), manifest_.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    // ssh itself reads the file back (-G: print the configuration, connect nowhere).
    const auto g = sh("ssh -G -F '" + file.string() + "' " + vm());
    ASSERT_EQ(g.code, 0) << g.describe();
    EXPECT_THAT(g.out, HasSubstr("hostname " + ip() + "\n"));
    EXPECT_THAT(g.out, HasSubstr("user admin\n"));
    EXPECT_THAT(g.out, HasSubstr("port 2222\n"));
    EXPECT_THAT(g.out, HasSubstr("identityfile /root/.ssh/vfg key\n"));
}

TEST_F(AccessCliTest, HostsBlockIdempotentAndRemovedByDestroy) {
    const std::string original = "127.0.0.1\tlocalhost\n# a comment  \n::1 ip6-localhost\r\n";
    const auto hosts = dir_.write("hosts", original);
    auto r = virtform({"hosts", "--file", hosts.string(), manifest_.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("written"));
    const std::string once = read_text(hosts);
    EXPECT_EQ(once.substr(0, original.size()), original);  // the rest byte for byte
    EXPECT_THAT(once, HasSubstr(ip() + "\t" + vm() + " " + vm() + ".vfg.lab\n"));
    EXPECT_THAT(once, HasSubstr("# END virtform lab " + lab() + "\n"));
    const auto inode = std::filesystem::status(hosts).permissions();

    r = virtform({"hosts", "--file", hosts.string(), manifest_.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("unchanged"));
    EXPECT_EQ(read_text(hosts), once);
    EXPECT_EQ(std::filesystem::status(hosts).permissions(), inode);

    r = virtform({"destroy", "--auto-approve", manifest_.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_EQ(read_text(hosts), original);  // removed; the rest as it was
    EXPECT_FALSE(std::filesystem::exists("/var/lib/virtform/hosts/" + lab() + ".paths"));
}

TEST_F(AccessCliTest, HostsRefusesASymlink) {
    const auto target = dir_.write("real", "1.2.3.4 x\n");
    const auto link = dir_.path() / "link";
    std::filesystem::create_symlink(target, link);
    const auto r = virtform({"hosts", "--file", link.string(), manifest_.string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_EQ(read_text(target), "1.2.3.4 x\n");
}

TEST_F(AccessCliTest, SshAndConsoleOfAStoppedVm) {
    // The VM right after -f: one value per -f, so it is not read as a manifest.
    auto r = virtform({"ssh", "-f", manifest_.string(), vm(), "--dry-run", "--", "uptime"});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("no address known"));  // a declared address is not enough
    r = virtform({"ssh", "-f", manifest_.string(), vm() + "x"});
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.err, HasSubstr("did you mean '" + vm() + "'"));
}

TEST_F(AccessCliTest, FileConsoleIsFollowedUntilCtrlBracket) {
    const auto log = dir_.write("console.log", "first line\n");
    // Ctrl-] after the file grew: what was there and what came are shown.
    const auto r =
        sh("(sleep 1; echo 'second line' >> '" + log.string() + "'; sleep 1; printf '\\035') | " +
           VIRTFORM_BINARY + " console -f '" + manifest_.string() + "' " + vm() + " 2>&1");
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("first line\nsecond line\n"));
    EXPECT_THAT(r.out, HasSubstr("escape character is ^]"));
}

}  // namespace
}  // namespace virtform::testing
