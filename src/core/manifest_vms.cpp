// The `pools:` and `vms:` sections of a manifest.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "manifest_sections.h"

namespace virtform {

std::string seed_iso_path(const std::string& lab, const std::string& vm) {
    return fmt::format("/var/lib/virtform/seeds/{}/{}.iso", lab, vm);
}

namespace detail {
namespace {

bool absolute_path(const std::string& p) {
    return !p.empty() && p.front() == '/';
}

std::optional<std::string> read_path(const Context& ctx, MapReader& r, const std::string& key) {
    auto p = r.str(key);
    if (p && !absolute_path(*p)) {
        ctx.error(r.get(key),
                  fmt::format("'{}' of {} must be an absolute path, got '{}'", key, r.what(), *p));
        return std::nullopt;
    }
    return p;
}

/// Why the absolute `path` is not normalised ("" when it is): no empty, '.' or
/// '..' component.
std::string normalisation_problem(const std::string& path) {
    std::vector<std::string> parts;
    for (std::size_t i = 1; i <= path.size();) {
        const std::size_t slash = std::min(path.find('/', i), path.size());
        parts.push_back(path.substr(i, slash - i));
        i = slash + 1;
    }
    for (const auto& part : parts) {
        if (part.empty()) return "a path with '//' is not normalised; write it with single '/'";
        if (part == "." || part == "..")
            return fmt::format("a path through '{}' is not normalised; write the path without it",
                               part);
    }
    return {};
}

/// The system tree `path` is under ("" when none): what the distribution owns.
std::string system_tree_of(const std::string& path) {
    static const std::vector<std::string> kSystemTrees = {
        "/bin/",   "/boot/",   "/dev/",  "/etc/",  "/lib/", "/lib32/",
        "/lib64/", "/libx32/", "/proc/", "/sbin/", "/sys/", "/usr/"};
    for (const auto& tree : kSystemTrees) {
        if (path.rfind(tree, 0) == 0 && path.rfind("/usr/local/", 0) != 0) return tree;
    }
    return {};
}

/// Why `path` (absolute, trailing '/' removed) cannot be a pool directory ("" when
/// it can): it must be normalised, and neither '/' nor a system directory:
/// virtform creates, marks and removes pool directories, and libvirt sets their
/// mode.
std::string pool_path_problem(const std::string& path) {
    if (path == "/") return "the root directory cannot be a pool";
    if (auto problem = normalisation_problem(path); !problem.empty()) return problem;
    // The directories themselves, and everything under the ones the system owns.
    static const std::set<std::string> kSystem = {
        "/bin",     "/boot",    "/dev",     "/etc",       "/home",     "/lib",  "/lib32",
        "/lib64",   "/libx32",  "/media",   "/mnt",       "/opt",      "/proc", "/root",
        "/run",     "/sbin",    "/srv",     "/sys",       "/tmp",      "/usr",  "/var",
        "/var/lib", "/var/log", "/var/tmp", "/var/cache", "/usr/local"};
    if (kSystem.count(path) != 0) return "a system directory cannot be a pool";
    if (auto tree = system_tree_of(path); !tree.empty())
        return fmt::format("a directory under {} (owned by the system) cannot be a pool", tree);
    return {};
}

/// Why `path` (absolute) cannot be a serial console file ("" when it can). QEMU
/// (as root, through virtlogd) writes whatever the guest prints into it, so it
/// must not reach a file the host lives on: it is normalised, not under a
/// system tree, and neither a hidden file nor inside a hidden directory (the
/// ~/.ssh/authorized_keys and ~/.bashrc of this world).
std::string console_path_problem(const std::string& path) {
    if (path.back() == '/') return "it names a directory; name a file";
    if (auto problem = normalisation_problem(path); !problem.empty()) return problem;
    if (auto tree = system_tree_of(path); !tree.empty())
        return fmt::format("a file under {} (owned by the system) cannot take a console's output",
                           tree);
    if (path.find("/.") != std::string::npos)
        return "a hidden file or a file in a hidden directory cannot take a console's output";
    return {};
}

/// Largest sizes: memory as much as x86-64 can address (52 bits, 4PiB; libvirt
/// itself stops at 2^63 bytes), a volume what a file offset holds (2^63 - 1).
constexpr std::uint64_t kMaxMemory = 1ULL << 52;
constexpr std::uint64_t kMaxVolume = (1ULL << 63) - 1;
constexpr const char* kMemoryWhy = "what x86-64 can address";

std::optional<std::uint64_t> read_size(const Context& ctx, MapReader& r, const std::string& key,
                                       std::uint64_t min, std::uint64_t max, const char* max_why) {
    auto text = r.str(key);
    if (!text) return std::nullopt;
    std::string why;
    auto bytes = parse_size(*text, &why);
    if (!bytes && why.find("overflows") != std::string::npos) {
        ctx.error(r.get(key), fmt::format("'{}' of {} overflows: '{}' is more than 2^64 bytes; "
                                          "at most {} ({})",
                                          key, r.what(), *text, format_size(max), max_why));
        return std::nullopt;
    }
    if (!bytes) {
        ctx.error(r.get(key),
                  fmt::format("'{}' of {} is not a size: '{}' ({}; write e.g. 512MiB, 2GiB, 20G)",
                              key, r.what(), *text, why));
        return std::nullopt;
    }
    if (*bytes < min) {
        ctx.error(r.get(key), fmt::format("'{}' of {} is {}; at least {} is needed", key, r.what(),
                                          format_size(*bytes), format_size(min)));
        return std::nullopt;
    }
    if (*bytes > max) {
        ctx.error(r.get(key),
                  fmt::format("'{}' of {} is too large: {} is more than {} ({})", key, r.what(),
                              format_size(*bytes), format_size(max), max_why));
        return std::nullopt;
    }
    return bytes;
}

/// FNV-1a: a stable digest of the seed's content (not a security measure: it
/// only tells the planner the content changed without printing it).
std::string digest(const std::vector<std::string>& parts) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const auto& part : parts) {
        for (unsigned char c : part) {
            h ^= c;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    }
    return fmt::format("fnv1a:{:016x}", h);
}

const std::vector<std::pair<std::string, DiskBus>> kBuses = {{"virtio", DiskBus::virtio},
                                                             {"sata", DiskBus::sata},
                                                             {"scsi", DiskBus::scsi},
                                                             {"ide", DiskBus::ide}};

void read_disk(const Context& ctx, const YAML::Node& node, Vm& vm, Desired& desired,
               std::map<std::string, YAML::Node>& names) {
    MapReader r(ctx, node, fmt::format("a disk of VM '{}'", vm.name), key_section("disk"));
    if (!r.ok()) return;
    Disk disk;
    const bool is_cdrom = r.get("cdrom").IsDefined();
    const bool is_file = r.get("file").IsDefined();
    const bool is_volume = r.get("pool").IsDefined() || r.get("size").IsDefined();
    if (int(is_cdrom) + int(is_file) + int(is_volume) != 1) {
        ctx.error(node,
                  fmt::format("a disk of VM '{}' must be exactly one of: a volume (name, pool, "
                              "size), a cdrom (cdrom: /path.iso) or an image file (file: /path)",
                              vm.name));
        r.finish();
        return;
    }
    disk.bus = r.choice("bus", kBuses).value_or(is_cdrom ? DiskBus::sata : DiskBus::virtio);
    if (disk.bus == DiskBus::ide) {
        // Two IDE channels of two devices each (hda..hdd) on pc; q35 has none.
        const auto ide = std::count_if(vm.disks.begin(), vm.disks.end(),
                                       [](const Disk& d) { return d.bus == DiskBus::ide; });
        if (vm.machine == "q35") {
            ctx.error(r.get("bus").IsDefined() ? r.get("bus") : node,
                      fmt::format("a disk of VM '{}' is on bus ide, which machine q35 does not "
                                  "have; use sata",
                                  vm.name));
        } else if (ide >= 4) {
            ctx.error(r.get("bus").IsDefined() ? r.get("bus") : node,
                      fmt::format("VM '{}' has more than 4 IDE disks; the IDE bus holds 4 "
                                  "(hda..hdd): use virtio, sata or scsi",
                                  vm.name));
        }
    }
    auto name = r.str("name");
    if (is_cdrom || is_file) {
        disk.type = is_cdrom ? Disk::Type::cdrom : Disk::Type::file;
        disk.path = read_path(ctx, r, is_cdrom ? "cdrom" : "file").value_or("");
        disk.name = name.value_or(disk.path.substr(disk.path.find_last_of('/') + 1));
    } else {
        disk.type = Disk::Type::volume;
        if (!name)
            ctx.error(node, fmt::format("a volume disk of VM '{}' needs 'name'", vm.name));
        else if (!valid_object_name(*name)) {
            ctx.error(r.get("name"),
                      fmt::format("disk name '{}' of VM '{}' is not valid", *name, vm.name));
        }
        disk.name = name.value_or("");
        auto pool = r.str("pool");
        if (!pool)
            ctx.error(node,
                      fmt::format("volume disk '{}' of VM '{}' needs 'pool'", disk.name, vm.name));
        Volume vol;
        vol.pool = pool.value_or("");
        vol.format =
            r.choice<DiskFormat>("format", {{"qcow2", DiskFormat::qcow2}, {"raw", DiskFormat::raw}})
                .value_or(DiskFormat::qcow2);
        vol.backing = read_path(ctx, r, "backing");
        vol.import_from = read_path(ctx, r, "import");
        if (vol.backing && vol.format != DiskFormat::qcow2) {
            ctx.error(r.get("backing"),
                      fmt::format("'backing' of disk '{}' of VM '{}' needs format qcow2", disk.name,
                                  vm.name));
        }
        if (vol.backing && vol.import_from) {
            ctx.error(r.get("import"),
                      fmt::format("disk '{}' of VM '{}' cannot have both 'backing' and "
                                  "'import'",
                                  disk.name, vm.name));
        }
        auto size = read_size(ctx, r, "size", 1ULL << 20, kMaxVolume, "what a file offset holds");
        if (!r.get("size").IsDefined()) {
            ctx.error(node,
                      fmt::format("volume disk '{}' of VM '{}' needs 'size'", disk.name, vm.name));
        }
        vol.capacity = size.value_or(0);
        vol.keep = r.boolean("keep").value_or(false);
        if (auto allow = r.boolean("allow_backing_chain")) {
            vol.allow_backing_chain = *allow;
            if (*allow && !vol.backing && !vol.import_from) {
                ctx.error(r.get("allow_backing_chain"),
                          fmt::format("'allow_backing_chain' of disk '{}' of VM '{}' needs "
                                      "'backing' or 'import'",
                                      disk.name, vm.name));
            }
        }
        vol.vm = vm.name;
        vol.name = fmt::format("{}-{}.{}", vm.name, disk.name, to_string(vol.format));
        vol.where = ctx.at(node);
        disk.pool = vol.pool;
        disk.volume = vol.name;
        disk.keep = vol.keep;
        if (!vol.pool.empty() && !disk.name.empty()) desired.volumes[vol.id_name()] = vol;
    }
    if (!disk.name.empty()) {
        auto [it, inserted] = names.emplace(disk.name, node);
        if (!inserted) {
            ctx.error(node, fmt::format("VM '{}' has two disks named '{}' (first at line {})",
                                        vm.name, disk.name, ctx.at(it->second).line));
        }
    }
    r.finish();
    vm.disks.push_back(std::move(disk));
}

/// Guest device names in order per bus family, as libvirt numbers them:
/// vda..vdz, vdaa..; sda..; hda..hdd (IDE is limited in read_disk).
void assign_targets(Vm& vm) {
    std::map<std::string, std::size_t> next;
    for (auto& d : vm.disks) {
        const std::string prefix = d.bus == DiskBus::virtio ? "vd"
                                   : d.bus == DiskBus::ide  ? "hd"
                                                            : "sd";
        d.target = disk_target_name(prefix, next[prefix]++);
    }
}

void read_nic(const Context& ctx, const YAML::Node& node, Vm& vm) {
    MapReader r(ctx, node, fmt::format("a NIC of VM '{}'", vm.name), key_section("nic"));
    if (!r.ok()) return;
    Nic nic;
    auto network = r.str("network");
    auto bridge = r.str("bridge");
    if (network.has_value() == bridge.has_value()) {
        ctx.error(node, fmt::format("a NIC of VM '{}' needs exactly one of 'network' (a libvirt "
                                    "network) or 'bridge' (a host bridge)",
                                    vm.name));
    } else if (network) {
        nic.type = Nic::Type::network;
        nic.source = *network;
    } else {
        nic.type = Nic::Type::bridge;
        nic.source = *bridge;
        if (auto p = interface_name_problem(*bridge); !p.empty()) {
            ctx.error(r.get("bridge"), fmt::format("'bridge' of a NIC of VM '{}': {}", vm.name, p));
        }
    }
    if (auto mac = r.str("mac")) {
        auto m = normalize_mac(*mac);
        if (m && !mac_problem(*m).empty())
            ctx.error(r.get("mac"), fmt::format("'mac' of a NIC of VM '{}': {}: {}", vm.name, *m,
                                                mac_problem(*m)));
        else if (m)
            nic.mac = *m;
        else
            ctx.error(
                r.get("mac"),
                fmt::format("'mac' of a NIC of VM '{}' is not a MAC address: '{}'", vm.name, *mac));
    }
    nic.model = r.choice<std::string>("model", {{"virtio", "virtio"},
                                                {"e1000", "e1000"},
                                                {"e1000e", "e1000e"},
                                                {"rtl8139", "rtl8139"}})
                    .value_or("virtio");
    r.finish();
    vm.nics.push_back(std::move(nic));
}

void read_cloud_init(const Context& ctx, const YAML::Node& node, Vm& vm) {
    MapReader r(ctx, node, fmt::format("the cloud_init of VM '{}'", vm.name),
                key_section("cloud_init"));
    if (!r.ok()) return;
    CloudInit ci;
    ci.user_data = r.text("user_data").value_or("");
    ci.meta_data = r.text("meta_data").value_or("");
    ci.network_config = r.text("network_config").value_or("");
    const YAML::Node keys = r.list("ssh_authorized_keys");
    if (keys.IsDefined()) {
        for (const auto& k : keys) {
            if (!k.IsScalar())
                ctx.error(k, "an SSH key must be a string");
            else if (auto problem = one_line_problem(k.Scalar()); !problem.empty())
                ctx.error(k, fmt::format("an SSH key of VM '{}' {} (one key per entry)", vm.name,
                                         problem));
            else
                ci.ssh_authorized_keys.push_back(k.Scalar());
        }
    }
    if (!ci.user_data.empty() && ci.user_data.rfind("#cloud-config", 0) != 0 &&
        ci.user_data.rfind("#!", 0) != 0) {
        ctx.error(r.get("user_data"), fmt::format("'user_data' of VM '{}' must start with "
                                                  "'#cloud-config' or '#!' (a script)",
                                                  vm.name));
    }
    r.finish();
    vm.seed_digest = digest({ci.user_data, ci.meta_data, ci.network_config,
                             fmt::format("{}", fmt::join(ci.ssh_authorized_keys, "\n"))});
    vm.cloud_init = std::move(ci);
}

/// An Ansible group name: letters, digits and '_', not starting with a digit
/// (what Ansible accepts without warning), at most 64.
bool valid_group_name(const std::string& name) {
    if (name.empty() || name.size() > 64 || std::isdigit(static_cast<unsigned char>(name[0])))
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    });
}

