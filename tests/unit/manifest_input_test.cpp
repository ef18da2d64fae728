// Bad input refused by the loader (issue 8, item 3): every case here was
// accepted before, with manifests written inline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "unit/manifest_text.h"
#include "virtform/adapters/libvirt/domain_xml.h"
#include "virtform/diag.h"
#include "virtform/manifest.h"
#include "virtform/render.h"

namespace virtform {
namespace {

using namespace test_manifest;  // NOLINT(google-build-using-namespace)

using ::testing::HasSubstr;
using ::testing::Not;

std::string vm_with(const std::string& fields) {
    return "lab: x\nvms:\n  a: {" + fields + "}\n";
}

// --- numbers -------------------------------------------------------------

TEST(ManifestInput, StpTimersMustBeFiniteNumbers) {
    for (const char* bad : {".nan", ".NaN", ".inf", "-.inf", "1e1", "0x10", "nan", "-2"}) {
        const std::string text =
            std::string("lab: x\nbridges:\n  br0: {stp: {forward_delay: ") + bad + "}}\n";
        SCOPED_TRACE(bad);
        expect_error(text, "3:30", "'forward_delay' of the STP of bridge 'br0' must be a number");
    }
    const Desired d = load("lab: x\nbridges:\n  br0: {stp: {forward_delay: 2.5, max_age: 20}}\n");
    EXPECT_EQ(d.bridges.at("br0").forward_delay_cs, 250u);
    EXPECT_EQ(d.bridges.at("br0").max_age_cs, 2000u);
}

TEST(ManifestInput, IntegerOverflowSaysSo) {
    expect_error("lab: x\nnetworks:\n  n: {mode: isolated, mtu: 99999999999999999999999}\n", "3:28",
                 "'mtu' in network 'n' is out of range: 99999999999999999999999 does not fit");
}

// --- sizes (libvirt's scaled integers) -----------------------------------

TEST(ManifestInput, SizeUnitsFollowLibvirt) {
    auto memory = [](const std::string& size) {
        return load(vm_with("memory: " + size)).vms.at("a").memory;
    };
    EXPECT_EQ(memory("1G"), 1ULL << 30);  // was 10^9
    EXPECT_EQ(memory("1g"), 1ULL << 30);
    EXPECT_EQ(memory("1GiB"), 1ULL << 30);
    EXPECT_EQ(memory("1gib"), 1ULL << 30);
    EXPECT_EQ(memory("1GB"), 1000000000ULL);
    EXPECT_EQ(memory("1gb"), 1000000000ULL);
    EXPECT_EQ(memory("32768k"), 32768ULL << 10);
    EXPECT_EQ(memory("32768KB"), 32768000ULL);
    EXPECT_EQ(memory("64M"), 64ULL << 20);
    EXPECT_EQ(memory("67108864"), 64ULL << 20);
    EXPECT_EQ(memory("67108864b"), 64ULL << 20);
    EXPECT_EQ(memory("67108864 bytes"), 64ULL << 20);
    EXPECT_EQ(memory("1T"), 1ULL << 40);
    EXPECT_EQ(memory("1P"), 1ULL << 50);
}

TEST(ManifestInput, SizeThatDoesNotFitSaysSo) {
    expect_error(vm_with("memory: 16777215TiB"), "3:15",
                 "'memory' of VM 'a' is too large: 16777215TiB is more than 4PiB");
    expect_error(vm_with("memory: 99999999999999999999999"), "3:15",
                 "'memory' of VM 'a' overflows: '99999999999999999999999' is more than 2^64");
    expect_error(vm_with("memory: 17179869184GiB"), "3:15", "overflows");
    expect_error(vm_with("memory: 2E"), "3:15", "too large");
    expect_error(vm_with("memory: 1 gallon"), "3:15", "is not a size: '1 gallon' (unknown unit");
}

// --- disks -----------------------------------------------------------------

TEST(ManifestInput, DiskTargetsBeyondTwentySixFollowLibvirt) {
    std::string disks;
    for (int i = 0; i < 30; ++i) disks += "{file: /img/d" + std::to_string(i) + ".img}, ";
    const Desired d = load(vm_with("disks: [" + disks + "]"));
    const auto& vm = d.vms.at("a");
    ASSERT_EQ(vm.disks.size(), 30u);
    EXPECT_EQ(vm.disks[0].target, "vda");
    EXPECT_EQ(vm.disks[25].target, "vdz");
    EXPECT_EQ(vm.disks[26].target, "vdaa");  // was "vd{"
    EXPECT_EQ(vm.disks[29].target, "vdad");
    const std::regex name("vd[a-z]+");
    for (const auto& disk : vm.disks)
        EXPECT_TRUE(std::regex_match(disk.target, name)) << disk.target;
    EXPECT_EQ(disk_target_name("sd", 701), "sdzz");
    EXPECT_EQ(disk_target_name("sd", 702), "sdaaa");
}

TEST(ManifestInput, DomainXmlOfManyDisksHasOnlyLibvirtTargets) {
    // 30 sata cdroms plus the cloud-init seed: sda..sdad, then the seed on sdae.
    std::string disks;
    for (int i = 0; i < 30; ++i) disks += "{cdrom: /iso/c" + std::to_string(i) + ".iso}, ";
    const Desired d =
        load(vm_with("disks: [" + disks + "], cloud_init: {user_data: \"#!/bin/sh\"}"));
    const Vm& vm = d.vms.at("a");
    const std::string xml = libvirt::domain_to_xml(vm, "x");
    std::smatch m;
    std::string rest = xml;
    const std::regex dev("<target dev=\"([^\"]*)\"");
    int count = 0;
    while (std::regex_search(rest, m, dev)) {
        EXPECT_TRUE(std::regex_match(m[1].str(), std::regex("sd[a-z]+"))) << m[1];
        rest = m.suffix();
        ++count;
    }
    EXPECT_EQ(count, 31);
    EXPECT_THAT(xml, HasSubstr("<target dev=\"sdad\" bus=\"sata\""));
    EXPECT_THAT(xml, HasSubstr("<target dev=\"sdae\" bus=\"sata\""));  // the seed
    for (const auto& disk : libvirt::assign_disk_targets(vm.disks))
        EXPECT_TRUE(std::regex_match(disk.target, std::regex("sd[a-z]+"))) << disk.target;
}

TEST(ManifestInput, IdeHoldsFourDisksAndQ35None) {
    std::string disks;
    for (int i = 0; i < 5; ++i) disks += "{file: /img/d" + std::to_string(i) + ".img, bus: ide}, ";
    expect_error(vm_with("disks: [" + disks + "]"), "3:164", "more than 4 IDE disks");
    expect_error(vm_with("machine: q35, disks: [{file: /img/d.img, bus: ide}]"), "3:53",
                 "machine q35 does not have");
}

// --- strings -----------------------------------------------------------------

TEST(ManifestInput, NulInAStringIsRefused) {
    expect_error(vm_with(R"(kernel: /k, cmdline: "console=ttyS0\0rest")"), "3:28",
                 "holds a NUL character (at offset 13)");
}

TEST(ManifestInput, InvalidUtf8IsRefused) {
    expect_error(vm_with("kernel: /k, cmdline: \"a\xff\xfe\""), "3:28",
                 "is not valid UTF-8 (byte 0xff at offset 1)");
    // An overlong encoding of '/' and a lone surrogate, raw in a path.
    expect_error(vm_with("kernel: \"/k\xc0\xaf\""), "3:15", "not valid UTF-8");
    expect_error(vm_with("kernel: \"/k\xed\xa0\x80\""), "3:15", "not valid UTF-8");
    // Valid UTF-8 is fine.
    EXPECT_EQ(load(vm_with("kernel: /k, cmdline: \"caf\xc3\xa9\"")).vms.at("a").cmdline,
              "caf\xc3\xa9");
}

TEST(ManifestInput, ControlCharactersInNamesAreRefusedAndPrintedEscaped) {
    auto errors = errors_of("lab: x\nvms:\n  \"evil\\e[2J\": {}\n");
    ASSERT_FALSE(errors.empty());
    EXPECT_THAT(errors[0], HasSubstr("lab.yaml:3:3: error: this key holds the control character "
                                     "U+001B"));
    for (const auto& e : errors) {
        EXPECT_EQ(e.find('\x1b'), std::string::npos) << "raw ESC printed: " << e;
        EXPECT_THAT(e, Not(HasSubstr("\x1b")));
    }
    // The VM name check names it too, escaped.
    EXPECT_THAT(::testing::PrintToString(errors), HasSubstr("evil\\\\x1b[2J"));
}

TEST(ManifestInput, OneLineStringsRefuseLineBreaksMultiLineTextKeepsThem) {
    expect_error(vm_with(R"(kernel: /k, cmdline: "a\nb")"), "3:28",
                 "'cmdline' in VM 'a' must be one line");
    expect_error(vm_with("kernel: \"/k\\tx\""), "3:15", "holds a tab");
    // One authorized key per entry: a line break would smuggle in another.
    expect_error(
        vm_with(R"(cloud_init: {ssh_authorized_keys: ["ssh-ed25519 AAA a\nssh-rsa BBB b"]})"),
        "3:42", "an SSH key of VM 'a' must be one line");
    const Desired d =
        load(vm_with(R"(cloud_init: {user_data: "#cloud-config\n\tpackages: [htop]\r\n"})"));
    EXPECT_EQ(d.vms.at("a").cloud_init->user_data, "#cloud-config\n\tpackages: [htop]\r\n");
}

TEST(ManifestInput, HugeStringIsRefused) {
    const std::string big(kMaxStringBytes, 'x');
    expect_error(vm_with("cloud_init: {user_data: \"#cloud-config\\n" + big + "\"}"), "3:31",
                 "this value is a string of 1048590 bytes; at most 1048576 are allowed");
}

TEST(ManifestInput, HugeManifestTextIsRefusedBeforeParsing) {
    std::string text = "lab: x\n# " + std::string(kMaxManifestFileBytes, 'x') + "\n";
    auto errors = errors_of(text);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0],
              "lab.yaml: error: is 16777226 bytes; a manifest file may be at most 16MiB");
}

TEST(ManifestInput, AliasesThatExpandTooFarAreRefused) {
    // "Billion laughs": 10 levels of 10 aliases each would be 10^10 nodes.
    std::string text = "lab: x\nx0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 9; ++i) {
        std::string prev = "*a" + std::to_string(i - 1);
        text += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) text += prev + (k < 9 ? ", " : "");
        text += "]\n";
    }
    text += "vms: {a: {disks: *a9}}\n";
    auto errors = errors_of(text);
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("aliases expand the document by more than 1000000 nodes"));
    // A few aliases are fine.
    const Desired d = load("lab: x\nnetworks:\n  a: &n {mode: isolated}\n  b: *n\n");
    EXPECT_EQ(d.networks.size(), 2u);
}

