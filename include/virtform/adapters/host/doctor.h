#pragma once
/// `virtform doctor`: can this host run a lab, and how? Each check is pass/warn/fail
/// with what was found and, unless it passed, how to fix it. Nothing here prints.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "virtform/adapters/host/host_probe.h"

namespace virtform::host {

struct Check {
    enum class Status { pass, warn, fail };
    std::string id;     ///< stable, for --json and scripts: "kvm.usable", "pool.labpool"
    std::string title;  ///< short human name: "KVM usable by guests"
    Status status = Status::pass;
    std::string detail;  ///< what was found
    std::string fix;     ///< what to do; empty when it passed
};

const char* to_string(Check::Status status);

struct KvmProbeOptions {
    std::string qemu_binary = "qemu-system-x86_64";
    std::string device = "/dev/kvm";
    /// Kernel the probe boots; empty: the newest /boot/vmlinuz-*. Without any kernel the
    /// probe falls back to running the firmware only, which proves less.
    std::string kernel;
    /// How long a guest kernel gets to reach its (expected) panic for want of a root fs.
    /// A working KVM needs about a second; a broken one hangs or dies at once.
    std::chrono::milliseconds timeout{6000};
    /// Cached answer; valid for the same boot, QEMU binary and kernel. Empty: no cache.
    std::string cache_path = "/run/virtform/kvm-probe";
    bool use_cache = true;      ///< false: probe again (and refresh the cache)
    std::string accel = "kvm";  ///< for tests of the probe itself: "tcg" must succeed
};

struct KvmProbeResult {
    bool usable = false;
    std::string method;  ///< "kernel" (booted a kernel to its panic) or "firmware"
    std::string detail;  ///< why it is (not) usable, e.g. QEMU's error line
    double seconds = 0;  ///< how long the probe itself took (0 when cached)
    bool cached = false;
};

/// Actually try KVM: boot a small guest under `-accel kvm` and see whether it gets
/// anywhere. Costs seconds the first time; the answer is cached (see KvmProbeOptions).
KvmProbeResult probe_kvm(HostProbe& probe, const KvmProbeOptions& options = {});

/// probe_kvm(...).usable: what `accel: auto` uses to choose kvm over qemu (TCG).
bool kvm_usable(HostProbe& probe, const KvmProbeOptions& options = {});

struct DoctorOptions {
    std::string connect_uri = "qemu:///system";
    std::string virsh_binary = "virsh";
    std::string dnsmasq_binary = "dnsmasq";
    KvmProbeOptions kvm;
    /// Storage to measure besides every libvirt pool: virtform's default places.
    std::vector<std::string> space_paths = {"/var/lib/virtform", "/var/lib/libvirt/images"};
    std::uint64_t space_warn_bytes = 10ULL << 30;  ///< warn below 10 GiB free
    std::uint64_t space_fail_bytes = 1ULL << 30;   ///< fail below 1 GiB free
    std::chrono::milliseconds command_timeout{10000};
};

/// Every check, in a fixed order.
std::vector<Check> run_doctor(HostProbe& probe, const DoctorOptions& options = {});
/// Same, against the real host.
std::vector<Check> run_doctor(const DoctorOptions& options = {});

/// 1 when any check failed, else 0 (warnings do not fail the host).
int doctor_exit_code(const std::vector<Check>& checks);

/// {"checks":[{"id","title","status","detail","fix"}...],
///  "summary":{"pass":N,"warn":N,"fail":N},"ok":bool}
nlohmann::json doctor_to_json(const std::vector<Check>& checks);

/// One line per check ("PASS  title: detail"), a "fix:" line under each warn/fail,
/// then a summary line.
std::string render_doctor_text(const std::vector<Check>& checks);

}  // namespace virtform::host
