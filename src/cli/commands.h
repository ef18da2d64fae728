#pragma once
#include <functional>
#include <string>
#include <vector>

namespace virtform::cli {

struct GlobalOptions {
    std::string uri;
    int verbosity = 0;
    bool no_color = false;
    bool color = false;
};

struct ManifestOptions {
    std::vector<std::string> paths;
    std::vector<std::string> positional;
};

struct PlanOptionsCli {
    bool detailed_exitcode = false;
    std::string out;
    bool json = false;
    std::vector<std::string> targets;
};

struct ApplyOptionsCli {
    bool auto_approve = false;
    bool allow_restart = false;
    bool no_rollback = false;
    bool force = false;  ///< delete bridges/networks that others on the host still use
    bool json = false;
    double lock_timeout = 0;
    bool wait_ip = false;
    int wait_timeout = 300;
    int parallelism = 4;
    std::vector<std::string> targets;
};

/// Runs a command, turning errors into a message on stderr and exit code 1.
int run_guarded(const std::function<int()>& command);

int cmd_validate(const GlobalOptions& g, const ManifestOptions& m);
int cmd_plan(const GlobalOptions& g, const ManifestOptions& m, const PlanOptionsCli& o);
int cmd_apply(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o);
int cmd_destroy(const GlobalOptions& g, const ManifestOptions& m, const ApplyOptionsCli& o);
int cmd_status(const GlobalOptions& g, const ManifestOptions& m);
int cmd_doctor(const GlobalOptions& g, bool json);

}  // namespace virtform::cli
