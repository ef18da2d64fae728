// The libvirt adapter for pools, volumes and VMs against the real libvirtd: a real
// guest (scripts/make-test-guest.sh, direct kernel boot under TCG) takes live
// changes, restart-class changes with and without allow_restart, state changes
// and destruction; each checked with virsh, qemu-img and the guest's console.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "libvirt_test_util.h"
#include "virtform/adapters/libvirt/domain_xml.h"
#include "virtform/adapters/libvirt/network_xml.h"
#include "virtform/adapters/libvirt/provider.h"
#include "virtform/error.h"

using namespace virtform;
using namespace virtform::libvirt;
using vftest::create_action;
using vftest::destroy_action;
using vftest::same_attributes;
using vftest::sh;
using vftest::unique_name;
using vftest::update_action;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kLab = "it-vm-lab";
constexpr const char* kUri = "qemu:///system";

double since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
}

/// A directory libvirt's qemu user can traverse (mkdtemp makes 0700).
fs::path make_temp_dir(const std::string& tag) {
    std::string tmpl = "/var/tmp/virtform-it-" + tag + ".XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    ::chmod(tmpl.c_str(), 0755);
    return tmpl;
}

/// Polls `ok` every 200 ms until it holds or `seconds` pass.
template <class F>
bool wait_for(double seconds, F ok) {
    const auto start = Clock::now();
    while (since(start) < seconds) {
        if (ok()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return ok();
}

/// Removes what a test made: domains, pools (with their volumes) and networks,
/// looked up by name, so that it runs even when the test failed half way.
class Cleanup {
  public:
    std::vector<std::string> domains, pools, networks;
    std::vector<fs::path> dirs;

    void run() {
        auto conn = vftest::connect();
        if (!conn) return;
        for (const auto& name : domains) {
            vftest::DomPtr dom(virDomainLookupByName(conn.get(), name.c_str()));
            if (!dom) continue;
            if (virDomainIsActive(dom.get()) == 1) virDomainDestroy(dom.get());
            virDomainUndefineFlags(dom.get(), VIR_DOMAIN_UNDEFINE_NVRAM);
        }
        for (const auto& name : pools) {
            vftest::PoolPtr pool(virStoragePoolLookupByName(conn.get(), name.c_str()));
            if (!pool) continue;
            if (virStoragePoolIsActive(pool.get()) == 1) virStoragePoolDestroy(pool.get());
            virStoragePoolUndefine(pool.get());
        }
        for (const auto& name : networks) {
            vftest::NetPtr net(virNetworkLookupByName(conn.get(), name.c_str()));
            if (!net) continue;
            if (virNetworkIsActive(net.get()) == 1) virNetworkDestroy(net.get());
            virNetworkUndefine(net.get());
        }
        std::error_code ec;
        for (const auto& d : dirs) fs::remove_all(d, ec);
    }
};

// ---------------------------------------------------------------------------
// Pools and volumes

class StorageTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = make_temp_dir("storage");
        cleanup_.dirs.push_back(dir_);
        provider_ = std::make_unique<LibvirtProvider>(kUri, kLab);
    }
    void TearDown() override { cleanup_.run(); }

    Pool make_pool(const std::string& suffix) {
        Pool p;
        p.name = unique_name(suffix);
        p.path = (dir_ / suffix).string();
        cleanup_.pools.push_back(p.name);
        return p;
    }

    fs::path dir_;
    Cleanup cleanup_;
    std::unique_ptr<LibvirtProvider> provider_;
};

