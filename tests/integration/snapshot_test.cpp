// `virtform snapshot` on the real libvirtd (issue 11): a lab's VMs are
// snapshotted at once (internal qcow2 snapshots), bytes written into a disk
// afterwards are gone after a revert, the network definition changed since
// comes back too, a raw disk is refused naming its VM with nothing taken, and
// list/status/delete show and remove the snapshot. Disk bytes are checked
// with qemu-io on the image while the VM is stopped.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());

class SnapshotTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        n_ = ++counter;
    }

    void TearDown() override {
        virtform({"destroy", "--auto-approve", manifest()});
        for (const auto& vm : {vm(1), vm(2)}) {
            virsh("destroy " + vm + " >/dev/null 2>&1");
            virsh("undefine " + vm + " --snapshots-metadata >/dev/null 2>&1");
        }
        virsh("pool-destroy " + pool() + " >/dev/null 2>&1");
        virsh("pool-undefine " + pool() + " >/dev/null 2>&1");
        virsh("net-destroy " + net() + " >/dev/null 2>&1");
        virsh("net-undefine " + net() + " >/dev/null 2>&1");
        std::error_code ec;
        std::filesystem::remove_all(pool_path(), ec);
        std::filesystem::remove_all("/var/lib/virtform/snapshots/" + lab() + "@qemu____system", ec);
        EXPECT_NE(virsh("dominfo " + vm(1)).code, 0) << "VM left behind";
        EXPECT_FALSE(network_exists(net())) << "network left behind";
    }

    std::string lab() const {
        return "vfx-snap-" + std::to_string(kPid) + "-" + std::to_string(n_);
    }
    std::string net() const { return lab() + "-net"; }
    std::string pool() const { return lab() + "-pool"; }
    std::string pool_path() const { return "/var/lib/virtform/test-pools/" + lab(); }
    std::string vm(int k) const { return lab() + "-vm" + std::to_string(k); }
    std::string image(int k, const char* format = "qcow2") const {
        return pool_path() + "/" + vm(k) + "-root." + format;
    }
    std::string manifest() const { return (dir_.path() / "lab.yaml").string(); }
    std::string subnet(int third) const {
        return "10.214." + std::to_string(third) + "." + std::to_string(n_ * 8) + "/29";
    }
    std::string address(int third) const {
        return "10.214." + std::to_string(third) + "." + std::to_string(n_ * 8 + 1) + "/29";
    }

    /// An isolated network (its address `third`; active only for running
    /// VMs), a pool, and VMs with one disk each (`formats[k-1]`), in `state`.
    void write_lab(int third, const std::vector<std::string>& formats,
                   const std::string& state = "stopped") {
        std::string text = "lab: " + lab() + "\nnetworks:\n  " + net() +
                           ": {mode: isolated, ipv4: {address: " + address(third) +
                           "}, active: " + (state == "running" ? "true" : "false") +
                           "}\npools:\n  " + pool() + ": {path: " + pool_path() + "}\nvms:\n";
        for (std::size_t k = 1; k <= formats.size(); ++k) {
            text += "  " + vm(static_cast<int>(k)) +
                    ":\n    cpus: 1\n    memory: 128MiB\n    accel: qemu\n"
                    "    disks: [{name: root, pool: " +
                    pool() + ", size: 16MiB, format: " + formats[k - 1] +
                    "}]\n    nics: [{network: " + net() +
                    "}]\n    shutdown_timeout: 1\n    state: " + state + "\n";
        }
        write_text(manifest(), text);
    }

    void apply() {
        const auto r = virtform({"apply", "--auto-approve", manifest()});
        ASSERT_EQ(r.code, 0) << r.describe();
    }

    static CommandResult qemu_io(const std::string& image, const std::string& command) {
        return sh("qemu-io -f qcow2 -c '" + command + "' " + image + " 2>&1");
    }

    TempDir dir_{"vfx-snap"};
    int n_ = 0;
};

