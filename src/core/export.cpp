// `virtform export`: model objects -> manifest YAML, checked by loading it
// back and planning it against the host it came from.
#include "virtform/export.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "virtform/diag.h"
#include "virtform/manifest.h"
#include "virtform/plan.h"

namespace virtform {
namespace {

/// Every string from the host goes out double-quoted through the emitter,
/// which escapes what YAML needs escaped; nothing is pasted into the text.
void str(YAML::Emitter& e, const std::string& key, const std::string& value) {
    e << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
}
void boolean(YAML::Emitter& e, const std::string& key, bool value) {
    e << YAML::Key << key << YAML::Value << (value ? "true" : "false");
}
void integer(YAML::Emitter& e, const std::string& key, long long value) {
    e << YAML::Key << key << YAML::Value << value;
}

/// Centiseconds as the plain decimal seconds the loader reads ("15", "2.5").
std::string seconds(std::uint32_t cs) {
    std::string out = fmt::format("{}.{:02}", cs / 100, cs % 100);
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
    return out;
}

void emit_ip(YAML::Emitter& e, const std::string& key, const IpConfig& ip) {
    e << YAML::Key << key << YAML::Value << YAML::BeginMap;
    str(e, "address", ip.address.str());
    if (ip.dhcp_range || !ip.hosts.empty()) {
        e << YAML::Key << "dhcp" << YAML::Value << YAML::BeginMap;
        if (ip.dhcp_range) {
            str(e, "range", ip.dhcp_range->start.str() + "-" + ip.dhcp_range->end.str());
        }
        if (!ip.hosts.empty()) {
            e << YAML::Key << "hosts" << YAML::Value << YAML::BeginSeq;
            for (const auto& h : ip.hosts) {
                e << YAML::Flow << YAML::BeginMap;
                str(e, "mac", h.mac);
                str(e, "ip", h.ip.str());
                if (!h.name.empty()) str(e, "name", h.name);
                e << YAML::EndMap;
            }
            e << YAML::EndSeq;
        }
        e << YAML::EndMap;
    }
    e << YAML::EndMap;
}

void emit_network(YAML::Emitter& e, const Network& n) {
    e << YAML::Key << n.name << YAML::Value << YAML::BeginMap;
    str(e, "mode", to_string(n.mode));
    if (n.bridge) str(e, "bridge", *n.bridge);
    if (n.mode != NetworkMode::bridge) {
        if (n.ipv4) emit_ip(e, "ipv4", *n.ipv4);
        if (n.ipv6) emit_ip(e, "ipv6", *n.ipv6);
        if (!n.dns_hosts.empty()) {
            e << YAML::Key << "dns" << YAML::Value << YAML::BeginMap << YAML::Key << "hosts"
              << YAML::Value << YAML::BeginSeq;
            for (const auto& h : n.dns_hosts) {
                e << YAML::Flow << YAML::BeginMap;
                str(e, "ip", h.ip.str());
                e << YAML::Key << "names" << YAML::Value << YAML::Flow << YAML::BeginSeq;
                for (const auto& name : h.names) e << YAML::DoubleQuoted << name;
                e << YAML::EndSeq << YAML::EndMap;
            }
            e << YAML::EndSeq << YAML::EndMap;
        }
        if (n.domain) str(e, "domain", *n.domain);
        if (n.mtu) integer(e, "mtu", *n.mtu);
        if (!n.stp) boolean(e, "stp", false);
    }
    boolean(e, "autostart", n.autostart);
    boolean(e, "active", n.active);
    e << YAML::EndMap;
}

void emit_pool(YAML::Emitter& e, const Pool& p) {
    e << YAML::Key << p.name << YAML::Value << YAML::BeginMap;
    str(e, "path", p.path);
    boolean(e, "autostart", p.autostart);
    boolean(e, "active", p.active);
    e << YAML::EndMap;
}

void emit_bridge(YAML::Emitter& e, const Bridge& b) {
    e << YAML::Key << b.name << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "ports" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& p : b.ports) e << YAML::DoubleQuoted << p;
    e << YAML::EndSeq;
    if (b.stp) {
        e << YAML::Key << "stp" << YAML::Value << YAML::BeginMap;
        boolean(e, "enabled", true);
        if (b.forward_delay_cs) str(e, "forward_delay", seconds(*b.forward_delay_cs));
        if (b.hello_time_cs) str(e, "hello_time", seconds(*b.hello_time_cs));
        if (b.max_age_cs) str(e, "max_age", seconds(*b.max_age_cs));
        if (b.priority) integer(e, "priority", *b.priority);
        e << YAML::EndMap;
    } else {
        boolean(e, "stp", false);
    }
    if (b.mtu) integer(e, "mtu", *b.mtu);
    if (b.mac) str(e, "mac", *b.mac);
    if (!b.addresses.empty()) {
        e << YAML::Key << "addresses" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& a : b.addresses) e << YAML::DoubleQuoted << a.str();
        e << YAML::EndSeq;
    }
    boolean(e, "up", b.up);
    if (b.vlan_filtering) boolean(e, "vlan_filtering", *b.vlan_filtering);
    e << YAML::EndMap;
}

