#pragma once
/// The libvirt side of the host: reads networks, pools, volumes and domains
/// and carries out plan actions on them.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "virtform/adapters/libvirt/addresses.h"
#include "virtform/exec.h"

namespace virtform::libvirt {

/// How the provider may act on what it reads and changes.
struct ProviderOptions {
    /// A restart-class change of a running VM: shut it down (gracefully, forced
    /// after its shutdown_timeout) and start it again. Without it the VM is
    /// redefined and keeps running on its old configuration; the change waits
    /// for the next boot (read() shows it as Vm::restart_pending and
    /// on_notice is told).
    bool allow_restart = false;
    /// What read() reports as Live::kvm_usable (the caller probes; see
    /// host/doctor.h). Unset: false.
    std::optional<bool> kvm_usable;
    /// Directories read() describes in Live::pool_dirs (the desired pools'
    /// paths), so that the planner can refuse one another lab or nobody owns.
    std::vector<std::string> pool_paths;
    /// What read() reports as Live::kvm_detail: why KVM is not usable.
    std::string kvm_detail;
    /// The URI reaches another host (remote_host_of): nothing of this host's
    /// stands for it. read() takes the interface names from libvirt's
    /// interface driver instead of /sys/class/net, and, unless kvm_usable is
    /// given, whether KVM is usable from libvirt's capabilities (a domain
    /// type 'kvm'), since the KVM probe can only run here.
    bool remote = false;
    /// Told about what an action did not do at once, e.g. "vm.web1: redefined;
    /// the change of machine takes effect at the next boot". May be called
    /// concurrently from actions running in parallel.
    std::function<void(const ResourceId&, const std::string&)> on_notice;
};

/// libvirt's view of a host, read before the lab is known. What read() asks
/// libvirtd for depends on the URI alone, so `virtform plan` reads it in a
/// thread while the manifests load and hands it to the provider, whose first
/// read() takes it instead of asking again (docs/architecture.md, "Reading
/// while the manifests load").
class HostSnapshot {
public:
    /// Connects to `uri` and reads; throws AdapterError as the provider would.
    /// `remote`: remote_host_of(uri) is not empty (ProviderOptions::remote).
    HostSnapshot(const std::string& uri, bool remote);
    ~HostSnapshot();
    HostSnapshot(HostSnapshot&&) noexcept;
    HostSnapshot& operator=(HostSnapshot&&) noexcept;

private:
    friend class LibvirtProvider;
    struct State;
    std::unique_ptr<State> state_;
};

class LibvirtProvider : public Provider {
public:
    /// Connects to `uri` (e.g. qemu:///system). `lab` is the mark put on what
    /// it creates. Throws AdapterError naming the URI when libvirtd is not there.
    LibvirtProvider(const std::string& uri, std::string lab);
    LibvirtProvider(const std::string& uri, std::string lab, ProviderOptions options);
    /// On the snapshot's connection; the first read() is the snapshot (the
    /// options' KVM and pool directories added), later ones ask libvirtd.
    /// `snapshot` must be of `uri` with the options' `remote`.
    LibvirtProvider(const std::string& uri, std::string lab, ProviderOptions options,
                    HostSnapshot snapshot);
    ~LibvirtProvider() override;
    LibvirtProvider(const LibvirtProvider&) = delete;
    LibvirtProvider& operator=(const LibvirtProvider&) = delete;

    Live read() override;
    void apply(const Action& action) override;

    /// Calls made to libvirtd so far (each one a round trip over the socket).
    long round_trips() const;
    /// The addresses of a running VM (DHCP leases, else the guest agent), over
    /// this provider's connection.
    std::vector<GuestAddress> vm_addresses(const std::string& vm);
    /// The inactive definition XML of a network, pool or VM (for export).
    std::string definition_xml(const ResourceId& id);
    /// Tests only: the `k`-th libvirt call from now fails with an injected
    /// AdapterError (once), as a real failure at that point would.
    void fail_after_calls(long k);
    const std::string& uri() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace virtform::libvirt
