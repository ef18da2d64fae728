#include "virtform/adapters/host/doctor.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace virtform::host {

namespace {

using namespace std::chrono_literals;
using Status = Check::Status;

std::string trim(std::string s) {
    const auto not_space = [](unsigned char c) { return !std::isspace(c); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
    s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
    return s;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

/// The value after "key:" on the first line starting with key, trimmed.
std::string field(const std::string& text, const std::string& key) {
    for (const auto& line : lines_of(text)) {
        if (line.rfind(key, 0) == 0) {
            const auto colon = line.find(':', key.size());
            if (colon != std::string::npos) return trim(line.substr(colon + 1));
        }
    }
    return {};
}

std::string first_line(const std::string& text) {
    for (const auto& line : lines_of(text)) {
        auto t = trim(line);
        if (!t.empty()) return t;
    }
    return {};
}

/// QEMU's own complaints ("qemu-system-x86_64: error: ..."), one per line.
std::string qemu_messages(const std::string& output, std::size_t max_lines = 3) {
    std::string out;
    std::size_t n = 0;
    for (const auto& line : lines_of(output)) {
        if (line.rfind("qemu-system", 0) != 0 && line.find("Assertion") == std::string::npos)
            continue;
        if (line.find("terminating on signal") != std::string::npos) continue;
        if (!out.empty()) out += "; ";
        out += trim(line);
        if (++n == max_lines) break;
    }
    return out;
}

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

std::string seconds_str(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

Check make(std::string id, std::string title, Status status, std::string detail,
           std::string fix = {}) {
    return Check{std::move(id), std::move(title), status, std::move(detail),
                 status == Status::pass ? std::string{} : std::move(fix)};
}

/// The set of CPU flags of the first processor in /proc/cpuinfo.
std::vector<std::string> cpu_flags(HostProbe& probe) {
    auto info = probe.read_file("/proc/cpuinfo");
    if (!info) return {};
    auto flags = field(*info, "flags");
    std::vector<std::string> out;
    std::istringstream in(flags);
    std::string f;
    while (in >> f) out.push_back(f);
    return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

constexpr const char* kTcgFix =
    "VMs with accel: auto run under TCG (accel: qemu, software emulation, roughly 10x slower) "
    "with a warning; write accel: qemu to make that explicit. For KVM, expose vmx/svm to "
    "this machine (nested virtualisation on the outer hypervisor) or use a bare-metal host";

Check check_cpu_flags(HostProbe& probe) {
    const auto flags = cpu_flags(probe);
    const std::string title = "CPU virtualisation flags (vmx/svm)";
    if (flags.empty())
        return make("cpu.virt-flags", title, Status::warn, "cannot read flags from /proc/cpuinfo",
                    "check that /proc is mounted");
    if (has(flags, "vmx")) return make("cpu.virt-flags", title, Status::pass, "vmx (Intel VT-x)");
    if (has(flags, "svm")) return make("cpu.virt-flags", title, Status::pass, "svm (AMD-V)");
    if (has(flags, "hypervisor"))
        return make("cpu.virt-flags", title, Status::warn,
                    "no vmx or svm flag: this host is itself a virtual machine without nested "
                    "virtualisation exposed",
                    std::string("enable nested virtualisation for this VM on the outer host "
                                "(e.g. kvm_intel nested=1 and a CPU model with vmx); until then ") +
                        "guests run under TCG (accel: qemu)");
    return make("cpu.virt-flags", title, Status::warn, "no vmx or svm flag",
                "enable Intel VT-x / AMD-V in the firmware (BIOS/UEFI) setup; until then guests "
                "run under TCG (accel: qemu)");
}

Check check_kvm_device(HostProbe& probe, const KvmProbeOptions& o) {
    const std::string title = o.device + " present and usable";
    const auto dev = probe.open_kvm(o.device);
    if (!dev.exists)
        return make(
            "kvm.device", title, Status::warn, o.device + " does not exist",
            "load the KVM modules (modprobe kvm_intel or modprobe kvm_amd) after enabling "
            "virtualisation in the firmware; without it guests run under TCG (accel: qemu)");
    if (dev.open_errno == EACCES || dev.open_errno == EPERM)
        return make("kvm.device", title, Status::warn, dev.error,
                    "run as root or add the user to the kvm group (usermod -aG kvm USER)");
    if (dev.open_errno != 0)  // ENODEV, ENXIO: a device node with no KVM driver behind it
        return make("kvm.device", title, Status::warn, dev.error,
                    "no KVM driver answers on " + o.device +
                        ": load the KVM modules (modprobe kvm_intel or modprobe kvm_amd; they "
                        "need vmx/svm); without it guests run under TCG (accel: qemu)");
    if (!dev.create_vm)
        return make("kvm.device", title, Status::warn, dev.error,
                    "the kernel refuses to create VMs; check dmesg for kvm errors");
    return make("kvm.device", title, Status::pass,
                "opens; API version " + std::to_string(dev.api_version) + "; KVM_CREATE_VM works");
}

Check check_kvm_modules(HostProbe& probe) {
    const std::string title = "KVM kernel modules";
    std::vector<std::string> present;
    for (const char* m : {"kvm", "kvm_intel", "kvm_amd", "kvm_pvm"}) {
        const std::string dir = std::string("/sys/module/") + m;
        if (!probe.exists(dir)) continue;
        // Loadable modules have an initstate; built-in ones only their parameters.
        present.push_back(std::string(m) + (probe.exists(dir + "/initstate") ? "" : " (built in)"));
    }
    std::string list;
    for (const auto& p : present) list += (list.empty() ? "" : ", ") + p;
    const bool core = probe.exists("/sys/module/kvm");
    const bool vendor = probe.exists("/sys/module/kvm_intel") ||
                        probe.exists("/sys/module/kvm_amd") || probe.exists("/sys/module/kvm_pvm");
    if (core && vendor) return make("kvm.modules", title, Status::pass, list);
    if (core)
        return make("kvm.modules", title, Status::warn, list + "; no vendor module",
                    "modprobe kvm_intel (Intel) or modprobe kvm_amd (AMD)");
    return make("kvm.modules", title, Status::warn, "kvm is not loaded",
                "modprobe kvm_intel (Intel) or modprobe kvm_amd (AMD); needs vmx/svm");
}

Check check_kvm_usable(HostProbe& probe, const KvmProbeOptions& o) {
    const std::string title = "KVM usable by guests (accel: auto)";
    if (!probe.exists(o.device))
        return make("kvm.usable", title, Status::warn, "no " + o.device + "; accel: auto uses TCG",
                    kTcgFix);
    const auto r = probe_kvm(probe, o);
    std::string how = r.method == "kernel" ? "booted a kernel" : "ran the firmware";
    std::string when =
        r.cached ? " (cached probe)" : " (probe took " + seconds_str(r.seconds) + ")";
    if (r.usable)
        return make("kvm.usable", title, Status::pass,
                    "a test guest " + how + " under KVM" + when + "; accel: auto uses kvm");
    return make(
        "kvm.usable", title, Status::warn,
        "a test guest cannot run under KVM: " + r.detail + when + "; accel: auto falls back to TCG",
        kTcgFix);
}

Check check_libvirtd(HostProbe& probe, const DoctorOptions& o) {
    const std::string title = "libvirtd reachable";
    const auto virsh = probe.find_program(o.virsh_binary);
    if (!virsh)
        return make("libvirt.daemon", title, Status::fail, o.virsh_binary + " not found",
                    "apt-get install libvirt-clients libvirt-daemon-system");
    const auto r =
        probe.run({*virsh, "-c", o.connect_uri, "version", "--daemon"}, o.command_timeout);
    const auto daemon = field(r.output, "Running against daemon");
    if (!r.ok() || daemon.empty()) {
        std::string why = r.timed_out ? "virsh timed out" : first_line(r.output);
        return make("libvirt.daemon", title, Status::fail,
                    "cannot connect to " + o.connect_uri + ": " + why,
                    "start the daemons: virtlogd -d && libvirtd -d (scripts/start-libvirtd.sh), "
                    "or systemctl start libvirtd; run as root or in the libvirt group");
    }
    std::string detail = o.connect_uri + ": libvirt " + daemon;
    if (auto hv = field(r.output, "Running hypervisor"); !hv.empty())
        detail += ", hypervisor " + hv;
    return make("libvirt.daemon", title, Status::pass, detail);
}

Check check_qemu_binary(HostProbe& probe, const KvmProbeOptions& o) {
    const std::string title = "QEMU binary";
    const auto qemu = probe.find_program(o.qemu_binary);
    if (!qemu)
        return make("qemu.binary", title, Status::fail, o.qemu_binary + " not found",
                    "apt-get install qemu-system-x86");
    const auto r = probe.run({*qemu, "-version"}, 10s);
    if (!r.ok())
        return make("qemu.binary", title, Status::fail,
                    *qemu + " -version failed: " + first_line(r.output),
                    "reinstall qemu-system-x86");
    return make("qemu.binary", title, Status::pass, *qemu + ": " + first_line(r.output));
}

Check check_qemu_machines(HostProbe& probe, const KvmProbeOptions& o) {
    const std::string title = "QEMU machine types";
    const auto qemu = probe.find_program(o.qemu_binary);
    if (!qemu)
        return make("qemu.machines", title, Status::fail, "no QEMU binary",
                    "apt-get install qemu-system-x86");
    const auto r = probe.run({*qemu, "-machine", "help"}, 10s);
    std::vector<std::string> names;
    std::string default_machine;
    for (const auto& line : lines_of(r.output)) {
        std::istringstream in(line);
        std::string name;
        in >> name;
        if (name.empty() || line.rfind("Supported", 0) == 0) continue;
        names.push_back(name);
        if (line.find("(default)") != std::string::npos) default_machine = name;
    }
    const bool q35 = has(names, "q35");
    const bool pc = has(names, "pc");
    if (!r.ok() || (!q35 && !pc))
        return make("qemu.machines", title, Status::fail,
                    "neither q35 nor pc in `" + o.qemu_binary + " -machine help`",
                    "reinstall qemu-system-x86 (a full x86 system emulator)");
    std::string detail = std::to_string(names.size()) + " types";
    detail += q35 ? ", q35" : "";
    detail += pc ? ", pc" : "";
    if (!default_machine.empty()) detail += "; default " + default_machine;
    if (!q35)
        return make("qemu.machines", title, Status::warn, detail + "; no q35",
                    "use firmware: bios with machine pc, or install a QEMU with q35");
    return make("qemu.machines", title, Status::pass, detail);
}

Check check_dnsmasq(HostProbe& probe, const DoctorOptions& o) {
    const std::string title = "dnsmasq (DHCP/DNS of libvirt networks)";
    const auto bin = probe.find_program(o.dnsmasq_binary);
    if (!bin)
        return make("dnsmasq", title, Status::fail, o.dnsmasq_binary + " not found",
                    "apt-get install dnsmasq-base (libvirt runs it for every network with DHCP "
                    "or DNS)");
    const auto r = probe.run({*bin, "--version"}, 10s);
    if (!r.ok())
        return make("dnsmasq", title, Status::fail, *bin + " --version failed",
                    "reinstall dnsmasq-base");
    return make("dnsmasq", title, Status::pass, *bin + ": " + first_line(r.output));
}

Check check_firewall(HostProbe& probe) {
    const std::string title = "firewall backend (NAT rules)";
    // libvirt 9.0 writes NAT/forward rules through iptables/ip6tables (nf_tables or legacy).
    const auto ipt = probe.find_program("iptables");
    std::string firewalld;
    if (probe.exists("/run/firewalld/firewalld.pid") || probe.exists("/var/run/firewalld.pid"))
        firewalld = "; firewalld running (libvirt puts its bridges in the 'libvirt' zone)";
    if (!ipt)
        return make("firewall.backend", title, Status::fail, "iptables not found" + firewalld,
                    "apt-get install iptables (libvirt adds the NAT and forwarding rules of "
                    "nat/route networks with it)");
    const auto r = probe.run({*ipt, "-V"}, 10s);
    if (!r.ok())
        return make("firewall.backend", title, Status::fail,
                    *ipt + " -V failed: " + first_line(r.output), "reinstall iptables");
    std::string detail = first_line(r.output);  // "iptables v1.8.9 (nf_tables)"
    if (detail.find("nf_tables") != std::string::npos)
        detail += ": nftables through the iptables-nft layer";
    else if (detail.find("legacy") != std::string::npos)
        detail += ": legacy xtables";
    return make("firewall.backend", title, Status::pass, detail + firewalld);
}

Check check_bridge_module(HostProbe& probe) {
    const std::string title = "bridge module";
    if (probe.exists("/sys/module/bridge")) {
        const bool builtin = !probe.exists("/sys/module/bridge/initstate");
        return make("bridge.module", title, Status::pass, builtin ? "built in" : "loaded");
    }
    // Not loaded yet: the kernel loads it on the first bridge, if it has it.
    std::string release = first_line(probe.read_file("/proc/sys/kernel/osrelease").value_or(""));
    const std::string dir = "/lib/modules/" + release + "/kernel/net/bridge";
    if (!release.empty() && !probe.glob(dir + "/bridge.ko*").empty())
        return make("bridge.module", title, Status::pass,
                    "not loaded; available, loads on the first bridge");
    return make("bridge.module", title, Status::fail,
                "bridge module neither loaded nor found for kernel " + release,
                "install the kernel's modules (linux-image-" + release +
                    ") or build with CONFIG_BRIDGE; then modprobe bridge");
}

Check check_ip_forward(HostProbe& probe) {
    const std::string title = "IPv4 forwarding";
    const auto v = probe.read_file("/proc/sys/net/ipv4/ip_forward");
    if (!v)
        return make("net.ip-forward", title, Status::warn,
                    "cannot read /proc/sys/net/ipv4/ip_forward", "check that /proc is mounted");
    if (trim(*v) == "1") return make("net.ip-forward", title, Status::pass, "enabled");
    return make("net.ip-forward", title, Status::warn,
                "disabled (net.ipv4.ip_forward = 0); libvirt enables it when it starts a nat or "
                "route network, bridge-mode labs routing through this host need it on",
                "sysctl -w net.ipv4.ip_forward=1 (persist in /etc/sysctl.d/)");
}

Check space_check(std::string id, std::string title, const std::string& what,
                  std::uint64_t available, std::uint64_t total, const DoctorOptions& o) {
    std::string detail = what + ": " + human_bytes(available) + " free";
    if (total > 0) detail += " of " + human_bytes(total);
    if (available < o.space_fail_bytes)
        return make(std::move(id), std::move(title), Status::fail,
                    detail + " (under " + human_bytes(o.space_fail_bytes) + ")",
                    "free space there or put the lab's pool on a larger file system");
    if (available < o.space_warn_bytes)
        return make(std::move(id), std::move(title), Status::warn,
                    detail + " (under " + human_bytes(o.space_warn_bytes) + ")",
                    "free space there or put the lab's pool on a larger file system");
    return make(std::move(id), std::move(title), Status::pass, detail);
}

std::vector<Check> check_space(HostProbe& probe, const DoctorOptions& o) {
    std::vector<Check> out;
    if (const auto virsh = probe.find_program(o.virsh_binary)) {
        const auto list = probe.run({*virsh, "-c", o.connect_uri, "pool-list", "--all", "--name"},
                                    o.command_timeout);
        if (list.ok()) {
            for (const auto& line : lines_of(list.output)) {
                const auto name = trim(line);
                if (name.empty()) continue;
                const std::string id = "pool." + name;
                const std::string title = "free space in pool " + name;
                const auto info = probe.run(
                    {*virsh, "-c", o.connect_uri, "pool-info", "--bytes", name}, o.command_timeout);
                const auto avail = field(info.output, "Available");
                if (!info.ok() || avail.empty()) {
                    const auto state = field(info.output, "State");
                    out.push_back(make(
                        id, title, Status::warn,
                        "pool " + (state.empty() ? "unreadable" : state) + "; free space unknown",
                        "virsh pool-start " + name));
                    continue;
                }
                const auto cap = field(info.output, "Capacity");
                std::uint64_t a = 0, c = 0;
                try {
                    a = std::stoull(avail);
                    c = cap.empty() ? 0 : std::stoull(cap);
                } catch (const std::exception&) {
                    out.push_back(make(id, title, Status::warn, "cannot parse: " + avail,
                                       "virsh pool-refresh " + name));
                    continue;
                }
                out.push_back(space_check(id, title, "pool " + name, a, c, o));
            }
        }
    }
    for (const auto& path : o.space_paths) {
        const std::string id = "space." + path;
        const std::string title = "free space under " + path;
        const auto s = probe.disk_space(path);
        if (!s) {
            out.push_back(make(id, title, Status::warn, "cannot measure " + path,
                               "check that the path or a parent exists"));
            continue;
        }
        std::string what = s->checked_path == path ? path : path + " (on " + s->checked_path + ")";
        out.push_back(space_check(id, title, what, s->available, s->total, o));
    }
    return out;
}

std::string cache_key(HostProbe& probe, const std::string& qemu, const std::string& kernel,
                      const KvmProbeOptions& o) {
    const auto boot = first_line(probe.read_file("/proc/sys/kernel/random/boot_id").value_or(""));
    return boot + "|" + qemu + "|" + kernel + "|" + o.accel + "|" + o.device;
}

}  // namespace

const char* to_string(Check::Status status) {
    switch (status) {
        case Status::pass:
            return "pass";
        case Status::warn:
            return "warn";
        case Status::fail:
            return "fail";
    }
    return "?";
}

KvmProbeResult probe_kvm(HostProbe& probe, const KvmProbeOptions& o) {
    KvmProbeResult result;
    const auto qemu = probe.find_program(o.qemu_binary);
    if (!qemu) {
        result.detail = o.qemu_binary + " not found";
        return result;
    }
    if (o.accel == "kvm") {
        const auto dev = probe.open_kvm(o.device);
        if (!dev.create_vm) {
            result.detail = dev.error;
            return result;
        }
    }
    std::string kernel = o.kernel;
    if (kernel.empty()) {
        auto kernels = probe.glob("/boot/vmlinuz-*");
        // Newest by version, not by spelling: 6.10 after 6.9.
        std::sort(kernels.begin(), kernels.end(), [](const std::string& a, const std::string& b) {
            return ::strverscmp(a.c_str(), b.c_str()) < 0;
        });
        if (!kernels.empty()) kernel = kernels.back();
    }
    const std::string key = cache_key(probe, *qemu, kernel, o);
    if (o.use_cache && !o.cache_path.empty()) {
        if (const auto text = probe.read_file(o.cache_path)) {
            const auto j = nlohmann::json::parse(*text, nullptr, false);
            if (j.is_object() && j.value("key", "") == key) {
                result.usable = j.value("usable", false);
                result.method = j.value("method", "");
                result.detail = j.value("detail", "");
                result.cached = true;
                return result;
            }
        }
    }

    std::vector<std::string> argv = {
        *qemu,      "-accel", o.accel,    "-m",   "128",       "-nodefaults", "-no-user-config",
        "-display", "none",   "-monitor", "none", "-no-reboot"};
    const auto start = std::chrono::steady_clock::now();
    CommandResult r;
    if (!kernel.empty()) {
        // No initrd and no disk: a kernel that runs panics for want of a root file system,
        // and with panic=-1 and -no-reboot QEMU then exits 0. That is the success.
        result.method = "kernel";
        argv.insert(argv.end(), {"-serial", "stdio", "-kernel", kernel, "-append",
                                 "console=ttyS0 panic=-1 loglevel=4"});
        r = probe.run(argv, o.timeout);
        const bool panicked = r.output.find("Kernel panic") != std::string::npos;
        result.usable = r.started && !r.timed_out && r.exit_code == 0 && panicked;
        if (!result.usable) {
            const auto msgs = qemu_messages(r.output);
            if (!r.started)
                result.detail = "cannot run " + *qemu + ": " + first_line(r.output);
            else if (r.timed_out)
                result.detail = "the guest kernel made no progress in " +
                                seconds_str(static_cast<double>(o.timeout.count()) / 1000) +
                                (msgs.empty() ? "" : " (QEMU: " + msgs + ")");
            else
                result.detail = "QEMU exited with status " + std::to_string(r.exit_code) +
                                (msgs.empty() ? "" : ": " + msgs);
        }
    } else {
        // No kernel to boot: run SeaBIOS, which logs to the debug console at 0x402 and
        // ends at "No bootable device". Proves guest code runs, not that a kernel will.
        result.method = "firmware";
        argv.insert(argv.end(), {"-serial", "none", "-chardev", "stdio,id=dbg", "-device",
                                 "isa-debugcon,iobase=0x402,chardev=dbg"});
        r = probe.run(argv, std::min(o.timeout, std::chrono::milliseconds(3000)));
        result.usable = r.started && r.output.find("No bootable device") != std::string::npos;
        if (!result.usable) {
            const auto msgs = qemu_messages(r.output);
            result.detail = "the firmware did not reach its boot menu" +
                            (msgs.empty() ? std::string{} : " (QEMU: " + msgs + ")");
        }
    }
    if (result.usable) result.detail = "probe guest ran under " + o.accel;
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    if (!o.cache_path.empty()) {
        nlohmann::json j = {{"key", key},
                            {"usable", result.usable},
                            {"method", result.method},
                            {"detail", result.detail},
                            {"seconds", result.seconds}};
        probe.write_file(o.cache_path, j.dump() + "\n");  // a cache: failing to write is fine
    }
    return result;
}

bool kvm_usable(HostProbe& probe, const KvmProbeOptions& options) {
    return probe_kvm(probe, options).usable;
}

std::vector<Check> run_doctor(HostProbe& probe, const DoctorOptions& o) {
    std::vector<Check> checks;
    checks.push_back(check_cpu_flags(probe));
    checks.push_back(check_kvm_device(probe, o.kvm));
    checks.push_back(check_kvm_modules(probe));
    checks.push_back(check_kvm_usable(probe, o.kvm));
    checks.push_back(check_libvirtd(probe, o));
    checks.push_back(check_qemu_binary(probe, o.kvm));
    checks.push_back(check_qemu_machines(probe, o.kvm));
    checks.push_back(check_dnsmasq(probe, o));
    checks.push_back(check_firewall(probe));
    checks.push_back(check_bridge_module(probe));
    checks.push_back(check_ip_forward(probe));
    for (auto& c : check_space(probe, o)) checks.push_back(std::move(c));
    return checks;
}

std::vector<Check> run_doctor(const DoctorOptions& options) {
    SystemProbe probe;
    return run_doctor(probe, options);
}

int doctor_exit_code(const std::vector<Check>& checks) {
    return std::any_of(checks.begin(), checks.end(),
                       [](const Check& c) { return c.status == Status::fail; })
               ? 1
               : 0;
}

nlohmann::json doctor_to_json(const std::vector<Check>& checks) {
    nlohmann::json list = nlohmann::json::array();
    int counts[3] = {0, 0, 0};
    for (const auto& c : checks) {
        ++counts[static_cast<int>(c.status)];
        list.push_back({{"id", c.id},
                        {"title", c.title},
                        {"status", to_string(c.status)},
                        {"detail", c.detail},
                        {"fix", c.fix}});
    }
    return {{"checks", list},
            {"summary", {{"pass", counts[0]}, {"warn", counts[1]}, {"fail", counts[2]}}},
            {"ok", counts[2] == 0}};
}

std::string render_doctor_text(const std::vector<Check>& checks) {
    std::string out;
    int counts[3] = {0, 0, 0};
    for (const auto& c : checks) {
        ++counts[static_cast<int>(c.status)];
        std::string tag = to_string(c.status);
        std::transform(tag.begin(), tag.end(), tag.begin(), ::toupper);
        out += tag + "  " + c.title + ": " + c.detail + "\n";
        if (!c.fix.empty()) out += "      fix: " + c.fix + "\n";
    }
    out += "\n" + std::to_string(counts[0]) + " passed, " + std::to_string(counts[1]) +
           " warnings, " + std::to_string(counts[2]) + " failed\n";
    return out;
}

}  // namespace virtform::host
