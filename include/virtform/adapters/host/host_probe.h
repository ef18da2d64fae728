#pragma once
/// The few host facts `virtform doctor` and the KVM probe need, behind one narrow
/// interface: the evaluation logic is tested with a fake, SystemProbe is the real host.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace virtform::host {

/// What a finished (or killed) command left behind.
struct CommandResult {
    bool started = false;    ///< false: the program could not be executed (not found, ...)
    bool timed_out = false;  ///< killed after the timeout
    int exit_code = -1;      ///< exit status; 128+N when killed by signal N; -1 if not started
    std::string output;      ///< stdout and stderr interleaved (capped at 1 MiB)
    std::chrono::milliseconds elapsed{0};
    bool ok() const { return started && !timed_out && exit_code == 0; }
};

/// What opening /dev/kvm and asking it the basics said.
struct KvmDevice {
    bool exists = false;
    int open_errno = 0;      ///< errno of open(O_RDWR), 0 when it opened
    int api_version = -1;    ///< KVM_GET_API_VERSION (12 on every kernel since 2.6.22)
    bool create_vm = false;  ///< KVM_CREATE_VM succeeded
    std::string error;       ///< the first thing that failed, for humans
};

/// Bytes free for an unprivileged writer under a path (statvfs of it or its nearest
/// existing ancestor).
struct DiskSpace {
    std::string checked_path;  ///< the existing path actually measured
    std::uint64_t available = 0;
    std::uint64_t total = 0;
};

class HostProbe {
  public:
    virtual ~HostProbe() = default;
    /// The whole file, or nullopt if it cannot be read.
    virtual std::optional<std::string> read_file(const std::string& path) = 0;
    virtual bool exists(const std::string& path) = 0;
    /// Sorted paths matching a glob pattern.
    virtual std::vector<std::string> glob(const std::string& pattern) = 0;
    /// Absolute path of a program found in PATH, /usr/sbin, /sbin or /usr/libexec.
    virtual std::optional<std::string> find_program(const std::string& name) = 0;
    /// Run argv (no shell) with stdin from /dev/null; kill its process group on timeout.
    virtual CommandResult run(const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout) = 0;
    virtual KvmDevice open_kvm(const std::string& device) = 0;
    virtual std::optional<DiskSpace> disk_space(const std::string& path) = 0;
    /// Write atomically (temp file + rename), creating parent directories; false on failure.
    virtual bool write_file(const std::string& path, const std::string& content) = 0;
};

/// The real host: files, fork/exec, ioctl on /dev/kvm, statvfs.
class SystemProbe final : public HostProbe {
  public:
    std::optional<std::string> read_file(const std::string& path) override;
    bool exists(const std::string& path) override;
    std::vector<std::string> glob(const std::string& pattern) override;
    std::optional<std::string> find_program(const std::string& name) override;
    CommandResult run(const std::vector<std::string>& argv,
                      std::chrono::milliseconds timeout) override;
    KvmDevice open_kvm(const std::string& device) override;
    std::optional<DiskSpace> disk_space(const std::string& path) override;
    bool write_file(const std::string& path, const std::string& content) override;
};

}  // namespace virtform::host