void emit_vm(YAML::Emitter& e, const Vm& v, std::vector<LeftOut>& left_out) {
    const std::string id = "vm." + v.name;
    e << YAML::Key << v.name << YAML::Value << YAML::BeginMap;
    integer(e, "cpus", v.cpus);
    if (v.max_cpus) integer(e, "max_cpus", *v.max_cpus);
    str(e, "memory", format_size(v.memory));
    if (v.max_memory) str(e, "max_memory", format_size(*v.max_memory));
    str(e, "accel", to_string(v.accel));
    if (v.machine) {
        if (*v.machine == "q35" || *v.machine == "pc")
            str(e, "machine", *v.machine);
        else
            left_out.push_back(
                {id, fmt::format("machine '{}': a manifest says q35 or pc only", *v.machine)});
    }
    // "custom": a named model (libvirt writes qemu64 for TCG guests); the
    // adapter names it among what is left out.
    if (v.cpu_mode && *v.cpu_mode != "custom") {
        if (*v.cpu_mode == "host-passthrough" || *v.cpu_mode == "host-model" ||
            *v.cpu_mode == "maximum")
            str(e, "cpu_mode", *v.cpu_mode);
        else
            left_out.push_back({id, fmt::format("cpu mode '{}' (a named CPU model): a manifest "
                                                "says host-passthrough, host-model or maximum",
                                                *v.cpu_mode)});
    }
    str(e, "firmware", to_string(v.firmware));
    std::vector<const Disk*> disks;
    for (const auto& d : v.disks) {
        if (d.type == Disk::Type::volume) {
            left_out.push_back(
                {id, fmt::format("disk {} on volume {}/{}: virtform's volumes belong to the VM "
                                 "that made them; to keep it, declare the image as `file:` by hand",
                                 d.target, d.pool, d.volume)});
        } else if (d.path.empty()) {
            left_out.push_back({id, fmt::format("disk {}: no image (an empty drive)", d.target)});
        } else {
            disks.push_back(&d);
        }
    }
    if (!disks.empty()) {
        e << YAML::Key << "disks" << YAML::Value << YAML::BeginSeq;
        for (const Disk* d : disks) {
            e << YAML::Flow << YAML::BeginMap;
            str(e, d->type == Disk::Type::cdrom ? "cdrom" : "file", d->path);
            str(e, "bus", to_string(d->bus));
            e << YAML::EndMap;
        }
        e << YAML::EndSeq;
    }
    if (!v.boot.empty()) {
        e << YAML::Key << "boot" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& b : v.boot) e << YAML::DoubleQuoted << b;
        e << YAML::EndSeq;
    }
    if (v.kernel) str(e, "kernel", *v.kernel);
    if (v.initrd) str(e, "initrd", *v.initrd);
    if (v.cmdline) str(e, "cmdline", *v.cmdline);
    if (!v.nics.empty()) {
        e << YAML::Key << "nics" << YAML::Value << YAML::BeginSeq;
        for (const auto& n : v.nics) {
            e << YAML::Flow << YAML::BeginMap;
            str(e, n.type == Nic::Type::network ? "network" : "bridge", n.source);
            if (n.mac) str(e, "mac", *n.mac);
            if (!n.model.empty()) str(e, "model", n.model);
            e << YAML::EndMap;
        }
        e << YAML::EndSeq;
    }
    str(e, "graphics", to_string(v.graphics));
    if (v.console_file) {
        e << YAML::Key << "console" << YAML::Value << YAML::Flow << YAML::BeginMap;
        str(e, "file", *v.console_file);
        e << YAML::EndMap;
    }
    str(e, "state", to_string(v.state));
    boolean(e, "autostart", v.autostart);
    if (v.shutdown_timeout != 60) integer(e, "shutdown_timeout", v.shutdown_timeout);
    e << YAML::EndMap;
}

/// One top-level section ("networks") holding `objects` of one kind.
template <class T, class F>
void emit_section(YAML::Emitter& e, const char* key, const std::vector<const T*>& objects,
                  F emit_one) {
    if (objects.empty()) return;
    e << YAML::Key << key << YAML::Value << YAML::BeginMap;
    for (const T* o : objects) emit_one(*o);
    e << YAML::EndMap;
}

