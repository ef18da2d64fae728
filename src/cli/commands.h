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
    std::vector<std::string> vars;  ///< --var NAME=VALUE, for ${NAME} in the manifests
};

/// `--format text|json|markdown` of plan and show (--json is `--format json`).
enum class OutputFormat { text, json, markdown };
/// Throws Error for an unknown name or --json with another --format.
OutputFormat output_format(const std::string& format, bool json);

struct PlanOptionsCli {
    bool detailed_exitcode = false;
    std::string out;
    bool json = false;
    std::string format;            ///< "" (text, or json with --json), "text", "json", "markdown"
    std::size_t max_actions = 50;  ///< markdown: actions shown before "N more"; 0: all
    std::vector<std::string> targets;
    std::vector<std::string> adopt;  ///< KIND.NAME of unmarked objects to make the lab's
};

struct ShowOptionsCli {
    std::string plan_file;
    bool json = false;
    std::string format;
    std::size_t max_actions = 50;
};

struct FmtOptionsCli {
    bool check = false;  ///< change nothing; exit 1 when a file would change
    bool diff = false;   ///< print a unified diff of each change
    bool json = false;
    std::vector<std::string> paths;  ///< files, directories, "-"; empty: the labs' *.yaml here
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

struct GraphOptions {
    std::string format = "dot";  ///< dot, mermaid, svg, html
    bool offline = false;
    std::string out;
};

/// inventory and ssh-config.
struct AccessOptions {
    bool offline = false;
    std::string out;
};

struct HostsOptions {
    std::string file = "/etc/hosts";
    bool remove = false;
    bool offline = false;
};

struct SshOptions {
    std::string vm;
    std::vector<std::string> command;
    bool dry_run = false;
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
int cmd_schema();
int cmd_show(const GlobalOptions& g, const ShowOptionsCli& o);
int cmd_fmt(const FmtOptionsCli& o);
int cmd_graph(const GlobalOptions& g, const ManifestOptions& m, const GraphOptions& o, bool json);
int cmd_inventory(const GlobalOptions& g, const ManifestOptions& m, const AccessOptions& o,
                  bool json);
int cmd_ssh_config(const GlobalOptions& g, const ManifestOptions& m, const AccessOptions& o,
                   bool json);
int cmd_hosts(const GlobalOptions& g, const ManifestOptions& m, const HostsOptions& o, bool json);
int cmd_ssh(const GlobalOptions& g, const ManifestOptions& m, const SshOptions& o);
int cmd_console(const GlobalOptions& g, const ManifestOptions& m, const std::string& vm);

/// Removes the lab's block from every hosts file `virtform hosts` wrote it to
/// (after a destroy). Problems are warnings.
void remove_hosts_blocks(const std::string& lab);
int cmd_snapshot(const GlobalOptions& g, const ManifestOptions& m, const SnapshotOptionsCli& o,
                 bool json);
/// The lab's snapshots (status and `snapshot list`): a JSON array, and as text.
nlohmann::json snapshots_json(const GlobalOptions& g, const std::string& lab);
std::string snapshots_text(const nlohmann::json& snapshots);
int cmd_export(const GlobalOptions& g, const ExportOptionsCli& o, bool json);

}  // namespace virtform::cli
