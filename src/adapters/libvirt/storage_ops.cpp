#include "storage_ops.h"

#include <fmt/format.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <pugixml.hpp>
#include <set>
#include <sstream>

#include "virtform/adapters/libvirt/domain_xml.h"

extern char** environ;  // NOLINT: posix_spawn hands it on

namespace virtform::libvirt {
namespace fs = std::filesystem;
namespace {

std::string doc_to_string(const pugi::xml_document& doc) {
    std::ostringstream out;
    doc.save(out, "  ", pugi::format_default | pugi::format_no_declaration);
    return out.str();
}

std::string trim(std::string s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

/// The pool's mark file: the owning lab on the first line, then one line per
/// volume virtform made in it ("volume NAME", "volume NAME keep"). Files in
/// the directory that are not listed are never touched.
struct PoolMark {
    std::string lab;
    std::map<std::string, bool> volumes;  ///< name -> keep
};

/// Mark files are rewritten whole; volume actions in one pool may run in parallel.
std::mutex g_mark_mutex;

PoolMark read_mark(const std::string& dir) {
    PoolMark mark;
    std::ifstream in(fs::path(dir) / kPoolMarkFile);
    if (!in) return mark;
    std::string line;
    if (std::getline(in, line)) mark.lab = trim(line);
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string kind, name, flag;
        words >> kind >> name >> flag;
        if (kind == "volume" && !name.empty()) mark.volumes[name] = flag == "keep";
    }
    return mark;
}

void write_mark(const std::string& dir, const PoolMark& mark) {
    const auto path = fs::path(dir) / kPoolMarkFile;
    const auto tmp = fs::path(dir) / (std::string(kPoolMarkFile) + ".tmp");
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << mark.lab << "\n";
        for (const auto& [name, keep] : mark.volumes)
            out << "volume " << name << (keep ? " keep" : "") << "\n";
        out.flush();
        if (!out)
            throw AdapterError(tmp.string(), "write the pool mark", std::strerror(errno), errno);
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) throw AdapterError(path.string(), "write the pool mark", ec.message(), ec.value());
}

/// Read-modify-write of a pool's mark under the lock.
template <class F>
void update_mark(const std::string& dir, F change) {
    std::lock_guard lock(g_mark_mutex);
    PoolMark mark = read_mark(dir);
    change(mark);
    write_mark(dir, mark);
}

/// The first bytes of an image file tell its format (qcow2 magic "QFI\xfb").
DiskFormat probe_image_format(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw AdapterError(path, "open the image", std::strerror(errno), errno);
    std::array<char, 4> magic{};
    in.read(magic.data(), magic.size());
    return in.gcount() == 4 && std::memcmp(magic.data(), "QFI\xfb", 4) == 0 ? DiskFormat::qcow2
                                                                            : DiskFormat::raw;
}

/// Runs a program (no shell) and throws AdapterError with its output when it fails.
void run(const std::vector<std::string>& argv, const std::string& object,
         const std::string& operation) {
    int pipefd[2];
    if (::pipe(pipefd) != 0) throw AdapterError(object, operation, std::strerror(errno), errno);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipefd[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipefd[1]);
    std::string output;
    if (rc == 0) {
        std::array<char, 4096> buf{};
        ssize_t n = 0;
        while ((n = ::read(pipefd[0], buf.data(), buf.size())) > 0) {
            output.append(buf.data(), static_cast<std::size_t>(n));
        }
    }
    ::close(pipefd[0]);
    if (rc != 0)
        throw AdapterError(object, operation, fmt::format("{}: {}", argv[0], std::strerror(rc)),
                           rc);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw AdapterError(object, operation,
                           fmt::format("{} failed (status {}): {}", argv[0], status, trim(output)));
    }
}

// ---------------------------------------------------------------------------
// Pools

PoolPtr lookup_pool(virConnectPtr conn, const std::string& name, RoundTrips& trips) {
    trips.add();
    PoolPtr pool(virStoragePoolLookupByName(conn, name.c_str()));
    if (!pool) throw_last_error("pool " + name, "look up");
    return pool;
}

