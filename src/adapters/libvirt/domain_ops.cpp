#include "domain_ops.h"

#include "virtform/adapters/libvirt/network_xml.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <algorithm>
#include <chrono>
#include <cstring>

#include <filesystem>
#include <pugixml.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "storage_ops.h"
#include "virtform/adapters/libvirt/cloud_init_iso.h"
#include "virtform/adapters/libvirt/domain_xml.h"

namespace virtform::libvirt {
namespace fs = std::filesystem;
namespace {

std::string label(const std::string& name) {
    return "vm " + name;
}

DomainPtr lookup(virConnectPtr conn, const std::string& name, RoundTrips& trips) {
    trips.add();
    DomainPtr dom(virDomainLookupByName(conn, name.c_str()));
    if (!dom) throw_last_error(label(name), "look up");
    return dom;
}

std::string xml_desc(virDomainPtr dom, const std::string& name, unsigned flags, RoundTrips& trips) {
    trips.add();
    CString xml(virDomainGetXMLDesc(dom, flags));
    if (!xml) {
        throw_last_error(label(name), (flags & VIR_DOMAIN_XML_INACTIVE) != 0
                                          ? "read the definition of"
                                          : "read the running configuration of");
    }
    return xml.get();
}

bool is_active(virDomainPtr dom, const std::string& name, RoundTrips& trips) {
    trips.add();
    const int active = virDomainIsActive(dom);
    if (active < 0) throw_last_error(label(name), "read the state of");
    return active == 1;
}

void set_autostart(virDomainPtr dom, const Vm& want, RoundTrips& trips) {
    trips.add();
    if (virDomainSetAutostart(dom, want.autostart ? 1 : 0) < 0) {
        throw_last_error(label(want.name),
                         want.autostart ? "enable autostart of" : "disable autostart of");
    }
}

void start(virDomainPtr dom, const std::string& name, RoundTrips& trips) {
    trips.add();
    if (virDomainCreate(dom) < 0) throw_last_error(label(name), "start");
}

/// Graceful shutdown (ACPI power button, repeated in case the guest was still
/// booting), forced after `timeout` seconds.
void stop(virDomainPtr dom, const std::string& name, int timeout, RoundTrips& trips) {
    using clock = std::chrono::steady_clock;
    if (!is_active(dom, name, trips)) return;
    const auto deadline = clock::now() + std::chrono::seconds(std::max(timeout, 0));
    auto next_request = clock::now();
    while (clock::now() < deadline) {
        if (clock::now() >= next_request) {
            trips.add();
            if (virDomainShutdown(dom) < 0) {
                if (!is_active(dom, name, trips)) return;
                spdlog::debug("graceful shutdown of vm {} refused: {}", name,
                              virGetLastErrorMessage());
                break;  // no ACPI, no agent: nothing to wait for
            }
            next_request = clock::now() + std::chrono::seconds(5);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (!is_active(dom, name, trips)) return;
    }
    spdlog::debug("vm {} did not shut down within {} s: forcing it off", name, timeout);
    trips.add();
    if (virDomainDestroy(dom) < 0) {
        if (!is_active(dom, name, trips)) return;  // it made it just in time
        throw_last_error(label(name), "force off");
    }
}

std::uint64_t fnv1a(const std::string& s, std::uint64_t h = 1469598103934665603ULL) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

std::string yaml_quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

/// Builds the NoCloud seed ISO of a VM with cloud_init at Vm::seed_iso.
void write_seed(const Vm& vm) {
    if (!vm.cloud_init || !vm.seed_iso) return;
    const CloudInit& ci = *vm.cloud_init;
    NoCloudSeed seed;
    seed.user_data = ci.user_data;
    seed.local_hostname = vm.name;
    if (!ci.network_config.empty()) seed.network_config = ci.network_config;
    if (!ci.meta_data.empty()) {
        seed.meta_data = ci.meta_data;
    } else if (!ci.ssh_authorized_keys.empty()) {
        // NoCloud reads public keys from meta-data; they are part of the instance.
        std::uint64_t h = fnv1a(vm.name);
        h = fnv1a(std::string(1, '\0') + ci.user_data, h);
        h = fnv1a(std::string(1, '\0') + ci.network_config, h);
        for (const auto& k : ci.ssh_authorized_keys) h = fnv1a(std::string(1, '\0') + k, h);
        seed.instance_id = fmt::format("iid-{:016x}", h);
        std::string meta = nocloud_meta_data(seed) + "public-keys:\n";
        for (const auto& k : ci.ssh_authorized_keys) meta += "  - " + yaml_quote(k) + "\n";
        seed.meta_data = meta;
    }
    std::error_code ec;
    fs::create_directories(fs::path(*vm.seed_iso).parent_path(), ec);
    if (ec) {
        throw AdapterError(*vm.seed_iso, "create the directory of the seed ISO of vm " + vm.name,
                           ec.message(), ec.value());
    }
    write_nocloud_iso(*vm.seed_iso, seed);
}

void remove_seed(const std::optional<std::string>& path) {
    if (!path) return;
    std::error_code ec;
    fs::remove(*path, ec);
    if (ec) throw AdapterError(*path, "remove the seed ISO", ec.message(), ec.value());
    fs::remove(fs::path(*path).parent_path(), ec);  // the lab's seed directory, once empty
}

VolumeFormats formats_of(virConnectPtr conn, const Vm& vm, RoundTrips& trips) {
    VolumeFormats formats;
    for (const auto& d : vm.disks) {
        if (d.type != Disk::Type::volume) continue;
        if (auto f = volume_format(conn, d.pool, d.volume, trips)) {
            formats[d.pool + "/" + d.volume] = *f;
        }
    }
    return formats;
}

DomainPtr define(virConnectPtr conn, const Vm& want, const std::string& lab,
                 const DomainIdentity& identity, RoundTrips& trips) {
    const std::string xml = domain_to_xml(want, lab, identity, formats_of(conn, want, trips));
    spdlog::debug("defining vm {}:\n{}", want.name, xml);
    trips.add();
    DomainPtr dom(virDomainDefineXML(conn, xml.c_str()));
    if (!dom) throw_last_error(label(want.name), "define");
    return dom;
}

void create(virConnectPtr conn, const Vm& want, const std::string& lab, RoundTrips& trips) {
    // Seed, define, autostart, start: if a later step fails, the VM exists with
    // the mark and the next plan shows exactly what is left to do.
    write_seed(want);
    DomainPtr dom;
    bool adopted = false;
    try {
        dom = define(conn, want, lab, {}, trips);
    } catch (const AdapterError&) {
        // A domain of that name appeared after the plan was made (e.g. the
        // in-flight define of a killed apply, finished by libvirtd). Ours: take
        // it with its identity. Anyone else's: the error stands.
        trips.add();
        DomainPtr existing(virDomainLookupByName(conn, want.name.c_str()));
        if (!existing) throw;
        const std::string xml = xml_desc(existing.get(), want.name, VIR_DOMAIN_XML_INACTIVE, trips);
        if (owner_from_metadata(xml) != lab) throw;
        dom = define(conn, want, lab, domain_identity_from_xml(xml), trips);
        adopted = true;
    }
    // A domain libvirt has just defined anew does not autostart: only turning
    // it on is a call (one round trip less per VM of a cold apply).
    if (want.autostart || adopted) set_autostart(dom.get(), want, trips);
    if (want.state == VmState::running && !(adopted && is_active(dom.get(), want.name, trips))) {
        start(dom.get(), want.name, trips);
    }
}

void destroy(virConnectPtr conn, const std::string& name, RoundTrips& trips) {
    DomainPtr dom = lookup(conn, name, trips);
    const Vm live = domain_from_xml(xml_desc(dom.get(), name, VIR_DOMAIN_XML_INACTIVE, trips));
    stop(dom.get(), name, live.shutdown_timeout, trips);
    trips.add();
    if (virDomainUndefineFlags(dom.get(), VIR_DOMAIN_UNDEFINE_NVRAM |
                                              VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                              VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                              VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0) {
        throw_last_error(label(name), "undefine");
    }
    remove_seed(live.seed_iso);
}

// ---------------------------------------------------------------------------
// Live changes

/// "disk[3]" -> 3 when `path` is exactly prefix[N]; nullopt otherwise.
std::optional<std::size_t> index_of(const std::string& path, const std::string& prefix) {
    if (path.size() < prefix.size() + 3 || path.compare(0, prefix.size(), prefix) != 0 ||
        path[prefix.size()] != '[' || path.back() != ']') {
        return std::nullopt;
    }
    const std::string digits = path.substr(prefix.size() + 1, path.size() - prefix.size() - 2);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
    }
    return static_cast<std::size_t>(std::stoul(digits));
}

struct DeviceCall {
    virDomainPtr dom;
    const std::string& name;
    unsigned flags;
    RoundTrips& trips;

    void attach(const std::string& xml, const std::string& what) const {
        spdlog::debug("attach to vm {} (flags {}): {}", name, flags, xml);
        trips.add();
        if (virDomainAttachDeviceFlags(dom, xml.c_str(), flags) < 0) {
            throw_last_error(label(name), "attach " + what + " to");
        }
    }
    void detach(const std::string& xml, const std::string& what) const {
        spdlog::debug("detach from vm {} (flags {}): {}", name, flags, xml);
        trips.add();
        if (virDomainDetachDeviceFlags(dom, xml.c_str(), flags) < 0) {
            throw_last_error(label(name), "detach " + what + " from");
        }
    }
    void update(const std::string& xml, const std::string& what) const {
        spdlog::debug("update on vm {} (flags {}): {}", name, flags, xml);
        trips.add();
        if (virDomainUpdateDeviceFlags(dom, xml.c_str(), flags) < 0) {
            throw_last_error(label(name), "change " + what + " of");
        }
    }
};

/// Waits until the balloon of a running domain reaches `kib` (within 1 MiB):
/// a guest takes a target in steps. A guest that never took any target (its
/// balloon fully deflated: no driver) is not waited for; the planner warns.
void wait_for_balloon(virDomainPtr dom, const std::string& name, std::uint64_t kib,
                      std::uint64_t before_kib, std::uint64_t max_kib, RoundTrips& trips) {
    using clock = std::chrono::steady_clock;
    if (before_kib == max_kib) return;
    const auto deadline = clock::now() + std::chrono::seconds(20);
    std::uint64_t now = before_kib;
    while (true) {
        virDomainInfo info{};
        trips.add();
        if (virDomainGetInfo(dom, &info) < 0) throw_last_error(label(name), "read the memory of");
        now = info.memory;
        if ((now > kib ? now - kib : kib - now) <= 1024) return;
        if (clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    throw AdapterError(label(name), "set the memory of",
                       fmt::format("the guest's balloon is at {} MiB, not the {} MiB asked for, "
                                   "after 20 s (does the guest run its balloon driver?)",
                                   now / 1024, kib / 1024));
}

/// Sets the running domain's memory (balloon) and waits for the guest to take it.
void set_running_memory(virDomainPtr dom, const std::string& name, std::uint64_t bytes,
                        unsigned flags, RoundTrips& trips) {
    virDomainInfo info{};
    const bool live = (flags & VIR_DOMAIN_AFFECT_LIVE) != 0;
    if (live) {
        trips.add();
        if (virDomainGetInfo(dom, &info) < 0) throw_last_error(label(name), "read the memory of");
    }
    trips.add();
    if (virDomainSetMemoryFlags(dom, (bytes + 1023) / 1024, flags) < 0) {
        throw_last_error(label(name), "set the memory of");
    }
    if (live) wait_for_balloon(dom, name, (bytes + 1023) / 1024, info.memory, info.maxMem, trips);
}

/// The changes of the running domain alone ("running.*", live class), with
/// VIR_DOMAIN_AFFECT_LIVE only: back to its definition (devices) and to the
/// manifest (vCPUs, memory). `defined`: the live Vm (definition + running).
void apply_running_changes(virDomainPtr dom, const std::vector<AttributeChange>& changes,
                           const Vm& defined, const Vm& want, const VolumeFormats& formats,
                           RoundTrips& trips) {
    const std::string& name = want.name;
    const DeviceCall call{dom, name, VIR_DOMAIN_AFFECT_LIVE, trips};
    const Vm& run = *defined.running;
    std::vector<const AttributeChange*> ordered;
    for (const auto& c : changes) ordered.push_back(&c);
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
        return a->after.has_value() < b->after.has_value();  // detach first
    });
    const std::size_t skip = std::strlen(kRunningPrefix);
    for (const AttributeChange* c : ordered) {
        const std::string path = c->path.substr(skip);
        const std::string key =
            path.find('[') == std::string::npos
                ? std::string()
                : path.substr(path.find('[') + 1, path.size() - path.find('[') - 2);
        if (path == "memory") {
            set_running_memory(dom, name, want.memory, VIR_DOMAIN_AFFECT_LIVE, trips);
        } else if (path == "cpus") {
            trips.add();
            if (virDomainSetVcpusFlags(dom, static_cast<unsigned>(want.cpus),
                                       VIR_DOMAIN_AFFECT_LIVE) < 0) {
                throw_last_error(label(name), "set the vCPUs of");
            }
        } else if (path.rfind("nic[", 0) == 0) {
            const auto& nics = c->before ? run.nics : defined.nics;
            for (const auto& n : nics) {
                if (n.mac.value_or("") != key) continue;
                if (c->before)
                    call.detach(nic_device_xml(n), "NIC " + key);
                else
                    call.attach(nic_device_xml(n), "NIC " + key);
            }
        } else if (path.rfind("disk[", 0) == 0) {
            const auto& disks = c->before ? run.disks : defined.disks;
            for (const auto& d : disks) {
                if (d.target != key) continue;
                if (c->before)
                    call.detach(disk_device_xml(d, formats), "disk " + key);
                else
                    call.attach(disk_device_xml(d, formats), "disk " + key);
            }
        }
    }
}

/// Applies the live-class changes of an action with `flags` (AFFECT_LIVE
/// and/or AFFECT_CONFIG). `macs`: the MACs of the desired NICs by index when
/// the definition already holds them (after a redefine), so the running
/// domain gets the same ones. `limits`: the running domain's maxima.
void apply_live_changes(virDomainPtr dom, const Action& action, unsigned flags,
                        const DomainIdentity& macs, const Vm& limits, RoundTrips& trips,
                        std::vector<std::string>& skipped) {
    const auto& before = std::get<Vm>(*action.before);
    const auto& after = std::get<Vm>(*action.after);
    const std::string& name = after.name;
    const DeviceCall call{dom, name, flags, trips};
    const auto before_disks = assign_disk_targets(before.disks);
    const auto after_disks = assign_disk_targets(after.disks);
    const bool live_only = (flags & VIR_DOMAIN_AFFECT_CONFIG) == 0;
    // A device the running domain lacks (detached by hand) is detached from the
    // definition only; one it already has is attached to the definition only.
    const DeviceCall config_only{dom, name, flags & ~static_cast<unsigned>(VIR_DOMAIN_AFFECT_LIVE),
                                 trips};
    const bool both = !live_only && (flags & VIR_DOMAIN_AFFECT_LIVE) != 0 && before.running;
    auto runs_nic = [&](const std::string& mac) {
        return !mac.empty() && std::any_of(before.running->nics.begin(), before.running->nics.end(),
                                           [&](const Nic& n) { return n.mac.value_or("") == mac; });
    };
    auto runs_disk = [&](const std::string& target) {
        return std::any_of(before.running->disks.begin(), before.running->disks.end(),
                           [&](const Disk& d) { return d.target == target; });
    };
    // Removals first, from the end, so that indices of what stays hold.
    std::vector<const AttributeChange*> changes;
    for (const auto& c : action.changes) changes.push_back(&c);
    std::stable_sort(changes.begin(), changes.end(), [](const auto* a, const auto* b) {
        return a->after.has_value() < b->after.has_value();
    });
    for (const AttributeChange* change : changes) {
        if (change->cls != ChangeClass::live) continue;
        const std::string& path = change->path;
        if (path == "memory") {
            if (live_only && after.memory > limits.max_memory.value_or(limits.memory)) {
                skipped.push_back(path);
                continue;
            }
            set_running_memory(dom, name, after.memory, flags, trips);
        } else if (path == "cpus") {
            if (live_only && after.cpus > limits.max_cpus.value_or(limits.cpus)) {
                skipped.push_back(path);
                continue;
            }
            trips.add();
            if (virDomainSetVcpusFlags(dom, static_cast<unsigned>(after.cpus), flags) < 0) {
                throw_last_error(label(name), "set the vCPUs of");
            }
        } else if (auto i = index_of(path, "disk")) {
            const bool had = change->before.has_value() && *i < before_disks.size();
            const bool has = change->after.has_value() && *i < after_disks.size();
            const std::string what = "disk " + path;
            if (had && has && before_disks[*i].type != Disk::Type::volume &&
                after_disks[*i].type == before_disks[*i].type &&
                after_disks[*i].target == before_disks[*i].target) {
                call.update(disk_device_xml(after_disks[*i]), what);  // new media
                continue;
            }
            if (had) {
                const bool gone = both && !runs_disk(before_disks[*i].target);
                (gone ? config_only : call).detach(disk_device_xml(before_disks[*i]), what);
            }
            if (has) {
                const bool there = both && runs_disk(after_disks[*i].target);
                (there ? config_only : call).attach(disk_device_xml(after_disks[*i]), what);
            }
        } else if (auto n = index_of(path, "nic")) {
            const bool had = change->before.has_value() && *n < before.nics.size();
            const bool has = change->after.has_value() && *n < after.nics.size();
            const std::string what = "NIC " + path;
            std::string mac = has ? after.nics[*n].mac.value_or("") : "";
            if (has && mac.empty()) {
                auto it = macs.macs.find(*n);
                if (it != macs.macs.end()) mac = it->second;
            }
            if (had && has) {
                // Same slot, another network or bridge: switched in place.
                if (mac.empty()) mac = before.nics[*n].mac.value_or("");
                call.update(nic_device_xml(after.nics[*n], mac), what);
            } else if (had) {
                const bool gone = both && !runs_nic(before.nics[*n].mac.value_or(""));
                // matched by its MAC
                (gone ? config_only : call).detach(nic_device_xml(before.nics[*n]), what);
            } else if (has) {
                const bool there = both && runs_nic(mac);
                (there ? config_only : call).attach(nic_device_xml(after.nics[*n], mac), what);
            }
        }
    }
}

void update(virConnectPtr conn, const std::string& lab, const Action& action,
            const ProviderOptions& options, RoundTrips& trips) {
    const auto& before = std::get<Vm>(*action.before);
    const auto& after = std::get<Vm>(*action.after);
    const std::string& name = after.name;
    DomainPtr dom = lookup(conn, name, trips);
    bool running = is_active(dom.get(), name, trips);
    if (running && after.state == VmState::stopped) {
        stop(dom.get(), name, after.shutdown_timeout, trips);
        running = false;
    }
    // The running domain's own changes ("running.*") apart from the definition's.
    Action defined = action;
    defined.changes.clear();
    std::vector<AttributeChange> to_running;
    std::vector<std::string> pending;
    for (const auto& c : action.changes) {
        if (!is_running_change(c))
            defined.changes.push_back(c);
        else if (c.cls == ChangeClass::live)
            to_running.push_back(c);
        else
            pending.push_back(c.path.substr(std::strlen(kRunningPrefix)));
    }
    std::vector<std::string> restart_paths;
    for (const auto& c : defined.changes) {
        if (c.cls != ChangeClass::live) restart_paths.push_back(c.path);
    }
    const bool restart =
        running && options.allow_restart && (!restart_paths.empty() || !pending.empty());
    // First the running domain back to its definition (it restarts anyway otherwise),
    // so that the definition's own live changes below apply to both alike.
    if (running && !restart && !to_running.empty() && before.running) {
        apply_running_changes(dom.get(), to_running, before, after, formats_of(conn, before, trips),
                              trips);
    }
    if (restart_paths.empty()) {
        // Each change on its own, to the running domain and to its definition.
        unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
        if (running) flags |= VIR_DOMAIN_AFFECT_LIVE;
        std::vector<std::string> skipped;
        apply_live_changes(dom.get(), defined, flags, {}, after, trips, skipped);
        if (before.shutdown_timeout != after.shutdown_timeout) {
            // Kept in the mark: a redefine with the same identity stores it.
            const auto identity =
                domain_identity_from_xml(xml_desc(dom.get(), name, VIR_DOMAIN_XML_INACTIVE, trips));
            dom = define(conn, after, lab, identity, trips);
        }
        if (restart) {
            stop(dom.get(), name, after.shutdown_timeout, trips);
            running = false;
        }
    } else {
        const auto identity =
            domain_identity_from_xml(xml_desc(dom.get(), name, VIR_DOMAIN_XML_INACTIVE, trips));
        write_seed(after);
        dom = define(conn, after, lab, identity, trips);
        if (restart) {
            stop(dom.get(), name, after.shutdown_timeout, trips);
            running = false;
        } else if (running) {
            // The definition holds everything; the running domain gets what it
            // can take now, with the MACs the definition chose.
            const auto macs =
                domain_identity_from_xml(xml_desc(dom.get(), name, VIR_DOMAIN_XML_INACTIVE, trips));
            const Vm limits = domain_from_xml(xml_desc(dom.get(), name, 0, trips));
            std::vector<std::string> skipped;
            apply_live_changes(dom.get(), defined, VIR_DOMAIN_AFFECT_LIVE, macs, limits, trips,
                               skipped);
            restart_paths.insert(restart_paths.end(), skipped.begin(), skipped.end());
        }
    }
    if (running && !restart && (!restart_paths.empty() || !pending.empty()) && options.on_notice) {
        restart_paths.insert(restart_paths.end(), pending.begin(), pending.end());
        options.on_notice(action.id,
                          fmt::format("restart pending ({} change{}: {}): the VM keeps running "
                                      "its previous definition until it restarts (apply with "
                                      "--allow-restart to restart it now)",
                                      restart_paths.size(), restart_paths.size() == 1 ? "" : "s",
                                      fmt::join(restart_paths, ", ")));
    }
    if (!running && after.state == VmState::running) start(dom.get(), name, trips);
    if (before.autostart != after.autostart) set_autostart(dom.get(), after, trips);
}

/// Adopting: the lab's mark set in the domain's <metadata> through
/// virDomainSetMetadata (the definition, and the running domain too), so
/// nothing else of the definition is rewritten: not even what GetXMLDesc
/// leaves out without VIR_DOMAIN_XML_SECURE (graphics passwords).
void mark(virConnectPtr conn, const std::string& name, const std::string& lab, RoundTrips& trips) {
    DomainPtr dom = lookup(conn, name, trips);
    const std::string owner =
        owner_from_metadata(xml_desc(dom.get(), name, VIR_DOMAIN_XML_INACTIVE, trips));
    if (!owner.empty()) {
        throw AdapterError(label(name), "adopt",
                           fmt::format("it already carries the mark of lab '{}'", owner));
    }
    pugi::xml_document doc;
    doc.append_child("lab").text() = lab.c_str();
    std::ostringstream text;
    doc.save(text, "", pugi::format_raw | pugi::format_no_declaration);
    unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
    if (is_active(dom.get(), name, trips)) flags |= VIR_DOMAIN_AFFECT_LIVE;
    trips.add();
    if (virDomainSetMetadata(dom.get(), VIR_DOMAIN_METADATA_ELEMENT, text.str().c_str(),
                             kMetadataPrefix, kMetadataUri, flags) < 0) {
        throw_last_error(label(name), "adopt (set the lab's mark on)");
    }
}

}  // namespace

void read_domains(virConnectPtr conn, Live& live, RoundTrips& trips) {
    // State and autostart from filtered listings, not per-domain calls.
    auto list = [&](unsigned flags) {
        virDomainPtr* raw = nullptr;
        trips.add();
        const int n = virConnectListAllDomains(conn, &raw, flags);
        if (n < 0) throw_last_error("vms", "list");
        return adopt_list<DomainPtr>(raw, n);
    };
    auto names = [&](unsigned flags) {
        std::set<std::string> out;
        for (const auto& dom : list(flags)) out.insert(virDomainGetName(dom.get()));  // local
        return out;
    };
    auto all = list(0);
    const auto running = names(VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    const auto autostart = names(VIR_CONNECT_LIST_DOMAINS_AUTOSTART);
    for (auto& dom : all) {
        const std::string name = virDomainGetName(dom.get());  // local, no round trip
        try {
            const std::string inactive = xml_desc(dom.get(), name, VIR_DOMAIN_XML_INACTIVE, trips);
            Vm vm = domain_from_xml(inactive);
            const bool active = running.count(name) != 0;
            vm.state = active ? VmState::running : VmState::stopped;
            vm.autostart = autostart.count(name) != 0;
            if (active) {
                // The domain as it runs (live XML: vCPUs online, balloon size,
                // attached devices): the planner compares it too.
                Vm run = domain_from_xml(xml_desc(dom.get(), name, 0, trips));
                run.state = VmState::running;
                run.autostart = vm.autostart;
                vm.running = std::make_shared<const Vm>(std::move(run));
                const auto pending = restart_pending_paths(vm);
                vm.restart_pending = !pending.empty();
                if (vm.restart_pending) {
                    spdlog::debug("vm {}: waits for a restart to apply {}", name,
                                  fmt::join(pending, ", "));
                }
            }
            live.vms[name] = std::move(vm);
        } catch (const AdapterError& e) {
            // Undefined between the listing and now: not there.
            if (e.code() == VIR_ERR_NO_DOMAIN) continue;
            throw;
        }
    }
}

void link_volumes_to_vms(Live& live) {
    for (const auto& [name, vm] : live.vms) {
        for (const auto& d : vm.disks) {
            if (d.type != Disk::Type::volume) continue;
            auto it = live.volumes.find(d.pool + "/" + d.volume);
            if (it == live.volumes.end()) continue;
            it->second.vm = name;
        }
    }
}

void apply_vm(virConnectPtr conn, const std::string& lab, const Action& action,
              const ProviderOptions& options, RoundTrips& trips) {
    if (action.after && !options.remote) {
        // QEMU opens the serial console file but does not make its directory
        // (on another host that is its own business: no local path stands for it).
        const Vm& vm = std::get<Vm>(*action.after);
        if (vm.console_file) {
            // QEMU would follow a symlink or write into a device or FIFO planted
            // at the name: only a regular file (or none yet) is a console log.
            struct stat st {};
            if (::lstat(vm.console_file->c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
                throw AdapterError(
                    "vm " + vm.name, "use the console file of",
                    fmt::format("{} exists and is {}, not a regular file", *vm.console_file,
                                S_ISLNK(st.st_mode)   ? "a symbolic link"
                                : S_ISDIR(st.st_mode) ? "a directory"
                                                      : "a special file"));
            }
            std::error_code ec;
            std::filesystem::create_directories(
                std::filesystem::path(*vm.console_file).parent_path(), ec);
            if (ec)
                throw AdapterError("vm " + vm.name, "create the console directory of",
                                   ec.message());
        }
    }
    switch (action.type) {
        case ActionType::create:
            create(conn, std::get<Vm>(*action.after), lab, trips);
            break;
        case ActionType::destroy:
            destroy(conn, action.id.name, trips);
            break;
        case ActionType::replace:
            destroy(conn, action.id.name, trips);
            create(conn, std::get<Vm>(*action.after), lab, trips);
            break;
        case ActionType::update:
            if (action.adopt) mark(conn, action.id.name, lab, trips);
            if (!action.changes.empty()) update(conn, lab, action, options, trips);
            break;
    }
}

}  // namespace virtform::libvirt
