// `virtform export` and `apply --adopt` on the real libvirtd (issue 11): a VM
// and a network defined by hand with virsh are exported, refused without
// --adopt, adopted with it (the mark is then in their XML), and planning the
// exported manifest afterwards shows nothing to do. What a manifest cannot
// say is named, never dropped in silence.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());

class ExportAdoptTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        n_ = ++counter;
        std::filesystem::permissions(dir_.path(), std::filesystem::perms(0755));
        ASSERT_EQ(sh("qemu-img create -q -f qcow2 " + disk() + " 16M").code, 0);
    }

    void TearDown() override {
        virsh("destroy " + vm() + " >/dev/null 2>&1");
        virsh("undefine " + vm() + " >/dev/null 2>&1");
        virsh("net-destroy " + net() + " >/dev/null 2>&1");
        virsh("net-undefine " + net() + " >/dev/null 2>&1");
        virsh("net-undefine '" + odd_net() + "' >/dev/null 2>&1");
        remove_lab_files(lab() + "@");
        EXPECT_NE(virsh("dominfo " + vm()).code, 0) << "VM left behind";
        EXPECT_FALSE(network_exists(net())) << "network left behind";
    }

    std::string lab() const { return "vfx-exp-" + std::to_string(kPid) + "-" + std::to_string(n_); }
    std::string vm() const { return lab() + "-vm"; }
    std::string net() const { return lab() + "-net"; }
    std::string odd_net() const { return "vfx~" + std::to_string(kPid) + " odd"; }
    std::string disk() const { return (dir_.path() / "disk.qcow2").string(); }
    std::string manifest() const { return (dir_.path() / "exported.yaml").string(); }
    /// A subnet of its own per test (the network stays inactive, so it
    /// overlaps nothing anyway).
    std::string subnet_prefix() const { return "10.213." + std::to_string(100 + n_) + "."; }

    /// The hand-made pair, as someone would with virsh: a NAT network with a
    /// DHCP host, and a VM on it with a qcow2 file disk and an RNG device
    /// (which no manifest key says).
    void define_by_hand() {
        write_text(dir_.path() / "net.xml",
                   "<network><name>" + net() + "</name><forward mode='nat'/>" +
                       "<bridge name='vfxe" + std::to_string(kPid % 100000) + "x" +
                       std::to_string(n_) + "' stp='on' delay='0'/><ip address='" +
                       subnet_prefix() + "1' netmask='255.255.255.0'><dhcp><range start='" +
                       subnet_prefix() + "100' end='" + subnet_prefix() +
                       "150'/><host mac='52:54:00:21:3a:10' ip='" + subnet_prefix() +
                       "10' name='web'/></dhcp></ip></network>");
        auto r = virsh("net-define " + (dir_.path() / "net.xml").string());
        ASSERT_EQ(r.code, 0) << r.describe();
        write_text(dir_.path() / "vm.xml",
                   "<domain type='qemu'><name>" + vm() +
                       "</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
                       "<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os><devices>"
                       "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                       "<source file='" +
                       disk() +
                       "'/><target dev='vda' bus='virtio'/></disk>"
                       "<interface type='network'><source network='" +
                       net() +
                       "'/><mac address='52:54:00:21:3a:10'/><model type='virtio'/></interface>"
                       "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>"
                       "</devices></domain>");
        r = virsh("define " + (dir_.path() / "vm.xml").string());
        ASSERT_EQ(r.code, 0) << r.describe();
    }

    std::string vm_xml() { return virsh("dumpxml --inactive " + vm()).out; }
    std::string net_xml() { return virsh("net-dumpxml --inactive " + net()).out; }

    TempDir dir_{"vfx-export"};
    int n_ = 0;
};

TEST_F(ExportAdoptTest, ExportedPairIsRefusedWithoutAdoptAndPlansEmptyAfterIt) {
    define_by_hand();
    auto r =
        virtform({"export", "vm." + vm(), "network." + net(), "--lab", lab(), "-o", manifest()});
    ASSERT_EQ(r.code, 0) << r.describe();
    const std::string text = read_text(manifest());
    EXPECT_THAT(text, HasSubstr("vms:")) << text;
    EXPECT_THAT(text, HasSubstr("networks:")) << text;
    EXPECT_THAT(text, HasSubstr("\"" + disk() + "\"")) << text;
    // The RNG device is not in the manifest, and the export says so (stderr
    // and a comment in the file), naming the VM.
    EXPECT_THAT(r.err, HasSubstr("vm." + vm() + ": left out: <rng> device")) << r.describe();
    EXPECT_THAT(text, HasSubstr("<rng> device")) << text;

    // Without --adopt the ownership refusal stands, and nothing is marked.
    r = virtform({"plan", manifest(), "--detailed-exitcode"});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("vm '" + vm() +
                                 "' already exists on the host and carries no "
                                 "virtform mark"));
    r = virtform({"apply", manifest(), "--auto-approve"});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(vm_xml(), Not(HasSubstr("virtform:lab")));
    EXPECT_THAT(net_xml(), Not(HasSubstr("virtform:lab")));

    // plan --adopt shows the adoption; nothing is changed by it.
    r = virtform({"plan", manifest(), "--adopt", "vm." + vm(), "--adopt", "network." + net(),
                  "--detailed-exitcode"});
    EXPECT_EQ(r.code, 2) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("vm." + vm() + " will be adopted")) << r.out;
    EXPECT_THAT(r.out, HasSubstr("Plan: 2 to adopt, 0 to add, 0 to change, 0 to destroy."));
    EXPECT_THAT(vm_xml(), Not(HasSubstr("virtform:lab")));

    r = virtform({"apply", manifest(), "--adopt", "vm." + vm(), "--adopt", "network." + net(),
                  "--auto-approve"});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("2 adopted"));
    EXPECT_THAT(vm_xml(), HasSubstr(">" + lab() + "</virtform:lab>"));
    EXPECT_THAT(net_xml(), HasSubstr(">" + lab() + "</virtform:lab>"));
    // Adopting marked them and changed nothing else: the device no manifest
    // key says is still there.
    EXPECT_THAT(vm_xml(), HasSubstr("<rng model='virtio'>"));

    r = virtform({"plan", manifest(), "--detailed-exitcode"});
    EXPECT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("No changes."));

    // Now the lab's: destroy removes both.
    r = virtform({"destroy", manifest(), "--auto-approve"});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_NE(virsh("dominfo " + vm()).code, 0);
    EXPECT_FALSE(network_exists(net()));
}

