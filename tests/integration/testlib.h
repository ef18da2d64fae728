#pragma once
// Helpers for integration tests that drive the real CLI binary against the
// real libvirtd and check the host with virsh, ip and /sys. Header-only: only
// *_test.cpp files in this directory are compiled.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace virtform::testing {

/// What a finished command printed and how it ended.
struct CommandResult {
    int code = -1;  ///< exit code; 128+N when killed by signal N
    std::string out;
    std::string err;
    /// For assertion messages.
    std::string describe() const {
        return "exit " + std::to_string(code) + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
    }
};

inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

/// A private directory, removed with everything in it.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "virtform-it") {
        std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + ".XXXXXX")).string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path write(const std::string& name, const std::string& text) const {
        write_text(path_ / name, text);
        return path_ / name;
    }

private:
    std::filesystem::path path_;
};

/// Runs argv (argv[0] looked up in PATH) with stdin from /dev/null (not a
/// terminal) unless `stdin_text` is given; captures stdout and stderr apart.
inline CommandResult run(const std::vector<std::string>& argv, const std::string* stdin_text = nullptr) {
    TempDir dir("virtform-run");
    const std::string out_path = (dir.path() / "out").string();
    const std::string err_path = (dir.path() / "err").string();
    std::string in_path = "/dev/null";
    if (stdin_text != nullptr) in_path = dir.write("in", *stdin_text).string();

    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        const int in = ::open(in_path.c_str(), O_RDONLY);
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0) ::_exit(126);
        ::dup2(in, STDIN_FILENO);
        ::dup2(out, STDOUT_FILENO);
        ::dup2(err, STDERR_FILENO);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::runtime_error("waitpid failed");
    }
    CommandResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_text(out_path);
    r.err = read_text(err_path);
    return r;
}

/// `sh -c script`: for host checks and fixtures (virsh, ip, pgrep).
inline CommandResult sh(const std::string& script) { return run({"/bin/sh", "-c", script}); }

/// The built CLI; VIRTFORM_CONNECT is left as the environment has it.
inline CommandResult virtform(std::vector<std::string> args, const std::string* stdin_text = nullptr) {
    args.insert(args.begin(), VIRTFORM_BINARY);
    return run(args, stdin_text);
}

inline std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    std::size_t start = 0;
    while (start < s.size() && (s[start] == ' ' || s[start] == '\n')) ++start;
    return s.substr(start);
}

/// Polls `condition` until it holds or `timeout` passes; returns its last value.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// ---------------------------------------------------------------------------
// The host, seen through virsh, ip and /sys (never through virtform).

inline const char* connect_uri() {
    const char* uri = std::getenv("VIRTFORM_CONNECT");
    return uri != nullptr && *uri != '\0' ? uri : "qemu:///system";
}

inline CommandResult virsh(const std::string& args) {
    return sh(std::string("virsh -q -c ") + connect_uri() + " " + args);
}

/// Names of every libvirt network, active or not.
inline std::vector<std::string> libvirt_networks() {
    std::vector<std::string> names;
    std::istringstream in(virsh("net-list --all --name").out);
    for (std::string line; std::getline(in, line);) {
        line = trim(line);
        if (!line.empty()) names.push_back(line);
    }
    return names;
}

inline bool network_exists(const std::string& name) {
    for (const auto& n : libvirt_networks()) {
        if (n == name) return true;
    }
    return false;
}

/// "yes"/"no" for a `virsh net-info` field such as "Active" or "Autostart"; "" when absent.
inline std::string net_info(const std::string& name, const std::string& field) {
    std::istringstream in(virsh("net-info " + name).out);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(field + ":", 0) == 0) return trim(line.substr(field.size() + 1));
    }
    return {};
}

/// Removes the drift records (/var/lib/virtform/state) and lock files
/// (/run/virtform/locks) virtform keeps for the labs whose names start with
/// `prefix`: a plan or apply of a lab writes them, and a test's labs are its own.
inline void remove_lab_files(const std::string& prefix) {
    for (const char* dir : {"/var/lib/virtform/state", "/run/virtform/locks"}) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
            if (e.path().filename().string().rfind(prefix, 0) == 0)
                std::filesystem::remove(e.path(), ec);
        }
    }
}

inline bool link_exists(const std::string& ifname) {
    return std::filesystem::exists("/sys/class/net/" + ifname);
}

/// The kernel's index of an interface (a new one after a bridge is re-created); -1 if absent.
inline int ifindex(const std::string& ifname) {
    const std::string text = trim(read_text("/sys/class/net/" + ifname + "/ifindex"));
    return text.empty() ? -1 : std::stoi(text);
}

/// Removes a libvirt network whatever its state; quiet when it is not there.
inline void remove_network(const std::string& name) {
    virsh("net-destroy " + name + " >/dev/null 2>&1");
    virsh("net-undefine " + name + " >/dev/null 2>&1");
}

inline void remove_link(const std::string& ifname) {
    sh("ip link del " + ifname + " >/dev/null 2>&1");
}

}  // namespace virtform::testing
