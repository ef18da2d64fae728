// Plan errors that come from the host rather than the manifest (issue 9):
// accel: kvm where KVM does not work, ...
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "virtform/manifest.h"
#include "virtform/plan.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;

Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

std::string plan_errors(const Desired& desired, const Live& live) {
    try {
        make_plan(desired, live);
    } catch (const ValidationError& e) {
        return e.diagnostics().str();
    }
    return {};
}

const std::string kKvmVm = R"(lab: demo
vms:
  web: {accel: kvm, kernel: /img/vmlinuz}
)";

TEST(HostChecks, AccelKvmWhereKvmIsNotUsableIsAPlanErrorWithTheDoctorsReason) {
    Live live;
    live.kvm_usable = false;
    live.kvm_detail = "/dev/kvm does not exist";
    const std::string errors = plan_errors(load(kKvmVm), live);
    EXPECT_THAT(errors, HasSubstr("lab.yaml:3:3"));
    EXPECT_THAT(errors, HasSubstr("VM 'web' has accel: kvm, but KVM is not usable on this host: "
                                  "/dev/kvm does not exist"));
    EXPECT_THAT(errors, HasSubstr("virtform doctor"));
    live.kvm_usable = true;
    EXPECT_EQ(plan_errors(load(kKvmVm), live), "");
    // auto falls back to TCG with a warning, never an error.
    live.kvm_usable = false;
    EXPECT_EQ(plan_errors(load(R"(lab: demo
vms:
  web: {accel: auto, kernel: /img/vmlinuz}
)"),
                          live),
              "");
}

const std::string kNet = R"(lab: demo
networks:
  net:
    mode: isolated
    ipv4:
      address: 10.20.0.1/24
      dhcp: {hosts: [{mac: "52:54:00:00:0c:01", ip: 10.20.0.10}]}
vms:
  web: {accel: qemu, kernel: /img/vmlinuz, nics: [{network: net, mac: "52:54:00:00:0c:02"}]}
)";

Network live_network(const std::string& name, const std::string& cidr, const std::string& owner,
                     bool active = true) {
    Network n;
    n.name = name;
    n.mode = NetworkMode::isolated;
    n.ipv4 = IpConfig{*Cidr::parse(cidr), std::nullopt, {}};
    n.bridge = "virbr-" + name;
    n.owner = owner;
    n.active = active;
    return n;
}

TEST(HostChecks, SubnetOverlapsNameBothSides) {
    Live live;
    live.networks["other"] = live_network("other", "10.20.0.1/16", "b");
    std::string errors = plan_errors(load(kNet), live);
    EXPECT_THAT(errors, HasSubstr("network 'net': subnet 10.20.0.0/24 overlaps 10.20.0.0/16 of "
                                  "libvirt network 'other' (lab 'b'), which is active on the host"));
    // Inactive: libvirt would start it only if free.
    live.networks["other"].active = false;
    EXPECT_EQ(plan_errors(load(kNet), live), "");
    // This lab's network that the manifest drops is deleted first.
    live.networks["other"] = live_network("other", "10.20.0.1/16", "demo");
    EXPECT_EQ(plan_errors(load(kNet), live), "");

    Live addr;
    addr.interfaces["eth1"] = HostInterface{"eth1", "", "", {*Cidr::parse("10.20.0.5/24")}};
    EXPECT_THAT(plan_errors(load(kNet), addr),
                HasSubstr("network 'net': subnet 10.20.0.0/24 overlaps address 10.20.0.5/24 of "
                          "host interface 'eth1'"));
    Live route;
    route.routes.push_back({*Cidr::parse("10.20.0.0/22"), "eth2", "192.168.1.1"});
    EXPECT_THAT(plan_errors(load(kNet), route),
                HasSubstr("network 'net': subnet 10.20.0.0/24 overlaps the host's route to "
                          "10.20.0.0/22 (dev eth2 via 192.168.1.1)"));
}

TEST(HostChecks, FixedMacOfAnotherDomainIsAnError) {
    Live live;
    Vm other;
    other.name = "elsewhere";
    Nic nic;
    nic.source = "x";
    nic.mac = "52:54:00:00:0c:02";
    other.nics = {nic};
    live.vms["elsewhere"] = other;
    EXPECT_THAT(plan_errors(load(kNet), live),
                HasSubstr("VM 'web': MAC 52:54:00:00:0c:02 is already used by domain 'elsewhere' "
                          "(no lab) on the host"));
}

TEST(HostChecks, DeletingANetworkNamesItsUsersOnTheHost) {
    Live live;
    live.networks["net"] = live_network("net", "10.20.0.1/24", "demo");
    Vm theirs;
    theirs.name = "b-vm";
    theirs.owner = "b";
    Nic nic;
    nic.source = "net";
    nic.mac = "52:54:00:00:0d:01";
    theirs.nics = {nic};
    live.vms["b-vm"] = theirs;
    Desired nothing;
    nothing.lab = "demo";
    const Plan plan = make_plan(nothing, live);
    ASSERT_EQ(plan.actions.size(), 1u);
    ASSERT_EQ(plan.actions[0].users.size(), 1u);
    EXPECT_EQ(plan.actions[0].users[0], "vm.b-vm of lab 'b' (a NIC on network.net)");
    // This lab's own VM going in the same plan is no user.
    theirs.owner = "demo";
    live.vms["b-vm"] = theirs;
    const Plan own = make_plan(nothing, live);
    for (const auto& a : own.actions) EXPECT_TRUE(a.users.empty()) << a.id.str();
}

TEST(HostChecks, DeletingABridgeNamesTheVmsOnIt) {
    Live live;
    Bridge br;
    br.name = "vfbr0";
    br.owner = "demo";
    live.bridges["vfbr0"] = br;
    live.interfaces["vfbr0"] = HostInterface{"vfbr0", "bridge", "", {}};
    live.interfaces["eth9"] = HostInterface{"eth9", "veth", "vfbr0", {}};
    live.interfaces["vnet3"] = HostInterface{"vnet3", "tun", "vfbr0", {}};
    Vm vm;
    vm.name = "hand";
    Nic nic;
    nic.type = Nic::Type::bridge;
    nic.source = "vfbr0";
    nic.mac = "52:54:00:00:0e:01";
    Vm running = vm;
    running.nics = {nic};
    vm.running = std::make_shared<const Vm>(running);  // attached live only
    live.vms["hand"] = vm;
    Desired nothing;
    nothing.lab = "demo";
    const Plan plan = make_plan(nothing, live);
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_THAT(::testing::PrintToString(plan.actions[0].users),
                HasSubstr("vm.hand of no lab (a NIC on bridge.vfbr0)"));
    // Ports of a bridge that left the manifest are released (their earlier
    // declaration is not recorded); libvirt's tap counts through its VM.
    EXPECT_EQ(plan.actions[0].users.size(), 1u) << ::testing::PrintToString(plan.actions[0].users);
}

TEST(HostChecks, UsingAnotherLabsNetworkIsAReadOnlyWarning) {
    Live live;
    live.networks["shared"] = live_network("shared", "10.30.0.1/24", "b");
    const Plan plan = make_plan(load(R"(lab: demo
vms:
  web: {accel: qemu, kernel: /img/vmlinuz, nics: [{network: shared}]}
)"),
                                live);
    EXPECT_THAT(::testing::PrintToString(plan.warnings),
                HasSubstr("vm.web uses network.shared of lab 'b' (read-only"));
}

}  // namespace
}  // namespace virtform
