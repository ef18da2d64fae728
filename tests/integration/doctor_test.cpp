// `virtform doctor` against the real host: SystemProbe itself, then the report of
// whatever machine runs the suite, checked against what the test finds on it by
// its own means (tests/integration/host_kvm.h): no /dev/kvm, a /dev/kvm guests
// cannot use (kvm-pvm) or a usable KVM all pass. The checks' logic for every kind of
// host is in tests/unit/doctor_checks_test.cpp, against a fake probe.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "integration/host_kvm.h"
#include "integration/testlib.h"
#include "virtform/adapters/host/doctor.h"

namespace vh = virtform::host;
using virtform::testing::TempDir;
using namespace std::chrono_literals;
using Status = vh::Check::Status;

namespace {

const vh::Check& find(const std::vector<vh::Check>& checks, const std::string& id) {
    for (const auto& c : checks)
        if (c.id == id) return c;
    throw std::runtime_error("no check " + id);
}

bool contains(const std::string& s, const std::string& sub) {
    return s.find(sub) != std::string::npos;
}

/// The value after "key:" in a command's output ("Running against daemon: 9.0.0").
std::string field(const std::string& text, const std::string& key) {
    const auto at = text.find(key + ":");
    if (at == std::string::npos) return {};
    const auto end = text.find('\n', at);
    return virtform::testing::trim(text.substr(at + key.size() + 1, end - at - key.size() - 1));
}

}  // namespace

// ---- SystemProbe -----------------------------------------------------------------------

TEST(SystemProbe, RunCapturesOutputExitCodeAndTimesOut) {
    vh::SystemProbe p;
    auto r = p.run({"sh", "-c", "echo out; echo err >&2; exit 3"}, 5s);
    EXPECT_TRUE(r.started);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.output, "out\nerr\n");

    const auto start = std::chrono::steady_clock::now();
    r = p.run({"sh", "-c", "echo begun; sleep 30"}, 300ms);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.output, "begun\n");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "the sleep was not killed";

    r = p.run({"/nonexistent/program"}, 1s);
    EXPECT_FALSE(r.started);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.output, "No such file")) << r.output;
}

TEST(SystemProbe, WriteFileIsAtomicAndCreatesDirectories) {
    TempDir dir("virtform-doctor");
    vh::SystemProbe p;
    const auto path = (dir.path() / "a" / "b" / "cache").string();
    ASSERT_TRUE(p.write_file(path, "one"));
    ASSERT_TRUE(p.write_file(path, "two"));
    EXPECT_EQ(p.read_file(path).value_or(""), "two");
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path() / "a" / "b"),
                            std::filesystem::directory_iterator{}),
              1)
        << "temp file left behind";
    const auto space = p.disk_space((dir.path() / "not" / "yet").string());
    ASSERT_TRUE(space.has_value());
    EXPECT_EQ(space->checked_path, dir.path().string());
    EXPECT_GT(space->available, 0u);
}

// ---- the real host ---------------------------------------------------------------------
// Whatever this machine is: the doctor's report must agree with what the test finds.

class DoctorRealHost : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir("virtform-doctor");
        vh::DoctorOptions o;
        o.kvm.cache_path = (dir_->path() / "kvm-probe").string();
        const auto start = std::chrono::steady_clock::now();
        checks_ = new std::vector<vh::Check>(vh::run_doctor(o));
        seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    static void TearDownTestSuite() {
        delete checks_;
        delete dir_;
    }
    static TempDir* dir_;
    static std::vector<vh::Check>* checks_;
    static double seconds_;
};
TempDir* DoctorRealHost::dir_ = nullptr;
std::vector<vh::Check>* DoctorRealHost::checks_ = nullptr;
double DoctorRealHost::seconds_ = 0;

