// `virtform doctor` against a fake host: the classification of every check, and the
// three kinds of KVM host (no /dev/kvm; /dev/kvm that guests cannot use, as under
// "kvm-pvm"; a usable one), whichever kind the machine running the tests is.
// tests/integration/doctor_test.cpp checks the report against the real host.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "virtform/adapters/host/doctor.h"

namespace vh = virtform::host;
using namespace std::chrono_literals;
using Status = vh::Check::Status;

namespace {

/// A host described by maps; commands answer by argv[0] basename + first arguments.
class FakeProbe : public vh::HostProbe {
public:
    std::map<std::string, std::string> files;
    std::set<std::string> paths;
    std::map<std::string, std::string> programs;  // name -> absolute path
    /// Key: the argv joined by spaces, with argv[0] reduced to its basename.
    std::map<std::string, vh::CommandResult> commands;
    std::vector<std::string> ran;
    vh::KvmDevice kvm;
    std::map<std::string, vh::DiskSpace> space;
    std::map<std::string, std::string> written;

    static vh::CommandResult ok(std::string out, int code = 0) {
        vh::CommandResult r;
        r.started = true;
        r.exit_code = code;
        r.output = std::move(out);
        return r;
    }
    static vh::CommandResult timeout(std::string out) {
        auto r = ok(std::move(out), 137);
        r.timed_out = true;
        return r;
    }

    std::optional<std::string> read_file(const std::string& path) override {
        if (auto w = written.find(path); w != written.end()) return w->second;
        auto it = files.find(path);
        if (it == files.end()) return std::nullopt;
        return it->second;
    }
    bool exists(const std::string& path) override {
        return paths.count(path) > 0 || files.count(path) > 0;
    }
    std::vector<std::string> glob(const std::string& pattern) override {
        // Only "prefix*" and "prefix*suffix"-free patterns are needed here.
        const auto star = pattern.find('*');
        std::vector<std::string> out;
        for (const auto& p : paths)
            if (p.rfind(pattern.substr(0, star), 0) == 0) out.push_back(p);
        return out;
    }
    std::optional<std::string> find_program(const std::string& name) override {
        auto it = programs.find(name);
        if (it == programs.end()) return std::nullopt;
        return it->second;
    }
    vh::CommandResult run(const std::vector<std::string>& argv,
                          std::chrono::milliseconds) override {
        std::string key = std::filesystem::path(argv.at(0)).filename().string();
        for (std::size_t i = 1; i < argv.size(); ++i) key += " " + argv[i];
        ran.push_back(key);
        for (const auto& [prefix, result] : commands)
            if (key.rfind(prefix, 0) == 0) return result;
        vh::CommandResult r;
        r.output = argv[0] + ": No such file or directory";
        return r;
    }
    vh::KvmDevice open_kvm(const std::string&) override { return kvm; }
    std::optional<vh::DiskSpace> disk_space(const std::string& path) override {
        auto it = space.find(path);
        if (it == space.end()) return std::nullopt;
        return it->second;
    }
    bool write_file(const std::string& path, const std::string& content) override {
        written[path] = content;
        return true;
    }
};

constexpr const char* kVirshVersion =
    "Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\n"
    "Using API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.22\nRunning against daemon: 9.0.0\n";

constexpr const char* kMachines =
    "Supported machines are:\n"
    "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\n"
    "pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)\n"
    "q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)\n"
    "pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)\n";

/// A healthy bare-metal Intel host.
FakeProbe healthy_host() {
    FakeProbe p;
    p.files["/proc/cpuinfo"] = "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse sse2\n";
    p.files["/proc/sys/net/ipv4/ip_forward"] = "1\n";
    p.files["/proc/sys/kernel/random/boot_id"] = "boot-1\n";
    p.files["/proc/sys/kernel/osrelease"] = "6.1.0-56-amd64\n";
    p.paths = {"/dev/kvm",
               "/sys/module/kvm",
               "/sys/module/kvm/initstate",
               "/sys/module/kvm_intel",
               "/sys/module/kvm_intel/initstate",
               "/sys/module/bridge",
               "/sys/module/bridge/initstate",
               "/boot/vmlinuz-6.1.0-56-amd64"};
    p.programs = {{"qemu-system-x86_64", "/usr/bin/qemu-system-x86_64"},
                  {"virsh", "/usr/bin/virsh"},
                  {"dnsmasq", "/usr/sbin/dnsmasq"},
                  {"iptables", "/usr/sbin/iptables"}};
    p.kvm = {true, 0, 12, true, ""};
    p.commands["virsh -c qemu:///system version --daemon"] = FakeProbe::ok(kVirshVersion);
    p.commands["virsh -c qemu:///system pool-list"] = FakeProbe::ok("labpool\n\n");
    p.commands["virsh -c qemu:///system pool-info --bytes labpool"] = FakeProbe::ok(
        "Name:           labpool\nState:          running\nCapacity:       107374182400\n"
        "Allocation:     1073741824\nAvailable:      53687091200\n");
    p.commands["qemu-system-x86_64 -version"] =
        FakeProbe::ok("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n");
    p.commands["qemu-system-x86_64 -machine help"] = FakeProbe::ok(kMachines);
    p.commands["qemu-system-x86_64 -accel kvm"] =
        FakeProbe::ok("[    0.4] Kernel panic - not syncing: VFS: Unable to mount root fs\n");
    p.commands["dnsmasq --version"] = FakeProbe::ok("Dnsmasq version 2.90  Copyright (c)\n");
    p.commands["iptables -V"] = FakeProbe::ok("iptables v1.8.9 (nf_tables)\n");
    p.space["/var/lib/virtform"] = {"/var/lib", 50ULL << 30, 100ULL << 30};
    p.space["/var/lib/libvirt/images"] = {"/var/lib/libvirt/images", 50ULL << 30, 100ULL << 30};
    return p;
}

vh::DoctorOptions fake_options() {
    vh::DoctorOptions o;
    o.kvm.cache_path = "/run/virtform/kvm-probe";
    return o;
}

const vh::Check& find(const std::vector<vh::Check>& checks, const std::string& id) {
    for (const auto& c : checks)
        if (c.id == id) return c;
    throw std::runtime_error("no check " + id);
}

bool contains(const std::string& s, const std::string& sub) {
    return s.find(sub) != std::string::npos;
}

}  // namespace

