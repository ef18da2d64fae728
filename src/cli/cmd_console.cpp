// `virtform console VM`: the VM's serial console over libvirt's stream API,
// or, for a file-backed console, the file followed as it grows. Ctrl-] leaves;
// a terminal goes back to how it was, also on an error.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <iostream>

#include "common.h"
#include "virtform/adapters/libvirt/console.h"
#include "virtform/diag.h"
#include "virtform/error.h"

namespace virtform::cli {

namespace {

std::atomic<int> g_signal{0};

extern "C" void on_console_signal(int sig) {
    g_signal.store(sig);
}

/// SIGINT, SIGTERM and SIGHUP end the session (the terminal is restored on the
/// way out) instead of the process; the previous handlers come back after.
class SessionSignals {
public:
    SessionSignals() {
        struct sigaction sa {};
        sa.sa_handler = on_console_signal;
        ::sigemptyset(&sa.sa_mask);
        for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
    }
    ~SessionSignals() {
        for (std::size_t i = 0; i < kSignals.size(); ++i)
            ::sigaction(kSignals[i], &old_[i], nullptr);
    }
    SessionSignals(const SessionSignals&) = delete;
    SessionSignals& operator=(const SessionSignals&) = delete;
    static int received() { return g_signal.load(); }

private:
    static constexpr std::array<int, 3> kSignals{SIGINT, SIGTERM, SIGHUP};
    std::array<struct sigaction, 3> old_{};
};

/// Puts a terminal on stdin into raw mode for its lifetime (keys go to the
/// guest as typed, Ctrl-C included), and restores it when it ends.
class RawTerminal {
public:
    explicit RawTerminal(int fd) : fd_(fd) {
        if (::isatty(fd) == 0 || ::tcgetattr(fd, &saved_) != 0) return;
        termios raw = saved_;
        ::cfmakeraw(&raw);
        if (::tcsetattr(fd, TCSAFLUSH, &raw) == 0) active_ = true;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

/// Follows a console file: what it holds, then what is appended, until Ctrl-]
/// on stdin, the end of stdin, or a signal.
libvirt::ConsoleEnd follow_file(const std::string& path, char escape) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        throw Error(fmt::format("cannot open the console file {}: {}", terminal_escape(path),
                                std::strerror(errno)));
    }
    char buf[4096];
    bool input_open = true;
    auto end = libvirt::ConsoleEnd::stopped;
    while (SessionSignals::received() == 0) {
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) {
            if (::write(STDOUT_FILENO, buf, static_cast<std::size_t>(n)) < 0) break;
        }
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (!input_open || ::poll(&p, 1, 200) <= 0) {
            if (!input_open) ::usleep(200000);
            continue;
        }
        const ssize_t k = ::read(STDIN_FILENO, buf, sizeof buf);
        if (k <= 0) {
            end = libvirt::ConsoleEnd::input_closed;
            break;
        }
        if (std::string_view(buf, static_cast<std::size_t>(k)).find(escape) !=
            std::string_view::npos) {
            end = libvirt::ConsoleEnd::escape;
            break;
        }
        // Typing into a file-backed console goes nowhere: the guest reads no file.
    }
    ::close(fd);
    return end;
}

}  // namespace

int cmd_console(const GlobalOptions& g, const ManifestOptions& m, const std::string& vm_name) {
    const Desired desired = load(m);
    const Vm& vm = find_vm(desired, vm_name);
    const bool tty = ::isatty(STDIN_FILENO) != 0;
    std::cerr << fmt::format(
        "Connected to the console of vm {}{} (escape character is ^])\n", vm.name,
        vm.console_file ? " (file " + terminal_escape(*vm.console_file) + ")" : std::string());
    SessionSignals signals;
    libvirt::ConsoleEnd end;
    {
        RawTerminal raw(STDIN_FILENO);
        if (vm.console_file) {
            end = follow_file(*vm.console_file, 0x1d);
        } else {
            libvirt::ConsoleOptions options;
            options.stop = [] { return SessionSignals::received() != 0; };
            end = libvirt::attach_console(g.uri, vm.name, options);
        }
    }
    std::cerr << (tty ? "\r\n" : "\n");
    if (end == libvirt::ConsoleEnd::console_closed) std::cerr << "The console closed.\n";
    if (end == libvirt::ConsoleEnd::stopped) return 128 + SessionSignals::received();
    return 0;
}

}  // namespace virtform::cli