std::string pool_xml_desc(virStoragePoolPtr pool, const std::string& name, RoundTrips& trips) {
    trips.add();
    CString xml(virStoragePoolGetXMLDesc(pool, VIR_STORAGE_XML_INACTIVE));
    if (!xml && virGetLastErrorCode() == VIR_ERR_INVALID_ARG) {
        // The test driver (test:///default) refuses the flag: its one
        // definition is the inactive one.
        trips.add();
        xml.reset(virStoragePoolGetXMLDesc(pool, 0));
    }
    if (!xml) throw_last_error("pool " + name, "read the definition of");
    return xml.get();
}

std::string pool_path(const std::string& xml) {
    pugi::xml_document doc;
    doc.load_string(xml.c_str());
    return doc.child("pool").child("target").child("path").text().as_string();
}

bool pool_active(virStoragePoolPtr pool, const std::string& name, RoundTrips& trips) {
    trips.add();
    const int active = virStoragePoolIsActive(pool);
    if (active < 0) throw_last_error("pool " + name, "read the state of");
    return active == 1;
}

void pool_set_autostart(virStoragePoolPtr pool, const Pool& want, RoundTrips& trips) {
    trips.add();
    if (virStoragePoolSetAutostart(pool, want.autostart ? 1 : 0) < 0) {
        throw_last_error("pool " + want.name,
                         want.autostart ? "enable autostart of" : "disable autostart of");
    }
}

void pool_start(virStoragePoolPtr pool, const std::string& name, RoundTrips& trips) {
    trips.add();
    if (virStoragePoolCreate(pool, 0) < 0) throw_last_error("pool " + name, "start");
}

void pool_stop(virStoragePoolPtr pool, const std::string& name, RoundTrips& trips) {
    trips.add();
    if (virStoragePoolDestroy(pool) < 0) throw_last_error("pool " + name, "stop");
}

std::string pool_to_xml(const Pool& p) {
    pugi::xml_document doc;
    auto pool = doc.append_child("pool");
    pool.append_attribute("type") = "dir";
    pool.append_child("name").text() = p.name.c_str();
    auto target = pool.append_child("target");
    target.append_child("path").text() = p.path.c_str();
    return doc_to_string(doc);
}

void create_pool(virConnectPtr conn, const Pool& want, const std::string& lab, RoundTrips& trips) {
    std::error_code ec;
    fs::create_directories(want.path, ec);
    if (ec)
        throw AdapterError(want.path, "create the directory of pool " + want.name, ec.message(),
                           ec.value());
    update_mark(want.path, [&](PoolMark& mark) { mark.lab = lab; });
    const std::string xml = pool_to_xml(want);
    spdlog::debug("defining pool {}:\n{}", want.name, xml);
    trips.add();
    PoolPtr pool(virStoragePoolDefineXML(conn, xml.c_str(), 0));
    if (!pool) throw_last_error("pool " + want.name, "define");
    trips.add();
    if (virStoragePoolBuild(pool.get(), 0) < 0) throw_last_error("pool " + want.name, "build");
    pool_set_autostart(pool.get(), want, trips);
    if (want.active) pool_start(pool.get(), want.name, trips);
}

void destroy_pool(virConnectPtr conn, const std::string& name, RoundTrips& trips) {
    PoolPtr pool = lookup_pool(conn, name, trips);
    const std::string path = pool_path(pool_xml_desc(pool.get(), name, trips));
    if (pool_active(pool.get(), name, trips)) pool_stop(pool.get(), name, trips);
    trips.add();
    if (virStoragePoolUndefine(pool.get()) < 0) throw_last_error("pool " + name, "undefine");
    if (path.empty()) return;
    // The directory goes only when nothing else is left in it (kept volumes,
    // files someone put there).
    std::error_code ec;
    fs::remove(fs::path(path) / kPoolMarkFile, ec);
    if (fs::is_empty(path, ec)) fs::remove(path, ec);
}

void update_pool(virConnectPtr conn, const Action& action, RoundTrips& trips) {
    const auto& before = std::get<Pool>(*action.before);
    const auto& after = std::get<Pool>(*action.after);
    PoolPtr pool = lookup_pool(conn, after.name, trips);
    if (before.autostart != after.autostart) pool_set_autostart(pool.get(), after, trips);
    const bool active = pool_active(pool.get(), after.name, trips);
    if (after.active && !active) pool_start(pool.get(), after.name, trips);
    if (!after.active && active) pool_stop(pool.get(), after.name, trips);
}

// ---------------------------------------------------------------------------
// Volumes

std::string volume_label(const Volume& v) {
    return "volume " + v.id_name();
}

