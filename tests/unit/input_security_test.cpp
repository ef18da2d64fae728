// Security checks of the loader and the planner (issue 8, S1 and S4):
// interface names that could inject into dnsmasq's configuration are refused
// with their file:line:col, and a pool never claims a directory another pool
// uses, another lab marked, or that holds someone's files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/manifest_text.h"
#include "virtform/manifest.h"
#include "virtform/plan.h"

namespace virtform {
namespace {

using namespace test_manifest;  // NOLINT(google-build-using-namespace)

using ::testing::HasSubstr;

std::vector<std::string> plan_errors(const Desired& desired, const Live& live) {
    try {
        make_plan(desired, live);
    } catch (const ValidationError& e) {
        std::vector<std::string> out;
        for (const auto& d : e.diagnostics().items()) out.push_back(d.str());
        return out;
    }
    return {};
}

// ---------------------------------------------------------------------------
// S4: interface names

/// Every character dnsmasq, libvirt's XML or a shell give a meaning to.
const std::vector<std::string> kBadNames = {"lab,eth0", "a<b",  "a>b", "a&b",  "a'b", "a\"b",
                                            "a$b",      "a;b",  "a#b", "a\\b", "a%b", "a=b",
                                            "a*b",      "a(b)", "a|b", "a@b"};

std::string quoted(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

TEST(InterfaceNames, RefusedInEveryPlaceThatBecomesAnInterface) {
    for (const auto& bad : kBadNames) {
        SCOPED_TRACE(bad);
        const std::string q = quoted(bad);
        auto expect = [&](const std::string& text, const std::string& where) {
            const auto errors = load_errors(text);
            ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
            EXPECT_THAT(errors[0], HasSubstr("lab.yaml:" + where + ": error: "));
            EXPECT_THAT(errors[0], HasSubstr("use only letters, digits, '-', '_' and '.'"));
        };
        expect("lab: demo\nbridges:\n  " + q + ": {}\n", "3:3");
        expect("lab: demo\nbridges:\n  br0: {ports: [" + q + "]}\n", "3:17");
        expect("lab: demo\nbridges:\n  br0: {ports: [eth1], take_over_addresses: " + q + "}\n",
               "3:45");
        expect("lab: demo\nnetworks:\n  n: {bridge: " + q + ", ipv4: {address: 10.0.0.1/24}}\n",
               "3:15");
        expect("lab: demo\nnetworks:\n  n: {mode: bridge, bridge: " + q + "}\n", "3:29");
        expect("lab: demo\nvms:\n  v: {memory: 64MiB, nics: [{bridge: " + q + "}]}\n", "3:38");
    }
}

TEST(InterfaceNames, TheSafeSetIsAccepted) {
    const Desired d = load(
        "lab: demo\nbridges:\n  br-0_a.1: {ports: [eth0.10, en_p1-2], take_over_addresses: "
        "eth0.10}\nnetworks:\n  n: {bridge: virbr-lab.1, ipv4: {address: 10.0.0.1/24}}\n");
    EXPECT_EQ(d.bridges.count("br-0_a.1"), 1u);
    EXPECT_EQ(*d.networks.at("n").bridge, "virbr-lab.1");
}

TEST(InterfaceNames, LengthDotsAndBytesOutsideAscii) {
    EXPECT_THAT(interface_name_problem("abcdefghijklmnop"), HasSubstr("at most 15"));
    EXPECT_EQ(interface_name_problem("abcdefghijklmno"), "");
    EXPECT_NE(interface_name_problem("."), "");
    EXPECT_NE(interface_name_problem(".."), "");
    EXPECT_NE(interface_name_problem(""), "");
    // UTF-8 letters are not letters here, and a terminal escape is shown escaped.
    EXPECT_NE(interface_name_problem("br\xc3\xa9"), "");
    const auto escape = interface_name_problem("br\x1b[31m");
    EXPECT_THAT(escape, HasSubstr("\\x1b"));
    EXPECT_EQ(escape.find('\x1b'), std::string::npos);
}

// ---------------------------------------------------------------------------
// S1: pool directories

Pool live_pool(const std::string& name, const std::string& path, const std::string& owner) {
    Pool p;
    p.name = name;
    p.path = path;
    p.owner = owner;
    return p;
}

const char* kPoolB = "lab: b\npools:\n  bpool: {path: /srv/pools/a}\n";

TEST(PoolDirectories, APathAnotherLabsPoolUsesIsAPlanErrorNamingBoth) {
    Live live;
    live.pools["apool"] = live_pool("apool", "/srv/pools/a", "a");
    const auto errors = plan_errors(load(kPoolB), live);
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("lab.yaml:3:3: error: pool 'bpool' wants the directory "
                                     "/srv/pools/a, which is already the directory of libvirt "
                                     "pool 'apool' of lab 'a'"));
}

TEST(PoolDirectories, APathAnUnmarkedPoolUsesIsAPlanErrorToo) {
    Live live;
    live.pools["handmade"] = live_pool("handmade", "/srv/pools/a/", "");  // another spelling
    const auto errors = plan_errors(load(kPoolB), live);
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("pool 'handmade' which carries no virtform mark"));
}

TEST(PoolDirectories, ADirectoryAnotherLabMarkedIsAPlanError) {
    Live live;
    live.pool_dirs["/srv/pools/a"] = PoolDir{true, "a", true, ""};
    const auto errors = plan_errors(load(kPoolB), live);
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("carries the mark of lab 'a'"));
    EXPECT_THAT(errors[0], HasSubstr("pool 'bpool'"));
}

