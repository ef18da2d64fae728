// Domain XML round trip through the real libvirtd: desired Vm -> domain_to_xml ->
// define -> libvirt's inactive XML (with its controllers, addresses, defaults) ->
// domain_from_xml -> the same attributes as the desired Vm.
#include "virtform/adapters/libvirt/domain_xml.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "libvirt_test_util.h"
#include "virtform/adapters/libvirt/network_xml.h"
#include "virtform/error.h"

using namespace virtform;
using namespace virtform::libvirt;
using vftest::same_attributes;
using vftest::unique_name;

namespace {

constexpr const char* kLab = "it-lab";

/// State and autostart are not in the XML (read_domains asks libvirt for them).
Vm with_state_of(Vm got, const Vm& want) {
    got.state = want.state;
    got.autostart = want.autostart;
    return got;
}

class DomainXmlTest : public ::testing::Test {
  protected:
    void SetUp() override {
        conn_ = vftest::connect();
        ASSERT_TRUE(conn_) << vftest::last_error();
    }
    void TearDown() override {
        for (const auto& name : domains_) {
            vftest::DomPtr dom(virDomainLookupByName(conn_.get(), name.c_str()));
            if (!dom) continue;
            if (virDomainIsActive(dom.get()) == 1) virDomainDestroy(dom.get());
            virDomainUndefineFlags(dom.get(), VIR_DOMAIN_UNDEFINE_NVRAM);
        }
        for (const auto& name : networks_) {
            vftest::NetPtr net(virNetworkLookupByName(conn_.get(), name.c_str()));
            if (!net) continue;
            if (virNetworkIsActive(net.get()) == 1) virNetworkDestroy(net.get());
            virNetworkUndefine(net.get());
        }
    }

    /// Defines the XML, returns libvirt's inactive XML of it.
    std::string define(const std::string& name, const std::string& xml) {
        domains_.push_back(name);
        vftest::DomPtr dom(virDomainDefineXML(conn_.get(), xml.c_str()));
        if (!dom) {
            ADD_FAILURE() << "define failed: " << vftest::last_error() << "\n" << xml;
            return {};
        }
        char* raw = virDomainGetXMLDesc(dom.get(), VIR_DOMAIN_XML_INACTIVE);
        std::string out = raw != nullptr ? raw : "";
        free(raw);  // NOLINT
        return out;
    }

    Vm round_trip(const Vm& want, const DomainIdentity& identity = {}) {
        const std::string xml = define(want.name, domain_to_xml(want, kLab, identity));
        if (xml.empty()) return {};
        return with_state_of(domain_from_xml(xml), want);
    }

    std::string isolated_network(const std::string& suffix) {
        Network n;
        n.name = unique_name(suffix);
        n.mode = NetworkMode::isolated;
        n.ipv4 = IpConfig{*Cidr::parse("10.250.17.1/24"), std::nullopt, {}};
        const std::string xml = network_to_xml(n, kLab);
        networks_.push_back(n.name);
        vftest::NetPtr net(virNetworkDefineXML(conn_.get(), xml.c_str()));
        EXPECT_TRUE(net) << vftest::last_error();
        return n.name;
    }

