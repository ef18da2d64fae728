// VMs, pools and volumes through the CLI on the real libvirtd: create, grow a
// disk, refuse a shrink, stop/start through `state`, prune (keep: true
// survives), destroy, and an unmarked VM is never touched. Checked with virsh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;

const int kPid = static_cast<int>(::getpid());

std::string cat(const std::string& a, int b) {
    return a + std::to_string(b);
}

class VmCliTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // QEMU (as libvirt-qemu) must be able to read the guest's kernel.
        guest_ = new TempDir("vf-vmcli-guest");
        std::filesystem::permissions(guest_->path(), std::filesystem::perms(0755));
        const auto built = sh(std::string(VIRTFORM_SOURCE_DIR) + "/scripts/make-test-guest.sh " +
                              guest_->path().string());
        ASSERT_EQ(built.code, 0) << built.describe();
    }
    static void TearDownTestSuite() {
        delete guest_;
        guest_ = nullptr;
    }

    void SetUp() override {
        static int counter = 0;
        n_ = ++counter;
        std::filesystem::permissions(dir_.path(), std::filesystem::perms(0755));
    }

    void TearDown() override {
        virtform({"destroy", "--auto-approve", dir_.path() / "lab.yaml"});
        // Anything the test or a failed destroy left, by this test's names only.
        for (const auto& vm : {vm(1), vm(2)}) {
            virsh("destroy " + vm + " >/dev/null 2>&1");
            virsh("undefine " + vm + " --nvram >/dev/null 2>&1");
        }
        virsh("destroy " + handmade() + " >/dev/null 2>&1");
        virsh("undefine " + handmade() + " >/dev/null 2>&1");
        virsh("pool-destroy " + pool() + " >/dev/null 2>&1");
        virsh("pool-undefine " + pool() + " >/dev/null 2>&1");
        virsh("net-destroy " + net() + " >/dev/null 2>&1");
        virsh("net-undefine " + net() + " >/dev/null 2>&1");
        std::error_code ec;
        std::filesystem::remove_all(pool_path(), ec);
        // The drift record of a lab that still owned a kept volume at its destroy.
        for (const auto& e : std::filesystem::directory_iterator("/var/lib/virtform/state", ec)) {
            if (e.path().filename().string().rfind(lab() + "@", 0) == 0) std::filesystem::remove(e.path(), ec);
        }
        EXPECT_NE(virsh("dominfo " + vm(1)).code, 0) << "VM left behind";
        EXPECT_NE(virsh("pool-info " + pool()).code, 0) << "pool left behind";
    }

    std::string lab() const {
        return "vf-vmcli-" + std::to_string(kPid) + "-" + std::to_string(n_);
    }
    std::string net() const { return lab() + "-net"; }
    std::string pool() const { return lab() + "-pool"; }
    std::string pool_path() const { return "/var/lib/virtform/test-pools/" + lab(); }
    std::string vm(int k) const { return cat(lab() + "-vm", k); }
    std::string handmade() const { return lab() + "-handmade"; }

    /// The lab: an isolated network, a pool, vm1 with a data disk (`size`, `keep`).
    std::string write_lab(const std::string& size, const std::string& state = "stopped",
                          bool with_vm = true, const std::string& keep = "false") {
        std::string text = "lab: " + lab() + "\nnetworks:\n  " + net() + ": {mode: isolated}\n" +
                           "pools:\n  " + pool() + ": {path: " + pool_path() + "}\n";
        if (with_vm) {
            const auto img = guest_->path().string();
            text += "vms:\n  " + vm(1) + ":\n    cpus: 1\n    memory: 256MiB\n    accel: qemu\n" +
                    "    kernel: " + img + "/vmlinuz\n    initrd: " + img + "/initrd.gz\n" +
                    "    cmdline: console=ttyS0\n    shutdown_timeout: 5\n" +
                    "    disks: [{name: data, pool: " + pool() + ", size: " + size +
                    ", keep: " + keep + "}]\n" + "    nics: [{network: " + net() + "}]\n" +
                    "    console: {file: " + (dir_.path() / "console.log").string() +
                    "}\n    state: " + state + "\n";
        }
        return dir_.write("lab.yaml", text).string();
    }

    std::string volume() const { return vm(1) + "-data.qcow2"; }
    std::string capacity() const {
        return trim(sh("virsh -q vol-info --bytes " + volume() + " --pool " + pool() +
                       " | awk '/Capacity/ {print $2}'")
                        .out);
    }
    std::string domstate(const std::string& name) const {
        return trim(virsh("domstate " + name).out);
    }

    TempDir dir_{"vf-vmcli"};
    int n_ = 0;
    static TempDir* guest_;
};

TempDir* VmCliTest::guest_ = nullptr;

