// Loader and validator, with manifests written inline (ninja's AssertParse).
#include "virtform/manifest.h"
#include "unit/manifest_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace virtform {
namespace {

using namespace test_manifest;  // NOLINT(google-build-using-namespace)

using ::testing::HasSubstr;

constexpr const char* kFull = R"(lab: demo
networks:
  labnat:
    mode: nat
    bridge: virbr10
    ipv4:
      address: 192.168.100.1/24
      dhcp:
        range: 192.168.100.100-192.168.100.200
        hosts:
          - {mac: "52:54:00:AA:00:10", ip: 192.168.100.10, name: web1}
          - {mac: "52:54:00:00:00:09", ip: 192.168.100.9}
    ipv6:
      address: fd00:64::1/64
      dhcp: {range: {start: "fd00:64::100", end: "fd00:64::1ff"}}
    dns:
      hosts: [{ip: 192.168.100.10, names: [web1.lab, www.lab]}]
    domain: demo.lab
    mtu: 9000
    stp: false
    autostart: false
    active: true
  iso:
    mode: isolated
)";

TEST(Manifest, LoadsEveryNetworkField) {
    const Desired d = load(kFull);
    EXPECT_EQ(d.lab, "demo");
    ASSERT_EQ(d.networks.size(), 2u);
    const Network& n = d.networks.at("labnat");
    EXPECT_EQ(n.mode, NetworkMode::nat);
    EXPECT_EQ(n.bridge, "virbr10");
    ASSERT_TRUE(n.ipv4);
    EXPECT_EQ(n.ipv4->address.str(), "192.168.100.1/24");
    ASSERT_TRUE(n.ipv4->dhcp_range);
    EXPECT_EQ(n.ipv4->dhcp_range->start.str(), "192.168.100.100");
    ASSERT_EQ(n.ipv4->hosts.size(), 2u);
    // Sorted by MAC, MAC lower-cased.
    EXPECT_EQ(n.ipv4->hosts[0].mac, "52:54:00:00:00:09");
    EXPECT_EQ(n.ipv4->hosts[1].mac, "52:54:00:aa:00:10");
    EXPECT_EQ(n.ipv4->hosts[1].name, "web1");
    ASSERT_TRUE(n.ipv6);
    EXPECT_EQ(n.ipv6->dhcp_range->end.str(), "fd00:64::1ff");
    ASSERT_EQ(n.dns_hosts.size(), 1u);
    EXPECT_EQ(n.dns_hosts[0].names, (std::vector<std::string>{"web1.lab", "www.lab"}));
    EXPECT_EQ(n.domain, "demo.lab");
    EXPECT_EQ(n.mtu, 9000);
    EXPECT_FALSE(n.stp);
    EXPECT_FALSE(n.autostart);
    EXPECT_TRUE(n.active);
    EXPECT_EQ(n.where.str(), "lab.yaml:3:3");
    EXPECT_EQ(d.networks.at("iso").mode, NetworkMode::isolated);
    EXPECT_FALSE(d.networks.at("iso").bridge);
}

TEST(Manifest, DefaultsAreTheOnesDocumented) {
    const Network n =
        load("lab: x\nnetworks:\n  n: {ipv4: {address: 10.1.0.1/24}}\n").networks.at("n");
    EXPECT_EQ(n.mode, NetworkMode::nat);
    EXPECT_TRUE(n.stp);
    EXPECT_TRUE(n.autostart);
    EXPECT_TRUE(n.active);
    EXPECT_FALSE(n.mtu);
}

TEST(Manifest, UnknownKeySuggestsTheClosest) {
    expect_error(
        "lab: x\nnetworks:\n  n:\n    mode: nat\n    ipv4: {address: 10.0.0.1/24}\n    autostrat: "
        "true\n",
        "6:5", "unknown key 'autostrat' in network 'n'; did you mean 'autostart'?");
    expect_error("lab: x\nnetwork: {}\n", "2:1", "did you mean 'networks'?");
}

