#include "interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace virtform::cli {

namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "read and written from a signal handler");

void say(const char* text) {
    // write(2) is async-signal-safe; stdio and spdlog are not.
    [[maybe_unused]] const auto n = ::write(STDERR_FILENO, text, std::strlen(text));
}

extern "C" void on_signal(int sig) {
    const int saved_errno = errno;
    int none = 0;
    if (g_signal.compare_exchange_strong(none, sig)) {
        say("\nvirtform: interrupted: no new action starts; the running ones finish, then "
            "it stops (interrupt again to stop at once)\n");
        errno = saved_errno;
        return;
    }
    // The second signal: leave now, the way the signal would have without us.
    say("\nvirtform: interrupted again: stopping at once; actions that were running may be "
        "half done, the next apply finishes them\n");
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
    ::raise(sig);  // delivered when this handler returns
    errno = saved_errno;
}

}  // namespace

InterruptGuard::InterruptGuard() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigemptyset(&sa.sa_mask);
    ::sigaddset(&sa.sa_mask, SIGINT);  // one handler at a time
    ::sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESTART;  // libvirt and netlink calls carry on undisturbed
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
}

InterruptGuard::~InterruptGuard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
}

int InterruptGuard::interrupt_signal() {
    return g_signal.load();
}

const char* signal_name(int sig) {
    switch (sig) {
        case SIGINT:
            return "SIGINT";
        case SIGTERM:
            return "SIGTERM";
        default:
            return "a signal";
    }
}

}  // namespace virtform::cli