// The checks of every scalar are made in one parse when the text has no
// anchor (on the loaded tree) and in the event pass when it has one: the same
// problems at the same places either way, and before a syntax error too.
TEST(ManifestInput, ScalarChecksAreTheSameWithAndWithoutAnchors) {
    const std::string bad_key = "lab: x\nvms:\n  \"ev\\x01l\": {}\n";
    const std::string bad_value = "lab: x\nvms:\n  a: {kernel: \"/k\\x02\"}\n";
    for (const std::string& text : {bad_key, bad_value}) {
        const std::string with_anchor = text + "x-unused: &anchor 1\n";
        const auto without = errors_of(text);
        const auto with = errors_of(with_anchor);
        ASSERT_FALSE(without.empty()) << text;
        EXPECT_EQ(without.front(), with.front()) << text;
        EXPECT_THAT(without.front(), HasSubstr("lab.yaml:3:")) << text;
        EXPECT_THAT(without.front(), HasSubstr("holds the control character U+000")) << text;
    }
    // A syntax error after a bad scalar: both are reported, bad scalar first.
    const auto broken = errors_of(bad_value + "networks: [unclosed\n");
    ASSERT_GE(broken.size(), 2u) << ::testing::PrintToString(broken);
    EXPECT_THAT(broken[0], HasSubstr("holds the control character U+0002"));
    EXPECT_THAT(::testing::PrintToString(broken), HasSubstr("YAML syntax"));
    // An '&' inside a string is no anchor, but takes the event pass: still fine.
    EXPECT_EQ(load("lab: x\nvms:\n  a: {kernel: /k, cmdline: \"a&b\"}\n").vms.at("a").cmdline,
              "a&b");
}