TEST_F(DoctorRealHost, KvmChecksAgreeWithTheHost) {
    const auto& host = virtform::testing::host_kvm();
    std::cout << vh::render_doctor_text(*checks_) << "(doctor took " << seconds_ << " s)\n"
              << "the test's own look: " << host.kind() << ", flag '" << host.virt_flag
              << "', hypervisor " << host.hypervisor << "\n";

    const auto& flags = find(*checks_, "cpu.virt-flags");
    if (!host.virt_flag.empty()) {
        EXPECT_EQ(flags.status, Status::pass) << flags.detail;
        EXPECT_TRUE(contains(flags.detail, host.virt_flag)) << flags.detail;
    } else {
        EXPECT_EQ(flags.status, Status::warn) << flags.detail;
        EXPECT_TRUE(contains(flags.detail, "no vmx or svm")) << flags.detail;
        EXPECT_EQ(contains(flags.detail, "itself a virtual machine"), host.hypervisor)
            << flags.detail;
    }

    const auto& device = find(*checks_, "kvm.device");
    EXPECT_EQ(device.status, host.creates_vm ? Status::pass : Status::warn) << device.detail;
    if (!host.device) {
        EXPECT_EQ(device.detail, "/dev/kvm does not exist");
    } else if (host.open_errno != 0) {
        EXPECT_TRUE(contains(device.detail, std::strerror(host.open_errno))) << device.detail;
        // Only a permission problem is fixed by the kvm group.
        const bool permission = host.open_errno == EACCES || host.open_errno == EPERM;
        EXPECT_EQ(contains(device.fix, "kvm group"), permission) << device.fix;
    }

    const auto& modules = find(*checks_, "kvm.modules");
    EXPECT_EQ(modules.status, host.kvm_module && host.vendor_module ? Status::pass : Status::warn)
        << modules.detail;

    const auto& usable = find(*checks_, "kvm.usable");
    EXPECT_EQ(usable.status, host.guest_runs ? Status::pass : Status::warn)
        << usable.detail << "\nQEMU under -accel kvm said:\n"
        << host.qemu_said;
    if (host.guest_runs) {
        EXPECT_TRUE(contains(usable.detail, "accel: auto uses kvm")) << usable.detail;
    } else {
        EXPECT_TRUE(contains(usable.fix, "TCG")) << usable.fix;
        EXPECT_TRUE(contains(usable.detail, host.device ? "cannot run under KVM" : "no /dev/kvm"))
            << usable.detail;
    }
}

TEST_F(DoctorRealHost, OtherChecksAgreeWithTheHost) {
    using virtform::testing::sh;
    const auto daemon =
        field(sh("virsh -c qemu:///system version --daemon").out, "Running against daemon");
    ASSERT_FALSE(daemon.empty()) << "libvirtd does not answer (scripts/start-libvirtd.sh)";
    const auto& libvirtd = find(*checks_, "libvirt.daemon");
    EXPECT_EQ(libvirtd.status, Status::pass) << libvirtd.detail;
    EXPECT_TRUE(contains(libvirtd.detail, "libvirt " + daemon)) << libvirtd.detail;

    const auto qemu_version =
        virtform::testing::trim(sh("qemu-system-x86_64 -version | head -1").out);
    ASSERT_FALSE(qemu_version.empty());
    const auto& qemu = find(*checks_, "qemu.binary");
    EXPECT_EQ(qemu.status, Status::pass) << qemu.detail;
    EXPECT_TRUE(contains(qemu.detail, qemu_version)) << qemu.detail;

    // What the suite itself needs: a host that runs it has these.
    for (const char* id : {"qemu.machines", "dnsmasq", "firewall.backend", "bridge.module"})
        EXPECT_EQ(find(*checks_, id).status, Status::pass)
            << id << ": " << find(*checks_, id).detail;
    // No KVM is a warning, never a failure: only free space may fail on a host that
    // runs this suite, and the exit code says whether anything did.
    bool failed = false;
    for (const auto& c : *checks_) {
        if (c.status != Status::fail) continue;
        failed = true;
        EXPECT_TRUE(c.id.rfind("pool.", 0) == 0 || c.id.rfind("space.", 0) == 0)
            << c.id << ": " << c.detail;
    }
    EXPECT_EQ(vh::doctor_exit_code(*checks_), failed ? 1 : 0);
    const auto j = vh::doctor_to_json(*checks_);
    EXPECT_EQ(j["ok"], !failed);
    EXPECT_EQ(j["checks"].size(), checks_->size());
}