TEST_F(StorageTest, PoolsAndVolumesCreateReadGrowDestroy) {
    const Pool pool = make_pool("pool");
    provider_->apply(create_action(pool));
    EXPECT_EQ(read_file(fs::path(pool.path) / ".virtform-lab"), std::string(kLab) + "\n");
    EXPECT_NE(sh("virsh -c qemu:///system pool-info " + pool.name).first.find("running"),
              std::string::npos);

    // A base image made by qemu-img, a linked clone of it, a raw volume, an import.
    const std::string base = (dir_ / "base.qcow2").string();
    ASSERT_EQ(sh("qemu-img create -q -f qcow2 " + base + " 32M").second, 0);
    const std::string src = (dir_ / "src.raw").string();
    ASSERT_EQ(sh("head -c 1048576 /dev/urandom > " + src).second, 0);

    Volume clone{pool.name, "clone.qcow2", 64ULL << 20, DiskFormat::qcow2, base};
    Volume raw{pool.name, "data.raw", 16ULL << 20, DiskFormat::raw};
    Volume imported{pool.name, "imported.qcow2", 8ULL << 20, DiskFormat::qcow2};
    imported.import_from = src;
    for (const auto& v : {clone, raw, imported}) provider_->apply(create_action(v));

    Live live = provider_->read();
    ASSERT_EQ(live.pools.count(pool.name), 1u);
    const Pool& lp = live.pools.at(pool.name);
    EXPECT_EQ(lp.owner, kLab);
    EXPECT_TRUE(lp.active);
    EXPECT_TRUE(lp.autostart);
    EXPECT_GT(lp.available, 0u);
    EXPECT_TRUE(same_attributes(pool, lp));
    EXPECT_EQ(live.volumes.count(pool.name + "/.virtform-lab"), 0u) << "the mark is no volume";
    Volume imported_read = imported;
    imported_read.import_from.reset();
    for (const auto& v : {clone, raw, imported_read}) {
        ASSERT_EQ(live.volumes.count(v.id_name()), 1u) << v.id_name();
        const Volume& lv = live.volumes.at(v.id_name());
        EXPECT_TRUE(same_attributes(v, lv)) << v.id_name();
        EXPECT_EQ(lv, v) << v.id_name();
        EXPECT_EQ(lv.owner, kLab);
    }
    const auto info = sh("qemu-img info " + pool.path + "/clone.qcow2").first;
    EXPECT_NE(info.find("backing file: " + base), std::string::npos) << info;
    EXPECT_NE(info.find("backing file format: qcow2"), std::string::npos) << info;
    EXPECT_EQ(sh("qemu-img compare -q " + src + " " + pool.path + "/imported.qcow2").second, 0);

    // Grow the raw volume (no VM: virStorageVolResize).
    Volume bigger = raw;
    bigger.capacity = 40ULL << 20;
    provider_->apply(update_action(live.volumes.at(raw.id_name()), bigger));
    const auto vol_info =
        sh("virsh -c qemu:///system vol-info --bytes --pool " + pool.name + " data.raw").first;
    EXPECT_NE(vol_info.find(std::to_string(40ULL << 20)), std::string::npos) << vol_info;
    EXPECT_EQ(fs::file_size(pool.path + "/data.raw"), 40ULL << 20);
    EXPECT_EQ(provider_->read().volumes.at(raw.id_name()).capacity, 40ULL << 20);

    provider_->apply(destroy_action(imported_read));
    EXPECT_FALSE(fs::exists(pool.path + "/imported.qcow2"));

    // Pool destroy: the volumes left are files; the directory stays, the mark goes.
    provider_->apply(destroy_action(lp));
    EXPECT_EQ(provider_->read().pools.count(pool.name), 0u);
    EXPECT_TRUE(fs::exists(pool.path + "/data.raw"));
    EXPECT_FALSE(fs::exists(fs::path(pool.path) / ".virtform-lab"));

    // An empty pool takes its directory along.
    const Pool empty = make_pool("empty");
    provider_->apply(create_action(empty));
    ASSERT_TRUE(fs::exists(empty.path));
    provider_->apply(destroy_action(empty));
    EXPECT_FALSE(fs::exists(empty.path));
}

TEST_F(StorageTest, PoolUpdateStopsAndStartsAndErrorsNameTheObject) {
    Pool pool = make_pool("upd");
    provider_->apply(create_action(pool));
    Pool stopped = pool;
    stopped.active = false;
    stopped.autostart = false;
    provider_->apply(update_action(pool, stopped));
    Live live = provider_->read();
    EXPECT_FALSE(live.pools.at(pool.name).active);
    EXPECT_FALSE(live.pools.at(pool.name).autostart);
    EXPECT_EQ(live.pools.at(pool.name).owner, kLab);  // the mark is on disk, not in libvirt

    Volume v{"vf-it-no-such-pool", "x.qcow2", 1 << 20, DiskFormat::qcow2};
    try {
        provider_->apply(create_action(v));
        FAIL() << "created a volume in a missing pool";
    } catch (const AdapterError& e) {
        EXPECT_NE(std::string(e.what()).find("vf-it-no-such-pool"), std::string::npos) << e.what();
    }
}

// ---------------------------------------------------------------------------
// VMs with a real guest

class VmTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        guest_dir_ = make_temp_dir("guest");
        const auto [out, rc] = sh(std::string(VIRTFORM_SOURCE_DIR) +
                                  "/scripts/make-test-guest.sh " + guest_dir_.string());
        ASSERT_EQ(rc, 0) << out;
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        fs::remove_all(guest_dir_, ec);
    }

    void SetUp() override {
        dir_ = make_temp_dir("vm");
        cleanup_.dirs.push_back(dir_);
        provider_ = std::make_unique<LibvirtProvider>(kUri, kLab, options(false));
    }
    void TearDown() override { cleanup_.run(); }

    ProviderOptions options(bool allow_restart) {
        ProviderOptions o;
        o.allow_restart = allow_restart;
        o.on_notice = [this](const ResourceId& id, const std::string& text) {
            std::lock_guard<std::mutex> lock(mu_);
            notices_.push_back(id.str() + ": " + text);
        };
        return o;
    }

    /// An isolated network with DHCP for the guest's NICs.
    std::string make_network() {
        Network n;
        n.name = unique_name("net");
        n.mode = NetworkMode::isolated;
        n.ipv4 = IpConfig{
            *Cidr::parse("10.250.19.1/24"),
            DhcpRange{*IpAddress::parse("10.250.19.100"), *IpAddress::parse("10.250.19.200")},
            {}};
        cleanup_.networks.push_back(n.name);
        LibvirtProvider(kUri, kLab).apply(create_action(n));
        return n.name;
    }

    Vm make_vm(const std::string& network) {
        Vm vm;
        vm.name = unique_name("guest");
        vm.accel = Accel::qemu;
        vm.cpus = 1;
        vm.max_cpus = 2;
        vm.memory = 256ULL << 20;
        vm.max_memory = 512ULL << 20;
        vm.kernel = (guest_dir_ / "vmlinuz").string();
        vm.initrd = (guest_dir_ / "initrd.gz").string();
        vm.cmdline = "console=ttyS0";
        vm.boot = {"hd"};
        Nic nic;
        nic.source = network;
        vm.nics = {nic};
        vm.console_file = (dir_ / "console.log").string();
        vm.cloud_init =
            CloudInit{"#cloud-config\nhostname: x\n", "", "", {"ssh-ed25519 AAAA test"}};
        vm.seed_iso = (dir_ / "seed" / "seed.iso").string();
        vm.seed_digest = "digest-1";
        vm.state = VmState::running;
        vm.shutdown_timeout = 20;
        cleanup_.domains.push_back(vm.name);
        return vm;
    }

    std::string console() const { return read_file(dir_ / "console.log"); }

    Vm live_vm(const std::string& name) {
        Live live = provider_->read();
        EXPECT_EQ(live.vms.count(name), 1u);
        return live.vms.count(name) != 0 ? live.vms.at(name) : Vm{};
    }

    std::string virsh(const std::string& args) {
        return sh("virsh -c qemu:///system " + args).first;
    }

    static fs::path guest_dir_;
    fs::path dir_;
    Cleanup cleanup_;
    std::unique_ptr<LibvirtProvider> provider_;
    std::mutex mu_;
    std::vector<std::string> notices_;
};

fs::path VmTest::guest_dir_;

long domain_id(const std::string& name) {
    auto conn = vftest::connect();
    vftest::DomPtr dom(virDomainLookupByName(conn.get(), name.c_str()));
    if (!dom) return -2;
    const unsigned id = virDomainGetID(dom.get());
    return id == static_cast<unsigned>(-1) ? -1 : static_cast<long>(id);  // -1: not running
}

std::string running_xml(const std::string& name) {
    return vftest::sh("virsh -c qemu:///system dumpxml " + name).first;
}

long balloon_actual_kib(const std::string& out) {
    std::smatch m;
    static const std::regex re("actual ([0-9]+)");
    return std::regex_search(out, m, re) ? std::stol(m[1]) : -1;
}

