// `hosts:` and `host:` (docs/manifest.md, "Hosts"): what the loader accepts,
// what it refuses (each at the value, naming both objects and hosts), and the
// split of the desired state by host the engine plans from.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/manifest_text.h"
#include "virtform/lab_hosts.h"

namespace virtform {
namespace {

using test_manifest::errors_of;
using test_manifest::expect_error;
using test_manifest::load;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kHosts =
    "lab: l\n"
    "hosts:\n"
    "  b:\n"
    "    uri: qemu+tcp://10.0.0.2/system\n"
    "  c:\n"
    "    uri: qemu+ssh://root@c.example/system\n";

TEST(ManifestHosts, ObjectsGoToTheirHostAndLocalIsTheDefault) {
    const Desired d = load(kHosts +
                           "networks:\n"
                           "  na: {mode: isolated}\n"
                           "  nb: {mode: isolated, host: b}\n"
                           "  nl: {mode: isolated, host: local}\n"
                           "pools:\n"
                           "  pb: {path: /var/lib/pb, host: b}\n"
                           "vms:\n"
                           "  vb:\n"
                           "    host: b\n"
                           "    nics: [{network: nb}]\n"
                           "    disks: [{name: root, pool: pb, size: 1G}]\n");
    ASSERT_EQ(d.hosts.size(), 2u);
    EXPECT_EQ(d.hosts.at("b").uri, "qemu+tcp://10.0.0.2/system");
    EXPECT_EQ(d.networks.at("na").host, "");
    EXPECT_EQ(d.networks.at("nl").host, "") << "host: local is the default host";
    EXPECT_EQ(d.networks.at("nb").host, "b");
    EXPECT_EQ(d.networks.at("nb").host_where.line, 9);
    EXPECT_EQ(d.volumes.at("pb/vb-root.qcow2").host, "b") << "a volume lives where its VM does";
    EXPECT_THAT(lab_host_names(d), ElementsAre("local", "b", "c"));

    const Desired b = desired_for_host(d, "b");
    EXPECT_EQ(b.lab, "l");
    EXPECT_TRUE(b.hosts.empty()) << "a part is a lab of one host";
    EXPECT_EQ(b.networks.size(), 1u);
    EXPECT_EQ(b.networks.count("nb"), 1u);
    EXPECT_EQ(b.pools.count("pb"), 1u);
    EXPECT_EQ(b.vms.count("vb"), 1u);
    EXPECT_EQ(b.volumes.size(), 1u);
    const Desired local = desired_for_host(d, "local");
    EXPECT_EQ(local.networks.size(), 2u);
    EXPECT_TRUE(local.vms.empty());
    EXPECT_TRUE(local.pools.empty());
    EXPECT_TRUE(desired_for_host(d, "c").networks.empty());
    EXPECT_EQ(host_of(d, {Kind::vm, "vb"}), "b");
    EXPECT_EQ(host_of(d, {Kind::network, "na"}), "local");
    EXPECT_EQ(host_of(d, {Kind::volume, "pb/vb-root.qcow2"}), "b");
}

TEST(ManifestHosts, AManifestWithoutHostsHasOneHost) {
    const Desired d = load("lab: l\nnetworks:\n  n: {mode: isolated}\n");
    EXPECT_TRUE(d.hosts.empty());
    EXPECT_THAT(lab_host_names(d), ElementsAre("local"));
    EXPECT_EQ(desired_for_host(d, "local").networks.size(), 1u);
}

TEST(ManifestHosts, AnUnknownHostIsAnErrorAtTheValueWithASuggestion) {
    expect_error(kHosts + "networks:\n  n: {mode: isolated, host: bb}\n", "8:29",
                 "network 'n' names host 'bb', which 'hosts:' does not declare (hosts: local, b, "
                 "c); did you mean 'b'?");
    expect_error("lab: l\nvms:\n  v:\n    host: elsewhere\n", "4:11",
                 "VM 'v' names host 'elsewhere'");
    expect_error("lab: l\npools:\n  p: {path: /var/lib/p, host: x}\n", "3:31", "pool 'p' names");
}

TEST(ManifestHosts, AnUnknownHostIsOneErrorWithNoFollowOnAboutReferences) {
    // The VM's network is on local; an undeclared host is not also "across hosts",
    // and a bridge on it is not also "on another host".
    const auto errors = errors_of(kHosts +
                                  "networks:\n  n: {mode: isolated}\n"
                                  "bridges:\n  br0: {host: bb}\n"
                                  "vms:\n  v: {host: bb, nics: [{network: n}]}\n");
    ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("VM 'v' names host 'bb'"));
    EXPECT_THAT(errors[1], HasSubstr("bridge 'br0' names host 'bb'"));
}

TEST(ManifestHosts, LocalIsReservedAndEveryHostNeedsAUri) {
    expect_error("lab: l\nhosts:\n  local: {uri: qemu:///system}\n", "3:3",
                 "host 'local' is reserved");
    expect_error("lab: l\nhosts:\n  b: {}\n", "3:3", "host 'b' needs 'uri'");
    expect_error("lab: l\nhosts:\n  b: {uri: not-a-uri}\n", "3:12",
                 "'uri' of host 'b' is not a libvirt URI");
    expect_error("lab: l\nhosts:\n  b: {uri: \"qemu+tcp://x/system\\u0007\"}\n", "3:12", "");
    expect_error(
        "lab: l\nhosts:\n  b: {uri: \"qemu+tcp://" + std::string(1100, 'x') + "/system\"}\n",
        "3:12", "at most 1024");
    expect_error("lab: l\nhosts:\n  b/x: {uri: qemu+tcp://x/system}\n", "3:3",
                 "host name 'b/x' is not valid");
    expect_error("lab: l\nhosts:\n  b: {uri: qemu+tcp://x/system, port: 1}\n", "3:33", "port");
}

TEST(ManifestHosts, TwoNamesForOneUriAreAnError) {
    expect_error(
        "lab: l\nhosts:\n  b: {uri: qemu+tcp://x/system}\n  c: {uri: qemu+tcp://x/system}\n", "4:3",
        "host 'c' has the URI qemu+tcp://x/system of host 'b' (lab.yaml:3:3)");
}

TEST(ManifestHosts, ReferencesAcrossHostsAreErrorsNamingBothObjectsAndHosts) {
    // VM NIC -> network
    expect_error(kHosts +
                     "networks:\n  n: {mode: isolated}\nvms:\n  v: {host: b, nics: "
                     "[{network: n}]}\n",
                 "10:3",
                 "VM 'v' on host 'b' refers to network 'n' on host 'local': references across "
                 "hosts are not supported");
    // VM disk (its volume) -> pool
    expect_error(kHosts +
                     "pools:\n  p: {path: /var/lib/p, host: c}\nvms:\n  v:\n    host: b\n"
                     "    disks: [{name: root, pool: p, size: 1G}]\n",
                 "10:3",
                 "VM 'v' (disk 'root', volume p/v-root.qcow2) on host 'b' refers to pool 'p' on "
                 "host 'c'");
    // VM NIC -> a declared bridge (which is local)
    const auto errors = errors_of(kHosts +
                                  "bridges:\n  br0: {}\nvms:\n  v: {host: b, nics: "
                                  "[{bridge: br0}]}\n");
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("VM 'v' on host 'b' refers to bridge 'br0' on host 'local'"));
    // network in bridge mode -> a declared bridge
    expect_error(kHosts +
                     "bridges:\n  br0: {}\nnetworks:\n  n: {mode: bridge, bridge: br0, "
                     "host: c}\n",
                 "10:3", "network 'n' on host 'c' refers to bridge 'br0' on host 'local'");
    // Same host: fine.
    EXPECT_NO_THROW(load(kHosts + "networks:\n  n: {mode: isolated, host: b}\nvms:\n  v: {host: "
                                  "b, nics: [{network: n}]}\n"));
}

