#pragma once
/// Helpers for tests against real netlink. main() (netns_main.cpp) has already moved
/// the process into a private network and mount namespace; nothing here can touch
/// the host's devices.
#include <sys/types.h>
#include <string>

namespace virtform::netns_test {

/// Output (stdout) of a shell command; `status` gets its exit code.
std::string sh(const std::string& command, int* status = nullptr);
/// Runs a command that must succeed (fails the test with its output otherwise).
void must(const std::string& command);

/// Moves the process into a new, empty network namespace with lo up and /sys
/// showing it: every test starts from nothing.
void fresh_netns();

/// A second network namespace (the LAN router): a child process that unshared its
/// network namespace and waits. Killed by the destructor, and by the kernel
/// (PR_SET_PDEATHSIG) if the test process dies, so no namespace is left behind.
class PeerNetns {
  public:
    PeerNetns();
    ~PeerNetns();
    PeerNetns(const PeerNetns&) = delete;
    PeerNetns& operator=(const PeerNetns&) = delete;

    pid_t pid() const { return pid_; }
    /// The command as run inside the namespace (nsenter --net=/proc/<pid>/ns/net ...).
    std::string in(const std::string& command) const;

  private:
    pid_t pid_ = -1;
};

}  // namespace virtform::netns_test