TEST_F(VmTest, LifecycleOfARealGuest) {
    const std::string net = make_network();
    // A pool with a qcow2 and a raw volume, attached as disks.
    Pool pool;
    pool.name = unique_name("vmpool");
    pool.path = (dir_ / "pool").string();
    cleanup_.pools.push_back(pool.name);
    provider_->apply(create_action(pool));
    Volume root{pool.name, "root.qcow2", 32ULL << 20, DiskFormat::qcow2};
    root.keep = true;  // recorded in the pool's mark file, read back below
    Volume data{pool.name, "data.raw", 8ULL << 20, DiskFormat::raw};
    provider_->apply(create_action(root));
    provider_->apply(create_action(data));

    Vm want = make_vm(net);
    Disk d0;
    d0.pool = pool.name;
    d0.volume = root.name;
    d0.target = "vda";
    d0.keep = true;
    Disk d1 = d0;
    d1.volume = data.name;
    d1.target = "vdb";
    d1.keep = false;
    want.disks = {d0, d1};

    auto t = Clock::now();
    provider_->apply(create_action(want));
    const double create_s = since(t);
    t = Clock::now();
    ASSERT_TRUE(wait_for(180, [&] {
        return console().find("VIRTFORM-GUEST: modules loaded") != std::string::npos;
    })) << console();
    const double boot_s = since(t);
    std::printf("[ measure ] define+autostart+start %.2f s; start to 'modules loaded' %.1f s\n",
                create_s, boot_s);
    EXPECT_TRUE(fs::exists(*want.seed_iso));
    EXPECT_EQ(fs::status(*want.seed_iso).permissions() & fs::perms::others_read, fs::perms::none);

    Live live = provider_->read();
    ASSERT_EQ(live.vms.count(want.name), 1u);
    Vm have = live.vms.at(want.name);
    EXPECT_TRUE(same_attributes(want, have));
    EXPECT_EQ(have.owner, kLab);
    EXPECT_EQ(have.seed_iso, want.seed_iso);
    EXPECT_EQ(have.state, VmState::running);
    EXPECT_FALSE(have.restart_pending);
    EXPECT_EQ(live.volumes.at(root.id_name()).vm, want.name);
    EXPECT_TRUE(live.volumes.at(root.id_name()).keep);
    EXPECT_EQ(live.volumes.at(root.id_name()).owner, kLab);
    EXPECT_FALSE(live.volumes.at(data.id_name()).keep);

    // Grow a disk of the running VM: QEMU does it (virDomainBlockResize).
    Volume data_big = live.volumes.at(data.id_name());
    data_big.capacity = 24ULL << 20;
    provider_->apply(update_action(live.volumes.at(data.id_name()), data_big));
    EXPECT_NE(virsh("domblkinfo " + want.name + " vdb").find(std::to_string(24ULL << 20)),
              std::string::npos);
    EXPECT_EQ(fs::file_size(pool.path + "/data.raw"), 24ULL << 20);

    // Memory through the balloon, within max_memory.
    Vm mem = want;
    mem.memory = 384ULL << 20;
    provider_->apply(update_action(have, mem));
    EXPECT_TRUE(wait_for(30, [&] {
        return balloon_actual_kib(virsh("dommemstat " + want.name)) == 384 * 1024;
    })) << virsh("dommemstat " + want.name);

    // A second vCPU, within max_cpus.
    have = live_vm(want.name);
    Vm cpus = mem;
    cpus.cpus = 2;
    provider_->apply(update_action(have, cpus));
    EXPECT_EQ(std::stoi(virsh("vcpucount " + want.name + " --live --active")), 2);
    EXPECT_EQ(std::stoi(virsh("vcpucount " + want.name + " --config --active")), 2);

    // A second NIC, hot-plugged.
    have = live_vm(want.name);
    Vm nics = cpus;
    nics.nics.push_back(nics.nics[0]);
    provider_->apply(update_action(have, nics));
    const auto iflist = virsh("domiflist " + want.name);
    EXPECT_EQ(count(iflist, net), 2u) << iflist;
    have = live_vm(want.name);
    EXPECT_TRUE(same_attributes(nics, have));
    EXPECT_FALSE(have.restart_pending) << "the hot-plugged NIC has the MAC of the definition";

    // A restart-class change without allow_restart: redefined, still running the old one.
    const long id_before = domain_id(want.name);
    Vm cmdline = nics;
    cmdline.cmdline = "console=ttyS0 virtform.test=1";
    provider_->apply(update_action(have, cmdline));
    EXPECT_EQ(domain_id(want.name), id_before) << "restarted without allow_restart";
    EXPECT_EQ(running_xml(want.name).find("virtform.test=1"), std::string::npos);
    have = live_vm(want.name);
    EXPECT_EQ(have.cmdline, cmdline.cmdline);
    EXPECT_TRUE(have.restart_pending);
    {
        std::lock_guard<std::mutex> lock(mu_);
        ASSERT_EQ(notices_.size(), 1u) << ::testing::PrintToString(notices_);
        EXPECT_NE(notices_[0].find("cmdline"), std::string::npos) << notices_[0];
    }

    // With allow_restart: shut down, started on the new definition.
    const auto before_restart = console();
    LibvirtProvider restarting(kUri, kLab, options(true));
    Vm cmdline2 = cmdline;
    cmdline2.cmdline = "console=ttyS0 virtform.test=2";
    t = Clock::now();
    restarting.apply(update_action(have, cmdline2));
    const double restart_s = since(t);
    EXPECT_NE(domain_id(want.name), id_before);
    EXPECT_NE(domain_id(want.name), -1);
    EXPECT_NE(running_xml(want.name).find("virtform.test=2"), std::string::npos);
    have = live_vm(want.name);
    EXPECT_FALSE(have.restart_pending);
    EXPECT_TRUE(same_attributes(cmdline2, have));
    // Wait for the new boot (the console file starts anew or grows).
    t = Clock::now();
    bool truncated = false;
    ASSERT_TRUE(wait_for(180, [&] {
        const auto now = console();
        truncated = truncated || now.size() < before_restart.size();
        const auto n = count(now, "VIRTFORM-GUEST: modules loaded");
        return truncated ? n >= 1 : n > count(before_restart, "VIRTFORM-GUEST: modules loaded");
    }));
    std::printf("[ measure ] restart (graceful shutdown + start) %.1f s; boot again %.1f s\n",
                restart_s, since(t));

    // Stop (graceful: the guest's acpid powers off) and start.
    t = Clock::now();
    Vm stopped = cmdline2;
    stopped.state = VmState::stopped;
    provider_->apply(update_action(have, stopped));
    const double stop_s = since(t);
    std::printf("[ measure ] graceful stop %.1f s (timeout %d s)\n", stop_s,
                stopped.shutdown_timeout);
    EXPECT_EQ(domain_id(want.name), -1);
    EXPECT_LT(stop_s, stopped.shutdown_timeout) << "forced, not graceful";
    have = live_vm(want.name);
    EXPECT_EQ(have.state, VmState::stopped);
    EXPECT_NE(console().find("VIRTFORM-GUEST: power button"), std::string::npos);
    provider_->apply(update_action(have, cmdline2));
    EXPECT_GT(domain_id(want.name), 0);

    // Destroy: the domain and the seed go; the volumes stay (separate actions).
    have = live_vm(want.name);
    t = Clock::now();
    provider_->apply(destroy_action(have));
    std::printf("[ measure ] destroy of a booting guest %.1f s\n", since(t));
    EXPECT_EQ(domain_id(want.name), -2);
    EXPECT_FALSE(fs::exists(*want.seed_iso));
    EXPECT_TRUE(fs::exists(pool.path + "/root.qcow2"));
    EXPECT_EQ(provider_->read().vms.count(want.name), 0u);
}