void read_groups(const Context& ctx, const YAML::Node& groups, Vm& vm) {
    for (const auto& g : groups) {
        const std::string name = g.IsScalar() ? g.Scalar() : "";
        if (!valid_group_name(name)) {
            ctx.error(g, fmt::format("group '{}' of VM '{}' is not valid: use letters, digits and "
                                     "'_', not starting with a digit (at most 64)",
                                     name, vm.name));
        } else if (std::find(vm.groups.begin(), vm.groups.end(), name) == vm.groups.end()) {
            vm.groups.push_back(name);
        }
    }
}

/// A user name as useradd accepts it: [a-z_][a-z0-9_-]*[$]?, at most 32.
bool valid_user_name(const std::string& name) {
    if (name.empty() || name.size() > 32) return false;
    if (!(std::islower(static_cast<unsigned char>(name[0])) != 0 || name[0] == '_')) return false;
    for (std::size_t i = 1; i < name.size(); ++i) {
        const char c = name[i];
        const bool ok = std::islower(static_cast<unsigned char>(c)) != 0 ||
                        std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' ||
                        (c == '$' && i + 1 == name.size());
        if (!ok) return false;
    }
    return true;
}

void read_ssh(const Context& ctx, const YAML::Node& node, Vm& vm) {
    MapReader r(ctx, node, fmt::format("the ssh access of VM '{}'", vm.name),
                key_section("vm_ssh"));
    if (!r.ok()) return;
    if (auto user = r.str("user")) {
        if (!valid_user_name(*user))
            ctx.error(r.get("user"), fmt::format("ssh user '{}' of VM '{}' is not a valid user "
                                                 "name ([a-z_][a-z0-9_-]*, at most 32)",
                                                 *user, vm.name));
        else
            vm.ssh.user = *user;
    }
    vm.ssh.identity_file = read_path(ctx, r, "identity_file");
    if (auto port = r.integer("port", 1, 65535)) vm.ssh.port = static_cast<int>(*port);
    r.finish();
}