TEST(ManifestHosts, ABridgeOnAnotherHostIsAnErrorSayingWhereToRunVirtform) {
    expect_error(kHosts + "bridges:\n  br0: {host: b}\n", "8:15",
                 "bridge 'br0' is on host 'b': bridges are netlink objects, managed on the host "
                 "virtform runs on only; run virtform on 'b'");
}

TEST(ManifestHosts, NamesStayUniqueAcrossHostsButSubnetsMayRepeat) {
    // One name, two hosts: still one object (ids like network.n stay unambiguous).
    const auto dup = test_manifest::load_errors(
        kHosts + "networks:\n  n: {mode: isolated}\n  n: {mode: isolated, host: b}\n");
    EXPECT_FALSE(dup.empty());
    // The same subnet on two hosts is two separate segments, not an overlap.
    EXPECT_NO_THROW(load(kHosts +
                         "networks:\n"
                         "  n1: {mode: nat, ipv4: {address: 192.168.50.1/24}}\n"
                         "  n2: {mode: nat, ipv4: {address: 192.168.50.1/24}, host: b}\n"));
    expect_error(kHosts +
                     "networks:\n"
                     "  n1: {mode: nat, ipv4: {address: 192.168.50.1/24}, host: b}\n"
                     "  n2: {mode: nat, ipv4: {address: 192.168.50.1/24}, host: b}\n",
                 "9:3", "overlaps network 'n1'");
}

TEST(ManifestHosts, HostComesFromDefaultsTemplatesAndCounts) {
    const Desired d = load(kHosts +
                           "defaults:\n"
                           "  networks: {host: b}\n"
                           "templates:\n"
                           "  vms:\n"
                           "    web: {host: c, memory: 256MiB}\n"
                           "networks:\n"
                           "  nb: {mode: isolated}\n"
                           "  nl: {mode: isolated, host: local}\n"
                           "  nc: {mode: isolated, host: c}\n"
                           "vms:\n"
                           "  web:\n"
                           "    template: web\n"
                           "    count: 2\n"
                           "    nics: [{network: nc}]\n");
    EXPECT_EQ(d.networks.at("nb").host, "b") << "from defaults";
    EXPECT_EQ(d.networks.at("nl").host, "") << "the object's own host: local wins over defaults";
    EXPECT_EQ(d.vms.at("web-1").host, "c") << "from the template";
    EXPECT_EQ(d.vms.at("web-2").host, "c");
    EXPECT_EQ(desired_for_host(d, "c").vms.size(), 2u);
}

}  // namespace
}  // namespace virtform