VolumePtr lookup_volume(virStoragePoolPtr pool, const std::string& pool_name,
                        const std::string& name, RoundTrips& trips) {
    trips.add();
    VolumePtr vol(virStorageVolLookupByName(pool, name.c_str()));
    if (!vol) throw_last_error("volume " + pool_name + "/" + name, "look up");
    return vol;
}

std::string volume_to_xml(const Volume& v) {
    pugi::xml_document doc;
    auto vol = doc.append_child("volume");
    vol.append_child("name").text() = v.name.c_str();
    auto capacity = vol.append_child("capacity");
    capacity.append_attribute("unit") = "bytes";
    capacity.text() = v.capacity;
    vol.append_child("target").append_child("format").append_attribute("type") =
        to_string(v.format);
    if (v.backing) {
        auto backing = vol.append_child("backingStore");
        backing.append_child("path").text() = v.backing->c_str();
        backing.append_child("format").append_attribute("type") =
            to_string(probe_image_format(*v.backing));
    }
    return doc_to_string(doc);
}

std::uint64_t volume_capacity(virStorageVolPtr vol, const std::string& label, RoundTrips& trips) {
    virStorageVolInfo info{};
    trips.add();
    if (virStorageVolGetInfo(vol, &info) < 0) throw_last_error(label, "read the size of");
    return info.capacity;
}

void resize_volume(virStorageVolPtr vol, const Volume& want, RoundTrips& trips) {
    trips.add();
    if (virStorageVolResize(vol, want.capacity, 0) < 0)
        throw_last_error(volume_label(want), "resize");
}

std::string path_of_pool(virStoragePoolPtr pool, const std::string& name, RoundTrips& trips) {
    return pool_path(pool_xml_desc(pool, name, trips));
}

void create_volume(virConnectPtr conn, const Volume& want, RoundTrips& trips) {
    PoolPtr pool = lookup_pool(conn, want.pool, trips);
    // Listed in the mark before it exists: a failure in between leaves an entry
    // for a missing volume (harmless), never an unmarked volume of ours.
    update_mark(path_of_pool(pool.get(), want.pool, trips),
                [&](PoolMark& mark) { mark.volumes[want.name] = want.keep; });
    const std::string xml = volume_to_xml(want);
    spdlog::debug("creating volume {}:\n{}", want.id_name(), xml);
    trips.add();
    VolumePtr vol(virStorageVolCreateXML(pool.get(), xml.c_str(), 0));
    if (!vol) throw_last_error(volume_label(want), "create");
    if (!want.import_from) return;
    trips.add();
    CString path(virStorageVolGetPath(vol.get()));
    if (!path) throw_last_error(volume_label(want), "read the path of");
    // qemu-img converts between formats; the volume then grows to the capacity asked for.
    run({"qemu-img", "convert", "-f", to_string(probe_image_format(*want.import_from)), "-O",
         to_string(want.format), *want.import_from, path.get()},
        volume_label(want), "import " + *want.import_from + " into");
    if (volume_capacity(vol.get(), volume_label(want), trips) < want.capacity) {
        resize_volume(vol.get(), want, trips);
    }
}

/// The target dev of the disk backed by pool/volume in a running domain, "" if none.
std::string attached_target(virDomainPtr dom, const Volume& v, RoundTrips& trips) {
    trips.add();
    CString xml(virDomainGetXMLDesc(dom, 0));
    if (!xml) throw_last_error("vm " + v.vm, "read the definition of");
    pugi::xml_document doc;
    doc.load_string(xml.get());
    for (auto disk : doc.child("domain").child("devices").children("disk")) {
        auto source = disk.child("source");
        if (v.pool == source.attribute("pool").as_string() &&
            v.name == source.attribute("volume").as_string()) {
            return disk.child("target").attribute("dev").as_string();
        }
    }
    return {};
}

