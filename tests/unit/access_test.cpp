// The access outputs (issue 11): Ansible inventory, ssh_config, the /etc/hosts
// block and the ssh command line, from manifests and discovered addresses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "virtform/access.h"
#include "virtform/error.h"
#include "virtform/manifest.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* kLab = R"(lab: acc
networks:
  front-net:
    mode: nat
    ipv4:
      address: 10.20.0.1/24
      dhcp:
        range: 10.20.0.100-10.20.0.200
        hosts: [{mac: "52:54:00:00:20:10", ip: 10.20.0.10}]
    domain: acc.lab
  back:
    mode: isolated
vms:
  web1:
    nics: [{network: front-net, mac: "52:54:00:00:20:10"}, {network: back}]
    groups: [web, frontend]
    ssh: {user: admin, identity_file: /keys/my key%1, port: 2222}
  db1:
    nics: [{network: back}]
    groups: [db]
    cloud_init:
      user_data: "#cloud-config\nusers:\n  - default\n  - name: dbadmin\n"
)";

Desired lab() {
    return load_manifests({{"lab.yaml", kLab}});
}

TEST(Access, ManifestReadsGroupsAndSsh) {
    const Desired d = lab();
    const Vm& web = d.vms.at("web1");
    EXPECT_EQ(web.groups, (std::vector<std::string>{"web", "frontend"}));
    EXPECT_EQ(web.ssh.user, "admin");
    EXPECT_EQ(web.ssh.identity_file, "/keys/my key%1");
    EXPECT_EQ(web.ssh.port, 2222);
}

TEST(Access, BadGroupsAndSshAreErrorsAtTheirLine) {
    const std::string text =
        "lab: x\nvms:\n  a:\n    groups: [ok_1, \"bad-group\", 9x]\n"
        "    ssh: {user: \"Root; rm\", identity_file: relative/key, port: 70000, pass: x}\n";
    try {
        load_manifests({{"lab.yaml", text}});
        FAIL() << "accepted";
    } catch (const ValidationError& e) {
        const std::string msg = e.diagnostics().str();
        EXPECT_THAT(msg, HasSubstr("lab.yaml:4:"));
        EXPECT_THAT(msg, HasSubstr("group 'bad-group' of VM 'a' is not valid"));
        EXPECT_THAT(msg, HasSubstr("group '9x'"));
        EXPECT_THAT(msg, HasSubstr("ssh user 'Root; rm'"));
        EXPECT_THAT(msg, HasSubstr("must be an absolute path"));
        EXPECT_THAT(msg, HasSubstr("port"));
        EXPECT_THAT(msg, HasSubstr("pass"));
    }
}

TEST(Access, CloudInitUser) {
    EXPECT_EQ(cloud_init_user("#cloud-config\nusers:\n  - default\n  - name: bob\n"), "bob");
    EXPECT_EQ(cloud_init_user("#cloud-config\nusers: [alice]\n"), "alice");
    EXPECT_EQ(cloud_init_user("#cloud-config\nsystem_info:\n  default_user:\n    name: deb\n"),
              "deb");
    EXPECT_EQ(cloud_init_user("#cloud-config\nusers: [default]\n"), std::nullopt);
    EXPECT_EQ(cloud_init_user("#!/bin/sh\necho hi\n"), std::nullopt);
    EXPECT_EQ(cloud_init_user("#cloud-config\nusers: [\n"), std::nullopt);  // does not parse
}

TEST(Access, DiscoveredAddressWinsOverDeclaredAndIpv4OverIpv6) {
    const Desired d = lab();
    auto offline = vm_access(d, {});
    ASSERT_EQ(offline.size(), 2U);
    EXPECT_EQ(offline[1].vm, "web1");
    EXPECT_EQ(offline[1].address, "10.20.0.10");
    EXPECT_EQ(offline[1].address_source, "manifest");
    EXPECT_EQ(offline[1].domain, "acc.lab");
    EXPECT_EQ(offline[0].address, "");  // db1: nothing declared
    EXPECT_EQ(offline[0].user, "dbadmin");

    auto live = vm_access(
        d, {{"db1", {{"52:54:00:00:00:01", "fd00::5/64"}, {"52:54:00:00:00:01", "10.30.0.7/24"}}}});
    EXPECT_EQ(live[0].address, "10.30.0.7");
    EXPECT_EQ(live[0].address_source, "host");
}