// ---- fake host -------------------------------------------------------------------------

TEST(DoctorFake, HealthyHostPassesEverything) {
    auto p = healthy_host();
    const auto checks = vh::run_doctor(p, fake_options());
    for (const auto& c : checks) {
        EXPECT_EQ(c.status, Status::pass) << c.id << ": " << c.detail;
        EXPECT_TRUE(c.fix.empty()) << c.id;
    }
    EXPECT_EQ(vh::doctor_exit_code(checks), 0);
    std::vector<std::string> ids;
    for (const auto& c : checks) ids.push_back(c.id);
    EXPECT_EQ(ids, (std::vector<std::string>{
                       "cpu.virt-flags", "kvm.device", "kvm.modules", "kvm.usable",
                       "libvirt.daemon", "qemu.binary", "qemu.machines", "dnsmasq",
                       "firewall.backend", "bridge.module", "net.ip-forward", "pool.labpool",
                       "space./var/lib/virtform", "space./var/lib/libvirt/images"}));
    EXPECT_EQ(find(checks, "cpu.virt-flags").detail, "vmx (Intel VT-x)");
    EXPECT_EQ(find(checks, "libvirt.daemon").detail,
              "qemu:///system: libvirt 9.0.0, hypervisor QEMU 7.2.22");
    EXPECT_EQ(find(checks, "kvm.modules").detail, "kvm, kvm_intel");
    EXPECT_EQ(find(checks, "qemu.machines").detail, "4 types, q35, pc; default pc-i440fx-7.2");
    EXPECT_EQ(find(checks, "pool.labpool").detail, "pool labpool: 50.0 GiB free of 100.0 GiB");
    EXPECT_EQ(find(checks, "space./var/lib/virtform").detail,
              "/var/lib/virtform (on /var/lib): 50.0 GiB free of 100.0 GiB");
    EXPECT_TRUE(contains(find(checks, "firewall.backend").detail, "nf_tables"));
}