Vm read_vm(const Context& ctx, const std::string& name, const YAML::Node& key,
           const YAML::Node& node, Desired& desired) {
    Vm vm;
    vm.name = name;
    vm.where = ctx.at(key);
    const std::string what = fmt::format("VM '{}'", name);
    if (!valid_object_name(name)) {
        ctx.error(key, fmt::format(
                           "VM name '{}' is not valid: use letters, digits, '-', '_', '.' or '+', "
                           "starting with a letter or digit (at most 64)",
                           name));
    }
    MapReader r(ctx, node, what, key_section("vm"));
    if (!r.ok()) return vm;
    // A value with an error of its own is not compared with another (no
    // follow-on error against the default it left in place).
    const auto cpus = r.integer("cpus", 1, 1024);
    if (cpus) vm.cpus = static_cast<int>(*cpus);
    const bool cpus_known = cpus || !r.get("cpus").IsDefined();
    if (auto v = r.integer("max_cpus", 1, 1024)) {
        vm.max_cpus = static_cast<int>(*v);
        if (cpus_known && *vm.max_cpus < vm.cpus) {
            ctx.error(r.get("max_cpus"), fmt::format("'max_cpus' of {} ({}) is below 'cpus' ({})",
                                                     what, *vm.max_cpus, vm.cpus));
        }
        if (*vm.max_cpus == vm.cpus) vm.max_cpus.reset();  // the same as unset
    }
    const auto memory = read_size(ctx, r, "memory", 16ULL << 20, kMaxMemory, kMemoryWhy);
    if (memory) vm.memory = *memory;
    const bool memory_known = memory || !r.get("memory").IsDefined();
    if (auto v = read_size(ctx, r, "max_memory", 16ULL << 20, kMaxMemory, kMemoryWhy)) {
        vm.max_memory = *v;
        if (memory_known && *v < vm.memory) {
            ctx.error(r.get("max_memory"),
                      fmt::format("'max_memory' of {} ({}) is below 'memory' ({})", what,
                                  format_size(*v), format_size(vm.memory)));
        }
        if (*v == vm.memory) vm.max_memory.reset();
    }
    vm.accel = r.choice<Accel>("accel",
                               {{"auto", Accel::auto_}, {"kvm", Accel::kvm}, {"qemu", Accel::qemu}})
                   .value_or(Accel::auto_);
    vm.machine = r.choice<std::string>("machine", {{"q35", "q35"}, {"pc", "pc"}});
    vm.cpu_mode = r.choice<std::string>("cpu_mode", {{"host-passthrough", "host-passthrough"},
                                                     {"host-model", "host-model"},
                                                     {"maximum", "maximum"}});
    vm.firmware =
        r.choice<Firmware>("firmware", {{"bios", Firmware::bios}, {"uefi", Firmware::uefi}})
            .value_or(Firmware::bios);
    std::map<std::string, YAML::Node> disk_names;
    if (YAML::Node disks = r.list("disks"); disks.IsDefined()) {
        for (const auto& d : disks) read_disk(ctx, d, vm, desired, disk_names);
    }
    assign_targets(vm);
    if (YAML::Node boot = r.list("boot"); boot.IsDefined()) {
        for (const auto& b : boot) {
            const std::string dev = b.IsScalar() ? b.Scalar() : "";
            if (dev != "hd" && dev != "cdrom" && dev != "network") {
                ctx.error(b, fmt::format("boot device '{}' of {} must be hd, cdrom or network", dev,
                                         what));
            } else {
                vm.boot.push_back(dev);
            }
        }
    }
    vm.kernel = read_path(ctx, r, "kernel");
    vm.initrd = read_path(ctx, r, "initrd");
    vm.cmdline = r.str("cmdline");
    if ((vm.initrd || vm.cmdline) && !vm.kernel) {
        ctx.error(node, fmt::format("{} sets 'initrd' or 'cmdline' without 'kernel'", what));
    }
    if (vm.boot.empty()) vm.boot.push_back("hd");  // what libvirt records when none is given
    if (YAML::Node nics = r.list("nics"); nics.IsDefined()) {
        for (const auto& n : nics) read_nic(ctx, n, vm);
    }
    vm.graphics = r.choice<Graphics>("graphics", {{"none", Graphics::none},
                                                  {"vnc", Graphics::vnc},
                                                  {"spice", Graphics::spice}})
                      .value_or(Graphics::none);
    if (YAML::Node console = r.get("console"); console.IsDefined()) {
        if (console.IsScalar() && console.Scalar() == "pty") {
            // the default
        } else if (console.IsMap()) {
            MapReader cr(ctx, console, "the console of " + what, key_section("console"));
            vm.console_file = read_path(ctx, cr, "file");
            if (!cr.get("file").IsDefined()) ctx.error(console, "the console needs 'file: /path'");
            if (vm.console_file) {
                if (auto problem = console_path_problem(*vm.console_file); !problem.empty()) {
                    ctx.error(cr.get("file"), fmt::format("the console file '{}' of {}: {}",
                                                          *vm.console_file, what, problem));
                    vm.console_file.reset();
                }
            }
            cr.finish();
        } else {
            ctx.error(console,
                      fmt::format("'console' of {} must be 'pty' or {{file: /path}}", what));
        }
    }
    if (YAML::Node ci = r.map("cloud_init"); ci.IsDefined()) read_cloud_init(ctx, ci, vm);
    vm.state =
        r.choice<VmState>("state", {{"running", VmState::running}, {"stopped", VmState::stopped}})
            .value_or(VmState::running);
    vm.autostart = r.boolean("autostart").value_or(false);
    vm.adopt = r.boolean("adopt").value_or(false);
    if (auto t = r.integer("shutdown_timeout", 0, 3600)) vm.shutdown_timeout = static_cast<int>(*t);
    if (YAML::Node groups = r.list("groups"); groups.IsDefined()) read_groups(ctx, groups, vm);
    if (YAML::Node ssh = r.map("ssh"); ssh.IsDefined()) read_ssh(ctx, ssh, vm);
    read_host_key(ctx, r, vm.host, vm.host_where);
    r.finish();
    return vm;
}

}  // namespace