TEST(Manifest, WrongTypes) {
    expect_error("lab: x\nnetworks:\n  n: {ipv4: {address: 10.0.0.1/24}, mtu: big}\n", "3:42",
                 "'mtu' in network 'n' must be an integer, got 'big'");
    expect_error("lab: x\nnetworks:\n  n: {ipv4: {address: 10.0.0.1/24}, autostart: maybe}\n",
                 "3:48", "must be true or false");
    expect_error("lab: x\nnetworks: [a, b]\n", "2:11",
                 "'networks' in the manifest must be a mapping, got a list");
    expect_error("lab: x\nnetworks:\n  n: {ipv4: [10.0.0.1/24]}\n", "3:13",
                 "must be a mapping, got a list");
    expect_error("lab: x\nnetworks:\n  n: {ipv4: {address: 10.0.0.1/24}, mtu: 10}\n", "3:42",
                 "between 68 and 65535");
}

TEST(Manifest, BadAddresses) {
    expect_error("lab: x\nnetworks:\n  n: {ipv4: {address: 10.0.0.300/24}}\n", "3:23",
                 "is not an address with prefix ('10.0.0.300' is not an IP address)");
    expect_error("lab: x\nnetworks:\n  n: {ipv4: {address: 10.0.0.1}}\n", "3:23",
                 "missing the prefix");
    expect_error("lab: x\nnetworks:\n  n: {ipv4: {address: fd00::1/64}}\n", "3:23",
                 "must be an IPv4 address");
    expect_error("lab: x\nnetworks:\n  n: {ipv4: {address: 10.0.0.0/24}}\n", "3:23",
                 "network address");
    expect_error(
        "lab: x\nnetworks:\n  n:\n    ipv4:\n      address: 10.0.0.1/24\n      dhcp:\n        "
        "hosts:\n"
        "          - {mac: '52:54:00:zz:00:01', ip: 10.0.0.5}\n",
        "8:19", "is not a MAC address: '52:54:00:zz:00:01'");
}

TEST(Manifest, DhcpRangeOutsideOrReversed) {
    const std::string head =
        "lab: x\nnetworks:\n  n:\n    ipv4:\n      address: 10.0.0.1/24\n      dhcp:\n";
    expect_error(head + "        range: 10.0.0.100-10.0.1.20\n", "7:16",
                 "the DHCP range 10.0.0.100-10.0.1.20 of the DHCP of the ipv4 of network 'n' is "
                 "outside the subnet 10.0.0.0/24");
    expect_error(head + "        range: 10.0.0.200-10.0.0.100\n", "7:16", "is reversed");
    expect_error(head + "        range: 10.0.0.200\n", "7:16", "must read 'first-last'");
}

TEST(Manifest, StaticHostsOutsideOrDuplicated) {
    const std::string head =
        "lab: x\nnetworks:\n  n:\n    ipv4:\n      address: 10.0.0.1/24\n      dhcp:\n        "
        "hosts:\n";
    expect_error(head + "          - {mac: '52:54:00:00:00:01', ip: 10.9.0.5}\n", "8:44",
                 "DHCP host address 10.9.0.5 is outside the subnet 10.0.0.0/24");
    expect_error(head +
                     "          - {mac: '52:54:00:00:00:01', ip: 10.0.0.5}\n"
                     "          - {mac: '52:54:00:00:00:01', ip: 10.0.0.6}\n",
                 "9:19",
                 "DHCP host mac '52:54:00:00:00:01' in the DHCP of the ipv4 of network 'n' is "
                 "duplicated (first at line 8)");
    expect_error(head +
                     "          - {mac: '52:54:00:00:00:01', ip: 10.0.0.5}\n"
                     "          - {mac: '52:54:00:00:00:02', ip: 10.0.0.5}\n",
                 "9:44", "DHCP host ip '10.0.0.5'");
    expect_error(head + "          - {mac: '52:54:00:00:00:01', ip: 10.0.0.1}\n", "8:44",
                 "the network's own address");
}

TEST(Manifest, DuplicateNames) {
    expect_error("lab: x\nnetworks:\n  n: {mode: isolated}\n  n: {mode: isolated}\n", "4:3",
                 "duplicate key 'n' in networks (first at line 3)");
    // Across files: names the first declaration.
    try {
        load_manifests({{"a.yaml", "lab: x\nnetworks:\n  n: {mode: isolated}\n"},
                        {"b.yaml", "networks:\n  n: {mode: isolated}\n"}});
        FAIL();
    } catch (const ValidationError& e) {
        ASSERT_EQ(e.diagnostics().size(), 1u);
        EXPECT_EQ(e.diagnostics().items()[0].str(),
                  "b.yaml:2:3: error: network 'n' is declared twice (first at a.yaml:3:3)");
    }
}

