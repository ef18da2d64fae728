#include "libvirt_util.h"

#include <cstdlib>
#include <mutex>

namespace virtform::libvirt {
namespace {
void silent_error_handler(void* /*user*/, virErrorPtr /*error*/) {}
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
    ConnectPtr conn(virConnectOpen(uri.c_str()));
    if (!conn) throw_last_error(uri, "connect to libvirt at");
    return conn;
}

}  // namespace virtform::libvirt
