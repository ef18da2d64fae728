#include "libvirt_util.h"

#include "virtform/adapters/libvirt/connect.h"

#include <chrono>
#include <cstdlib>
#include <mutex>

namespace virtform::libvirt {
namespace {
void silent_error_handler(void* /*user*/, virErrorPtr /*error*/) {}

/// resolve_uri's connection, kept for the provider of the URI it resolved to
/// (take_resolved_connection): a plan without --connect then connects once, not twice (a connection
/// is several round trips and libvirtd's work). Only a young one is handed on: libvirtd drops a
/// client that leaves its keepalive probes unanswered for about 30 s, and nothing reads this one
/// while it waits.
struct Parked {
    std::mutex mutex;
    virConnectPtr conn = nullptr;  // reachable from here until taken; closed by exit otherwise
    std::string uri;
    std::chrono::steady_clock::time_point since;
};
Parked& parked() {
    static Parked p;
    return p;
}
constexpr auto kParkedFor = std::chrono::seconds(10);
}  // namespace

void CharFree::operator()(char* p) const noexcept {
    std::free(p);
}  // NOLINT

[[noreturn]] void throw_last_error(const std::string& object, const std::string& operation) {
    const virError* err = virGetLastError();
    std::string detail =
        err != nullptr && err->message != nullptr ? err->message : "unknown libvirt error";
    const int code = err != nullptr ? err->code : 0;
    throw AdapterError(object, operation, detail, code);
}

ConnectPtr open_connection(const std::string& uri) {
    static std::once_flag once;
    std::call_once(once, [] {
        virInitialize();
        virSetErrorFunc(nullptr, silent_error_handler);
    });
    // An empty URI is libvirt's own default: LIBVIRT_DEFAULT_URI, uri_default
    // in libvirt.conf, else what the running daemons offer.
    ConnectPtr conn(virConnectOpen(uri.empty() ? nullptr : uri.c_str()));
    if (!conn)
        throw_last_error(uri.empty() ? "(libvirt's default URI)" : uri, "connect to libvirt at");
    return conn;
}

ConnectPtr take_resolved_connection(const std::string& uri) {
    if (!uri.empty()) {
        Parked& p = parked();
        std::lock_guard lock(p.mutex);
        if (p.conn != nullptr && p.uri == uri) {
            ConnectPtr conn(p.conn);
            p.conn = nullptr;
            if (std::chrono::steady_clock::now() - p.since < kParkedFor) return conn;
            // Too old to trust: closed here, and a new one below.
        }
    }
    return open_connection(uri);
}

std::string remote_host_of(const std::string& uri) {
    const auto sep = uri.find("://");
    if (sep == std::string::npos) return {};  // a bare driver name ("qemu"): local
    const std::string scheme = uri.substr(0, sep);
    const auto plus = scheme.find('+');
    const std::string transport = plus == std::string::npos ? "" : scheme.substr(plus + 1);
    std::string authority = uri.substr(sep + 3);
    authority = authority.substr(0, authority.find_first_of("/?"));
    if (const auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
    if (!authority.empty() && authority.front() == '[') {
        authority = authority.substr(1, authority.find(']') - 1);  // [IPv6]:port
    } else if (const auto colon = authority.find(':'); colon != std::string::npos) {
        authority.erase(colon);
    }
    if (!authority.empty()) return authority;
    return transport.empty() || transport == "unix" ? "" : transport;
}

std::string resolve_uri(const std::string& uri) {
    if (!uri.empty()) return uri;
    ConnectPtr conn = open_connection(uri);
    CString chosen(virConnectGetURI(conn.get()));
    if (!chosen) throw_last_error("(libvirt's default URI)", "ask libvirt the URI of");
    std::string resolved = chosen.get();
    Parked& p = parked();
    std::lock_guard lock(p.mutex);
    if (p.conn == nullptr) {
        p.conn = conn.release();
        p.uri = resolved;
        p.since = std::chrono::steady_clock::now();
    }
    return resolved;
}

}  // namespace virtform::libvirt
