#include "virtform/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <type_traits>

#include "virtform/dag.h"
#include "virtform/fingerprint.h"
#include "virtform/host_checks.h"

namespace virtform {

const char* to_string(ChangeClass cls) {
    switch (cls) {
        case ChangeClass::live:
            return "live";
        case ChangeClass::restart:
            return "restart";
        case ChangeClass::replace:
            return "replace";
    }
    return "?";
}

const char* to_string(ActionType type) {
    switch (type) {
        case ActionType::create:
            return "create";
        case ActionType::update:
            return "update";
        case ActionType::replace:
            return "replace";
        case ActionType::destroy:
            return "destroy";
    }
    return "?";
}

int Plan::to_add() const {
    return static_cast<int>(std::count_if(actions.begin(), actions.end(), [](const Action& a) {
        return a.type == ActionType::create || a.type == ActionType::replace;
    }));
}
int Plan::to_change() const {
    return static_cast<int>(std::count_if(actions.begin(), actions.end(), [](const Action& a) {
        // Adopting alone marks the object and changes nothing of it.
        return a.type == ActionType::update && !(a.adopt && a.changes.empty());
    }));
}
int Plan::to_adopt() const {
    return static_cast<int>(
        std::count_if(actions.begin(), actions.end(), [](const Action& a) { return a.adopt; }));
}
int Plan::to_destroy() const {
    return static_cast<int>(std::count_if(actions.begin(), actions.end(), [](const Action& a) {
        return a.type == ActionType::destroy || a.type == ActionType::replace;
    }));
}

namespace {

/// Generic attribute diff: desired attributes that are computed are skipped;
/// an attribute only one side has is an addition or a removal.
std::vector<AttributeChange> diff_attributes(const std::vector<Attribute>& want,
                                             const std::vector<Attribute>& have) {
    std::vector<AttributeChange> out;
    // Both sides come from attributes_of, so they usually list the same paths
    // in the same order (always, for an object that matches): then the diff
    // is a walk of the pairs, without indexing either side.
    bool aligned = want.size() == have.size();
    for (std::size_t i = 0; aligned && i < want.size(); ++i) aligned = want[i].path == have[i].path;
    if (aligned) {
        for (std::size_t i = 0; i < want.size(); ++i) {
            const Attribute& w = want[i];
            const Attribute& h = have[i];
            if (w.computed) continue;
            if (h.computed) {
                out.push_back({w.path, std::nullopt, w.value, w.cls, w.reason, w.sensitive});
            } else if (h.value != w.value) {
                out.push_back({w.path, h.value, w.value, w.cls, w.reason, w.sensitive});
            }
        }
        return out;
    }
    std::map<std::string, const Attribute*> have_by_path;
    for (const auto& a : have) have_by_path[a.path] = &a;
    std::set<std::string> seen;
    for (const auto& w : want) {
        seen.insert(w.path);
        if (w.computed) continue;
        auto it = have_by_path.find(w.path);
        if (it == have_by_path.end() || it->second->computed) {
            out.push_back({w.path, std::nullopt, w.value, w.cls, w.reason, w.sensitive});
        } else if (it->second->value != w.value) {
            out.push_back({w.path, it->second->value, w.value, w.cls, w.reason, w.sensitive});
        }
    }
    for (const auto& h : have) {
        if (seen.count(h.path) != 0 || h.computed) continue;
        out.push_back({h.path, h.value, std::nullopt, h.cls, h.reason, h.sensitive});
    }
    return out;
}

/// Kind-specific classification that a single attribute cannot express.
void refine_network_changes(std::vector<AttributeChange>& changes) {
    for (auto& c : changes) {
        if (c.path == "mode" && (c.before == "bridge" || c.after == "bridge")) {
            c.cls = ChangeClass::replace;
            c.reason =
                "the network switches between a libvirt-made bridge and a host bridge: it is "
                "deleted and created anew";
        }
    }
}

ChangeClass strongest(const std::vector<AttributeChange>& changes) {
    ChangeClass cls = ChangeClass::live;
    for (const auto& c : changes) cls = std::max(cls, c.cls);
    return cls;
}

/// The objects a resource needs to exist first.
std::vector<ResourceId> dependencies_of(const Resource& resource) {
    std::vector<ResourceId> out;
    if (const auto* net = std::get_if<Network>(&resource)) {
        if (net->mode == NetworkMode::bridge && net->bridge)
            out.push_back({Kind::bridge, *net->bridge});
    } else if (const auto* vol = std::get_if<Volume>(&resource)) {
        out.push_back({Kind::pool, vol->pool});
    } else if (const auto* vm = std::get_if<Vm>(&resource)) {
        for (const auto& d : vm->disks) {
            if (d.type != Disk::Type::volume) continue;
            out.push_back({Kind::pool, d.pool});
            out.push_back({Kind::volume, d.pool + "/" + d.volume});
        }
        for (const auto& n : vm->nics) {
            out.push_back({n.type == Nic::Type::network ? Kind::network : Kind::bridge, n.source});
        }
    }
    return out;
}

/// Whether `resource`, as it is or will be, needs `dep` (one of its
/// dependencies_of) in place: always, except that a VM that is not running
/// needs nothing of the networks and bridges its NICs name.
bool needs(const Resource& resource, const ResourceId& dep) {
    const auto* vm = std::get_if<Vm>(&resource);
    if (vm == nullptr || vm->state == VmState::running) return true;
    return dep.kind != Kind::network && dep.kind != Kind::bridge;
}

/// VM changes whose class depends on both sides: vCPUs and memory are live
/// only within the running maximum; devices hot-plug only where the bus can.
void refine_vm_changes(std::vector<AttributeChange>& changes, const Vm& want, const Vm& have) {
    const bool max_cpus_changes =
        want.max_cpus.value_or(want.cpus) != have.max_cpus.value_or(have.cpus);
    const bool max_mem_changes =
        want.max_memory.value_or(want.memory) != have.max_memory.value_or(have.memory);
    for (auto& c : changes) {
        if (c.path == "cpus" &&
            (max_cpus_changes || want.cpus > have.max_cpus.value_or(have.cpus))) {
            c.cls = ChangeClass::restart;
            c.reason = "beyond the running VM's max_cpus: needs a redefine and a restart";
        } else if (c.path == "memory" &&
                   (max_mem_changes || want.memory > have.max_memory.value_or(have.memory))) {
            c.cls = ChangeClass::restart;
            c.reason = "beyond the running VM's max_memory: needs a redefine and a restart";
        } else if ((c.path.rfind("disk[", 0) == 0 || c.path.rfind("nic[", 0) == 0) &&
                   c.path.find('.') == std::string::npos) {
            if (c.before && c.after) {
                c.cls = ChangeClass::restart;
                c.reason = "changing an existing device needs a redefine and a restart";
            } else if (c.path.rfind("disk[", 0) == 0) {
                const std::string& v = c.after ? *c.after : *c.before;
                if (v.find("bus=virtio") == std::string::npos &&
                    v.find("bus=scsi") == std::string::npos) {
                    c.cls = ChangeClass::restart;
                    c.reason = "SATA and IDE devices cannot be hot-plugged: needs a restart";
                }
            }
        }
    }
    // A NIC added or removed whole takes its MAC along: the MAC is part of the
    // hot-plug, not a change of an existing device.
    for (auto& c : changes) {
        if (c.path.rfind("nic[", 0) != 0 || c.path.size() < 5 ||
            c.path.compare(c.path.size() - 5, 5, "].mac") != 0 || (c.before && c.after)) {
            continue;
        }
        const std::string nic = c.path.substr(0, c.path.size() - 4);
        for (const auto& n : changes) {
            if (n.path == nic && (!n.before || !n.after)) {
                c.cls = n.cls;
                c.reason = n.reason;
            }
        }
    }
    if (have.state == VmState::stopped) {
        for (auto& c : changes) {
            if (c.cls == ChangeClass::restart) {
                c.reason = "redefined; the VM is stopped, so it takes effect when it starts";
            }
        }
    }
}

Vm resolve_accel(Vm vm, const Live& live) {
    if (vm.accel == Accel::auto_) vm.accel = live.kvm_usable ? Accel::kvm : Accel::qemu;
    return vm;
}

/// Errors that come from the host rather than the manifest: a bridge name that
/// an interface or another network already holds.
void check_network_against_host(const Network& want, const Desired& desired, const Live& live,
                                Diagnostics& diags) {
    if (!want.bridge) return;
    const std::string& br = *want.bridge;
    if (want.mode == NetworkMode::bridge) {
        if (live.host_interfaces.count(br) == 0 && desired.bridges.count(br) == 0) {
            diags.error(want.where,
                        fmt::format("network '{}' is in mode bridge over '{}', but the host "
                                    "has no interface '{}' and the manifest declares no "
                                    "such bridge",
                                    want.name, br, br));
        }
        return;
    }
    for (const auto& [name, other] : live.networks) {
        if (name == want.name || !other.bridge || *other.bridge != br ||
            other.mode == NetworkMode::bridge) {
            continue;
        }
        // A network of this lab that the manifest no longer has will be deleted first.
        if (other.owner == desired.lab && desired.networks.count(name) == 0) continue;
        diags.error(want.where,
                    fmt::format("network '{}' wants bridge '{}', which libvirt network '{}' "
                                "already uses",
                                want.name, br, name));
        return;
    }
    auto self = live.networks.find(want.name);
    const bool ours = self != live.networks.end() && self->second.bridge == br;
    if (!ours && live.host_interfaces.count(br) != 0) {
        bool freed = false;
        for (const auto& [name, other] : live.networks) {
            freed = freed || (other.bridge == br && other.owner == desired.lab);
        }
        if (!freed) {
            diags.error(want.where,
                        fmt::format("network '{}' wants bridge '{}', but the host already has "
                                    "an interface '{}' that no network of this lab made",
                                    want.name, br, br));
        }
    }
}

std::string normal_dir(const std::string& path) {
    std::string out = std::filesystem::path(path).lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

std::string owner_words(const std::string& owner) {
    return owner.empty() ? "which carries no virtform mark" : "of lab '" + owner + "'";
}

/// A pool's directory backs one pool only and is claimed only when it is new,
/// empty or already this lab's: a directory another pool uses, another lab
/// marked, or that holds someone's files would make `destroy` of this lab
/// delete what is not its own.
void check_pool_against_host(const Pool& want, const Desired& desired, const Live& live,
                             Diagnostics& diags) {
    auto self = live.pools.find(want.name);
    const std::string path = normal_dir(want.path);
    if (self != live.pools.end() && normal_dir(self->second.path) == path) return;  // as it is
    for (const auto& [name, other] : desired.pools) {
        if (name < want.name && normal_dir(other.path) == path) {
            diags.error(want.where, fmt::format("pool '{}' has the directory {} of pool '{}' ({}): "
                                                "a directory backs one pool only",
                                                want.name, want.path, name, other.where.str()));
            return;
        }
    }
    for (const auto& [name, other] : live.pools) {
        if (name == want.name || other.path.empty() || normal_dir(other.path) != path) continue;
        diags.error(want.where,
                    fmt::format("pool '{}' wants the directory {}, which is already the directory "
                                "of libvirt pool '{}' {}: a directory backs one pool only; choose "
                                "another path",
                                want.name, want.path, name, owner_words(other.owner)));
        return;
    }
    auto dir = live.pool_dirs.find(want.path);
    if (dir == live.pool_dirs.end()) return;  // not inspected (the caller did not ask)
    if (!dir->second.problem.empty()) {
        diags.error(want.where, fmt::format("pool '{}': its directory {} {}", want.name, want.path,
                                            dir->second.problem));
    } else if (!dir->second.mark.empty() && dir->second.mark != desired.lab) {
        diags.error(want.where,
                    fmt::format("pool '{}' wants the directory {}, which carries the mark of lab "
                                "'{}' (.virtform-lab): virtform never takes over another lab's "
                                "pool directory; choose another path",
                                want.name, want.path, dir->second.mark));
    } else if (dir->second.mark.empty() && dir->second.holds_files) {
        diags.error(want.where,
                    fmt::format("pool '{}' wants the directory {}, which already holds files and "
                                "no virtform mark: a pool claims only a new or empty directory "
                                "(its files would otherwise be taken for the lab's); choose "
                                "another path or empty it",
                                want.name, want.path));
    }
}

/// A bridge name held by another kind of device, or ports that cannot join.
void check_bridge_against_host(const Bridge& want, const Live& live, Diagnostics& diags) {
    auto self = live.interfaces.find(want.name);
    if (self != live.interfaces.end() && self->second.kind != "bridge") {
        diags.error(want.where,
                    fmt::format("bridge '{}': the name is taken by a device of kind '{}' on the "
                                "host; virtform does not turn it into a bridge",
                                want.name, self->second.kind.empty() ? "nic" : self->second.kind));
    }
    for (const auto& port : want.ports) {
        auto it = live.interfaces.find(port);
        if (it == live.interfaces.end()) {
            if (!live.interfaces.empty()) {
                diags.error(want.where,
                            fmt::format("port '{}' of bridge '{}' does not exist on the host", port,
                                        want.name));
            }
            continue;
        }
        if (!it->second.master.empty() && it->second.master != want.name) {
            diags.error(
                want.where,
                fmt::format("port '{}' of bridge '{}' is already a port of '{}'; release it "
                            "there first",
                            port, want.name, it->second.master));
        }
    }
}

std::string owner_text(const std::string& owner) {
    return owner.empty() ? "carries no virtform mark" : fmt::format("belongs to lab '{}'", owner);
}

}  // namespace

Plan make_plan(const Desired& desired, const Live& live, const PlanOptions& options) {
    Diagnostics diags;
    std::vector<Action> actions;
    std::vector<std::string> warnings;

    // `wanted` maps names to objects, or to pointers to them (the VMs).
    auto deref = [](const auto& x) -> const auto& {
        if constexpr (std::is_pointer_v<std::decay_t<decltype(x)>>)
            return *x;
        else
            return x;
    };
    // Plans one kind: create what is missing, diff what exists (refusing what
    // the lab does not own), destroy what the lab owns and no longer wants.
    auto plan_kind = [&](Kind kind, const auto& wanted, const auto& existing, auto owner_of,
                         auto refine, bool prune) {
        for (const auto& [name, entry] : wanted) {
            const auto& want = deref(entry);
            const ResourceId id{kind, name};
            auto it = existing.find(name);
            if (it == existing.end()) {
                Action a{id, ActionType::create};
                a.after = want;
                for (const auto& attr : attributes_of(want)) {
                    if (!attr.computed) {
                        a.changes.push_back({attr.path, std::nullopt, attr.value, attr.cls,
                                             attr.reason, attr.sensitive});
                    }
                }
                actions.push_back(std::move(a));
                continue;
            }
            const auto& have = it->second;
            const std::string owner = owner_of(have);
            bool adopt = false;
            if constexpr (requires { want.adopt; }) {
                adopt = owner.empty() && (want.adopt || options.adopt.count(id) != 0);
            }
            if (owner != desired.lab && !adopt) {
                diags.error(want.where,
                            fmt::format("{} '{}' already exists on the host and {}; virtform "
                                        "never modifies objects its lab does not own: choose "
                                        "another name",
                                        to_string(kind), name, owner_text(owner)));
                continue;
            }
            auto changes = diff_attributes(attributes_of(want), attributes_of(have));
            // refine may add changes (a running VM's divergence) or drop them.
            if (!refine(changes, want, have) || (changes.empty() && !adopt)) continue;
            Action a{id};
            a.adopt = adopt;
            a.cls = strongest(changes);
            a.type = a.cls == ChangeClass::replace ? ActionType::replace : ActionType::update;
            a.changes = std::move(changes);
            a.before = have;
            a.after = want;
            for (const auto& c : a.changes) {
                if (c.cls == a.cls) {
                    a.reason = c.reason;
                    break;
                }
            }
            if (adopt && a.changes.empty()) a.reason = "carries no virtform mark; adopted as it is";
            actions.push_back(std::move(a));
        }
        if (!prune) return;
        for (const auto& [name, have] : existing) {
            if (owner_of(have) != desired.lab || wanted.count(name) != 0) continue;
            Action a{ResourceId{kind, name}, ActionType::destroy};
            a.reason = fmt::format("owned by lab '{}' and no longer in the manifest", desired.lab);
            a.before = have;
            actions.push_back(std::move(a));
        }
    };
    auto own_owner = [](const auto& x) { return x.owner; };
    for (const auto& id : options.adopt) {
        const bool declared = (id.kind == Kind::bridge && desired.bridges.count(id.name)) ||
                              (id.kind == Kind::network && desired.networks.count(id.name)) ||
                              (id.kind == Kind::pool && desired.pools.count(id.name)) ||
                              (id.kind == Kind::vm && desired.vms.count(id.name));
        if (id.kind == Kind::volume) {
            diags.error({}, fmt::format("--adopt {}: volumes are not adopted on their own; adopt "
                                        "their pool",
                                        id.str()));
        } else if (!declared) {
            diags.error({}, fmt::format("--adopt {}: the manifests declare no {} '{}'; export it "
                                        "first (virtform export {})",
                                        id.str(), to_string(id.kind), id.name, id.str()));
        }
    }

    // Bridges: the live side is seen as the planner needs it (take-over done or
    // not, taken-over addresses not managed unless listed).
    std::map<std::string, Bridge> live_bridges = live.bridges;
    for (const auto& [name, want] : desired.bridges) {
        check_bridge_against_host(want, live, diags);
        auto it = live_bridges.find(name);
        if (it == live_bridges.end()) continue;
        Bridge& have = it->second;
        if (want.take_over) {
            auto port = live.interfaces.find(*want.take_over);
            const bool done = std::find(have.ports.begin(), have.ports.end(), *want.take_over) !=
                                  have.ports.end() &&
                              port != live.interfaces.end() && port->second.addresses.empty();
            if (done) have.take_over = want.take_over;
            if (want.addresses.empty()) have.addresses.clear();
        }
    }
    plan_kind(
        Kind::bridge, desired.bridges, live_bridges, own_owner,
        [](auto&, const Bridge&, const Bridge&) { return true; }, true);

    for (const auto& [name, want] : desired.networks)
        check_network_against_host(want, desired, live, diags);
    plan_kind(
        Kind::network, desired.networks, live.networks, own_owner,
        [&](std::vector<AttributeChange>& changes, const Network& want, const Network& have) {
            refine_network_changes(changes);
            if (!have.active && strongest(changes) == ChangeClass::restart) {
                for (auto& c : changes) {
                    if (c.cls == ChangeClass::restart) {
                        c.reason =
                            "redefined; the network is stopped, so the change takes effect "
                            "when it starts";
                    }
                }
            }
            (void)want;
            return true;
        },
        true);

    for (const auto& [name, want] : desired.pools)
        check_pool_against_host(want, desired, live, diags);
    plan_kind(
        Kind::pool, desired.pools, live.pools, own_owner,
        [](auto&, const Pool&, const Pool&) { return true; }, true);

    plan_kind(
        Kind::volume, desired.volumes, live.volumes, own_owner,
        [&](std::vector<AttributeChange>& changes, const Volume& want, const Volume& have) {
            bool ok = true;
            if (want.capacity < have.capacity) {
                diags.error(want.where,
                            fmt::format("disk '{}' of VM '{}' would shrink from {} to {}: "
                                        "shrinking loses data and is refused; grow it, or "
                                        "delete the disk from the manifest first",
                                        want.name, want.vm, format_size(have.capacity),
                                        format_size(want.capacity)));
                ok = false;
            }
            for (const auto& c : changes) {
                if (c.path == "format" || c.path == "backing") {
                    diags.error(want.where,
                                fmt::format("the {} of volume {} cannot change on an "
                                            "existing disk without losing its data ({} -> "
                                            "{}); give the disk a new name instead",
                                            c.path, want.id_name(), c.before.value_or("none"),
                                            c.after.value_or("none")));
                    ok = false;
                }
            }
            std::erase_if(changes, [](const AttributeChange& c) { return c.path == "vm"; });
            return ok && !changes.empty();
        },
        false);

    // The VMs as planned: those with accel: auto resolved (a copy), the others
    // as the manifest has them (not copied).
    std::map<std::string, const Vm*> resolved;
    std::deque<Vm> resolved_copies;  // stable addresses as it grows
    std::vector<std::string> on_tcg;
    for (const auto& [name, vm] : desired.vms) {
        // accel: kvm where KVM does not work would fail at define (issue 9).
        if (vm.accel == Accel::kvm && !live.kvm_usable) {
            diags.error(vm.where,
                        fmt::format("VM '{}' has accel: kvm, but KVM is not usable on this host{} "
                                    "(see `virtform doctor`); use accel: auto (TCG here) or qemu",
                                    name, live.kvm_detail.empty() ? "" : ": " + live.kvm_detail));
        }
        if (vm.accel == Accel::auto_) {
            resolved.emplace_hint(resolved.end(), name,
                                  &resolved_copies.emplace_back(resolve_accel(vm, live)));
        } else {
            resolved.emplace_hint(resolved.end(), name, &vm);
        }
        if (vm.accel == Accel::auto_ && !live.kvm_usable) on_tcg.push_back(name);
        for (const auto& nic : vm.nics) {
            if (nic.type == Nic::Type::network && desired.networks.count(nic.source) == 0 &&
                live.networks.count(nic.source) == 0) {
                diags.error(vm.where,
                            fmt::format("VM '{}' has a NIC on network '{}', which neither the "
                                        "manifest nor libvirt has",
                                        name, nic.source));
            }
            if (nic.type == Nic::Type::bridge && live.host_interfaces.count(nic.source) == 0 &&
                desired.bridges.count(nic.source) == 0) {
                diags.error(vm.where,
                            fmt::format("VM '{}' has a NIC on bridge '{}', which the host does not "
                                        "have and the manifest does not declare",
                                        name, nic.source));
            }
        }
    }
    if (!on_tcg.empty()) {
        warnings.push_back(
            fmt::format("KVM does not work on this host (see `virtform doctor`): {} with "
                        "accel: auto run{} under TCG, software emulation, much slower",
                        fmt::join(on_tcg, ", "), on_tcg.size() == 1 ? "s" : ""));
    }
    plan_kind(
        Kind::vm, resolved, live.vms, own_owner,
        [&](std::vector<AttributeChange>& changes, const Vm& want, const Vm& have) {
            refine_vm_changes(changes, want, have);
            // Live state (issue 9): what runs, not only what is defined.
            auto running = running_changes(want, have);
            changes.insert(changes.end(), running.changes.begin(), running.changes.end());
            warnings.insert(warnings.end(), running.warnings.begin(), running.warnings.end());
            return true;
        },
        true);

    // Volumes the lab made (listed in its pool's mark) that no VM disk of the
    // manifest names go, after the VMs that used them, unless marked keep.
    for (const auto& [id, vol] : live.volumes) {
        if (vol.owner != desired.lab || desired.volumes.count(id) != 0) continue;
        if (vol.keep) {
            warnings.push_back(fmt::format(
                "volume.{} is kept (keep: true) although no VM of the manifest uses it", id));
            continue;
        }
        Action a{ResourceId{Kind::volume, id}, ActionType::destroy};
        a.reason = vol.vm.empty()
                       ? "a disk the manifest no longer has"
                       : fmt::format("a disk of VM '{}' that the manifest no longer has", vol.vm);
        a.before = vol;
        actions.push_back(std::move(a));
    }
    // A pool is deleted only once nothing else lives in it.
    std::erase_if(actions, [&](const Action& a) {
        if (a.id.kind != Kind::pool || a.type != ActionType::destroy) return false;
        std::vector<std::string> left;
        // Not a structured binding: clang 14 (the sanitizer and fuzz builds)
        // cannot capture one in the lambda below.
        for (const auto& entry : live.volumes) {
            const std::string& id = entry.first;
            const Volume& vol = entry.second;
            if (vol.pool != a.id.name) continue;
            const bool going = std::any_of(actions.begin(), actions.end(), [&](const Action& b) {
                return b.id.kind == Kind::volume && b.id.name == id &&
                       b.type == ActionType::destroy;
            });
            if (!going) left.push_back(vol.name);
        }
        if (left.empty()) return false;
        warnings.push_back(
            fmt::format("pool.{} stays: it still holds {} (kept or not made by virtform)",
                        a.id.name, fmt::join(left, ", ")));
        return true;
    });
    // --- issue 9: collisions with the host, users of what is deleted, shared use.
    check_host_collisions(desired, live, diags);
    for (auto& a : actions) {
        if (a.type == ActionType::destroy || a.type == ActionType::replace)
            a.users = users_of(a, actions, desired, live);
    }
    for (auto& w : shared_uses(desired, live)) warnings.push_back(std::move(w));
    // ---
    diags.throw_if_any();

    // Targeting: keep the targets and, transitively, what they depend on.
    if (!options.targets.empty()) {
        std::set<ResourceId> keep(options.targets.begin(), options.targets.end());
        bool grew = true;
        while (grew) {
            grew = false;
            for (const auto& a : actions) {
                if (keep.count(a.id) == 0 || !a.after) continue;
                for (const auto& dep : dependencies_of(*a.after))
                    grew = keep.insert(dep).second || grew;
            }
        }
        std::erase_if(actions, [&](const Action& a) { return keep.count(a.id) == 0; });
    }

    // Dependencies: creates and updates after what they use is in place;
    // deletes before what they used goes away. A VM that is not running (and
    // will not run) needs no network or bridge of its NICs: libvirt defines,
    // redefines and undefines a domain whatever the state of the network it
    // names, and only a start (or a running guest being cut off) needs it. So
    // the define of a stopped VM overlaps the network starts, which are most of
    // a cold apply's time (libvirtd spawns dnsmasq and adds firewall rules for
    // each, one network at a time), and its undefine overlaps the network
    // destroys. Pools and volumes stay dependencies: a define reads the
    // volume's format.
    Dag dag;
    std::map<ResourceId, std::size_t> by_id;
    for (std::size_t i = 0; i < actions.size(); ++i) {
        dag.add_node(fmt::format("{} {}", to_string(actions[i].type), actions[i].id.str()));
        by_id[actions[i].id] = i;
    }
    for (std::size_t i = 0; i < actions.size(); ++i) {
        const Action& a = actions[i];
        if (a.after) {
            for (const auto& dep : dependencies_of(*a.after)) {
                auto it = by_id.find(dep);
                if (it != by_id.end() && actions[it->second].type != ActionType::destroy &&
                    needs(*a.after, dep)) {
                    dag.add_edge(it->second, i);
                }
            }
        }
        if (a.before) {
            for (const auto& dep : dependencies_of(*a.before)) {
                auto it = by_id.find(dep);
                if (it == by_id.end() || !needs(*a.before, dep)) continue;
                const Action& d = actions[it->second];
                if (d.type == ActionType::destroy || d.type == ActionType::replace) {
                    dag.add_edge(i, it->second);
                }
            }
        }
    }
    // Among independent actions: deletes first (most dependent kinds first),
    // then creates and updates in creation order, then by name.
    auto key = [&](std::size_t i) {
        const Action& a = actions[i];
        const bool del = a.type == ActionType::destroy;
        const int rank = creation_rank(a.id.kind);
        return std::make_tuple(del ? 0 : 1, del ? -rank : rank, a.id.name);
    };
    const auto order =
        dag.topological_order([&](std::size_t x, std::size_t y) { return key(x) < key(y); });
    std::vector<std::size_t> position(actions.size());
    for (std::size_t p = 0; p < order.size(); ++p) position[order[p]] = p;

    Plan plan;
    plan.lab = desired.lab;
    plan.warnings = std::move(warnings);
    if (options.last_applied) {
        const auto now = owned_fingerprint(live, desired.lab);
        for (const auto& [id, digest] : *options.last_applied) {
            auto it = now.find(id);
            if (it == now.end())
                plan.drift.push_back(id + " (deleted outside virtform)");
            else if (it->second != digest)
                plan.drift.push_back(id);
        }
        for (const auto& [id, digest] : now) {
            if (options.last_applied->count(id) == 0)
                plan.drift.push_back(id + " (not made by the last apply)");
        }
    }
    for (std::size_t node : order) {
        Action a = std::move(actions[node]);
        for (std::size_t pred : dag.predecessors(node)) a.depends_on.push_back(position[pred]);
        std::sort(a.depends_on.begin(), a.depends_on.end());
        plan.actions.push_back(std::move(a));
    }
    return plan;
}

}  // namespace virtform
