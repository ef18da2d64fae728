#pragma once
// Private to the libvirt adapter: RAII handles and the conversion of libvirt's
// last error into a typed AdapterError naming the object and operation.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "virtform/c_ptr.h"
#include "virtform/error.h"

namespace virtform::libvirt {

using ConnectPtr = std::unique_ptr<virConnect, Free<virConnectClose>>;
using NetworkPtr = std::unique_ptr<virNetwork, Free<virNetworkFree>>;
using DomainPtr = std::unique_ptr<virDomain, Free<virDomainFree>>;
using PoolPtr = std::unique_ptr<virStoragePool, Free<virStoragePoolFree>>;
using VolumePtr = std::unique_ptr<virStorageVol, Free<virStorageVolFree>>;

/// Takes ownership of a list libvirt returned (virConnectListAll*, ...): each
/// element into its RAII handle, and the malloc'd array freed.
template <class Ptr, class Raw>
std::vector<Ptr> adopt_list(Raw** raw, int n) {
    std::vector<Ptr> out;
    for (int i = 0; i < n; ++i) out.emplace_back(raw[i]);
    free(raw);  // NOLINT(cppcoreguidelines-no-malloc): libvirt allocates with malloc
    return out;
}

/// Strings libvirt hands over must be free()d.
struct CharFree {
    void operator()(char* p) const noexcept;
};
using CString = std::unique_ptr<char, CharFree>;

/// libvirt's last error as an AdapterError ("define network labnat: ...").
[[noreturn]] void throw_last_error(const std::string& object, const std::string& operation);

/// Opens a connection once libvirt is initialised and its stderr printing is
/// silenced (errors reach the user through AdapterError instead).
ConnectPtr open_connection(const std::string& uri);

/// The connection resolve_uri("") opened to learn `uri`, if it is still young,
/// else a new one (open_connection). For the provider only, the one connection
/// of plan/apply/destroy: a caller that needs libvirt's event loop (the
/// console) registers it before it opens, so it always opens its own.
ConnectPtr take_resolved_connection(const std::string& uri);

/// Counts calls that cross to libvirtd, for the benchmark's round-trip figures.
/// Also the fault injector of the fault-safety tests: armed, it makes the
/// k-th call from now fail as libvirt would, before the call is made.
class RoundTrips {
public:
    void add(long n = 1) {
        const long now = count_.fetch_add(n, std::memory_order_relaxed) + n;
        const long fail_at = fail_at_.load(std::memory_order_relaxed);
        if (fail_at > 0 && now >= fail_at && fail_at_.exchange(0) == fail_at) {
            throw AdapterError(fmt::format("libvirt call #{}", now), "carry out",
                               "injected fault (test)");
        }
    }
    long count() const { return count_.load(std::memory_order_relaxed); }
    /// The `k`-th call from now throws (once); 0 disarms.
    void fail_after(long k) { fail_at_.store(k > 0 ? count() + k : 0, std::memory_order_relaxed); }

private:
    std::atomic<long> count_{0};
    std::atomic<long> fail_at_{0};
};

}  // namespace virtform::libvirt
