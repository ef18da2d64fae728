#pragma once
// What this host's KVM really is, found by the test itself (stat, open, ioctl,
// /proc/cpuinfo, /sys/module, QEMU run from a shell), never through virtform:
// tests compare virtform's answers with these instead of with one machine's facts.
// The suite meets three kinds of host: no /dev/kvm; /dev/kvm that guests cannot use
// (a VM under "kvm-pvm": no vmx/svm, QEMU dies setting MSRs); a usable one.
// Header-only: only *_test.cpp files are compiled.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "integration/testlib.h"

namespace virtform::testing {

struct HostKvm {
    bool device = false;         ///< /dev/kvm exists
    int open_errno = 0;          ///< open(O_RDWR) failed with this; 0 when it opened
    bool creates_vm = false;     ///< KVM_CREATE_VM worked
    std::string virt_flag;       ///< "vmx", "svm" or "" (from /proc/cpuinfo)
    bool hypervisor = false;     ///< the "hypervisor" CPU flag: this host is a VM
    bool kvm_module = false;     ///< /sys/module/kvm
    bool vendor_module = false;  ///< kvm_intel, kvm_amd or kvm_pvm in /sys/module
    bool guest_runs =
        false;              ///< a guest kernel (or, without one, the firmware) ran under -accel kvm
    std::string qemu_said;  ///< QEMU's output of that try, for messages

    /// "no /dev/kvm", "/dev/kvm that guests cannot use", "usable KVM": for messages.
    std::string kind() const {
        if (!device) return "no /dev/kvm";
        return guest_runs ? "usable KVM" : "/dev/kvm that guests cannot use";
    }
};

namespace detail {

inline HostKvm probe_host_kvm_uncached() {
    HostKvm h;
    struct stat st {};
    h.device = ::stat("/dev/kvm", &st) == 0;
    if (h.device) {
        const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            h.open_errno = errno;
        } else {
            const int vm = ::ioctl(fd, KVM_CREATE_VM, 0);
            h.creates_vm = vm >= 0;
            if (vm >= 0) ::close(vm);
            ::close(fd);
        }
    }
    std::istringstream cpuinfo(read_text("/proc/cpuinfo"));
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        for (std::string f; words >> f;) {
            if (f == "vmx" || f == "svm") h.virt_flag = f;
            if (f == "hypervisor") h.hypervisor = true;
        }
        break;  // the first processor speaks for all
    }
    namespace fs = std::filesystem;
    h.kvm_module = fs::exists("/sys/module/kvm");
    h.vendor_module = fs::exists("/sys/module/kvm_intel") || fs::exists("/sys/module/kvm_amd") ||
                      fs::exists("/sys/module/kvm_pvm");

    // Does a guest get anywhere under KVM? Boot the newest kernel without a root file
    // system: on a usable KVM it panics within seconds ("Kernel panic"); without a
    // kernel, SeaBIOS reaches "No bootable device". Asked of QEMU whatever the device
    // said: QEMU's own refusal is evidence too.
    std::vector<std::string> kernels;
    std::error_code ec;  // no /boot (a container): no kernel, the firmware is tried
    for (fs::directory_iterator it("/boot", ec), end; !ec && it != end; it.increment(ec))
        if (it->path().filename().string().rfind("vmlinuz-", 0) == 0) kernels.push_back(it->path());
    std::sort(kernels.begin(), kernels.end(), [](const std::string& a, const std::string& b) {
        return ::strverscmp(a.c_str(), b.c_str()) < 0;
    });
    const auto qemu = [](int seconds) {
        return "timeout -s KILL " + std::to_string(seconds) +
               " qemu-system-x86_64 -accel kvm"
               " -m 128 -nodefaults -no-user-config -display none -monitor none -no-reboot ";
    };
    if (!kernels.empty()) {
        const auto r = sh(qemu(20) + "-serial stdio -kernel " + kernels.back() +
                          " -append 'console=ttyS0 panic=-1' 2>&1");
        h.qemu_said = r.out;
        h.guest_runs = r.code == 0 && r.out.find("Kernel panic") != std::string::npos;
    } else {
        const auto r = sh(qemu(10) +
                          "-serial none -chardev stdio,id=d -device "
                          "isa-debugcon,iobase=0x402,chardev=d 2>&1 | "
                          "grep -m1 -o 'No bootable device'");
        h.qemu_said = r.out;
        h.guest_runs = r.out.find("No bootable device") != std::string::npos;
    }
    return h;
}

}  // namespace detail

/// The host's KVM, probed once per test binary (a QEMU boot costs seconds).
inline const HostKvm& host_kvm() {
    static const HostKvm h = detail::probe_host_kvm_uncached();
    return h;
}

}  // namespace virtform::testing
