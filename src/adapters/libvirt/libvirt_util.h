#pragma once
// Private to the libvirt adapter: RAII handles and the conversion of libvirt's
// last error into a typed AdapterError naming the object and operation.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <memory>
#include <string>

#include "virtform/c_ptr.h"
#include "virtform/error.h"

namespace virtform::libvirt {

using ConnectPtr = std::unique_ptr<virConnect, Free<virConnectClose>>;
using NetworkPtr = std::unique_ptr<virNetwork, Free<virNetworkFree>>;
using DomainPtr = std::unique_ptr<virDomain, Free<virDomainFree>>;
using PoolPtr = std::unique_ptr<virStoragePool, Free<virStoragePoolFree>>;
using VolumePtr = std::unique_ptr<virStorageVol, Free<virStorageVolFree>>;

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

/// Counts calls that cross to libvirtd, for the benchmark's round-trip figures.
class RoundTrips {
public:
    void add(long n = 1) { count_.fetch_add(n, std::memory_order_relaxed); }
    long count() const { return count_.load(std::memory_order_relaxed); }

private:
    std::atomic<long> count_{0};
};

}  // namespace virtform::libvirt