TEST_F(VmTest, StoppedVmTakesEveryChangeInItsDefinition) {
    const std::string net = make_network();
    Vm want = make_vm(net);
    want.state = VmState::stopped;
    want.cloud_init.reset();
    want.seed_iso.reset();
    want.seed_digest.clear();
    provider_->apply(create_action(want));
    Vm have = live_vm(want.name);
    EXPECT_TRUE(same_attributes(want, have));
    EXPECT_EQ(have.state, VmState::stopped);

    Vm changed = want;
    changed.memory = 300ULL << 20;
    changed.cpus = 2;
    changed.nics.push_back(changed.nics[0]);
    changed.autostart = true;
    provider_->apply(update_action(have, changed));
    have = live_vm(want.name);
    EXPECT_TRUE(same_attributes(changed, have));
    EXPECT_EQ(domain_id(want.name), -1) << "a stopped VM stays stopped";

    Vm fewer = changed;
    fewer.nics.pop_back();
    fewer.machine = "q35";  // restart class: a redefine
    provider_->apply(update_action(have, fewer));
    have = live_vm(want.name);
    EXPECT_TRUE(same_attributes(fewer, have));
    EXPECT_FALSE(have.restart_pending);
    EXPECT_EQ(domain_id(want.name), -1);
}

TEST_F(VmTest, UnmarkedDomainIsReadWithoutOwner) {
    const std::string name = unique_name("foreign");
    cleanup_.domains.push_back(name);
    const std::string xml = "<domain type='qemu'><name>" + name +
                            "</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
                            "</domain>";
    auto conn = vftest::connect();
    vftest::DomPtr dom(virDomainDefineXML(conn.get(), xml.c_str()));
    ASSERT_TRUE(dom) << vftest::last_error();
    Live live = provider_->read();
    ASSERT_EQ(live.vms.count(name), 1u);
    EXPECT_EQ(live.vms.at(name).owner, "");
    EXPECT_EQ(live.vms.at(name).state, VmState::stopped);
    EXPECT_EQ(live.vms.at(name).memory, 64ULL << 20);
}

TEST_F(VmTest, ErrorsNameTheVmAndTheOperation) {
    Vm ghost;
    ghost.name = unique_name("ghost");
    try {
        provider_->apply(destroy_action(ghost));
        FAIL() << "destroyed a VM that does not exist";
    } catch (const AdapterError& e) {
        EXPECT_EQ(e.object(), "vm " + ghost.name);
        EXPECT_EQ(e.operation(), "look up");
        EXPECT_EQ(e.code(), VIR_ERR_NO_DOMAIN);
    }
}

}  // namespace