TEST_F(ExportAdoptTest, AdoptTrueInTheManifestShowsTheDiffAndAdopts) {
    define_by_hand();
    // The network as the manifest wants it: one more DHCP host than by hand.
    const std::string p = subnet_prefix();
    write_text(manifest(),
               "lab: " + lab() + "\nnetworks:\n  " + net() + ":\n    adopt: true\n" +
                   "    bridge: vfxe" + std::to_string(kPid % 100000) + "x" + std::to_string(n_) +
                   "\n    ipv4:\n      address: " + p + "1/24\n      dhcp:\n        range: " + p +
                   "100-" + p + "150\n        hosts:\n" +
                   "          - {mac: \"52:54:00:21:3a:10\", ip: " + p + "10, name: web}\n" +
                   "          - {mac: \"52:54:00:21:3a:11\", ip: " + p +
                   "11, name: db}\n    autostart: false\n    active: false\n");
    auto r = virtform({"plan", manifest(), "--json"});
    ASSERT_EQ(r.code, 0) << r.describe();
    const auto plan = nlohmann::json::parse(r.out);
    ASSERT_EQ(plan["actions"].size(), 1u) << r.out;
    EXPECT_EQ(plan["actions"][0]["action"], "adopt");
    EXPECT_EQ(plan["actions"][0]["changes"].size(), 1u) << r.out;
    EXPECT_EQ(plan["summary"]["adopt"], 1);

    r = virtform({"apply", manifest(), "--auto-approve"});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(net_xml(), HasSubstr(">" + lab() + "</virtform:lab>"));
    EXPECT_THAT(net_xml(), HasSubstr("52:54:00:21:3a:11"));
    r = virtform({"plan", manifest(), "--detailed-exitcode"});
    EXPECT_EQ(r.code, 0) << r.describe();
    // The VM was neither declared nor adopted: still nobody's.
    EXPECT_THAT(vm_xml(), Not(HasSubstr("virtform:lab")));
    virtform({"destroy", manifest(), "--auto-approve"});
}

TEST_F(ExportAdoptTest, WhatCannotBeRepresentedIsNamed) {
    // A network name the manifest format does not accept, with a <route>.
    write_text(dir_.path() / "odd.xml", "<network><name>" + odd_net() +
                                            "</name><ip address='10.213.9.1' prefix='24'/>"
                                            "<route address='10.213.99.0' prefix='24' "
                                            "gateway='10.213.9.2'/></network>");
    auto r = virsh("net-define " + (dir_.path() / "odd.xml").string());
    ASSERT_EQ(r.code, 0) << r.describe();
    r = virtform({"export", "network." + odd_net()});
    EXPECT_EQ(r.code, 1) << r.describe();  // nothing could be exported
    EXPECT_THAT(r.err, HasSubstr("network." + odd_net() +
                                 ": left out: not exported: network "
                                 "name '" +
                                 odd_net() + "' is not valid"));
    EXPECT_THAT(r.err, HasSubstr("<route> element"));
    EXPECT_THAT(r.out, Not(HasSubstr("networks:")));

    // An object that is not there is an error naming it.
    r = virtform({"export", "vm." + vm()});
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.err, HasSubstr("there is no vm '" + vm() + "'"));
    // An --adopt the manifests do not declare is refused before anything.
    define_by_hand();
    write_text(manifest(), "lab: " + lab() + "\n");
    r = virtform({"apply", manifest(), "--adopt", "vm." + vm(), "--auto-approve"});
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.err, HasSubstr("--adopt vm." + vm() + ": the manifests declare no vm"));
    EXPECT_THAT(vm_xml(), Not(HasSubstr("virtform:lab")));
}

}  // namespace
}  // namespace virtform::testing