TEST(Manifest, BridgeNamesTheKernelRejects) {
    expect_error("lab: x\nnetworks:\n  n: {mode: isolated, bridge: virbr-much-too-long}\n", "3:31",
                 "interface name 'virbr-much-too-long' is 19 characters; Linux allows at most 15");
    expect_error("lab: x\nnetworks:\n  n: {mode: isolated, bridge: 'br/0'}\n", "3:31",
                 "contains '/'");
    expect_error("lab: x\nnetworks:\n  n: {mode: isolated, bridge: 'br 0'}\n", "3:31",
                 "contains ' '");
}

TEST(Manifest, ObjectNamesLibvirtRejects) {
    expect_error("lab: x\nnetworks:\n  'my/net': {mode: isolated}\n", "3:3",
                 "network name 'my/net' is not valid");
    expect_error("lab: 'a lab'\n", "1:6", "lab name 'a lab' is not valid");
}

TEST(Manifest, TwoNetworksOnOneBridgeOrOverlappingSubnets) {
    auto errors = errors_of(
        "lab: x\nnetworks:\n  a: {bridge: virbr9, ipv4: {address: 10.0.0.1/16}}\n"
        "  b: {bridge: virbr9, ipv4: {address: 10.0.5.1/24}}\n");
    ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
    EXPECT_EQ(errors[0],
              "lab.yaml:4:3: error: network 'b' claims bridge 'virbr9', which network 'a' "
              "(lab.yaml:3:3) already uses");
    EXPECT_EQ(errors[1],
              "lab.yaml:4:3: error: network 'b' (10.0.5.1/24) overlaps network 'a' (10.0.0.1/16, "
              "lab.yaml:3:3)");
}

TEST(Manifest, ModeRules) {
    expect_error("lab: x\nnetworks:\n  n: {mode: bridge}\n", "3:6",
                 "in mode bridge and needs 'bridge'");
    expect_error(
        "lab: x\nnetworks:\n  n: {mode: bridge, bridge: br0, ipv4: {address: 10.0.0.1/24}}\n",
        "3:40", "'ipv4' cannot be set on network 'n'");
    expect_error("lab: x\nnetworks:\n  n: {mode: nat}\n", "3:6", "needs an 'ipv4'");
    expect_error("lab: x\nnetworks:\n  n: {mode: natt, ipv4: {address: 10.0.0.1/24}}\n", "3:13",
                 "did you mean 'nat'?");
}

TEST(Manifest, ReportsEveryErrorAtOnce) {
    auto errors = errors_of(
        "lab: x\nnetworks:\n  a: {mtu: 1, ipv4: {address: bad}}\n  b: {colour: red, mode: "
        "isolated}\n");
    EXPECT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
}

TEST(Manifest, YamlSyntaxErrorHasItsPosition) {
    auto errors = errors_of("lab: x\nnetworks:\n  n: {mode: nat\n");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_THAT(errors[0], HasSubstr("lab.yaml:4:1: error: YAML syntax"));
}

TEST(Manifest, LabIsRequiredAndMustAgree) {
    expect_error("networks: {}\n", "1:1", "needs 'lab: NAME'");
    try {
        load_manifests({{"a.yaml", "lab: x\n"}, {"b.yaml", "lab: y\n"}});
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_EQ(e.diagnostics().items()[0].str(),
                  "b.yaml:1:6: error: lab 'y' differs from lab 'x' declared at a.yaml:1:6; one "
                  "manifest set describes one lab");
    }
}

TEST(Manifest, DirectoryLoadsYamlFilesInOrder) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("vf-manifest-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "10-lab.yaml") << "lab: x\n";
    std::ofstream(dir / "20-nets.yml") << "networks:\n  n: {mode: isolated}\n";
    std::ofstream(dir / "README.txt") << "not a manifest";
    const Desired d = load_manifest_files({dir.string()});
    fs::remove_all(dir);
    EXPECT_EQ(d.lab, "x");
    EXPECT_EQ(d.networks.count("n"), 1u);
    ASSERT_EQ(d.files.size(), 2u);
    EXPECT_THAT(d.files[1], HasSubstr("20-nets.yml"));
}

TEST(Manifest, MissingFileIsAnError) {
    try {
        load_manifest_files({"/nonexistent/lab.yaml"});
        FAIL();
    } catch (const ValidationError& e) {
        EXPECT_EQ(e.diagnostics().items()[0].str(),
                  "/nonexistent/lab.yaml: error: no such file or directory");
    }
}

}  // namespace
}  // namespace virtform
