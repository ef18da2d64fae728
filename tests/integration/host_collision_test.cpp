// The host beyond the lab (issue 9), against the real libvirtd: deleting a
// network another lab's (or nobody's) domain uses needs --force; a subnet that
// overlaps an active network and a MAC another domain has are plan errors; a
// network libvirt refuses to start leaves nothing behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include "libvirt_test_util.h"
#include "testlib.h"
#include "virtform/adapters/libvirt/provider.h"
#include "virtform/error.h"

namespace virtform {
namespace {

using namespace virtform::testing;

const int kN = static_cast<int>(::getpid() % 250);

std::string subnet(int third_octet_base, const std::string& host) {
    return "10." + std::to_string(third_octet_base) + "." + std::to_string(kN) + "." + host;
}

class HostCollisionTest : public ::testing::Test {
protected:
    void TearDown() override {
        for (const auto& d : domains_) {
            virsh("destroy " + d + " >/dev/null 2>&1");
            virsh("undefine " + d + " >/dev/null 2>&1");
        }
        for (const auto& n : networks_) remove_network(n);
    }

    std::string foreign_domain(const std::string& suffix, const std::string& network,
                               const std::string& mac) {
        const std::string name = vftest::unique_name(suffix);
        domains_.push_back(name);
        const auto xml = dir_.write(
            name + ".xml", "<domain type='qemu'><name>" + name +
                               "</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
                               "<devices><interface type='network'><mac address='" +
                               mac + "'/><source network='" + network +
                               "'/></interface></devices></domain>");
        const auto r = virsh("define " + xml.string());
        EXPECT_EQ(r.code, 0) << r.describe();
        return name;
    }

    std::string foreign_network(const std::string& suffix, const std::string& address) {
        const std::string name = vftest::unique_name(suffix);
        networks_.push_back(name);
        const auto xml = dir_.write(name + ".xml", "<network><name>" + name +
                                                       "</name><ip address='" + address +
                                                       "' netmask='255.255.255.0'/></network>");
        const auto r = virsh("net-create " + xml.string());
        EXPECT_EQ(r.code, 0) << r.describe();
        return name;
    }

    TempDir dir_{"vf-it-host"};
    std::vector<std::string> domains_;
    std::vector<std::string> networks_;
};

TEST_F(HostCollisionTest, DestroyRefusesToCutOffADomainOutsideTheLabUnlessForced) {
    const std::string lab = vftest::unique_name("users");
    const std::string net = vftest::unique_name("users-net");
    networks_.push_back(net);
    const auto manifest = dir_.write(
        "lab.yaml", "lab: " + lab + "\nnetworks:\n  " + net +
                        ":\n    mode: isolated\n    ipv4: {address: " + subnet(247, "1/24") +
                        "}\n");
    auto r = virtform({"apply", "--auto-approve", manifest.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    const std::string vm = foreign_domain("users-vm", net, "52:54:00:f7:00:01");

    r = virtform({"destroy", "--auto-approve", manifest.string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_NE(r.out.find("used on the host by vm." + vm + " of no lab"), std::string::npos)
        << r.describe();
    EXPECT_NE(r.err.find("refusing to delete"), std::string::npos) << r.describe();
    EXPECT_NE(r.err.find("--force"), std::string::npos) << r.describe();
    EXPECT_TRUE(network_exists(net)) << "deleted without --force";

    r = virtform({"destroy", "--auto-approve", "--force", manifest.string()});
    EXPECT_EQ(r.code, 0) << r.describe();
    EXPECT_NE(r.err.find("cut off vm." + vm), std::string::npos) << r.describe();  // a warning: stderr
    EXPECT_FALSE(network_exists(net));
}

TEST_F(HostCollisionTest, SubnetOverlappingAnActiveNetworkIsAPlanErrorNamingBoth) {
    const std::string other = foreign_network("other", subnet(246, "1"));
    const std::string lab = vftest::unique_name("overlap");
    const std::string net = vftest::unique_name("overlap-net");
    networks_.push_back(net);
    const auto manifest = dir_.write(
        "lab.yaml", "lab: " + lab + "\nnetworks:\n  " + net +
                        ":\n    mode: isolated\n    ipv4: {address: " + subnet(246, "129/25") +
                        "}\n");
    const auto r = virtform({"apply", "--auto-approve", manifest.string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_NE(r.err.find("lab.yaml:3:3: error: network '" + net + "'"), std::string::npos)
        << r.describe();
    EXPECT_NE(r.err.find("network '" + net + "': subnet " + subnet(246, "128/25") +
                         " overlaps " + subnet(246, "0/24") + " of libvirt network '" + other +
                         "' (no lab)"),
              std::string::npos)
        << r.describe();
    EXPECT_FALSE(network_exists(net)) << "something was made";
}

TEST_F(HostCollisionTest, FixedMacOfAnotherDomainIsAPlanError) {
    const std::string other_net = foreign_network("macnet", subnet(245, "1"));
    const std::string mac = "52:54:00:f5:00:01";
    const std::string other = foreign_domain("mac-other", other_net, mac);
    const std::string lab = vftest::unique_name("mac");
    const auto kernel = dir_.write("vmlinuz", "");
    const auto manifest = dir_.write(
        "lab.yaml", "lab: " + lab + "\nvms:\n  " + vftest::unique_name("mac-vm") +
                        ":\n    accel: qemu\n    kernel: " + kernel.string() +
                        "\n    nics: [{network: " + other_net + ", mac: \"" + mac + "\"}]\n");
    const auto r = virtform({"plan", manifest.string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_NE(r.err.find("MAC " + mac + " is already used by domain '" + other + "' (no lab)"),
              std::string::npos)
        << r.describe();
}

TEST_F(HostCollisionTest, NetworkLibvirtRefusesToStartIsNotLeftDefined) {
    // The adapter alone (no plan to catch it): libvirt refuses the start.
    foreign_network("taken", subnet(244, "1"));
    Network n;
    n.name = vftest::unique_name("refused");
    n.mode = NetworkMode::isolated;
    n.ipv4 = IpConfig{*Cidr::parse(subnet(244, "1/24")), std::nullopt, {}};
    networks_.push_back(n.name);
    libvirt::LibvirtProvider provider("qemu:///system", vftest::unique_name("refused-lab"));
    EXPECT_THROW(provider.apply(vftest::create_action(n)), AdapterError);
    EXPECT_FALSE(network_exists(n.name)) << "a defined, inactive network was left behind";
}

}  // namespace
}  // namespace virtform
