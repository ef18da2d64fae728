#pragma once
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace virtform::cli {

struct GlobalOptions {
    std::string uri;  ///< empty: libvirt's own default, resolved before connecting
    int verbosity = 0;
    bool no_color = false;
    bool color = false;  ///< colour on stdout, decided once in main (decide_color)
    /// How often a long action reports "Still creating... [10s elapsed]".
    std::chrono::milliseconds heartbeat{10000};
};

struct ManifestOptions {
    std::vector<std::string> paths;  ///< "-" is standard input; empty: discover in the cwd
    std::vector<std::string> positional;
};

struct PlanOptionsCli {
    bool detailed_exitcode = false;
    std::string out;
    bool json = false;
    std::vector<std::string> targets;
    std::vector<std::string> adopt;  ///< KIND.NAME of unmarked objects to make the lab's
};

struct ApplyOptionsCli {
    bool auto_approve = false;
    bool allow_restart = false;
    bool no_rollback = false;
    bool force = false;  ///< delete bridges/networks that others on the host still use
    bool json = false;
    bool destroy = false;  ///< the engine runs for `destroy`: wording and the lock's name
    std::chrono::milliseconds lock_timeout{0};
    bool wait_ip = false;
    std::chrono::milliseconds wait_timeout{300000};
    int parallelism = 4;
    std::vector<std::string> targets;
    std::vector<std::string> adopt;  ///< KIND.NAME of unmarked objects to make the lab's
};

struct ExportOptionsCli {
    std::vector<std::string> objects;  ///< KIND.NAME
    bool all_unowned = false;
    std::string out;  ///< "" : standard output
    std::string lab = "exported";
};

struct SnapshotOptionsCli {
    std::string action;  ///< create, list, revert, delete
    std::string name;
};

/// Runs a command, turning errors into a message on stderr (with a hint on
/// what to run for permission and connection errors) and exit code 1. With
/// `json`, stdout also gets one JSON document describing the error.
int run_guarded(const std::function<int()>& command, bool json = false);

int cmd_validate(const GlobalOptions& g, const ManifestOptions& m, bool json);
int cmd_plan(const GlobalOptions& g, const ManifestOptions& m, const PlanOptionsCli& o);
int cmd_apply(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o);
int cmd_destroy(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o);
int cmd_status(const GlobalOptions& g, const ManifestOptions& m, bool json);
int cmd_doctor(const GlobalOptions& g, bool json);
int cmd_snapshot(const GlobalOptions& g, const ManifestOptions& m, const SnapshotOptionsCli& o,
                 bool json);
/// The lab's snapshots (status and `snapshot list`): a JSON array, and as text.
nlohmann::json snapshots_json(const GlobalOptions& g, const std::string& lab);
std::string snapshots_text(const nlohmann::json& snapshots);
int cmd_export(const GlobalOptions& g, const ExportOptionsCli& o, bool json);

}  // namespace virtform::cli