TEST_F(VmCliTest, CreateGrowRefuseShrinkAndConverge) {
    const auto file = write_lab("1GiB");
    const auto apply = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_THAT(apply.out, HasSubstr("Apply complete! Resources: 4 added"));
    EXPECT_EQ(domstate(vm(1)), "shut off");
    EXPECT_THAT(virsh("dumpxml " + vm(1) + " --inactive").out,
                HasSubstr(">" + lab() + "</virtform:lab>"));
    EXPECT_EQ(capacity(), std::to_string(1ULL << 30));
    EXPECT_TRUE(std::filesystem::exists(pool_path() + "/.virtform-lab"));
    auto again = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(again.code, 0) << again.describe();

    // Grow: a live change of the volume alone.
    write_lab("2GiB");
    auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 2) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("volume." + pool() + "/" + volume() +
                                    " will be updated in place (live)"));
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    EXPECT_EQ(capacity(), std::to_string(2ULL << 30));

    // Shrink: refused before anything is touched.
    write_lab("1GiB");
    const auto shrink = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(shrink.code, 1) << shrink.describe();
    EXPECT_THAT(shrink.err,
                HasSubstr("would shrink from 2GiB to 1GiB: shrinking loses data and is refused"));
    EXPECT_THAT(shrink.err, HasSubstr("nothing was changed"));
    EXPECT_EQ(capacity(), std::to_string(2ULL << 30));
}

TEST_F(VmCliTest, StateStartsAndStopsTheVm) {
    const auto file = write_lab("1GiB", "running");
    const auto apply = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_EQ(domstate(vm(1)), "running");
    EXPECT_EQ(virtform({"plan", "--detailed-exitcode", file}).code, 0);

    write_lab("1GiB", "stopped");
    const auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 2);
    EXPECT_THAT(plan.out, HasSubstr("~ state = \"running\" -> \"stopped\"  # live"));
    const auto stop = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(stop.code, 0) << stop.describe();
    EXPECT_EQ(domstate(vm(1)), "shut off");

    write_lab("1GiB", "running");
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    EXPECT_EQ(domstate(vm(1)), "running");
    const auto status = virtform({"status", file});
    EXPECT_THAT(status.out, HasSubstr("vm." + vm(1)));
    EXPECT_THAT(status.out, HasSubstr("running"));
}

TEST_F(VmCliTest, PruneDeletesTheVmAndItsVolumeUnlessKept) {
    auto file = write_lab("1GiB");
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    file = write_lab("1GiB", "stopped", /*with_vm=*/false);
    const auto plan = virtform({"plan", file});
    EXPECT_THAT(plan.out, HasSubstr("# vm." + vm(1) + " will be destroyed"));
    EXPECT_THAT(plan.out, HasSubstr("# volume." + pool() + "/" + volume() + " will be destroyed"));
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    EXPECT_NE(virsh("dominfo " + vm(1)).code, 0);
    EXPECT_NE(virsh("vol-info " + volume() + " --pool " + pool()).code, 0);

    // keep: true: the volume outlives its VM, and the pool stays around it.
    file = write_lab("1GiB", "stopped", true, "true");
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    const auto destroy = virtform({"destroy", "--auto-approve", file});
    ASSERT_EQ(destroy.code, 0) << destroy.describe();
    EXPECT_THAT(destroy.out, HasSubstr("is kept (keep: true)"));
    EXPECT_NE(virsh("dominfo " + vm(1)).code, 0);
    EXPECT_EQ(virsh("vol-info " + volume() + " --pool " + pool()).code, 0)
        << "the kept volume is gone";
}

TEST_F(VmCliTest, UnmarkedVmIsNeverTouched) {
    const std::string xml =
        "<domain type='qemu'><name>" + handmade() +
        "</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>"
        "</domain>";
    const auto defined = sh("echo \"" + xml + "\" > " + (dir_.path() / "d.xml").string() +
                            " && virsh define " + (dir_.path() / "d.xml").string());
    ASSERT_EQ(defined.code, 0) << defined.describe();
    const std::string before = virsh("dumpxml " + handmade() + " --inactive").out;

    // Declaring its name is refused.
    const auto file =
        dir_.write("lab.yaml", "lab: " + lab() + "\nvms:\n  " + handmade() +
                                   ": {kernel: " + guest_->path().string() + "/vmlinuz, state: stopped, accel: qemu}\n");
    const auto plan = virtform({"plan", file.string()});
    EXPECT_EQ(plan.code, 1);
    EXPECT_THAT(plan.err, HasSubstr("vm '" + handmade() +
                                    "' already exists on the host and carries no "
                                    "virtform mark"));
    // A lab that owns nothing leaves it alone, destroy included.
    write_lab("1GiB");
    ASSERT_EQ(virtform({"apply", "--auto-approve", (dir_.path() / "lab.yaml").string()}).code, 0);
    ASSERT_EQ(virtform({"destroy", "--auto-approve", (dir_.path() / "lab.yaml").string()}).code, 0);
    EXPECT_EQ(virsh("dumpxml " + handmade() + " --inactive").out, before);
}

}  // namespace
}  // namespace virtform::testing
