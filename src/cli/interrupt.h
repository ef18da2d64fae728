#pragma once
/// Ctrl-C (SIGINT) and SIGTERM while apply/destroy executes. The first signal
/// only sets a flag: the executor starts nothing new (ExecOptions::stop_requested),
/// the actions already running finish, the CLI prints what was done and what was
/// not, the lab lock is released on the way out and the exit status is 128 + the
/// signal (130 for SIGINT, 143 for SIGTERM). A second signal ends the process at
/// once with the signal's default action (the kernel still drops the lock).
#include <signal.h>

namespace virtform::cli {

/// Installs the handlers for its lifetime and restores the previous ones after.
/// One at a time: the state is process-wide, as signal dispositions are.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

    /// True once a signal arrived; safe from any thread.
    bool requested() const { return interrupt_signal() != 0; }
    /// 128 + the signal: the exit status after an interrupted run.
    int exit_code() const { return 128 + interrupt_signal(); }

    /// The first signal received while a guard is installed, 0 if none.
    static int interrupt_signal();

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

/// "SIGINT", "SIGTERM", or "a signal".
const char* signal_name(int sig);

}  // namespace virtform::cli