/// Grows a volume: through the running QEMU when its VM has it attached.
void grow_volume(virConnectPtr conn, const Volume& want, RoundTrips& trips) {
    if (!want.vm.empty()) {
        trips.add();
        DomainPtr dom(virDomainLookupByName(conn, want.vm.c_str()));
        if (dom) {
            trips.add();
            const int active = virDomainIsActive(dom.get());
            if (active < 0) throw_last_error("vm " + want.vm, "read the state of");
            if (active == 1) {
                const std::string target = attached_target(dom.get(), want, trips);
                if (!target.empty()) {
                    // The running QEMU holds the image: it must do the growing.
                    trips.add();
                    if (virDomainBlockResize(dom.get(), target.c_str(), want.capacity,
                                             VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0) {
                        throw_last_error(
                            volume_label(want),
                            fmt::format("resize (disk {} of running vm {})", target, want.vm));
                    }
                    return;
                }
            }
        }
    }
    PoolPtr pool = lookup_pool(conn, want.pool, trips);
    VolumePtr vol = lookup_volume(pool.get(), want.pool, want.name, trips);
    resize_volume(vol.get(), want, trips);
}

void update_volume(virConnectPtr conn, const Action& action, RoundTrips& trips) {
    const auto& before = std::get<Volume>(*action.before);
    const auto& want = std::get<Volume>(*action.after);
    if (want.capacity != before.capacity) grow_volume(conn, want, trips);
    if (want.keep != before.keep) {
        PoolPtr pool = lookup_pool(conn, want.pool, trips);
        update_mark(path_of_pool(pool.get(), want.pool, trips),
                    [&](PoolMark& mark) { mark.volumes[want.name] = want.keep; });
    }
}

void destroy_volume(virConnectPtr conn, const std::string& pool_name, const std::string& name,
                    RoundTrips& trips) {
    PoolPtr pool = lookup_pool(conn, pool_name, trips);
    VolumePtr vol = lookup_volume(pool.get(), pool_name, name, trips);
    trips.add();
    if (virStorageVolDelete(vol.get(), 0) < 0) {
        throw_last_error("volume " + pool_name + "/" + name, "delete");
    }
    update_mark(path_of_pool(pool.get(), pool_name, trips),
                [&](PoolMark& mark) { mark.volumes.erase(name); });
}

/// "pool/name" -> {pool, name}; volume names hold no '/'.
std::pair<std::string, std::string> split_volume_id(const std::string& id) {
    const auto slash = id.find('/');
    if (slash == std::string::npos) throw Error("not a volume id (pool/name): " + id);
    return {id.substr(0, slash), id.substr(slash + 1)};
}

/// One pool into live.pools; throws AdapterError (VIR_ERR_NO_STORAGE_POOL when
/// it was undefined meanwhile).
void read_pool(virStoragePoolPtr pool, bool active, bool autostart, Live& live, RoundTrips& trips) {
    Pool p;
    p.name = virStoragePoolGetName(pool);  // local, no round trip
    p.path = pool_path(pool_xml_desc(pool, p.name, trips));
    p.active = active;
    p.autostart = autostart;
    if (p.active) {
        virStoragePoolInfo info{};
        trips.add();
        if (virStoragePoolGetInfo(pool, &info) < 0) {
            throw_last_error("pool " + p.name, "read the size of");
        }
        p.available = info.available;
    }
    if (!p.path.empty()) p.owner = read_mark(p.path).lab;
    live.pools[p.name] = std::move(p);
}

}  // namespace