TEST(DoctorFake, CpuFlags) {
    auto p = healthy_host();
    p.files["/proc/cpuinfo"] = "flags\t\t: fpu svm sse2\n";
    EXPECT_EQ(find(vh::run_doctor(p, fake_options()), "cpu.virt-flags").detail, "svm (AMD-V)");

    p.files["/proc/cpuinfo"] = "flags\t\t: fpu sse2 hypervisor\n";
    auto c = find(vh::run_doctor(p, fake_options()), "cpu.virt-flags");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_TRUE(contains(c.detail, "itself a virtual machine")) << c.detail;
    EXPECT_TRUE(contains(c.fix, "nested virtualisation")) << c.fix;
    EXPECT_TRUE(contains(c.fix, "TCG")) << c.fix;

    p.files["/proc/cpuinfo"] = "flags\t\t: fpu sse2\n";
    c = find(vh::run_doctor(p, fake_options()), "cpu.virt-flags");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_TRUE(contains(c.fix, "firmware")) << c.fix;
}

TEST(DoctorFake, KvmDeviceAndModules) {
    auto p = healthy_host();
    p.kvm = {true, 13 /* EACCES */, -1, false, "open /dev/kvm: Permission denied"};
    auto c = find(vh::run_doctor(p, fake_options()), "kvm.device");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_EQ(c.detail, "open /dev/kvm: Permission denied");
    EXPECT_TRUE(contains(c.fix, "kvm group")) << c.fix;

    // A node with no driver behind it (ENODEV): being root would not help.
    p.kvm = {true, 19, -1, false, "open /dev/kvm: No such device"};
    c = find(vh::run_doctor(p, fake_options()), "kvm.device");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_EQ(c.detail, "open /dev/kvm: No such device");
    EXPECT_FALSE(contains(c.fix, "kvm group")) << c.fix;
    EXPECT_TRUE(contains(c.fix, "modprobe kvm_intel")) << c.fix;
    EXPECT_TRUE(contains(c.fix, "TCG")) << c.fix;

    p = healthy_host();
    p.paths.erase("/dev/kvm");
    p.paths.erase("/sys/module/kvm_intel");
    p.kvm = {false, 0, -1, false, "/dev/kvm does not exist"};
    const auto checks = vh::run_doctor(p, fake_options());
    EXPECT_EQ(find(checks, "kvm.device").status, Status::warn);
    EXPECT_TRUE(contains(find(checks, "kvm.device").fix, "modprobe kvm_intel"));
    EXPECT_EQ(find(checks, "kvm.modules").status, Status::warn);
    EXPECT_EQ(find(checks, "kvm.modules").detail, "kvm; no vendor module");
    // No device: the probe is not even attempted, and accel: auto means TCG.
    EXPECT_EQ(find(checks, "kvm.usable").status, Status::warn);
    EXPECT_TRUE(contains(find(checks, "kvm.usable").fix, "TCG"));
    for (const auto& cmd : p.ran) EXPECT_FALSE(contains(cmd, "-accel kvm")) << cmd;
    EXPECT_EQ(vh::doctor_exit_code(checks), 0) << "no KVM is a warning, not a failure";

    p.paths.insert("/sys/module/kvm_pvm");
    p.paths.erase("/sys/module/kvm/initstate");
    EXPECT_EQ(find(vh::run_doctor(p, fake_options()), "kvm.modules").detail,
              "kvm (built in), kvm_pvm (built in)");
}

