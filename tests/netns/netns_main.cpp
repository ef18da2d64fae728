/// main() for the netns tests: moves the process into a private network namespace
/// (and a private mount namespace with its own /sys) BEFORE any test runs, so that
/// nothing a test does can reach the host's eth0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "netns/netns_util.h"

namespace virtform::netns_test {
namespace {

void die(const char* what) {
    std::fprintf(stderr, "netns tests: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

void lo_up() {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) die("SIOCGIFFLAGS lo");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) die("SIOCSIFFLAGS lo");
    close(fd);
}

void enter_new_netns() {
    if (unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET)");
    // sysfs shows the devices of the namespace it was mounted in: mount a fresh one.
    umount2("/sys", MNT_DETACH);
    if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        die("mount sysfs");
    }
    lo_up();
}

}  // namespace

void fresh_netns() {
    enter_new_netns();
}

std::string sh(const std::string& command, int* status) {
    std::string out;
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) throw std::runtime_error("popen failed: " + command);
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int rc = pclose(p);
    if (status != nullptr) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

void must(const std::string& command) {
    int status = 0;
    std::string out = sh(command, &status);
    ASSERT_EQ(status, 0) << command << "\n" << out;
}

PeerNetns::PeerNetns() {
    std::array<int, 2> fds{};
    if (pipe(fds.data()) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        char ok = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
        if (write(fds[1], &ok, 1) != 1) _exit(1);
        close(fds[1]);
        for (;;) pause();
    }
    close(fds[1]);
    char ok = 'n';
    ssize_t n = read(fds[0], &ok, 1);
    close(fds[0]);
    if (n != 1 || ok != 'y') throw std::runtime_error("peer namespace did not start");
    sh(in("ip link set lo up"));
}

PeerNetns::~PeerNetns() {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
}

std::string PeerNetns::in(const std::string& command) const {
    return "nsenter --net=/proc/" + std::to_string(pid_) + "/ns/net " + command;
}

}  // namespace virtform::netns_test

int main(int argc, char** argv) {
    if (geteuid() != 0) {
        std::fprintf(stderr, "netns tests need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)\n");
        return 1;
    }
    // A private mount namespace first, so that the fresh /sys stays ours.
    if (unshare(CLONE_NEWNS) != 0) virtform::netns_test::die("unshare(CLONE_NEWNS)");
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        virtform::netns_test::die("make / private");
    }
    virtform::netns_test::fresh_netns();
    testing::InitGoogleMock(&argc, argv);
    return RUN_ALL_TESTS();
}
