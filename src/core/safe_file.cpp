#include "virtform/safe_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>

#include "virtform/error.h"

namespace virtform {
namespace {

/// Closes the descriptor it holds (if any) when it goes.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
};

std::pair<std::string, std::string> split_path(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

std::string random_suffix() {
    static thread_local std::mt19937_64 gen{std::random_device{}()};
    return fmt::format("{:016x}", gen());
}

[[noreturn]] void fail(const std::string& path, const std::string& operation,
                       const std::string& what, int err) {
    throw AdapterError(path, operation, fmt::format("{}: {}", what, std::strerror(err)), err);
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view content,
                           const std::string& operation, const SafeWriteOptions& options) {
    const auto [dir, name] = split_path(path);
    if (name.empty() || name == "." || name == "..")
        throw AdapterError(path, operation, "not a file name");
    Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                     (options.directory_nofollow ? O_NOFOLLOW : 0)));
    if (dirfd.get() < 0) {
        const int err = errno;
        fail(path, operation,
             err == ELOOP || err == ENOTDIR
                 ? "the directory " + dir + " is not a directory (or is a symbolic link)"
                 : "open the directory " + dir,
             err);
    }
    std::string tmp;
    int raw = -1;
    for (int attempt = 0; attempt < 100 && raw < 0; ++attempt) {
        tmp = fmt::format(".{}.{}.tmp", name, random_suffix());
        raw = ::openat(dirfd.get(), tmp.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, options.mode & 0777);
        if (raw < 0 && errno != EEXIST) fail(path, operation, "create " + dir + "/" + tmp, errno);
    }
    if (raw < 0) fail(path, operation, "create a temp file in " + dir, EEXIST);
    Fd fd(raw);
    auto undo = [&](const std::string& what) {
        const int err = errno;
        ::unlinkat(dirfd.get(), tmp.c_str(), 0);
        fail(path, operation, what, err);
    };
    if (::fchmod(fd.get(), options.mode) != 0) undo("chmod " + tmp);
    const char* p = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        const ssize_t n = ::write(fd.get(), p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) undo("write " + tmp);
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) undo("fsync " + tmp);
    if (::close(fd.release()) != 0) undo("close " + tmp);
    if (::renameat(dirfd.get(), tmp.c_str(), dirfd.get(), name.c_str()) != 0)
        undo("rename " + tmp + " to " + name);
    ::fsync(dirfd.get());  // the rename itself survives a crash; best effort
}

std::optional<std::string> read_file_nofollow(const std::string& path, std::size_t max_bytes,
                                              const std::string& operation) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        if (errno == ELOOP) throw AdapterError(path, operation, "it is a symbolic link", ELOOP);
        fail(path, operation, "open", errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail(path, operation, "stat", errno);
    if (!S_ISREG(st.st_mode)) throw AdapterError(path, operation, "not a regular file");
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
        throw AdapterError(
            path, operation,
            fmt::format("{} bytes, more than the {} allowed", st.st_size, max_bytes));
    }
    std::string out;
    std::array<char, 8192> buf{};
    while (true) {
        const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(path, operation, "read", errno);
        if (n == 0) break;
        out.append(buf.data(), static_cast<std::size_t>(n));
        if (out.size() > max_bytes) {
            throw AdapterError(path, operation, fmt::format("more than {} bytes", max_bytes));
        }
    }
    return out;
}

}  // namespace virtform