TEST(PoolDirectories, AnUnmarkedDirectoryWithFilesIsAPlanErrorAnEmptyOneIsNot) {
    Live live;
    live.pool_dirs["/srv/pools/a"] = PoolDir{true, "", true, ""};
    const auto errors = plan_errors(load(kPoolB), live);
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("already holds files and no virtform mark"));

    live.pool_dirs["/srv/pools/a"] = PoolDir{true, "", false, ""};
    EXPECT_EQ(make_plan(load(kPoolB), live).actions.size(), 1u);
    live.pool_dirs["/srv/pools/a"] = PoolDir{false, "", false, ""};
    EXPECT_EQ(make_plan(load(kPoolB), live).actions.size(), 1u);
    // Its own mark (an apply interrupted after the mark): the next apply goes on.
    live.pool_dirs["/srv/pools/a"] = PoolDir{true, "b", true, ""};
    EXPECT_EQ(make_plan(load(kPoolB), live).actions.size(), 1u);
    live.pool_dirs["/srv/pools/a"] =
        PoolDir{true, "", false, "is a symbolic link; name the directory itself"};
    EXPECT_THAT(plan_errors(load(kPoolB), live).at(0), HasSubstr("is a symbolic link"));
}

TEST(PoolDirectories, TheLabsOwnPoolAtItsPathIsNoConflict) {
    Live live;
    live.pools["bpool"] = live_pool("bpool", "/srv/pools/a", "b");
    live.pool_dirs["/srv/pools/a"] = PoolDir{true, "b", true, ""};
    EXPECT_TRUE(make_plan(load(kPoolB), live).empty());
}

TEST(PoolDirectories, TwoPoolsOfTheManifestInOneDirectory) {
    // The loader refuses it already; the planner's check stays for Desired built otherwise.
    const auto errors =
        load_errors("lab: b\npools:\n  p1: {path: /srv/x}\n  p2: {path: /srv/x/}\n");
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("lab.yaml:4:3: error: pool 'p2' uses directory /srv/x"));
    Desired d = load("lab: b\npools:\n  p1: {path: /srv/x}\n  p2: {path: /srv/y}\n");
    d.pools.at("p2").path = "/srv/x";
    const auto planned = plan_errors(d, Live{});
    ASSERT_EQ(planned.size(), 1u) << ::testing::PrintToString(planned);
    EXPECT_THAT(planned[0], HasSubstr("pool 'p2' has the directory /srv/x of pool 'p1'"));
}