TEST_F(DoctorRealHost, KvmProbeAgreesWithTheHostAndCachesOnlyARealProbe) {
    const auto& host = virtform::testing::host_kvm();
    vh::SystemProbe p;
    vh::KvmProbeOptions o;
    o.cache_path = (dir_->path() / "kvm-probe").string();
    const auto start = std::chrono::steady_clock::now();
    const auto r = vh::probe_kvm(p, o);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "not answered from the cache";
    EXPECT_EQ(r.usable, host.guest_runs) << r.detail << "\n" << host.kind();
    if (host.creates_vm) {
        // A device to try: run_doctor booted a guest and cached the answer.
        EXPECT_TRUE(p.exists(o.cache_path)) << "run_doctor did not cache the probe";
        EXPECT_TRUE(r.cached);
    } else {
        // Nothing to try: no guest was run and nothing cached; the device said no.
        EXPECT_FALSE(p.exists(o.cache_path)) << "a probe that ran nothing was cached";
        EXPECT_FALSE(r.cached);
        EXPECT_FALSE(r.detail.empty());
        if (!host.device) {
            EXPECT_EQ(r.detail, "/dev/kvm does not exist");
        }
    }
    EXPECT_EQ(vh::kvm_usable(p, o), host.guest_runs);
}

// The probe can also say yes: the same guest under TCG reaches its kernel panic.
TEST_F(DoctorRealHost, KvmProbeMechanismSucceedsUnderTcg) {
    vh::SystemProbe p;
    vh::KvmProbeOptions o;
    o.accel = "tcg";
    o.timeout = 60s;
    o.cache_path.clear();
    const auto r = vh::probe_kvm(p, o);
    std::cout << "probe under tcg: " << r.seconds << " s, " << r.detail << "\n";
    EXPECT_TRUE(r.usable) << r.detail;
    EXPECT_EQ(r.method, p.glob("/boot/vmlinuz-*").empty() ? "firmware" : "kernel");
}

// A second kind of host on this one: where /dev/kvm is absent, a private mount
// namespace gets a /dev/kvm node with no driver behind it (open: ENODEV), and the
// real-host tests above run again there. Their assertions follow the host they see.
TEST(DoctorOtherHostKind, DeviceNodeWithoutDriverInAPrivateMountNamespace) {
    if (std::filesystem::exists("/dev/kvm")) GTEST_SKIP() << "this host has /dev/kvm";
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for a mount namespace";
    TempDir dir("virtform-devkvm");
    const std::string d = dir.path().string();
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    // /dev becomes an overlay of itself with a writable upper layer, only in here.
    const std::string script =
        "mount --make-rprivate / && mount -t tmpfs tmpfs " + d + " && mkdir " + d + "/u " + d +
        "/w && mount -t overlay overlay -o lowerdir=/dev,upperdir=" + d + "/u,workdir=" + d +
        "/w /dev && mknod /dev/kvm c 10 232 || exit 77\n"
        "exec " +
        self + " --gtest_filter='DoctorRealHost.*:-*Tcg'";
    const auto r = virtform::testing::run({"unshare", "-m", "sh", "-c", script});
    if (r.code == 77) GTEST_SKIP() << "cannot make a private /dev here:\n" << r.err;
    EXPECT_EQ(r.code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "the test's own look: /dev/kvm that guests cannot use")) << r.out;
    EXPECT_TRUE(contains(r.out, "open /dev/kvm: No such device")) << r.out;
    EXPECT_TRUE(contains(r.out, "[  PASSED  ] 3 tests.")) << r.out;
    EXPECT_FALSE(std::filesystem::exists("/dev/kvm")) << "the node leaked into the host";
}