void read_pools(virConnectPtr conn, Live& live, RoundTrips& trips) {
    // State and autostart from filtered listings, not per-pool calls.
    auto list = [&](unsigned flags) {
        virStoragePoolPtr* raw = nullptr;
        trips.add();
        const int n = virConnectListAllStoragePools(conn, &raw, flags);
        if (n < 0) throw_last_error("pools", "list");
        return adopt_list<PoolPtr>(raw, n);
    };
    auto names = [&](unsigned flags) {
        std::set<std::string> out;
        for (const auto& pool : list(flags))
            out.insert(virStoragePoolGetName(pool.get()));  // local
        return out;
    };
    auto all = list(0);
    const auto active = names(VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
    const auto autostart = names(VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART);
    for (auto& pool : all) {
        const std::string name = virStoragePoolGetName(pool.get());
        try {
            read_pool(pool.get(), active.count(name) != 0, autostart.count(name) != 0, live, trips);
        } catch (const AdapterError& e) {
            // Undefined by someone else between the listing and now: not there.
            if (e.code() == VIR_ERR_NO_STORAGE_POOL) continue;
            throw;
        }
    }
}

void read_volumes(virConnectPtr conn, Live& live, RoundTrips& trips) {
    for (const auto& [pool_name, pool_model] : live.pools) {
        if (!pool_model.active) continue;
        const PoolMark mark = pool_model.path.empty() ? PoolMark{} : read_mark(pool_model.path);
        PoolPtr pool;
        try {
            pool = lookup_pool(conn, pool_name, trips);
        } catch (const AdapterError& e) {
            if (e.code() == VIR_ERR_NO_STORAGE_POOL) continue;  // undefined meanwhile
            throw;
        }
        trips.add();
        if (virStoragePoolRefresh(pool.get(), 0) < 0) {
            // A busy pool still lists what libvirt already knows.
            spdlog::debug("refresh of pool {} failed: {}", pool_name, virGetLastErrorMessage());
        }
        virStorageVolPtr* raw = nullptr;
        trips.add();
        const int n = virStoragePoolListAllVolumes(pool.get(), &raw, 0);
        if (n < 0) {
            const int code = virGetLastErrorCode();
            // Stopped or undefined by someone else since it was read: no volumes to see.
            if (code == VIR_ERR_NO_STORAGE_POOL || code == VIR_ERR_OPERATION_INVALID) continue;
            throw_last_error("pool " + pool_name, "list the volumes of");
        }
        for (auto& vol : adopt_list<VolumePtr>(raw, n)) {
            Volume v;
            v.pool = pool_name;
            v.name = virStorageVolGetName(vol.get());  // local
            if (v.name == kPoolMarkFile) continue;
            trips.add();
            CString xml(virStorageVolGetXMLDesc(vol.get(), 0));
            if (!xml) {
                // Deleted between the listing and now: not there.
                if (virGetLastErrorCode() == VIR_ERR_NO_STORAGE_VOL) continue;
                throw_last_error(volume_label(v), "read the definition of");
            }
            pugi::xml_document doc;
            doc.load_string(xml.get());
            auto node = doc.child("volume");
            v.capacity = node.child("capacity").text().as_ullong();
            const std::string format =
                node.child("target").child("format").attribute("type").as_string();
            v.format = format == "qcow2" ? DiskFormat::qcow2 : DiskFormat::raw;
            if (auto backing = node.child("backingStore").child("path")) {
                v.backing = backing.text().as_string();
            }
            // Ours only when the pool is and its mark lists the volume.
            auto listed = mark.volumes.find(v.name);
            if (!pool_model.owner.empty() && listed != mark.volumes.end()) {
                v.owner = pool_model.owner;
                v.keep = listed->second;
            }
            live.volumes[v.id_name()] = std::move(v);
        }
    }
}

std::optional<DiskFormat> volume_format(virConnectPtr conn, const std::string& pool_name,
                                        const std::string& name, RoundTrips& trips) {
    trips.add();
    PoolPtr pool(virStoragePoolLookupByName(conn, pool_name.c_str()));
    if (!pool) return std::nullopt;
    trips.add();
    VolumePtr vol(virStorageVolLookupByName(pool.get(), name.c_str()));
    if (!vol) return std::nullopt;
    trips.add();
    CString xml(virStorageVolGetXMLDesc(vol.get(), 0));
    if (!xml) return std::nullopt;
    pugi::xml_document doc;
    doc.load_string(xml.get());
    const std::string format =
        doc.child("volume").child("target").child("format").attribute("type").as_string();
    return format == "qcow2" ? DiskFormat::qcow2 : DiskFormat::raw;
}

void apply_pool(virConnectPtr conn, const std::string& lab, const Action& action,
                RoundTrips& trips) {
    switch (action.type) {
        case ActionType::create:
            create_pool(conn, std::get<Pool>(*action.after), lab, trips);
            break;
        case ActionType::destroy:
            destroy_pool(conn, action.id.name, trips);
            break;
        case ActionType::replace:
            destroy_pool(conn, action.id.name, trips);
            create_pool(conn, std::get<Pool>(*action.after), lab, trips);
            break;
        case ActionType::update:
            update_pool(conn, action, trips);
            break;
    }
}

void apply_volume(virConnectPtr conn, const std::string& /*lab*/, const Action& action,
                  RoundTrips& trips) {
    const auto [pool, name] = split_volume_id(action.id.name);
    switch (action.type) {
        case ActionType::create:
            create_volume(conn, std::get<Volume>(*action.after), trips);
            break;
        case ActionType::destroy:
            destroy_volume(conn, pool, name, trips);
            break;
        case ActionType::replace:
            destroy_volume(conn, pool, name, trips);
            create_volume(conn, std::get<Volume>(*action.after), trips);
            break;
        case ActionType::update:
            update_volume(conn, action, trips);
            break;
    }
}

}  // namespace virtform::libvirt