TEST(PoolDirectories, ThePathHasOneSpellingAndIsNotTheRoot) {
    auto errors = load_errors("lab: b\npools:\n  p: {path: /srv/../etc}\n");
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("lab.yaml:3:13: error: 'path' of pool 'p' (/srv/../etc): a "
                                     "path through '..' is not normalised"));
    errors = load_errors("lab: b\npools:\n  p: {path: /}\n");
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("the root directory cannot be a pool"));
    EXPECT_EQ(load("lab: b\npools:\n  p: {path: /srv/x/}\n").pools.at("p").path, "/srv/x");
}

// ---------------------------------------------------------------------------
// Console files: QEMU writes the guest's output there as root.

std::string vm_with_console(const std::string& file) {
    return "lab: b\nvms:\n  w:\n    memory: 256MiB\n    kernel: /srv/k\n    console: {file: " +
           file + "}\n";
}

TEST(ConsoleFiles, NeverASystemFileADotFileOrAnUnnormalisedPath) {
    const std::vector<std::pair<std::string, std::string>> refused = {
        {"/etc/passwd", "a file under /etc/ (owned by the system) cannot take a console's output"},
        {"/usr/lib/x.log", "a file under /usr/ (owned by the system)"},
        {"/boot/grub/grub.cfg", "a file under /boot/"},
        {"/root/.ssh/authorized_keys", "a hidden file or a file in a hidden directory"},
        {"/home/u/.bashrc", "a hidden file"},
        {"/var/log/../../etc/shadow", "a path through '..' is not normalised"},
        {"/var/log//x.log", "a path with '//' is not normalised"},
        {"/var/log/virtform/", "it names a directory"},
    };
    for (const auto& [file, why] : refused) {
        const auto errors = load_errors(vm_with_console(file));
        ASSERT_EQ(errors.size(), 1u) << file << ": " << ::testing::PrintToString(errors);
        EXPECT_THAT(errors[0], HasSubstr("lab.yaml:6:21: error: the console file '" + file +
                                         "' of VM 'w': " + why));
    }
    EXPECT_EQ(*load(vm_with_console("/var/log/virtform/w.log")).vms.at("w").console_file,
              "/var/log/virtform/w.log");
    EXPECT_EQ(*load(vm_with_console("/usr/local/lab/w.log")).vms.at("w").console_file,
              "/usr/local/lab/w.log");
}

TEST(ConsoleFiles, NeverAnImageOrKernelOrAnotherConsoleOfTheLab) {
    auto errors = load_errors(vm_with_console("/srv/k"));
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0],
                HasSubstr("the console file /srv/k of VM 'w' is also the kernel of VM 'w'"));
    errors = load_errors(
        "lab: b\npools:\n  p: {path: /srv/pool}\nvms:\n  a:\n    memory: 256MiB\n"
        "    disks: [{name: root, pool: p, size: 1G}]\n"
        "  b:\n    memory: 256MiB\n    console: {file: /srv/pool/a-root.qcow2}\n"
        "  c:\n    memory: 256MiB\n    disks: [{cdrom: /srv/iso/x.iso}]\n    console: {file: "
        "/srv/iso/x.iso}\n");
    ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
    EXPECT_THAT(
        errors[0],
        HasSubstr(
            "the console file /srv/pool/a-root.qcow2 of VM 'b' is also volume 'a-root.qcow2'"));
    EXPECT_THAT(errors[1],
                HasSubstr("the console file /srv/iso/x.iso of VM 'c' is also a disk of VM 'c'"));
}

TEST(BackingChain, AllowBackingChainNeedsAnImage) {
    const auto errors = load_errors(
        "lab: b\npools:\n  p: {path: /srv/x}\nvms:\n  v:\n    memory: 64MiB\n    disks:\n"
        "      - {name: r, pool: p, size: 1GiB, allow_backing_chain: true}\n");
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("needs 'backing' or 'import'"));
    const Desired d = load(
        "lab: b\npools:\n  p: {path: /srv/x}\nvms:\n  v:\n    memory: 64MiB\n    disks:\n"
        "      - {name: r, pool: p, size: 1GiB, backing: /i.qcow2, allow_backing_chain: true}\n");
    EXPECT_TRUE(d.volumes.at("p/v-r.qcow2").allow_backing_chain);
}

}  // namespace
}  // namespace virtform