TEST(Access, InventoryIsYamlAnsibleReads) {
    const Desired d = lab();
    const std::string text = render_inventory("acc", vm_access(d, {}));
    const YAML::Node inv = YAML::Load(text);
    const YAML::Node web = inv["all"]["hosts"]["web1"];
    EXPECT_EQ(web["ansible_host"].as<std::string>(), "10.20.0.10");
    EXPECT_EQ(web["ansible_user"].as<std::string>(), "admin");
    EXPECT_EQ(web["ansible_ssh_private_key_file"].as<std::string>(), "/keys/my key%1");
    EXPECT_EQ(web["ansible_port"].as<int>(), 2222);
    EXPECT_EQ(inv["all"]["hosts"]["db1"]["ansible_user"].as<std::string>(), "dbadmin");
    EXPECT_FALSE(inv["all"]["hosts"]["db1"]["ansible_host"].IsDefined());
    const YAML::Node groups = inv["all"]["children"];
    EXPECT_TRUE(groups["front_net"]["hosts"]["web1"].IsDefined());  // '-' is not Ansible's
    EXPECT_TRUE(groups["back"]["hosts"]["web1"].IsDefined());
    EXPECT_TRUE(groups["back"]["hosts"]["db1"].IsDefined());
    EXPECT_TRUE(groups["web"]["hosts"]["web1"].IsDefined());
    EXPECT_TRUE(groups["db"]["hosts"]["db1"].IsDefined());
    EXPECT_FALSE(groups["db"]["hosts"]["web1"].IsDefined());
}

TEST(Access, InventoryQuotesWhatYamlWouldReadAsAnotherType) {
    VmAccess a;
    a.vm = "true";
    a.address = "10.0.0.1";
    a.user = "null";
    const YAML::Node inv = YAML::Load(render_inventory("x", {a}));
    EXPECT_EQ(inv["all"]["hosts"]["true"]["ansible_user"].as<std::string>(), "null");
    EXPECT_EQ(ansible_group_name("9-lives.net"), "_9_lives_net");
}

TEST(Access, SshConfigBlocks) {
    const std::string text = render_ssh_config("acc", vm_access(lab(), {}));
    EXPECT_THAT(text, HasSubstr("Host web1\n  HostName 10.20.0.10\n  Port 2222\n  User admin\n"
                                "  IdentityFile \"/keys/my key%%1\"\n"));
    EXPECT_THAT(text, HasSubstr("# db1: no address known"));
    EXPECT_THAT(text, Not(HasSubstr("Host db1")));
    VmAccess bad;
    bad.vm = "x";
    bad.address = "10.0.0.1";
    bad.identity_file = "/k/\"quoted\"";
    EXPECT_THROW(render_ssh_config("x", {bad}), Error);
}

TEST(Access, HostsBlockReplacedIdempotentlyAndTheRestKeptByteForByte) {
    const auto vms = vm_access(lab(), {});
    const std::string block = hosts_block("acc", vms);
    EXPECT_EQ(block,
              "# BEGIN virtform lab acc (written by `virtform hosts`; do not edit)\n"
              "10.20.0.10\tweb1 web1.acc.lab\n# END virtform lab acc\n");
    const std::string original =
        "127.0.0.1\tlocalhost\r\n# BEGIN virtform lab acc2\n1.2.3.4 x\n"
        "# END virtform lab acc2\n  ::1 ip6-localhost   \n";
    const std::string once = replace_hosts_block(original, "acc", block);
    EXPECT_EQ(once, original + block);
    EXPECT_EQ(replace_hosts_block(once, "acc", block), once);  // idempotent
    // A changed block replaces the old one in place; another lab's block stays.
    const std::string tail = "\n# after\n";
    const std::string changed = replace_hosts_block(
        once + tail, "acc", "# BEGIN virtform lab acc\n# END virtform lab acc\n");
    EXPECT_EQ(changed, original + "# BEGIN virtform lab acc\n# END virtform lab acc\n" + tail);
    EXPECT_EQ(replace_hosts_block(once + tail, "acc", ""), original + tail);  // removed
    EXPECT_EQ(replace_hosts_block(original, "acc", ""), original);
    // No final newline: one is added before the block, nothing else changes.
    EXPECT_EQ(replace_hosts_block("a b", "acc", block), "a b\n" + block);
    EXPECT_THROW(replace_hosts_block("# BEGIN virtform lab acc\n1.1.1.1 a\n", "acc", block), Error);
}

TEST(Access, SshCommandLine) {
    const auto vms = vm_access(lab(), {});
    EXPECT_EQ(shell_join(ssh_argv(vms[1], {"uname", "-a"})),
              "ssh -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/dev/null -o "
              "LogLevel=ERROR -p 2222 -i '/keys/my key%1' -o IdentitiesOnly=yes -l admin -- "
              "10.20.0.10 uname -a");
    EXPECT_THROW(ssh_argv(vms[0], {}), Error);  // db1 has no address
    EXPECT_EQ(shell_join({"echo", "it's", ""}), "echo 'it'\\''s' ''");
}

}  // namespace
}  // namespace virtform