void read_pools(const Context& ctx, const YAML::Node& pools, Desired& desired) {
    MapReader all(ctx, pools, "pools");
    if (!all.ok()) return;
    for (const auto& kv : pools) {
        const std::string name = kv.first.Scalar();
        const std::string what = fmt::format("pool '{}'", name);
        Pool pool;
        pool.name = name;
        pool.where = ctx.at(kv.first);
        if (!valid_object_name(name))
            ctx.error(kv.first, fmt::format("pool name '{}' is not valid", name));
        MapReader r(ctx, kv.second, what, key_section("pool"));
        if (!r.ok()) continue;
        auto path = read_path(ctx, r, "path");
        if (!r.get("path").IsDefined()) ctx.error(kv.second, fmt::format("{} needs 'path'", what));
        pool.path = path.value_or("");
        while (pool.path.size() > 1 && pool.path.back() == '/') pool.path.pop_back();
        if (path) {
            if (auto problem = pool_path_problem(pool.path); !problem.empty())
                ctx.error(r.get("path"),
                          fmt::format("'path' of {} ({}): {}", what, *path, problem));
        }
        pool.autostart = r.boolean("autostart").value_or(true);
        pool.active = r.boolean("active").value_or(true);
        pool.adopt = r.boolean("adopt").value_or(false);
        read_host_key(ctx, r, pool.host, pool.host_where);
        r.finish();
        auto it = desired.pools.find(name);
        if (it != desired.pools.end()) {
            if (it->second.where.file != ctx.file) {
                ctx.error(kv.first, fmt::format("pool '{}' is declared twice (first at {})", name,
                                                it->second.where.str()));
            }
            continue;
        }
        desired.pools.emplace(name, std::move(pool));
    }
}

