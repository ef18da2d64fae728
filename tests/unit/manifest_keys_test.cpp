// Every key docs/manifest.md documents for a network, bridge, pool, VM, disk
// (volume) or NIC reaches the plan (issue 9): a change of it is a planned
// attribute change with a class, or a plan error that names it. The keys are
// read from the doc at test time, so a newly documented key fails here until
// the test knows how to change it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "fake_provider.h"
#include "virtform/manifest.h"
#include "virtform/plan.h"
#include "virtform/render.h"

namespace virtform {
namespace {

using testing::FakeProvider;

const std::string kBase = R"(lab: demo
networks:
  net:
    mode: nat
    bridge: vfkeys0
    ipv4:
      address: 10.10.0.1/24
      dhcp:
        range: 10.10.0.100-10.10.0.200
        hosts: [{mac: "52:54:00:00:0b:01", ip: 10.10.0.10, name: h1}]
    ipv6: {address: "fd00:1::1/64"}
    dns: {hosts: [{ip: 10.10.0.10, names: [h1.lab]}]}
    domain: lab.local
    mtu: 1500
    stp: true
    autostart: true
    active: true
  net2: {ipv4: {address: 10.11.0.1/24}}
bridges:
  br0:
    ports: [p1]
    stp: false
    mtu: 1500
    mac: "52:54:00:aa:bb:cc"
    addresses: [10.9.0.1/24]
    up: true
    vlan_filtering: false
pools:
  p: {path: /var/lib/virtform/pools/demo, autostart: true, active: true}
  q: {path: /var/lib/virtform/pools/demo2}
vms:
  web:
    cpus: 1
    max_cpus: 2
    memory: 256MiB
    max_memory: 512MiB
    accel: qemu
    machine: q35
    cpu_mode: host-model
    firmware: bios
    disks:
      - {name: root, pool: p, size: 1GiB, format: qcow2, keep: false, bus: virtio}
      - {cdrom: /iso/a.iso}
    boot: [hd]
    kernel: /img/vmlinuz
    initrd: /img/initrd.gz
    cmdline: console=ttyS0
    nics: [{network: net, mac: "52:54:00:00:0a:01", model: virtio}]
    graphics: none
    console: pty
    cloud_init: {user_data: "#cloud-config\n"}
    state: running
    autostart: false
    shutdown_timeout: 60
)";

/// How to change each documented key in kBase: (text to find, replacement).
/// Keys are "<kind>.<key>" as the doc's tables name them.
const std::map<std::string, std::pair<std::string, std::string>> kEdits = {
    {"network.mode", {"mode: nat", "mode: route"}},
    {"network.bridge", {"bridge: vfkeys0", "bridge: vfkeys1"}},
    {"network.ipv4", {"address: 10.10.0.1/24", "address: 10.10.0.2/24"}},
    {"network.ipv6", {"fd00:1::1/64", "fd00:1::2/64"}},
    {"network.dns", {"names: [h1.lab]", "names: [h2.lab]"}},
    {"network.domain", {"domain: lab.local", "domain: lab2.local"}},
    {"network.mtu", {"mtu: 1500\n    stp: true", "mtu: 9000\n    stp: true"}},
    {"network.stp", {"stp: true", "stp: false"}},
    {"network.autostart", {"autostart: true\n    active", "autostart: false\n    active"}},
    {"network.active", {"active: true\n  net2", "active: false\n  net2"}},
    {"network.ipv4.address", {"address: 10.10.0.1/24", "address: 10.10.0.3/24"}},
    {"network.ipv4.dhcp.range", {"range: 10.10.0.100-", "range: 10.10.0.101-"}},
    {"network.ipv4.dhcp.hosts", {"ip: 10.10.0.10, name: h1", "ip: 10.10.0.11, name: h1"}},
    {"bridge.ports", {"ports: [p1]", "ports: [p1, p2]"}},
    {"bridge.take_over_addresses", {"ports: [p1]", "ports: [p1]\n    take_over_addresses: p1"}},
    {"bridge.stp", {"stp: false", "stp: true"}},
    {"bridge.mtu", {"mtu: 1500\n    mac", "mtu: 9000\n    mac"}},
    {"bridge.mac", {"52:54:00:aa:bb:cc", "52:54:00:aa:bb:cd"}},
    {"bridge.addresses", {"10.9.0.1/24", "10.9.0.2/24"}},
    {"bridge.up", {"up: true", "up: false"}},
    {"bridge.vlan_filtering", {"vlan_filtering: false", "vlan_filtering: true"}},
    {"pool.path", {"pools/demo,", "pools/demo3,"}},
    {"pool.autostart", {"autostart: true, active: true}", "autostart: false, active: true}"}},
    {"pool.active", {"autostart: true, active: true}", "autostart: true, active: false}"}},
    {"vm.cpus", {"cpus: 1", "cpus: 2"}},
    {"vm.max_cpus", {"max_cpus: 2", "max_cpus: 4"}},
    {"vm.memory", {"memory: 256MiB", "memory: 384MiB"}},
    {"vm.max_memory", {"max_memory: 512MiB", "max_memory: 1GiB"}},
    {"vm.accel", {"accel: qemu", "accel: kvm"}},
    {"vm.machine", {"machine: q35", "machine: pc"}},
    {"vm.cpu_mode", {"cpu_mode: host-model", "cpu_mode: maximum"}},
    {"vm.firmware", {"firmware: bios", "firmware: uefi"}},
    {"vm.disks", {"      - {cdrom: /iso/a.iso}\n", ""}},
    {"vm.boot", {"boot: [hd]", "boot: [cdrom, hd]"}},
    {"vm.kernel", {"kernel: /img/vmlinuz", "kernel: /img/vmlinuz2"}},
    {"vm.initrd", {"initrd: /img/initrd.gz", "initrd: /img/initrd2.gz"}},
    {"vm.cmdline", {"cmdline: console=ttyS0", "cmdline: console=ttyS1"}},
    {"vm.nics", {"model: virtio}]", "model: virtio}, {network: net2}]"}},
    {"vm.graphics", {"graphics: none", "graphics: vnc"}},
    {"vm.console", {"console: pty", "console: {file: /var/log/web.log}"}},
    {"vm.cloud_init", {"#cloud-config\\n", "#cloud-config\\nhostname: x\\n"}},
    {"vm.state", {"state: running", "state: stopped"}},
    {"vm.autostart", {"autostart: false\n    shutdown", "autostart: true\n    shutdown"}},
    {"vm.shutdown_timeout", {"shutdown_timeout: 60", "shutdown_timeout: 90"}},
    {"disk.name", {"name: root", "name: root2"}},
    {"disk.pool", {"pool: p, size", "pool: q, size"}},
    {"disk.size", {"size: 1GiB", "size: 2GiB"}},
    {"disk.format", {"format: qcow2", "format: raw"}},
    {"disk.backing", {"format: qcow2,", "format: qcow2, backing: /img/base.qcow2,"}},
    {"disk.keep", {"keep: false", "keep: true"}},
    {"disk.cdrom", {"cdrom: /iso/a.iso", "cdrom: /iso/b.iso"}},
    {"disk.file", {"{cdrom: /iso/a.iso}", "{file: /img/a.img}"}},
    {"disk.bus", {"bus: virtio", "bus: scsi"}},
    {"nic.network", {"network: net, mac", "network: net2, mac"}},
    {"nic.bridge", {"network: net, mac", "bridge: br0, mac"}},
    {"nic.mac", {"52:54:00:00:0a:01", "52:54:00:00:0a:02"}},
    {"nic.model", {"model: virtio}]", "model: e1000}]"}},
};

/// Keys that only matter when their object is created: a change on an
/// existing object is not planned, by design (said in the doc).
const std::map<std::string, std::string> kCreationOnly = {
    {"disk.import", "the image is copied into the volume when it is created"},
    {"disk.allow_backing_chain", "permits the backing/import image when the volume is created"},
};

/// Keys that never reach the host: how tools reach a VM (docs/access.md).
const std::map<std::string, std::string> kNotPlanned = {
    {"vm.groups", "Ansible groups for `virtform inventory`"},
    {"vm.ssh", "how `virtform ssh`, `ssh-config` and `inventory` reach the VM"},
};

/// "<kind>.<key>" for every row of the key tables under the network, bridge,
/// pool and VM sections of docs/manifest.md.
std::vector<std::string> documented_keys() {
    std::ifstream in(std::string(VIRTFORM_SOURCE_DIR) + "/docs/manifest.md");
    EXPECT_TRUE(in.good()) << "cannot read docs/manifest.md";
    std::vector<std::string> keys;
    std::string section, subsection, line;
    bool in_key_table = false;
    while (std::getline(in, line)) {
        if (line.rfind("## ", 0) == 0) {
            section = line.substr(3);
            subsection.clear();
            in_key_table = false;
            continue;
        }
        if (line.rfind("### ", 0) == 0) {
            subsection = line.substr(4);
            in_key_table = false;
            continue;
        }
        if (line.rfind("| Key", 0) == 0) {
            in_key_table = true;
            continue;
        }
        if (line.empty() || line[0] != '|') {
            in_key_table = false;
            continue;
        }
        if (!in_key_table || line.rfind("| `", 0) != 0) continue;
        const auto end = line.find('`', 3);
        const std::string key = line.substr(3, end - 3);
        std::string kind;
        if (section == "Networks")
            kind = subsection.find("`ipv4`") != std::string::npos ? "network.ipv4" : "network";
        else if (section == "Bridges")
            kind = "bridge";
        else if (section == "Pools and volumes")
            kind = "pool";
        else if (section == "Virtual machines")
            kind = subsection == "Disk keys" ? "disk" : subsection == "NIC keys" ? "nic" : "vm";
        else
            continue;
        keys.push_back(kind + "." + key);
    }
    return keys;
}

Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

TEST(ManifestKeys, TheDocListsTheKeysOfEveryKind) {
    const auto keys = documented_keys();
    for (const char* k : {"network.mode", "network.ipv4.dhcp.hosts", "bridge.ports", "pool.path",
                          "vm.shutdown_timeout", "disk.size", "nic.mac"}) {
        EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
    }
}

TEST(ManifestKeys, EveryDocumentedKeyIsPlannedWithAClass) {
    FakeProvider host("demo");
    host.live.kvm_usable = true;
    ASSERT_TRUE(execute(make_plan(load(kBase), host.read()), host).ok());
    const Live live = host.read();
    const Plan again = make_plan(load(kBase), live);
    ASSERT_TRUE(again.empty()) << render_plan_text(again);

    for (const auto& key : documented_keys()) {
        SCOPED_TRACE(key);
        if (kCreationOnly.count(key) != 0 || kNotPlanned.count(key) != 0) continue;
        auto edit = kEdits.find(key);
        if (edit == kEdits.end()) {
            ADD_FAILURE() << "docs/manifest.md documents '" << key
                          << "', which this test does not know how to change: add it to kEdits";
            continue;
        }
        std::string text = kBase;
        const auto at = text.find(edit->second.first);
        ASSERT_NE(at, std::string::npos) << edit->second.first;
        text.replace(at, edit->second.first.size(), edit->second.second);
        const std::string leaf = key.substr(key.rfind('.') + 1);
        try {
            const Plan plan = make_plan(load(text), live);
            ASSERT_FALSE(plan.empty()) << "a change of " << key << " is not planned";
            for (const auto& a : plan.actions) {
                if (a.type != ActionType::update && a.type != ActionType::replace) continue;
                EXPECT_FALSE(a.changes.empty());
                for (const auto& c : a.changes) {
                    EXPECT_FALSE(c.reason.empty()) << c.path;
                    EXPECT_GE(static_cast<int>(c.cls), 0);
                    EXPECT_LE(static_cast<int>(c.cls), static_cast<int>(ChangeClass::replace));
                }
            }
        } catch (const ValidationError& e) {
            // A change the planner refuses, saying which key.
            const std::string text_of = e.diagnostics().str();
            EXPECT_NE(text_of.find(leaf), std::string::npos) << text_of;
        }
    }
}

}  // namespace
}  // namespace virtform
