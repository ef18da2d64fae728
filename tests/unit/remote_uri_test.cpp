// Which libvirt URIs reach another host (remote_host_of), and what a lab
// cannot have there (check_remote_host).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "virtform/adapters/libvirt/connect.h"
#include "virtform/host_checks.h"
#include "virtform/manifest.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;

TEST(RemoteHostOf, LocalUrisAreNotRemote) {
    for (const char* uri :
         {"qemu:///system", "qemu:///session", "qemu+unix:///system",
          "qemu+unix:///system?socket=/run/x.sock", "test:///default", "qemu", ""}) {
        EXPECT_EQ(libvirt::remote_host_of(uri), "") << uri;
    }
}

TEST(RemoteHostOf, TheHostPartWithoutUserPortOrBrackets) {
    EXPECT_EQ(libvirt::remote_host_of("qemu+tcp://10.0.0.2/system"), "10.0.0.2");
    EXPECT_EQ(libvirt::remote_host_of("qemu+ssh://root@lab-b:2222/system?keyfile=/k"), "lab-b");
    EXPECT_EQ(libvirt::remote_host_of("qemu+tls://[fd00::2]:16514/system"), "fd00::2");
    EXPECT_EQ(libvirt::remote_host_of("qemu://localhost/system"), "localhost");  // TLS, remote
    EXPECT_EQ(libvirt::remote_host_of("qemu+ssh:///system"), "ssh");
}

TEST(CheckRemoteHost, BridgesPoolsAndCloudInitAreErrorsAtEachObject) {
    const Desired d = load_manifests({{"lab.yaml",
                                       "lab: r\nbridges:\n  br9: {}\npools:\n  p: {path: "
                                       "/srv/p}\nnetworks:\n  n:\n    mode: isolated\n"
                                       "vms:\n  a:\n    memory: 256MiB\n    cloud_init: "
                                       "{ssh_authorized_keys: [\"ssh-ed25519 K\"]}\n"
                                       "  b:\n    memory: 256MiB\n"}});
    Diagnostics diags;
    check_remote_host(d, "10.0.0.2", diags);
    std::vector<std::string> errors;
    for (const auto& item : diags.items()) errors.push_back(item.str());
    ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
    EXPECT_THAT(
        errors[0],
        HasSubstr("lab.yaml:3:3: error: bridge 'br9': the URI reaches another host (10.0.0.2)"));
    EXPECT_THAT(errors[1], HasSubstr("lab.yaml:5:3: error: pool 'p'"));
    EXPECT_THAT(errors[2], HasSubstr("lab.yaml:10:3: error: VM 'a'"));

    Diagnostics none;
    check_remote_host(load_manifests({{"lab.yaml", "lab: r\nnetworks:\n  n: {mode: isolated}\n"}}),
                      "10.0.0.2", none);
    EXPECT_TRUE(none.items().empty());
}

}  // namespace
}  // namespace virtform