TEST(DoctorFake, KvmProbeFailureIsAWarningWithTcgFix) {
    auto p = healthy_host();
    p.commands["qemu-system-x86_64 -accel kvm"] = FakeProbe::ok(
        "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\n"
        "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion "
        "`ret == cpu->kvm_msr_buf->nmsrs' failed.\n",
        134);
    auto c = find(vh::run_doctor(p, fake_options()), "kvm.usable");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_TRUE(contains(c.detail, "QEMU exited with status 134")) << c.detail;
    EXPECT_TRUE(contains(c.detail, "failed to set MSR 0x10a")) << c.detail;
    EXPECT_TRUE(contains(c.fix, "TCG")) << c.fix;
    EXPECT_TRUE(contains(c.fix, "accel: qemu")) << c.fix;

    p = healthy_host();
    p.commands["qemu-system-x86_64 -accel kvm"] = FakeProbe::timeout(
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.pni [bit 0]\n");
    c = find(vh::run_doctor(p, fake_options()), "kvm.usable");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_TRUE(contains(c.detail, "made no progress in 6.0 s")) << c.detail;
    EXPECT_TRUE(contains(c.detail, "CPUID.01H:ECX.pni")) << c.detail;

    // Exit 0 without reaching the panic is not success either.
    p.commands["qemu-system-x86_64 -accel kvm"] = FakeProbe::ok("");
    EXPECT_FALSE(vh::kvm_usable(p, {.use_cache = false}));
}

TEST(DoctorFake, KvmProbeBootsTheNewestKernelAndCachesPerBoot) {
    auto p = healthy_host();
    p.paths.insert("/boot/vmlinuz-5.10.0-9-amd64");
    vh::KvmProbeOptions o;
    o.cache_path = "/cache/kvm-probe";
    auto r = vh::probe_kvm(p, o);
    EXPECT_TRUE(r.usable) << r.detail;
    EXPECT_EQ(r.method, "kernel");
    EXPECT_FALSE(r.cached);
    ASSERT_EQ(p.ran.size(), 1u);
    EXPECT_TRUE(contains(p.ran[0], "-kernel /boot/vmlinuz-6.1.0-56-amd64")) << p.ran[0];
    EXPECT_TRUE(contains(p.ran[0], "panic=-1")) << p.ran[0];
    ASSERT_EQ(p.written.count("/cache/kvm-probe"), 1u);

    // Same boot: answered from the cache, nothing run.
    r = vh::probe_kvm(p, o);
    EXPECT_TRUE(r.usable);
    EXPECT_TRUE(r.cached);
    EXPECT_EQ(p.ran.size(), 1u);

    // A reboot invalidates it.
    p.files["/proc/sys/kernel/random/boot_id"] = "boot-2\n";
    p.commands["qemu-system-x86_64 -accel kvm"] = FakeProbe::ok("error", 1);
    r = vh::probe_kvm(p, o);
    EXPECT_FALSE(r.usable);
    EXPECT_FALSE(r.cached);
    EXPECT_EQ(p.ran.size(), 2u);

    // use_cache = false probes again even when the cache matches.
    o.use_cache = false;
    vh::probe_kvm(p, o);
    EXPECT_EQ(p.ran.size(), 3u);
}

TEST(DoctorFake, KvmProbeWithoutKernelRunsTheFirmware) {
    auto p = healthy_host();
    p.paths.erase("/boot/vmlinuz-6.1.0-56-amd64");
    p.commands["qemu-system-x86_64 -accel kvm"] = FakeProbe::timeout(
        "SeaBIOS (version 1.16.2)\nRunning on KVM\nNo bootable device.  Retrying in 60 seconds.\n");
    auto r = vh::probe_kvm(p, {.use_cache = false});
    EXPECT_TRUE(r.usable) << r.detail;
    EXPECT_EQ(r.method, "firmware");
    ASSERT_EQ(p.ran.size(), 1u);
    EXPECT_TRUE(contains(p.ran[0], "isa-debugcon")) << p.ran[0];

    p.commands["qemu-system-x86_64 -accel kvm"] = FakeProbe::timeout("");
    EXPECT_FALSE(vh::kvm_usable(p, {.use_cache = false}));
}

TEST(DoctorFake, LibvirtdUnreachableFails) {
    auto p = healthy_host();
    p.commands["virsh -c qemu:///system version --daemon"] = FakeProbe::ok(
        "error: failed to connect to the hypervisor\nerror: Failed to connect socket to "
        "'/var/run/libvirt/libvirt-sock': No such file or directory\n",
        1);
    p.commands["virsh -c qemu:///system pool-list"] = FakeProbe::ok("error: failed", 1);
    const auto checks = vh::run_doctor(p, fake_options());
    const auto& c = find(checks, "libvirt.daemon");
    EXPECT_EQ(c.status, Status::fail);
    EXPECT_EQ(c.detail,
              "cannot connect to qemu:///system: error: failed to connect to the hypervisor");
    EXPECT_TRUE(contains(c.fix, "libvirtd -d")) << c.fix;
    EXPECT_EQ(vh::doctor_exit_code(checks), 1);

    p.programs.erase("virsh");
    const auto missing = find(vh::run_doctor(p, fake_options()), "libvirt.daemon");
    EXPECT_EQ(missing.status, Status::fail);
    EXPECT_TRUE(contains(missing.fix, "apt-get install libvirt-clients")) << missing.fix;
}

TEST(DoctorFake, MissingBinariesFail) {
    auto p = healthy_host();
    p.programs.erase("qemu-system-x86_64");
    p.programs.erase("dnsmasq");
    p.programs.erase("iptables");
    const auto checks = vh::run_doctor(p, fake_options());
    for (const char* id : {"qemu.binary", "qemu.machines", "dnsmasq", "firewall.backend"})
        EXPECT_EQ(find(checks, id).status, Status::fail) << id;
    EXPECT_EQ(find(checks, "qemu.binary").fix, "apt-get install qemu-system-x86");
    EXPECT_TRUE(contains(find(checks, "dnsmasq").fix, "dnsmasq-base"));
    EXPECT_TRUE(contains(find(checks, "firewall.backend").fix, "apt-get install iptables"));
    EXPECT_EQ(find(checks, "kvm.usable").status, Status::warn);
    EXPECT_TRUE(contains(find(checks, "kvm.usable").detail, "not found"));
}

TEST(DoctorFake, MachineTypesWithoutQ35Warn) {
    auto p = healthy_host();
    p.commands["qemu-system-x86_64 -machine help"] =
        FakeProbe::ok("Supported machines are:\npc   Standard PC (default)\nisapc  ISA-only PC\n");
    const auto c = find(vh::run_doctor(p, fake_options()), "qemu.machines");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_EQ(c.detail, "2 types, pc; default pc; no q35");

    p.commands["qemu-system-x86_64 -machine help"] = FakeProbe::ok("Supported machines are:\n");
    EXPECT_EQ(find(vh::run_doctor(p, fake_options()), "qemu.machines").status, Status::fail);
}

TEST(DoctorFake, BridgeModuleAndForwarding) {
    auto p = healthy_host();
    p.files["/proc/sys/net/ipv4/ip_forward"] = "0\n";
    p.paths.erase("/sys/module/bridge");
    p.paths.erase("/sys/module/bridge/initstate");
    p.paths.insert("/lib/modules/6.1.0-56-amd64/kernel/net/bridge/bridge.ko");
    auto checks = vh::run_doctor(p, fake_options());
    EXPECT_EQ(find(checks, "net.ip-forward").status, Status::warn);
    EXPECT_TRUE(contains(find(checks, "net.ip-forward").fix, "sysctl -w net.ipv4.ip_forward=1"));
    EXPECT_EQ(find(checks, "bridge.module").status, Status::pass);
    EXPECT_TRUE(contains(find(checks, "bridge.module").detail, "loads on the first bridge"));

    p.paths.erase("/lib/modules/6.1.0-56-amd64/kernel/net/bridge/bridge.ko");
    checks = vh::run_doctor(p, fake_options());
    EXPECT_EQ(find(checks, "bridge.module").status, Status::fail);
    EXPECT_TRUE(contains(find(checks, "bridge.module").fix, "modprobe bridge"));
}

TEST(DoctorFake, FreeSpaceThresholds) {
    auto p = healthy_host();
    auto pool = [](std::uint64_t avail) {
        return FakeProbe::ok(
            "State:          running\nCapacity:       107374182400\nAvailable:      " +
            std::to_string(avail) + "\n");
    };
    p.commands["virsh -c qemu:///system pool-info --bytes labpool"] = pool(512ULL << 20);
    auto c = find(vh::run_doctor(p, fake_options()), "pool.labpool");
    EXPECT_EQ(c.status, Status::fail);
    EXPECT_EQ(c.detail, "pool labpool: 512.0 MiB free of 100.0 GiB (under 1.0 GiB)");
    EXPECT_FALSE(c.fix.empty());

    p.commands["virsh -c qemu:///system pool-info --bytes labpool"] = pool(5ULL << 30);
    c = find(vh::run_doctor(p, fake_options()), "pool.labpool");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_EQ(c.detail, "pool labpool: 5.0 GiB free of 100.0 GiB (under 10.0 GiB)");

    p.commands["virsh -c qemu:///system pool-info --bytes labpool"] =
        FakeProbe::ok("Name:           labpool\nState:          inactive\n");
    c = find(vh::run_doctor(p, fake_options()), "pool.labpool");
    EXPECT_EQ(c.status, Status::warn);
    EXPECT_EQ(c.fix, "virsh pool-start labpool");

    p.space.erase("/var/lib/virtform");
    EXPECT_EQ(find(vh::run_doctor(p, fake_options()), "space./var/lib/virtform").status,
              Status::warn);
}

TEST(DoctorFake, JsonAndTextRendering) {
    std::vector<vh::Check> checks = {
        {"a", "Alpha", Status::pass, "fine", ""},
        {"b", "Beta", Status::warn, "meh", "do x"},
        {"c", "Gamma", Status::fail, "broken", "do y"},
    };
    const auto j = vh::doctor_to_json(checks);
    EXPECT_EQ(j["checks"].size(), 3u);
    EXPECT_EQ(j["checks"][1]["id"], "b");
    EXPECT_EQ(j["checks"][1]["status"], "warn");
    EXPECT_EQ(j["checks"][1]["fix"], "do x");
    EXPECT_EQ(j["checks"][2]["status"], "fail");
    EXPECT_EQ(j["summary"]["pass"], 1);
    EXPECT_EQ(j["summary"]["warn"], 1);
    EXPECT_EQ(j["summary"]["fail"], 1);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(vh::doctor_exit_code(checks), 1);
    EXPECT_EQ(vh::render_doctor_text(checks),
              "PASS  Alpha: fine\n"
              "WARN  Beta: meh\n"
              "      fix: do x\n"
              "FAIL  Gamma: broken\n"
              "      fix: do y\n"
              "\n1 passed, 1 warnings, 1 failed\n");
    checks.pop_back();
    EXPECT_EQ(vh::doctor_exit_code(checks), 0);
    EXPECT_EQ(vh::doctor_to_json(checks)["ok"], true);
}

// ---- the three kinds of KVM host ---------------------------------------------------------
// Whatever machine runs the suite, each kind is asserted here.

namespace {

/// No /dev/kvm at all: no vmx/svm, kvm loaded without a vendor module (or not at all).
FakeProbe host_without_kvm() {
    auto p = healthy_host();
    p.files["/proc/cpuinfo"] = "processor\t: 0\nflags\t\t: fpu sse2 hypervisor\n";
    p.paths.erase("/dev/kvm");
    p.paths.erase("/sys/module/kvm_intel");
    p.paths.erase("/sys/module/kvm_intel/initstate");
    p.kvm = {false, 0, -1, false, "/dev/kvm does not exist"};
    p.commands["qemu-system-x86_64 -accel kvm"] = FakeProbe::ok(
        "Could not access KVM kernel module: No such file or directory\n"
        "qemu-system-x86_64: failed to initialize kvm: No such file or directory\n",
        1);
    return p;
}

/// "kvm-pvm": a VM whose /dev/kvm opens and creates VMs, but without vmx/svm, and
/// a guest under KVM dies (QEMU cannot set the CPU's MSRs).
FakeProbe host_with_unusable_kvm() {
    auto p = healthy_host();
    p.files["/proc/cpuinfo"] = "processor\t: 0\nflags\t\t: fpu sse2 hypervisor\n";
    p.paths.erase("/sys/module/kvm_intel");
    p.paths.erase("/sys/module/kvm_intel/initstate");
    p.paths.erase("/sys/module/kvm/initstate");
    p.paths.insert("/sys/module/kvm_pvm");
    p.kvm = {true, 0, 12, true, ""};
    p.commands["qemu-system-x86_64 -accel kvm"] = FakeProbe::ok(
        "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\n"
        "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion "
        "`ret == cpu->kvm_msr_buf->nmsrs' failed.\n",
        134);
    return p;
}

}  // namespace

TEST(DoctorFake, HostWithoutKvmDevice) {
    auto p = host_without_kvm();
    const auto checks = vh::run_doctor(p, fake_options());
    EXPECT_EQ(find(checks, "cpu.virt-flags").status, Status::warn);
    EXPECT_TRUE(contains(find(checks, "cpu.virt-flags").detail, "itself a virtual machine"));
    EXPECT_EQ(find(checks, "kvm.device").status, Status::warn);
    EXPECT_EQ(find(checks, "kvm.device").detail, "/dev/kvm does not exist");
    EXPECT_EQ(find(checks, "kvm.modules").status, Status::warn);
    const auto& usable = find(checks, "kvm.usable");
    EXPECT_EQ(usable.status, Status::warn);
    EXPECT_EQ(usable.detail, "no /dev/kvm; accel: auto uses TCG");
    EXPECT_TRUE(contains(usable.fix, "TCG")) << usable.fix;
    EXPECT_EQ(vh::doctor_exit_code(checks), 0) << "a host without KVM still runs labs";
    // Nothing to probe: QEMU never runs, and no cache is written (the next call asks
    // the device again, which costs nothing).
    for (const auto& cmd : p.ran) EXPECT_FALSE(contains(cmd, "-accel kvm")) << cmd;
    EXPECT_TRUE(p.written.empty());
    const auto r = vh::probe_kvm(p, {.cache_path = "/cache/kvm-probe"});
    EXPECT_FALSE(r.usable);
    EXPECT_FALSE(r.cached);
    EXPECT_EQ(r.detail, "/dev/kvm does not exist");
    EXPECT_EQ(p.written.count("/cache/kvm-probe"), 0u);
    EXPECT_FALSE(vh::kvm_usable(p, {.cache_path = "/cache/kvm-probe"}));
}

TEST(DoctorFake, HostWithKvmDeviceGuestsCannotUse) {
    auto p = host_with_unusable_kvm();
    const auto checks = vh::run_doctor(p, fake_options());
    EXPECT_EQ(find(checks, "cpu.virt-flags").status, Status::warn);
    EXPECT_TRUE(contains(find(checks, "cpu.virt-flags").detail, "no vmx or svm"));
    EXPECT_EQ(find(checks, "kvm.device").status, Status::pass);
    EXPECT_EQ(find(checks, "kvm.modules").status, Status::pass);
    EXPECT_EQ(find(checks, "kvm.modules").detail, "kvm (built in), kvm_pvm (built in)");
    const auto& usable = find(checks, "kvm.usable");
    EXPECT_EQ(usable.status, Status::warn);
    EXPECT_TRUE(contains(usable.detail, "cannot run under KVM")) << usable.detail;
    EXPECT_TRUE(contains(usable.detail, "failed to set MSR")) << usable.detail;
    EXPECT_TRUE(contains(usable.fix, "TCG")) << usable.fix;
    EXPECT_EQ(vh::doctor_exit_code(checks), 0);
    // The device is there, so the probe really ran a guest and cached its "no".
    ASSERT_EQ(p.written.count("/run/virtform/kvm-probe"), 1u);
    const auto again = vh::probe_kvm(p, fake_options().kvm);
    EXPECT_TRUE(again.cached);
    EXPECT_FALSE(again.usable);
    EXPECT_FALSE(vh::kvm_usable(p, fake_options().kvm));
}

TEST(DoctorFake, HostWithUsableKvm) {
    auto p = healthy_host();
    const auto checks = vh::run_doctor(p, fake_options());
    for (const char* id : {"cpu.virt-flags", "kvm.device", "kvm.modules", "kvm.usable"})
        EXPECT_EQ(find(checks, id).status, Status::pass) << id << ": " << find(checks, id).detail;
    EXPECT_TRUE(contains(find(checks, "kvm.usable").detail, "accel: auto uses kvm"));
    ASSERT_EQ(p.written.count("/run/virtform/kvm-probe"), 1u);
    const auto again = vh::probe_kvm(p, fake_options().kvm);
    EXPECT_TRUE(again.cached);
    EXPECT_TRUE(again.usable);
    EXPECT_TRUE(vh::kvm_usable(p, fake_options().kvm));
}
