// Issue 9 item 8: every validation error of every object in one run, each at
// its file:line:col, and no follow-on errors (an error that makes a later check
// meaningless skips only that check, for that object).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "virtform/manifest.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> errors_of(const std::string& text) {
    try {
        load_manifests({{"lab.yaml", text}});
    } catch (const ValidationError& e) {
        std::vector<std::string> out;
        for (const auto& d : e.diagnostics().items()) out.push_back(d.str());
        return out;
    }
    ADD_FAILURE() << "manifest was accepted:\n" << text;
    return {};
}

/// `errors` holds exactly the `expected` ones ({"line:col", fragment}), in any order.
void expect_exactly(const std::vector<std::string>& errors,
                    const std::vector<std::pair<std::string, std::string>>& expected) {
    for (const auto& [where, fragment] : expected) {
        const bool found = std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
            return e.find("lab.yaml:" + where + ": error: ") != std::string::npos &&
                   e.find(fragment) != std::string::npos;
        });
        EXPECT_TRUE(found) << "missing " << where << " " << fragment << " in\n"
                           << ::testing::PrintToString(errors);
    }
    EXPECT_EQ(errors.size(), expected.size()) << ::testing::PrintToString(errors);
}

TEST(ValidationErrors, EveryErrorOfEveryObjectInOneRun) {
    const auto errors = errors_of(R"(lab: demo
networks:
  a:
    mode: nat
    ipv4:
      address: 10.1.0.0/24
      dhcp: {range: 10.1.1.10-10.1.1.20}
  b:
    mode: nat
    ipv4:
      address: 10.1.0.1/16
      dhcp:
        range: 10.1.0.20-10.1.0.10
  c:
    mode: bogus
    dns:
      hosts: [{ip: 10.9.9.9, names: ["bad_name!"]}]
  d:
    mode: nat
    ipv4:
      address: 10.3.0.1/32
      dhcp:
        range: 10.3.0.20-10.3.0.10
        hosts: [{mac: "nope", ip: 10.3.0.5}]
bridges:
  thisnameiswaytoolong0: {}
  vfbr1:
    stp: maybe
pools:
  p: {path: relative/dir}
vms:
  v1:
    cpus: x
    max_cpus: 2
    memory: 12XB
    max_memory: 256MiB
    disks: [{name: d, pool: nosuchpool, size: 1GiB}]
  v2:
    kernel: relative/vmlinuz
    nics: [{bridge: vfbr1, mac: "zz:00:00:00:00:01"}]
)");
    expect_exactly(
        errors,
        {
            // a: a bad gateway; its DHCP range and its overlap with b still count.
            {"6:16", "10.1.0.0 is the subnet's network address"},
            {"7:21",
             "the DHCP range 10.1.1.10-10.1.1.20 of the DHCP of the ipv4 of network 'a' "
             "is outside the subnet 10.1.0.0/24"},
            {"8:3", "network 'b' (10.1.0.1/16) overlaps network 'a' (10.1.0.0/24"},
            {"13:16", "network 'b' is reversed"},
            // c: an unknown mode, no "mode nat needs an address" after it.
            {"15:11", "'mode' of network 'c' must be one of"},
            {"17:38", "DNS name 'bad_name!'"},
            // d: no usable subnet; the DHCP's own errors still count.
            {"21:16", "prefix /32 leaves no room for guests"},
            {"23:16", "network 'd' is reversed"},
            {"24:23", "'mac' of a DHCP host of the DHCP of the ipv4 of network 'd' is not a MAC"},
            {"26:3", "interface name 'thisnameiswaytoolong0' is 21 characters"},
            {"28:10", "'stp' in bridge 'vfbr1' must be true or false"},
            {"30:13", "'path' of pool 'p' must be an absolute path"},
            // v1: bad cpus and memory, no comparison of the maxima with the defaults.
            {"33:11", "'cpus' in VM 'v1' must be an integer"},
            {"35:13", "'memory' of VM 'v1' is not a size"},
            {"37:13", "names pool 'nosuchpool'"},
            {"39:13", "'kernel' of VM 'v2' must be an absolute path"},
            {"40:33", "'mac' of a NIC of VM 'v2' is not a MAC address"},
        });
}

TEST(ValidationErrors, AComparisonStillRunsWhenBothSidesAreValid) {
    const auto errors = errors_of(R"(lab: demo
vms:
  v:
    cpus: 4
    max_cpus: 2
    memory: 1GiB
    max_memory: 512MiB
)");
    expect_exactly(errors, {{"5:15", "'max_cpus' of VM 'v' (2) is below 'cpus' (4)"},
                            {"7:17", "'max_memory' of VM 'v' (512MiB) is below 'memory' (1GiB)"}});
}

}  // namespace
}  // namespace virtform