void read_vms(const Context& ctx, const YAML::Node& vms, Desired& desired) {
    MapReader all(ctx, vms, "vms");
    if (!all.ok()) return;
    for (const auto& kv : vms) {
        const std::string name = kv.first.Scalar();
        Vm vm = read_vm(ctx, name, kv.first, kv.second, desired);
        auto it = desired.vms.find(name);
        if (it != desired.vms.end()) {
            if (it->second.where.file != ctx.file) {
                ctx.error(kv.first, fmt::format("VM '{}' is declared twice (first at {})", name,
                                                it->second.where.str()));
            }
            continue;
        }
        desired.vms.emplace(name, std::move(vm));
    }
}

void finish_vms(Desired& desired, Diagnostics& diags) {
    std::map<std::string, const Pool*> paths;
    for (const auto& [name, pool] : desired.pools) {
        auto [it, inserted] = paths.emplace(pool.path, &pool);
        if (!inserted) {
            diags.error(pool.where,
                        fmt::format("pool '{}' uses directory {}, as pool '{}' ({}) does", name,
                                    pool.path, it->second->name, it->second->where.str()));
        }
    }
    for (const auto& [id, vol] : desired.volumes) {
        if (desired.pools.count(vol.pool) == 0) {
            diags.error(vol.where,
                        fmt::format("disk of VM '{}' names pool '{}', which the manifest does "
                                    "not declare under 'pools:'",
                                    vol.vm, vol.pool));
        }
    }
    std::map<std::string, std::string> macs;
    for (auto& [name, vm] : desired.vms) {
        for (const auto& nic : vm.nics) {
            if (!nic.mac) continue;
            auto [it, inserted] = macs.emplace(*nic.mac, name);
            if (!inserted) {
                diags.error(vm.where, fmt::format("MAC {} of VM '{}' is already used by VM '{}'",
                                                  *nic.mac, name, it->second));
            }
        }
        if (vm.cloud_init && !desired.lab.empty()) vm.seed_iso = seed_iso_path(desired.lab, name);
    }
    // A console file takes whatever its guest prints: it must not be an image,
    // a kernel, a volume or another console of the lab.
    std::map<std::string, std::string> images;
    for (const auto& [name, vm] : desired.vms) {
        for (const auto& disk : vm.disks) {
            if (!disk.path.empty())
                images.emplace(disk.path, fmt::format("a disk of VM '{}'", name));
        }
        if (vm.kernel) images.emplace(*vm.kernel, fmt::format("the kernel of VM '{}'", name));
        if (vm.initrd) images.emplace(*vm.initrd, fmt::format("the initrd of VM '{}'", name));
    }
    for (const auto& [id, vol] : desired.volumes) {
        if (auto pool = desired.pools.find(vol.pool); pool != desired.pools.end())
            images.emplace(pool->second.path + "/" + vol.name,
                           fmt::format("volume '{}'", vol.name));
    }
    for (const auto& [name, vm] : desired.vms) {
        if (!vm.console_file) continue;
        auto [it, inserted] =
            images.emplace(*vm.console_file, fmt::format("the console of VM '{}'", name));
        if (!inserted) {
            diags.error(vm.where, fmt::format("the console file {} of VM '{}' is also {}",
                                              *vm.console_file, name, it->second));
        }
    }
}

}  // namespace detail
}  // namespace virtform