TEST(ManifestInput, ReadRegularFileRefusesFifosDevicesAndBigFiles) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("vf-input-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto fifo = (dir / "x.yaml").string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto big = (dir / "big.json").string();
    std::ofstream(big) << std::string(101, 'x');
    Diagnostics diags;
    EXPECT_FALSE(read_regular_file(fifo, 100, diags));  // returns at once: no writer needed
    EXPECT_FALSE(read_regular_file("/dev/zero", 100, diags));
    EXPECT_FALSE(read_regular_file(big, 100, diags));
    EXPECT_EQ(read_regular_file(big, 101, diags), std::string(101, 'x'));
    std::filesystem::remove_all(dir);
    ASSERT_EQ(diags.size(), 3u) << diags.str();
    EXPECT_EQ(diags.items()[0].str(), fifo + ": error: is a FIFO; only regular files are read");
    EXPECT_EQ(diags.items()[1].str(),
              "/dev/zero: error: is a character device; only regular files are read");
    EXPECT_EQ(diags.items()[2].str(), big + ": error: is 101 bytes; a file may be at most 100B");
}

// --- addresses -----------------------------------------------------------------

TEST(ManifestInput, MulticastBroadcastAndZeroMacsAreRefused) {
    expect_error(vm_with("nics: [{network: n, mac: \"01:00:5e:00:00:01\"}]"), "3:32",
                 "a multicast MAC");
    expect_error(vm_with("nics: [{network: n, mac: \"FF:FF:FF:FF:FF:FF\"}]"), "3:32",
                 "the broadcast MAC");
    expect_error(vm_with("nics: [{network: n, mac: \"00:00:00:00:00:00\"}]"), "3:32",
                 "the all-zero MAC");
    expect_error("lab: x\nbridges:\n  br0: {mac: \"33:33:00:00:00:01\"}\n", "3:14",
                 "a multicast MAC");
    expect_error(
        "lab: x\nnetworks:\n  n:\n    ipv4:\n      address: 10.0.0.1/24\n      dhcp: "
        "{hosts: [{mac: \"ff:ff:ff:ff:ff:ff\", ip: 10.0.0.5}]}\n",
        "6:28", "the broadcast MAC");
}

