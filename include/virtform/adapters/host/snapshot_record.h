#pragma once
/// What a whole-lab snapshot holds besides the VMs' own (internal) snapshots:
/// which VMs it covers and the lab's network definitions, kept under
/// /var/lib/virtform/snapshots/<lab>@<uri>/<name>.json (written atomically).
#include <optional>
#include <string>
#include <vector>

namespace virtform::host {

struct SnapshotRecord {
    std::string lab;
    std::string name;
    std::string created;  ///< UTC, ISO 8601
    struct VmEntry {
        std::string name;
        bool running = false;  ///< taken of a running (then paused) VM, memory included
    };
    std::vector<VmEntry> vms;
    struct NetworkEntry {
        std::string name;
        std::string xml;  ///< the inactive definition
        bool active = false;
        bool autostart = false;
    };
    std::vector<NetworkEntry> networks;
};

std::string snapshot_record_dir(const std::string& uri, const std::string& lab);
void write_snapshot_record(const std::string& uri, const SnapshotRecord& record);
/// nullopt when there is none; throws Error when one is there but damaged.
std::optional<SnapshotRecord> read_snapshot_record(const std::string& uri, const std::string& lab,
                                                   const std::string& name);
/// Every snapshot of the lab, oldest first.
std::vector<SnapshotRecord> list_snapshot_records(const std::string& uri, const std::string& lab);
void remove_snapshot_record(const std::string& uri, const std::string& lab,
                            const std::string& name);

}  // namespace virtform::host