std::string emit(const std::string& lab, const std::vector<const Resource*>& objects,
                 const std::vector<LeftOut>& comments, std::vector<LeftOut>& left_out) {
    YAML::Emitter e;
    // The schema (`virtform schema > virtform.schema.json` beside the file)
    // for editors, as every manifest of the project has it.
    e << YAML::Comment("yaml-language-server: $schema=virtform.schema.json") << YAML::Newline;
    if (!comments.empty()) {
        std::string text = "Exported by `virtform export`. Left out (not in the manifest):";
        for (const auto& c : comments)
            text += "\n  " + terminal_escape(c.object) + ": " + terminal_escape(c.detail);
        e << YAML::Comment(text) << YAML::Newline;
    }
    e << YAML::BeginMap;
    str(e, "lab", lab);
    std::vector<const Bridge*> bridges;
    std::vector<const Network*> networks;
    std::vector<const Pool*> pools;
    std::vector<const Vm*> vms;
    for (const Resource* r : objects) {
        if (const auto* b = std::get_if<Bridge>(r)) bridges.push_back(b);
        if (const auto* n = std::get_if<Network>(r)) networks.push_back(n);
        if (const auto* p = std::get_if<Pool>(r)) pools.push_back(p);
        if (const auto* v = std::get_if<Vm>(r)) vms.push_back(v);
    }
    emit_section(e, "bridges", bridges, [&](const Bridge& b) { emit_bridge(e, b); });
    emit_section(e, "networks", networks, [&](const Network& n) { emit_network(e, n); });
    emit_section(e, "pools", pools, [&](const Pool& p) { emit_pool(e, p); });
    emit_section(e, "vms", vms, [&](const Vm& v) { emit_vm(e, v, left_out); });
    e << YAML::EndMap;
    return std::string(e.c_str()) + "\n";
}

/// `live` with the objects that carry another lab's mark seen as unmarked, so
/// that planning the export adopts them all (the check only; nothing is changed).
Live as_unmarked(Live live, const std::vector<ResourceId>& ids) {
    live.kvm_usable = true;  // a check of the manifest, not of this host's KVM
    for (const auto& id : ids) {
        auto clear = [&](auto& map) {
            auto it = map.find(id.name);
            if (it != map.end()) it->second.owner.clear();
        };
        if (id.kind == Kind::bridge) clear(live.bridges);
        if (id.kind == Kind::network) clear(live.networks);
        if (id.kind == Kind::pool) clear(live.pools);
        if (id.kind == Kind::vm) clear(live.vms);
    }
    return live;
}

}  // namespace

ExportResult export_manifest(const std::string& lab, const std::vector<Resource>& objects,
                             const Live& live, std::vector<LeftOut> extra) {
    ExportResult out;
    // Each object alone first: one the loader refuses is left out whole.
    std::vector<const Resource*> kept;
    for (const auto& r : objects) {
        const ResourceId id = id_of(r);
        std::vector<LeftOut> ignored;
        const std::string text = emit(lab, {&r}, {}, ignored);
        try {
            (void)load_manifests({{"export", text}});
            kept.push_back(&r);
            out.exported.push_back(id);
        } catch (const ValidationError& e) {
            std::vector<std::string> why;
            for (const auto& d : e.diagnostics().items()) why.push_back(d.message);
            out.left_out.push_back(
                {id.str(), fmt::format("not exported: {}", fmt::join(why, "; "))});
        }
    }
    std::vector<LeftOut> parts;
    std::string text = emit(lab, kept, {}, parts);
    for (auto& p : parts) out.left_out.push_back(std::move(p));
    for (auto& x : extra) out.left_out.push_back(std::move(x));
    // Planning it with everything adopted must show nothing else to change.
    try {
        const Desired desired = load_manifests({{"export", text}});
        PlanOptions options;
        options.adopt.insert(out.exported.begin(), out.exported.end());
        const Plan plan = make_plan(desired, as_unmarked(live, out.exported), options);
        for (const auto& a : plan.actions) {
            for (const auto& c : a.changes) {
                out.left_out.push_back(
                    {a.id.str(), fmt::format("{}: the host has {}, the manifest {}", c.path,
                                             c.before ? "\"" + *c.before + "\"" : "none",
                                             c.after ? "\"" + *c.after + "\"" : "none")});
            }
            if (a.type != ActionType::update)
                out.left_out.push_back(
                    {a.id.str(), fmt::format("planned as {}", to_string(a.type))});
        }
    } catch (const ValidationError& e) {
        for (const auto& d : e.diagnostics().items()) out.left_out.push_back({"plan", d.message});
    }
    std::vector<LeftOut> ignored;
    out.yaml = out.left_out.empty() ? text : emit(lab, kept, out.left_out, ignored);
    return out;
}

}  // namespace virtform