TEST(ManifestInput, SubnetsThatCannotBeALabsAreRefused) {
    auto net = [](const std::string& family, const std::string& address) {
        return "lab: x\nnetworks:\n  n: {" + family + ": {address: \"" + address + "\"}}\n";
    };
    expect_error(net("ipv4", "10.0.0.1/0"), "3:23", "prefix /0 covers every address");
    expect_error(net("ipv4", "127.0.0.1/8"), "3:23", "the loopback range 127.0.0.0/8");
    expect_error(net("ipv4", "224.0.0.1/24"), "3:23", "the multicast range 224.0.0.0/4");
    expect_error(net("ipv4", "169.254.0.1/16"), "3:23", "the link-local range 169.254.0.0/16");
    expect_error(net("ipv4", "0.0.0.1/24"), "3:23", "'this network' range");
    expect_error(net("ipv4", "240.0.0.1/24"), "3:23", "reserved range");
    expect_error(net("ipv4", "100.0.0.1/2"), "3:23", "127.0.0.0/8");  // a /2 covers loopback
    expect_error(net("ipv6", "fe80::1/64"), "3:23", "the link-local range fe80::/10");
    expect_error(net("ipv6", "ff02::1/64"), "3:23", "the multicast range ff00::/8");
    expect_error(net("ipv6", "::1/120"), "3:23", "loopback address");
    expect_error(net("ipv6", "fd00::1/0"), "3:23", "prefix /0");
    expect_error("lab: x\nbridges:\n  br0: {addresses: [127.0.0.2/8]}\n", "3:21",
                 "the loopback range");
    // Private ranges are what labs use.
    EXPECT_NO_THROW(load(net("ipv4", "10.0.0.1/8")));
    EXPECT_NO_THROW(load(net("ipv6", "fd00::1/64")));
}

// --- pools -----------------------------------------------------------------

TEST(ManifestInput, PoolPathMustBeANormalisedNonSystemDirectory) {
    auto pool = [](const std::string& path) {
        return "lab: x\npools:\n  p: {path: \"" + path + "\"}\n";
    };
    expect_error(pool("/"), "3:13", "the root directory cannot be a pool");
    expect_error(pool("///"), "3:13", "the root directory");
    expect_error(pool("/var/lib/virtform/../../../etc"), "3:13", "a path through '..'");
    expect_error(pool("/var/lib/virtform/./p"), "3:13", "a path through '.'");
    expect_error(pool("/var//lib/p"), "3:13", "'//'");
    expect_error(pool("/etc"), "3:13", "a system directory");
    expect_error(pool("/usr/lib/p"), "3:13", "under /usr/");
    expect_error(pool("/proc/self"), "3:13", "under /proc/");
    EXPECT_EQ(load(pool("/var/lib/virtform/pools/x/")).pools.at("p").path,
              "/var/lib/virtform/pools/x");
    EXPECT_NO_THROW(load(pool("/srv/vm-pools/x")));
    EXPECT_NO_THROW(load(pool("/usr/local/pools/x")));
}