TEST_F(SnapshotTest, RevertBringsBackDiskBytesAndTheNetworkDefinition) {
    write_lab(1, {"qcow2"});
    apply();
    ASSERT_EQ(qemu_io(image(1), "write -P 0x11 0 4k").code, 0);

    auto r = virtform({"snapshot", "create", "before", manifest()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("1 VM (0 running"));
    EXPECT_THAT(sh("qemu-img snapshot -l " + image(1)).out, HasSubstr("before"));

    // Change the disk's bytes and the network's definition after the snapshot.
    r = qemu_io(image(1), "write -P 0x5a 0 4k");
    ASSERT_EQ(r.code, 0) << r.describe();
    ASSERT_THAT(qemu_io(image(1), "read -P 0x5a 0 4k").out,
                Not(HasSubstr("Pattern verification failed")));
    write_lab(2, {"qcow2"});
    apply();
    ASSERT_THAT(virsh("net-dumpxml --inactive " + net()).out,
                HasSubstr("10.214.2." + std::to_string(n_ * 8 + 1)));

    r = virtform({"snapshot", "revert", "before", manifest()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("network definitions restored: " + net()));
    r = qemu_io(image(1), "read -P 0x11 0 4k");
    EXPECT_THAT(r.out, Not(HasSubstr("Pattern verification failed"))) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("read 4096/4096 bytes"));
    r = qemu_io(image(1), "read -P 0x5a 0 4k");
    EXPECT_THAT(r.out, HasSubstr("Pattern verification failed")) << r.describe();
    const std::string net_xml = virsh("net-dumpxml --inactive " + net()).out;
    EXPECT_THAT(net_xml, HasSubstr("10.214.1." + std::to_string(n_ * 8 + 1))) << net_xml;
    EXPECT_THAT(net_xml, Not(HasSubstr("10.214.2."))) << net_xml;

    // list, status (text and JSON), delete.
    r = virtform({"snapshot", "list", manifest()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("before"));
    EXPECT_THAT(r.out, HasSubstr(vm(1) + " (stopped)"));
    r = virtform({"status", manifest()});
    EXPECT_THAT(r.out, HasSubstr("Snapshots"));
    EXPECT_THAT(r.out, HasSubstr("before"));
    r = virtform({"--json", "status", manifest()});
    ASSERT_EQ(r.code, 0) << r.describe();
    const auto status = nlohmann::json::parse(r.out);
    ASSERT_EQ(status["snapshots"].size(), 1u) << r.out;
    EXPECT_EQ(status["snapshots"][0]["name"], "before");
    EXPECT_EQ(status["snapshots"][0]["networks"][0], net());

    r = virtform({"snapshot", "delete", "before", manifest()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(sh("qemu-img snapshot -l " + image(1)).out, Not(HasSubstr("before")));
    EXPECT_THAT(virtform({"snapshot", "list", manifest()}).out, HasSubstr("No snapshots."));
    r = virtform({"snapshot", "revert", "before", manifest()});
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.err, HasSubstr("has no snapshot 'before'"));
}

TEST_F(SnapshotTest, RawDiskIsRefusedNamingTheVmAndNothingIsTaken) {
    write_lab(3, {"qcow2", "raw"});
    apply();
    const auto r = virtform({"snapshot", "create", "s1", manifest()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("vm." + vm(2) + ": disk vda"));
    EXPECT_THAT(r.err, HasSubstr("is raw: internal snapshots need qcow2"));
    EXPECT_THAT(r.err, Not(HasSubstr("vm." + vm(1) + ":")));
    // All or nothing: the qcow2 VM got no snapshot either, and no record.
    EXPECT_THAT(sh("qemu-img snapshot -l " + image(1)).out, Not(HasSubstr("s1")));
    EXPECT_THAT(virsh("snapshot-list --name " + vm(1)).out, Not(HasSubstr("s1")));
    EXPECT_THAT(virtform({"snapshot", "list", manifest()}).out, HasSubstr("No snapshots."));
}

TEST_F(SnapshotTest, RunningVmIsPausedSnapshottedAndRevertedRunning) {
    // No OS: the guest sits in its firmware, which is running enough for QEMU.
    write_lab(4, {"qcow2"}, "running");
    apply();
    ASSERT_THAT(virsh("domstate " + vm(1)).out, HasSubstr("running"));
    auto r = virtform({"snapshot", "create", "live", manifest()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("1 running, paused together"));
    EXPECT_THAT(virsh("domstate " + vm(1)).out, HasSubstr("running"));
    // Taken with memory (a checkpoint of the running VM, paused).
    EXPECT_THAT(virsh("snapshot-info " + vm(1) + " live").out, HasSubstr("paused"));

    ASSERT_EQ(virsh("destroy " + vm(1)).code, 0);
    r = virtform({"snapshot", "revert", "live", manifest()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_TRUE(eventually([&] { return virsh("domstate " + vm(1)).out.find("running") == 0; },
                           std::chrono::seconds(10)))
        << virsh("domstate " + vm(1)).out;
}

}  // namespace
}  // namespace virtform::testing
