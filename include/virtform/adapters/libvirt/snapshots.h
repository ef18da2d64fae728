#pragma once
/// Internal (qcow2) snapshots of domains and the network definitions a lab
/// snapshot records, over one libvirt connection (`virtform snapshot`).
#include <memory>
#include <string>
#include <vector>

namespace virtform::libvirt {

/// Why libvirt cannot take an internal snapshot of this domain, one reason
/// per line ("disk vda (/x.img) is raw: ..."); empty when it can. From the
/// domain's inactive definition; pure.
std::vector<std::string> snapshot_refusals(const std::string& domain_xml);

class SnapshotClient {
public:
    /// Throws AdapterError naming the URI when libvirtd is not there.
    explicit SnapshotClient(const std::string& uri);
    ~SnapshotClient();
    SnapshotClient(const SnapshotClient&) = delete;
    SnapshotClient& operator=(const SnapshotClient&) = delete;

    bool exists(const std::string& vm);
    std::string domain_xml(const std::string& vm);
    /// Running or paused: the domain has a QEMU process.
    bool is_active(const std::string& vm);
    void suspend(const std::string& vm);
    void resume(const std::string& vm);
    /// An internal snapshot: the disks (and, of an active domain, its memory
    /// and device state) inside the qcow2 images.
    void create(const std::string& vm, const std::string& name, const std::string& description);
    /// Back to the snapshot: disks, and (of one taken running) memory; such a
    /// VM comes back paused when `paused`, else running.
    void revert(const std::string& vm, const std::string& name, bool paused = false);
    void remove(const std::string& vm, const std::string& name);
    /// The domain's snapshot names.
    std::vector<std::string> list(const std::string& vm);

    /// A network's inactive definition, state and autostart.
    struct NetworkState {
        std::string xml;
        bool active = false;
        bool autostart = false;
    };
    NetworkState network(const std::string& name);
    /// Defines the network from `state.xml` (same name and UUID: it replaces
    /// the current definition), restarts it when it runs so the definition
    /// takes effect, and sets its state and autostart as recorded. Returns
    /// false when the definition was already that one (nothing redefined).
    bool restore_network(const std::string& name, const NetworkState& state);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace virtform::libvirt