// --- overlap (sort and sweep) --------------------------------------------------

TEST(ManifestInput, OverlapsAreFoundAcrossSortedBlocks) {
    // z contains y contains x; w is disjoint; v overlaps only in IPv6.
    auto errors = errors_of(
        "lab: x\nnetworks:\n"
        "  x: {ipv4: {address: 10.1.2.1/24}}\n"
        "  y: {ipv4: {address: 10.1.0.1/16}}\n"
        "  z: {ipv4: {address: 10.0.0.1/8}}\n"
        "  w: {ipv4: {address: 192.168.0.1/24}, ipv6: {address: \"fd00::1/64\"}}\n"
        "  v: {ipv4: {address: 192.168.1.1/24}, ipv6: {address: \"fd00::2/48\"}}\n");
    ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
    EXPECT_EQ(errors[0],
              "lab.yaml:6:3: error: network 'w' (fd00::1/64) overlaps network 'v' (fd00::2/48, "
              "lab.yaml:7:3)");
    // Each overlapping network is named with the block that holds it.
    EXPECT_EQ(errors[1],
              "lab.yaml:5:3: error: network 'z' (10.0.0.1/8) overlaps network 'x' (10.1.2.1/24, "
              "lab.yaml:3:3)");
    EXPECT_EQ(errors[2],
              "lab.yaml:5:3: error: network 'z' (10.0.0.1/8) overlaps network 'y' (10.1.0.1/16, "
              "lab.yaml:4:3)");
}

// --- printing -----------------------------------------------------------------

TEST(TerminalEscape, ControlsAndBadBytesAreShownAsEscapes) {
    EXPECT_EQ(terminal_escape("plain caf\xc3\xa9"), "plain caf\xc3\xa9");
    EXPECT_EQ(terminal_escape("a\x1b[2Jb"), "a\\x1b[2Jb");
    EXPECT_EQ(terminal_escape("l1\nl2\tx\r"), "l1\\nl2\\tx\\r");
    EXPECT_EQ(terminal_escape(std::string("nul\0x", 5)), "nul\\x00x");
    EXPECT_EQ(terminal_escape("del\x7f"), "del\\x7f");
    EXPECT_EQ(terminal_escape("csi\xc2\x9b"), "csi\\u009b");      // C1 CSI
    EXPECT_EQ(terminal_escape("rlo\xe2\x80\xae"), "rlo\\u202e");  // right-to-left override
    EXPECT_EQ(terminal_escape("bad\xff\xc3"), "bad\\xff\\xc3");
}

TEST(TerminalEscape, DiagnosticsAndPlanTextNeverPrintRawEscapes) {
    Diagnostics diags;
    diags.error(Location{"lab\x1b.yaml", 1, 2}, "name '\x1b]0;owned\x07' is bad");
    EXPECT_EQ(diags.items()[0].str(), "lab\\x1b.yaml:1:2: error: name '\\x1b]0;owned\\x07' is bad");

    Plan plan;
    plan.lab = "x";
    plan.warnings.push_back("warn \x1b[31m");
    plan.drift.push_back("drift \x1b[32m");
    Action a;
    a.id = ResourceId{Kind::vm, "a\x1b[1m"};
    a.type = ActionType::update;
    a.cls = ChangeClass::restart;
    a.reason = "why \x1b[33m";
    a.changes.push_back(
        AttributeChange{"cmdline\x1b", "old\x1b[34m", "new\x1b[35m", ChangeClass::restart, ""});
    plan.actions.push_back(a);
    const std::string text = render_plan_text(plan, TextStyle{false});
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
    EXPECT_THAT(text, HasSubstr("\"old\\x1b[34m\" -> \"new\\x1b[35m\""));
    EXPECT_THAT(text, HasSubstr("vm.a\\x1b[1m will be updated"));
}

}  // namespace
}  // namespace virtform
