#include "virtform/adapters/host/lab_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "virtform/error.h"

namespace virtform::host {
namespace {

std::string sanitize(const std::string& text) {
    std::string out;
    for (char c : text)
        out += std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' ? c : '_';
    return out;
}

std::string now_utc() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string read_holder(int fd) {
    char buf[512] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string text = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
    return text;  // empty: the holder has not written who it is (yet)
}

}  // namespace

LabLock::LabLock(const std::string& uri, const std::string& lab, const std::string& command,
                 std::chrono::milliseconds timeout, const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    path_ = fmt::format("{}/{}@{}.lock", dir, sanitize(lab), sanitize(uri));
    // The lock file is truncated and written below: never through a symlink
    // planted at its name, nor into a FIFO or device (O_NONBLOCK keeps the open
    // itself from hanging on a FIFO; the fstat refuses it).
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
                 0644);
    if (fd_ < 0) {
        const int err = errno;
        throw AdapterError(path_, "open lock file",
                           err == ELOOP ? "it is a symbolic link; remove it" : std::strerror(err),
                           err);
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
        const bool regular = S_ISREG(st.st_mode);
        ::close(fd_);
        fd_ = -1;
        throw AdapterError(path_, "open lock file",
                           regular ? "it belongs to another user; remove it"
                                   : "it is not a regular file; remove it");
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            const int err = errno;
            ::close(fd_);
            throw AdapterError(path_, "lock", std::strerror(err), err);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            // The holder writes who it is right after taking the lock: a file
            // still empty is a holder between the two, so wait a little for it.
            std::string holder = read_holder(fd_);
            for (int i = 0; i < 50 && holder.empty(); ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
                holder = read_holder(fd_);
            }
            if (holder.empty()) holder = "another process";
            ::close(fd_);
            fd_ = -1;
            throw Error(fmt::format(
                "lab '{}' on {} is busy: {} holds its lock ({}){}", lab, uri, holder, path_,
                timeout.count() == 0
                    ? "; wait for it, or pass --lock-timeout SECONDS"
                    : fmt::format("; gave up after {:.0f}s", timeout.count() / 1000.0)));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const std::string holder =
        fmt::format("pid {}, virtform {}, since {}\n", ::getpid(), command, now_utc());
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size())) {
        // The lock holds regardless; only the holder's description is missing.
    }
}

LabLock::~LabLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace virtform::host
