#pragma once
// Host B from a gtest: tests/hosts/host_b.sh, a second libvirtd on this machine
// in its own network, mount and PID namespaces, reachable over qemu+tcp on a
// veth /30. Shared by the remote-URI and the multi-host tests.
#include <string>

#include "integration/testlib.h"

namespace virtform::testing::host_b {

inline std::string script() {
    return std::string(VIRTFORM_SOURCE_DIR) + "/tests/hosts/host_b.sh";
}

struct Started {
    std::string uri;    ///< qemu+tcp://PEER/system
    std::string error;  ///< "" when host B answers
};

/// Starts (or restarts) host B in namespace `ns`; the veth ends get `prefix`
/// + (y + 1) here and `prefix` + (y + 2) there ("10.252.7." and 8: .9 and .10, /30).
inline Started start(const std::string& ns, const std::string& prefix, int y) {
    const auto r = sh(script() + " start " + ns + " " + prefix + std::to_string(y + 1) + "/30 " +
                      prefix + std::to_string(y + 2) + "/30");
    if (r.code != 0) return {"", r.err + r.out};
    return {trim(r.out), ""};
}

inline void stop(const std::string& ns) { sh(script() + " stop " + ns); }

/// virsh against host B.
inline CommandResult virsh(const std::string& uri, const std::string& args) {
    return sh("virsh -q -c " + uri + " " + args);
}

inline bool has_network(const std::string& uri, const std::string& name) {
    return virsh(uri, "net-info " + name + " >/dev/null 2>&1").code == 0;
}

}  // namespace virtform::testing::host_b
