// Flattening resources into attributes: the one place that decides how each
// field is named, printed and classified. The planner diffs these generically.
#include <fmt/format.h>

#include "virtform/plan.h"

namespace virtform {
namespace {

constexpr const char* kNetRestart =
    "needs a redefine and a restart of the network (guests on it lose connectivity briefly)";
constexpr const char* kNetUpdate = "applied to the running network (virNetworkUpdate)";

void add_ip(std::vector<Attribute>& out, const std::string& family, const IpConfig& ip) {
    out.push_back({family + ".address", ip.address.str(), ChangeClass::restart, kNetRestart});
    if (ip.dhcp_range) {
        out.push_back({family + ".dhcp.range",
                       ip.dhcp_range->start.str() + "-" + ip.dhcp_range->end.str(),
                       ChangeClass::live, kNetUpdate});
    }
    for (const auto& h : ip.hosts) {
        std::string value = "ip=" + h.ip.str();
        if (!h.name.empty()) value += " name=" + h.name;
        out.push_back(
            {fmt::format("{}.dhcp.host[{}]", family, h.mac), value, ChangeClass::live, kNetUpdate});
    }
}

std::vector<Attribute> network_attributes(const Network& n) {
    std::vector<Attribute> out;
    out.push_back({"mode", to_string(n.mode), ChangeClass::restart, kNetRestart});
    Attribute bridge{"bridge", n.bridge.value_or(""), ChangeClass::restart, kNetRestart};
    bridge.computed = !n.bridge;
    out.push_back(bridge);
    if (n.ipv4) add_ip(out, "ipv4", *n.ipv4);
    if (n.ipv6) add_ip(out, "ipv6", *n.ipv6);
    for (const auto& h : n.dns_hosts) {
        out.push_back({fmt::format("dns.host[{}]", h.ip.str()),
                       fmt::format("{}", fmt::join(h.names, ",")), ChangeClass::live, kNetUpdate});
    }
    if (n.domain) out.push_back({"domain", *n.domain, ChangeClass::restart, kNetRestart});
    Attribute mtu{"mtu", n.mtu ? std::to_string(*n.mtu) : "", ChangeClass::restart, kNetRestart};
    mtu.computed = !n.mtu;
    out.push_back(mtu);
    if (n.mode != NetworkMode::bridge) {
        out.push_back({"stp", n.stp ? "true" : "false", ChangeClass::restart, kNetRestart});
    }
    out.push_back({"autostart", n.autostart ? "true" : "false", ChangeClass::live,
                   "applied at once (virNetworkSetAutostart)"});
    out.push_back({"active", n.active ? "true" : "false", ChangeClass::live,
                   n.active ? "the network is started" : "the network is stopped"});
    return out;
}

std::vector<Attribute> pool_attributes(const Pool& p) {
    return {
        {"path", p.path, ChangeClass::replace,
         "a pool's directory is its identity: the pool is deleted and created anew"},
        {"autostart", p.autostart ? "true" : "false", ChangeClass::live, "applied at once"},
        {"active", p.active ? "true" : "false", ChangeClass::live,
         p.active ? "the pool is started" : "the pool is stopped"},
    };
}

std::vector<Attribute> volume_attributes(const Volume& v) {
    std::vector<Attribute> out;
    out.push_back(
        {"capacity", format_size(v.capacity), ChangeClass::live,
         "grown in place (virStorageVolResize, or virDomainBlockResize while its VM runs)"});
    out.push_back({"format", to_string(v.format), ChangeClass::replace, "the image is recreated"});
    if (v.backing) {
        out.push_back({"backing", *v.backing, ChangeClass::replace, "the image is recreated"});
    }
    out.push_back({"keep", v.keep ? "true" : "false", ChangeClass::live,
                   "recorded in the pool's mark file: a kept volume outlives its VM"});
    if (!v.vm.empty()) out.push_back({"vm", v.vm, ChangeClass::live, "bookkeeping"});
    return out;
}

}  // namespace

std::string disk_text(const Disk& d) {
    std::string source;
    switch (d.type) {
        case Disk::Type::volume:
            source = "volume " + d.pool + "/" + d.volume;
            break;
        case Disk::Type::cdrom:
            source = "cdrom " + d.path;
            break;
        case Disk::Type::file:
            source = "file " + d.path;
            break;
    }
    return fmt::format("{} bus={} dev={}", source, to_string(d.bus), d.target);
}

std::string nic_text(const Nic& n) {
    return fmt::format("{} {} model={}", n.type == Nic::Type::network ? "network" : "bridge",
                       n.source, n.model);
}

namespace {

constexpr const char* kVmRestart =
    "needs a redefine; takes effect when the VM restarts (apply restarts it only with "
    "--allow-restart)";
constexpr const char* kVmLive = "applied to the running VM and to its definition";

std::vector<Attribute> vm_attributes(const Vm& v) {
    std::vector<Attribute> out;
    out.reserve(19 + v.disks.size() + 2 * v.nics.size());  // no regrowth: at most this many
    auto restart = [&](std::string path, std::string value, bool computed = false) {
        Attribute a{std::move(path), std::move(value), ChangeClass::restart, kVmRestart};
        a.computed = computed;
        out.push_back(std::move(a));
    };
    auto live = [&](std::string path, std::string value, const char* reason = kVmLive) {
        out.push_back({std::move(path), std::move(value), ChangeClass::live, reason});
    };
    // cpus and memory are live within the maximum; the planner refines that.
    live("cpus", std::to_string(v.cpus), "hot-plugged within max_cpus (virDomainSetVcpusFlags)");
    restart("max_cpus", std::to_string(v.max_cpus.value_or(v.cpus)));
    live("memory", format_size(v.memory), "set through the balloon within max_memory");
    restart("max_memory", format_size(v.max_memory.value_or(v.memory)));
    restart("accel", to_string(v.accel));
    restart("machine", v.machine.value_or(""), !v.machine);
    restart("cpu_mode", v.cpu_mode.value_or(""), !v.cpu_mode);
    restart("firmware", to_string(v.firmware));
    for (std::size_t i = 0; i < v.disks.size(); ++i) {
        out.push_back({fmt::format("disk[{}]", i), disk_text(v.disks[i]), ChangeClass::live,
                       "attached or detached while the VM runs"});
    }
    std::string boot;
    for (const auto& b : v.boot) boot += (boot.empty() ? "" : ",") + b;
    if (!boot.empty()) restart("boot", boot);
    if (v.kernel) restart("kernel", *v.kernel);
    if (v.initrd) restart("initrd", *v.initrd);
    if (v.cmdline) restart("cmdline", *v.cmdline);
    for (std::size_t i = 0; i < v.nics.size(); ++i) {
        out.push_back({fmt::format("nic[{}]", i), nic_text(v.nics[i]), ChangeClass::live,
                       "attached or detached while the VM runs"});
        Attribute mac{fmt::format("nic[{}].mac", i), v.nics[i].mac.value_or(""),
                      ChangeClass::restart, kVmRestart};
        mac.computed = !v.nics[i].mac;
        out.push_back(std::move(mac));
    }
    restart("graphics", to_string(v.graphics));
    restart("console", v.console_file ? "file " + *v.console_file : "pty");
    if (!v.seed_digest.empty()) {
        Attribute seed{"cloud_init", v.seed_digest, ChangeClass::restart,
                       "a new seed ISO is built; the guest reads it when it boots"};
        seed.sensitive = true;
        out.push_back(std::move(seed));
    }
    live("state", to_string(v.state),
         "the VM is started, or shut down (forced after shutdown_timeout)");
    live("autostart", v.autostart ? "true" : "false", "applied at once");
    live("shutdown_timeout", std::to_string(v.shutdown_timeout),
         "stored in the VM's virtform metadata (definition); used by the next shutdown");
    return out;
}

std::vector<Attribute> bridge_attributes(const Bridge& b) {
    constexpr const char* kNow = "applied at once over netlink";
    std::vector<Attribute> out;
    auto opt = [&](std::string path, const auto& value, auto format) {
        Attribute a{std::move(path), value ? format(*value) : std::string(), ChangeClass::live,
                    kNow};
        a.computed = !value;
        out.push_back(std::move(a));
    };
    auto num = [](auto v) { return std::to_string(v); };
    auto centi = [](std::uint32_t cs) { return fmt::format("{}.{:02}s", cs / 100, cs % 100); };
    for (const auto& port : b.ports)
        out.push_back({"port[" + port + "]", "enslaved", ChangeClass::live, kNow});
    out.push_back({"stp", b.stp ? "true" : "false", ChangeClass::live, kNow});
    opt("stp.forward_delay", b.forward_delay_cs, centi);
    opt("stp.hello_time", b.hello_time_cs, centi);
    opt("stp.max_age", b.max_age_cs, centi);
    opt("stp.priority", b.priority, num);
    opt("mtu", b.mtu, num);
    opt("mac", b.mac, [](const std::string& m) { return m; });
    opt("vlan_filtering", b.vlan_filtering,
        [](bool v) { return std::string(v ? "true" : "false"); });
    if (b.take_over) {
        out.push_back(
            {"take_over_addresses", *b.take_over, ChangeClass::live,
             "addresses and routes move from the port to the bridge; the gateway is checked "
             "and the move rolled back if it is lost"});
    }
    if (!b.take_over || !b.addresses.empty()) {
        for (const auto& a : b.addresses) {
            out.push_back({"address[" + a.str() + "]", "assigned", ChangeClass::live, kNow});
        }
    }
    out.push_back({"up", b.up ? "true" : "false", ChangeClass::live, kNow});
    return out;
}

}  // namespace

std::vector<Attribute> attributes_of(const Bridge& bridge) {
    return bridge_attributes(bridge);
}
std::vector<Attribute> attributes_of(const Network& network) {
    return network_attributes(network);
}
std::vector<Attribute> attributes_of(const Pool& pool) {
    return pool_attributes(pool);
}
std::vector<Attribute> attributes_of(const Volume& volume) {
    return volume_attributes(volume);
}
std::vector<Attribute> attributes_of(const Vm& vm) {
    return vm_attributes(vm);
}

std::vector<Attribute> attributes_of(const Resource& resource) {
    return std::visit([](const auto& r) { return attributes_of(r); }, resource);
}

}  // namespace virtform
