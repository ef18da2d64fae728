#pragma once
// Helpers shared by the libvirt integration tests (domain XML, VM adapter):
// a connection, shell commands, unique names, and attribute-wise comparison.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "virtform/c_ptr.h"
#include "virtform/plan.h"

namespace vftest {

using ConnPtr = std::unique_ptr<virConnect, virtform::Free<virConnectClose>>;
using DomPtr = std::unique_ptr<virDomain, virtform::Free<virDomainFree>>;
using NetPtr = std::unique_ptr<virNetwork, virtform::Free<virNetworkFree>>;
using PoolPtr = std::unique_ptr<virStoragePool, virtform::Free<virStoragePoolFree>>;

inline void silent(void*, virErrorPtr) {}

inline ConnPtr connect() {
    virSetErrorFunc(nullptr, silent);
    return ConnPtr(virConnectOpen("qemu:///system"));
}

inline std::string last_error() {
    const char* msg = virGetLastErrorMessage();
    return msg != nullptr ? msg : "";
}

/// "vf-it-<pid>-<suffix>": unique per test run, recognisable for clean-up.
inline std::string unique_name(const std::string& suffix) {
    return "vf-it-" + std::to_string(::getpid()) + "-" + suffix;
}

/// The accelerator for a domain the test only defines: kvm where libvirt accepts
/// `<domain type='kvm'>` (it asks QEMU, which needs /dev/kvm; a /dev/kvm guests cannot
/// use still defines), else qemu (TCG), which every host has. Tests that start
/// guests use accel: qemu, or accel: auto, which the doctor's probe decides.
inline virtform::Accel definable_accel(virConnectPtr conn) {
    char* caps = virConnectGetDomainCapabilities(conn, nullptr, nullptr, nullptr, "kvm", 0);
    if (caps == nullptr) return virtform::Accel::qemu;
    free(caps);  // NOLINT: libvirt's allocation
    return virtform::Accel::kvm;
}

/// Output (stdout+stderr) and exit status of a shell command.
inline std::pair<std::string, int> sh(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
    if (f == nullptr) return {"popen failed", -1};
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    const int status = ::pclose(f);
    return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

/// Desired attributes that are not computed, by path.
inline std::map<std::string, std::string> set_attributes(const virtform::Resource& r) {
    std::map<std::string, std::string> out;
    for (const auto& a : virtform::attributes_of(r)) {
        if (!a.computed) out[a.path] = a.value;
    }
    return out;
}

/// Every attribute the desired side sets has the same value on the live side,
/// and the live side has no attribute the desired side lacks (computed ones aside).
inline ::testing::AssertionResult same_attributes(const virtform::Resource& desired,
                                                  const virtform::Resource& live) {
    const auto want = set_attributes(desired);
    std::map<std::string, std::string> have;
    for (const auto& a : virtform::attributes_of(live)) have[a.path] = a.value;
    std::string diffs;
    for (const auto& [path, value] : want) {
        auto it = have.find(path);
        if (it == have.end()) {
            diffs += "  " + path + ": missing, want " + value + "\n";
        } else if (it->second != value) {
            diffs += "  " + path + ": is " + it->second + ", want " + value + "\n";
        }
    }
    for (const auto& a : virtform::attributes_of(desired)) have.erase(a.path);
    for (const auto& [path, value] : have) diffs += "  " + path + ": unexpected " + value + "\n";
    if (diffs.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "attributes differ:\n" << diffs;
}

/// A planner stand-in: the changes between two objects, attribute by attribute.
inline virtform::Action update_action(const virtform::Resource& before,
                                      const virtform::Resource& after) {
    using namespace virtform;
    Action action;
    action.id = id_of(after);
    action.type = ActionType::update;
    action.before = before;
    action.after = after;
    std::map<std::string, Attribute> b, a;
    for (auto& x : attributes_of(before)) b[x.path] = x;
    for (auto& x : attributes_of(after)) a[x.path] = x;
    for (const auto& [path, attr] : b) {
        auto it = a.find(path);
        if (it == a.end()) {
            action.changes.push_back({path, attr.value, std::nullopt, attr.cls, attr.reason});
        } else if (!it->second.computed && it->second.value != attr.value) {
            action.changes.push_back(
                {path, attr.value, it->second.value, it->second.cls, it->second.reason});
        }
    }
    for (const auto& [path, attr] : a) {
        if (b.count(path) == 0 && !attr.computed) {
            action.changes.push_back({path, std::nullopt, attr.value, attr.cls, attr.reason});
        }
    }
    action.cls = ChangeClass::live;
    for (const auto& c : action.changes) {
        if (c.cls > action.cls) action.cls = c.cls;
    }
    return action;
}

inline virtform::Action create_action(const virtform::Resource& after) {
    virtform::Action action;
    action.id = virtform::id_of(after);
    action.type = virtform::ActionType::create;
    action.after = after;
    return action;
}

inline virtform::Action destroy_action(const virtform::Resource& before) {
    virtform::Action action;
    action.id = virtform::id_of(before);
    action.type = virtform::ActionType::destroy;
    action.before = before;
    return action;
}

}  // namespace vftest