    vftest::ConnPtr conn_;
    std::vector<std::string> domains_;
    std::vector<std::string> networks_;
};

Vm kernel_boot_vm() {
    Vm vm;
    vm.name = unique_name("kernel");
    vm.accel = Accel::qemu;
    vm.machine = "pc";
    vm.cpus = 1;
    vm.max_cpus = 2;
    vm.memory = 256ULL << 20;
    vm.max_memory = 512ULL << 20;
    vm.kernel = "/var/lib/virtform/images/vmlinuz";
    vm.initrd = "/var/lib/virtform/images/initrd.gz";
    vm.cmdline = "console=ttyS0 quiet";
    vm.boot = {"hd"};
    vm.console_file = "/var/log/virtform/kernel.log";
    vm.state = VmState::stopped;
    vm.shutdown_timeout = 17;
    return vm;
}

TEST_F(DomainXmlTest, KernelBootRoundTrips) {
    const Vm want = kernel_boot_vm();
    const Vm got = round_trip(want);
    ASSERT_FALSE(got.name.empty());
    EXPECT_TRUE(same_attributes(want, got));
    EXPECT_EQ(got.owner, kLab);
    EXPECT_EQ(got.machine, "pc");  // libvirt wrote pc-i440fx-7.2
    EXPECT_EQ(got.max_memory, want.max_memory);
    EXPECT_EQ(got.max_cpus, 2);
    EXPECT_EQ(got.shutdown_timeout, 17);
    EXPECT_FALSE(got.seed_iso);
    EXPECT_TRUE(got.disks.empty());
}

TEST_F(DomainXmlTest, EqualCurrentAndMaximumReadBackUnset) {
    Vm want = kernel_boot_vm();
    want.name = unique_name("flat");
    want.max_cpus.reset();
    want.max_memory.reset();
    want.console_file.reset();  // pty
    const Vm got = round_trip(want);
    EXPECT_TRUE(same_attributes(want, got));
    EXPECT_FALSE(got.max_memory);
    EXPECT_FALSE(got.max_cpus);
    EXPECT_FALSE(got.console_file);
}

TEST_F(DomainXmlTest, DisksCdromsAndSeedRoundTrip) {
    Vm want;
    want.name = unique_name("disks");
    want.accel = Accel::qemu;
    want.machine = "q35";
    want.cpu_mode = "maximum";
    want.cpus = 2;
    want.memory = 1ULL << 30;
    Disk root;
    root.type = Disk::Type::volume;
    root.name = "root";
    root.pool = unique_name("pool");
    root.volume = want.name + "-root.qcow2";
    root.target = "vda";
    root.keep = true;
    Disk data = root;
    data.name = "data";
    data.volume = want.name + "-data.raw";
    data.target = "vdb";
    data.keep = false;
    Disk iso;
    iso.type = Disk::Type::cdrom;
    iso.path = "/srv/iso/install.iso";
    iso.bus = DiskBus::sata;
    iso.target = "sda";
    Disk file;
    file.type = Disk::Type::file;
    file.path = "/srv/images/scratch.img";
    file.bus = DiskBus::virtio;
    file.target = "vdc";
    want.disks = {root, data, iso, file};
    want.boot = {"cdrom", "hd"};
    want.graphics = Graphics::vnc;
    want.cloud_init = CloudInit{"#cloud-config\n", "", "", {}};
    want.seed_iso = std::string(kSeedDir) + "/" + want.name + ".iso";
    want.seed_digest = "sha256:0123abcd";
    want.autostart = true;

    const std::string xml = define(want.name, domain_to_xml(want, kLab));
    ASSERT_FALSE(xml.empty());
    const Vm got = with_state_of(domain_from_xml(xml), want);
    EXPECT_TRUE(same_attributes(want, got));
    EXPECT_EQ(got.seed_iso, want.seed_iso);  // the seed cdrom is not a disk
    ASSERT_EQ(got.disks.size(), 4u);
    EXPECT_TRUE(got.disks[0].keep);
    EXPECT_FALSE(got.disks[1].keep);
    EXPECT_EQ(got.seed_digest, "sha256:0123abcd");
    EXPECT_EQ(got.machine, "q35");
    // libvirt added controllers, addresses and inputs; none of them shows.
    EXPECT_NE(xml.find("pcie-root-port"), std::string::npos);
    EXPECT_NE(xml.find("<address"), std::string::npos);
    // The seed took the next free SATA slot.
    EXPECT_NE(find_disk_xml(xml, "sdb").find(*want.seed_iso), std::string::npos);
}

TEST_F(DomainXmlTest, TwoNicsKeepGeneratedMacsAndUuidAcrossRedefine) {
    const std::string net = isolated_network("net");
    Vm want;
    want.name = unique_name("nics");
    // kvm where libvirt accepts it (defining needs no working KVM, only /dev/kvm), else qemu.
    want.accel = vftest::definable_accel(conn_.get());
    want.memory = 128ULL << 20;
    want.boot = {"network", "hd"};
    want.graphics = Graphics::spice;
    Nic a;
    a.source = net;
    a.mac = "52:54:00:aa:bb:01";
    Nic b;
    b.source = net;
    b.model = "e1000";
    want.nics = {a, b};

    const std::string xml = define(want.name, domain_to_xml(want, kLab));
    ASSERT_FALSE(xml.empty());
    const Vm got = with_state_of(domain_from_xml(xml), want);
    EXPECT_TRUE(same_attributes(want, got));
    ASSERT_EQ(got.nics.size(), 2u);
    EXPECT_EQ(got.nics[0].mac, "52:54:00:aa:bb:01");
    ASSERT_TRUE(got.nics[1].mac);  // generated
    EXPECT_EQ(got.accel, want.accel);

    const DomainIdentity identity = domain_identity_from_xml(xml);
    EXPECT_FALSE(identity.uuid.empty());
    Vm changed = want;
    changed.cpus = 2;
    const std::string again = define(want.name, domain_to_xml(changed, kLab, identity));
    const Vm got2 = domain_from_xml(again);
    EXPECT_EQ(domain_identity_from_xml(again).uuid, identity.uuid);
    EXPECT_EQ(got2.nics[1].mac, got.nics[1].mac);
    EXPECT_EQ(got2.cpus, 2);
    EXPECT_FALSE(find_nic_xml(again, *got.nics[1].mac).empty());
    EXPECT_TRUE(find_nic_xml(again, "52:54:00:00:00:99").empty());
}

// Hosts without /dev/kvm refuse to define type='kvm', so the XML itself is checked
// here without libvirt: both accelerators survive domain_to_xml -> domain_from_xml.
TEST(DomainXmlText, AccelRoundTripsWithoutLibvirt) {
    for (const Accel accel : {Accel::kvm, Accel::qemu}) {
        Vm want;
        want.name = "accel";
        want.memory = 128ULL << 20;
        want.accel = accel;
        const std::string xml = domain_to_xml(want, kLab);
        EXPECT_NE(xml.find(accel == Accel::kvm ? "type=\"kvm\"" : "type=\"qemu\""),
                  std::string::npos)
            << xml;
        EXPECT_EQ(domain_from_xml(xml).accel, accel) << xml;
    }
}

TEST_F(DomainXmlTest, UefiRoundTrips) {
    if (!std::filesystem::exists("/usr/share/OVMF/OVMF_CODE_4M.fd") &&
        !std::filesystem::exists("/usr/share/OVMF/OVMF_CODE.fd")) {
        GTEST_SKIP() << "OVMF is not installed (apt-get install ovmf)";
    }
    Vm want = kernel_boot_vm();
    want.name = unique_name("uefi");
    want.machine = "q35";
    want.firmware = Firmware::uefi;
    const Vm got = round_trip(want);
    EXPECT_TRUE(same_attributes(want, got));
    EXPECT_EQ(got.firmware, Firmware::uefi);
}

TEST_F(DomainXmlTest, EmptyBootOrderReadsBackAsLibvirtsDefault) {
    Vm want = kernel_boot_vm();
    want.name = unique_name("noboot");
    want.boot.clear();
    const Vm got = round_trip(want);
    EXPECT_EQ(got.boot, std::vector<std::string>{"hd"});
}

TEST_F(DomainXmlTest, UnmarkedDomainHasNoOwner) {
    const std::string name = unique_name("foreign");
    const std::string xml =
        define(name, "<domain type='qemu'><name>" + name +
                         "</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>");
    const Vm got = domain_from_xml(xml);
    EXPECT_EQ(got.owner, "");
    EXPECT_EQ(got.memory, 64ULL << 20);
    EXPECT_EQ(got.seed_digest, "");
}

TEST(DomainXml, PendingRestartComparesRestartClassAttributesOnly) {
    Vm vm = kernel_boot_vm();
    const std::string defined = domain_to_xml(vm, kLab);
    Vm running = vm;
    running.memory = 300ULL << 20;  // live class: the balloon moved
    EXPECT_TRUE(pending_restart_attributes(defined, domain_to_xml(running, kLab)).empty());
    running.cmdline = "console=ttyS0";
    EXPECT_EQ(pending_restart_attributes(defined, domain_to_xml(running, kLab)),
              std::vector<std::string>{"cmdline"});
}

TEST(DomainXml, RejectsOtherXml) {
    EXPECT_THROW(domain_from_xml("<network/>"), Error);
    EXPECT_THROW(domain_from_xml("not xml"), Error);
}

}  // namespace
