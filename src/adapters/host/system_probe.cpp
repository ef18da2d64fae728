#include <fcntl.h>
#include <glob.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "virtform/adapters/host/host_probe.h"

namespace virtform::host {

namespace {

constexpr std::size_t kMaxOutput = 1 << 20;

class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

  private:
    int fd_;
};

}  // namespace

std::optional<std::string> SystemProbe::read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    if (in.bad()) return std::nullopt;
    return out.str();
}

bool SystemProbe::exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> SystemProbe::glob(const std::string& pattern) {
    glob_t g{};
    std::vector<std::string> out;
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    return out;  // glob() sorts by default
}

std::optional<std::string> SystemProbe::find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        if (::access(name.c_str(), X_OK) == 0) return name;
        return std::nullopt;
    }
    std::string dirs;
    if (const char* path = std::getenv("PATH")) dirs = path;
    dirs += ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/libexec";
    std::istringstream in(dirs);
    std::string dir;
    while (std::getline(in, dir, ':')) {
        if (dir.empty()) continue;
        std::string candidate = dir + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return std::nullopt;
}

CommandResult SystemProbe::run(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    CommandResult result;
    if (argv.empty()) return result;
    const auto start = Clock::now();

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        result.output = std::string("pipe: ") + std::strerror(errno);
        return result;
    }
    Fd read_end(pipefd[0]);
    Fd write_end(pipefd[1]);
    // Tells the parent whether exec worked: closed on exec, or carries errno.
    int execfd[2];
    if (::pipe2(execfd, O_CLOEXEC) != 0) {
        result.output = std::string("pipe: ") + std::strerror(errno);
        return result;
    }
    Fd exec_read(execfd[0]);
    Fd exec_write(execfd[1]);

    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) {
        result.output = std::string("fork: ") + std::strerror(errno);
        return result;
    }
    if (pid == 0) {
        // Child: own process group (so a timeout kills grandchildren too), no stdin.
        ::setpgid(0, 0);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        ::dup2(write_end.get(), 1);
        ::dup2(write_end.get(), 2);
        ::execvp(cargv[0], cargv.data());
        int err = errno;
        [[maybe_unused]] auto n = ::write(exec_write.get(), &err, sizeof err);
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    write_end.reset();
    exec_write.reset();

    int exec_errno = 0;
    if (::read(exec_read.get(), &exec_errno, sizeof exec_errno) ==
        static_cast<ssize_t>(sizeof exec_errno)) {
        ::waitpid(pid, nullptr, 0);
        result.output = argv[0] + ": " + std::strerror(exec_errno);
        result.elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        return result;
    }
    result.started = true;

    const auto deadline = start + timeout;
    char buf[8192];
    bool open = true;
    while (open) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd pfd{read_end.get(), POLLIN, 0};
        const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;  // timeout is rechecked at the top
        const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
        if (n > 0) {
            if (result.output.size() < kMaxOutput)
                result.output.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            open = false;  // EOF: the child (and anything it spawned) closed the pipe
        }
    }

    int status = 0;
    if (result.timed_out) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
    } else {
        // The pipe closed; the child exits now, unless it closed its outputs early.
        while (true) {
            const pid_t w = ::waitpid(pid, &status, WNOHANG);
            if (w == pid) break;
            if (Clock::now() >= deadline) {
                result.timed_out = true;
                ::kill(-pid, SIGKILL);
                ::waitpid(pid, &status, 0);
                break;
            }
            ::usleep(10000);
        }
    }
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.exit_code = 128 + WTERMSIG(status);
    }
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return result;
}

KvmDevice SystemProbe::open_kvm(const std::string& device) {
    KvmDevice out;
    out.exists = exists(device);
    if (!out.exists) {
        out.error = device + " does not exist";
        return out;
    }
    Fd fd(::open(device.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) {
        out.open_errno = errno;
        out.error = "open " + device + ": " + std::strerror(out.open_errno);
        return out;
    }
    out.api_version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
    if (out.api_version < 0) {
        out.error = std::string("KVM_GET_API_VERSION: ") + std::strerror(errno);
        return out;
    }
    Fd vm(::ioctl(fd.get(), KVM_CREATE_VM, 0));
    if (vm.get() < 0) {
        out.error = std::string("KVM_CREATE_VM: ") + std::strerror(errno);
        return out;
    }
    out.create_vm = true;
    return out;
}

std::optional<DiskSpace> SystemProbe::disk_space(const std::string& path) {
    std::filesystem::path p(path);
    std::error_code ec;
    while (!p.empty() && !std::filesystem::exists(p, ec)) {
        if (p == p.parent_path()) break;
        p = p.parent_path();
    }
    struct statvfs st {};
    if (p.empty() || ::statvfs(p.c_str(), &st) != 0) return std::nullopt;
    DiskSpace out;
    out.checked_path = p.string();
    out.available = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
    out.total = static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize;
    return out;
}

bool SystemProbe::write_file(const std::string& path, const std::string& content) {
    std::error_code ec;
    const std::filesystem::path target(path);
    if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) return false;
    std::string tmp = path + ".XXXXXX";
    Fd fd(::mkstemp(tmp.data()));
    if (fd.get() < 0) return false;
    const char* p = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        const ssize_t n = ::write(fd.get(), p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::unlink(tmp.c_str());
            return false;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    ::fchmod(fd.get(), 0644);
    if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return false;
    }
    return true;
}

}  // namespace virtform::host
