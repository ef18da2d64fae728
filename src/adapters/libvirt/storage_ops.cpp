#include "storage_ops.h"

#include <fmt/format.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>
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
#include "virtform/adapters/libvirt/image_probe.h"
#include "virtform/safe_file.h"

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

constexpr std::size_t kMaxMarkBytes = 1u << 20;

PoolMark parse_mark(const std::string& text) {
    PoolMark mark;
    std::istringstream in(text);
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

/// The mark is read without following a symbolic link at its name: a link
/// there (someone else's doing) throws, so it is never mistaken for a mark.
PoolMark read_mark_strict(const std::string& dir) {
    const auto text = read_file_nofollow((fs::path(dir) / kPoolMarkFile).string(), kMaxMarkBytes,
                                         "read the pool mark");
    return text ? parse_mark(*text) : PoolMark{};
}

/// For reading the host: a mark that cannot be read is no mark (the pool is
/// then nobody's, and never touched).
PoolMark read_mark(const std::string& dir) {
    try {
        return read_mark_strict(dir);
    } catch (const AdapterError& e) {
        spdlog::warn("{}: treating the pool as unmarked", e.what());
        return {};
    }
}

std::string mark_text(const PoolMark& mark) {
    std::string out = mark.lab + "\n";
    for (const auto& [name, keep] : mark.volumes)
        out += "volume " + name + (keep ? " keep" : "") + "\n";
    return out;
}

/// The pool's directory is not virtform's alone: a unique temp file created
/// O_EXCL|O_NOFOLLOW in it, renamed over the mark (see safe_file.h).
void write_mark(const std::string& dir, const PoolMark& mark) {
    write_file_atomically((fs::path(dir) / kPoolMarkFile).string(), mark_text(mark),
                          "write the pool mark", {0644, true});
}

/// Read-modify-write of a pool's mark under the lock.
template <class F>
void update_mark(const std::string& dir, F change) {
    std::lock_guard lock(g_mark_mutex);
    PoolMark mark = read_mark_strict(dir);
    change(mark);
    write_mark(dir, mark);
}

/// The format of a `backing:`/`import:` image, read from its header; refuses
/// an image that names other files unless the volume allows it (image_probe.h).
DiskFormat checked_image_format(const Volume& v, const std::string& image) {
    if (auto problem = image_problem(image, v.allow_backing_chain); !problem.empty())
        throw AdapterError("volume " + v.id_name(), "use the image " + image + " for", problem);
    return probe_image(image).format;
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
    // Its own process group: Ctrl-C at the terminal stops virtform from starting new
    // actions, and must not kill a conversion that is running (see src/cli/interrupt.h).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawnattr_destroy(&attr);
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

/// Why `dir` cannot become the directory of a pool of `lab`; "" when it can.
std::string pool_dir_problem(const PoolDir& dir, const std::string& path, const std::string& lab) {
    if (!dir.problem.empty()) return fmt::format("its directory {} {}", path, dir.problem);
    if (!dir.mark.empty() && dir.mark != lab) {
        return fmt::format(
            "its directory {} carries the mark of lab '{}' ({}): virtform never "
            "takes over another lab's pool directory",
            path, dir.mark, kPoolMarkFile);
    }
    if (dir.mark.empty() && dir.holds_files) {
        return fmt::format(
            "its directory {} already holds files and no virtform mark: a pool "
            "claims only a new or empty directory",
            path);
    }
    return {};
}

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

/// The pool that already uses `path` as its directory, if any: {name, owner}.
std::optional<std::pair<std::string, std::string>> pool_at_path(virConnectPtr conn,
                                                                const std::string& path,
                                                                RoundTrips& trips) {
    virStoragePoolPtr* raw = nullptr;
    trips.add();
    const int n = virConnectListAllStoragePools(conn, &raw, 0);
    if (n < 0) throw_last_error("pools", "list");
    const std::string want = normal_dir_path(path);
    for (auto& pool : adopt_list<PoolPtr>(raw, n)) {
        const std::string name = virStoragePoolGetName(pool.get());  // local
        trips.add();
        CString xml(virStoragePoolGetXMLDesc(pool.get(), VIR_STORAGE_XML_INACTIVE));
        if (!xml) continue;  // undefined meanwhile
        const std::string have = pool_path(xml.get());
        if (!have.empty() && normal_dir_path(have) == want)
            return std::pair{name, read_mark(have).lab};
    }
    return std::nullopt;
}

void create_pool(virConnectPtr conn, const Pool& want, const std::string& lab, RoundTrips& trips) {
    const std::string what = "pool " + want.name;
    // The plan checked all this; the host may have changed since. Nothing is
    // written before these checks pass, so a refused pool leaves no trace.
    if (auto other = pool_at_path(conn, want.path, trips)) {
        throw AdapterError(what, "create",
                           fmt::format("its directory {} is already the directory of pool '{}' "
                                       "({}); a directory backs one pool only",
                                       want.path, other->first,
                                       other->second.empty() ? "no virtform mark"
                                                             : "lab '" + other->second + "'"));
    }
    const PoolDir dir = inspect_pool_dir(want.path);
    if (auto problem = pool_dir_problem(dir, want.path, lab); !problem.empty())
        throw AdapterError(what, "create", problem);
    std::error_code ec;
    const bool made_dir = !dir.exists;
    fs::create_directories(want.path, ec);
    if (ec)
        throw AdapterError(want.path, "create the directory of " + what, ec.message(), ec.value());
    // Marked before libvirt defines it, so that an apply killed in between
    // leaves a directory the next apply recognises as the lab's; undone when
    // the define fails (another pool took the directory meanwhile).
    if (dir.mark != lab) update_mark(want.path, [&](PoolMark& mark) { mark.lab = lab; });
    auto undo = [&] {
        if (dir.mark != lab) {
            std::error_code ignore;
            fs::remove(fs::path(want.path) / kPoolMarkFile, ignore);
        }
        if (made_dir) {
            std::error_code ignore;
            fs::remove(want.path, ignore);  // only if still empty
        }
    };
    const std::string xml = pool_to_xml(want);
    spdlog::debug("defining pool {}:\n{}", want.name, xml);
    PoolPtr pool;
    try {
        trips.add();
        pool.reset(virStoragePoolDefineXML(conn, xml.c_str(), 0));
        if (!pool) throw_last_error(what, "define");
    } catch (const Error&) {
        undo();
        throw;
    }
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

/// Adopting: the mark file written into the pool's directory, naming the lab
/// and no volume: the files already there stay nobody's and are never deleted.
void mark_pool(virConnectPtr conn, const std::string& name, const std::string& lab,
               RoundTrips& trips) {
    PoolPtr pool = lookup_pool(conn, name, trips);
    const std::string path = pool_path(pool_xml_desc(pool.get(), name, trips));
    if (path.empty()) throw AdapterError("pool " + name, "adopt", "it has no directory");
    update_mark(path, [&](PoolMark& mark) {
        if (!mark.lab.empty() && mark.lab != lab) {
            throw AdapterError("pool " + name, "adopt",
                               fmt::format("its directory carries the mark of lab '{}'", mark.lab));
        }
        mark.lab = lab;
    });
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
            to_string(checked_image_format(v, *v.backing));
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
    // Before anything is made: an image naming other files is refused here.
    std::optional<DiskFormat> import_format;
    if (want.import_from) import_format = checked_image_format(want, *want.import_from);
    if (want.backing) checked_image_format(want, *want.backing);
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
    // The format is given (-f), never guessed by qemu-img from the content.
    run({"qemu-img", "convert", "-f", to_string(*import_format), "-O", to_string(want.format),
         *want.import_from, path.get()},
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

std::string normal_dir_path(const std::string& path) {
    std::string out = fs::path(path).lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

PoolDir inspect_pool_dir(const std::string& path) {
    PoolDir dir;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT) dir.problem = fmt::format("cannot be read: {}", std::strerror(errno));
        return dir;
    }
    dir.exists = true;
    if (S_ISLNK(st.st_mode)) {
        dir.problem = "is a symbolic link; name the directory itself";
        return dir;
    }
    if (!S_ISDIR(st.st_mode)) {
        dir.problem = "is not a directory";
        return dir;
    }
    try {
        dir.mark = read_mark_strict(path).lab;
    } catch (const AdapterError& e) {
        dir.problem =
            fmt::format("has a {} that is not a plain file ({})", kPoolMarkFile, e.detail());
        return dir;
    }
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
        const std::string name = entry.path().filename().string();
        // The mark, and a temp file of an interrupted write of it.
        if (name == kPoolMarkFile || name.rfind(std::string(".") + kPoolMarkFile + ".", 0) == 0)
            continue;
        dir.holds_files = true;
        break;
    }
    if (ec) dir.problem = fmt::format("cannot be listed: {}", ec.message());
    return dir;
}

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
            if (v.name == kPoolMarkFile ||
                v.name.rfind(std::string(".") + kPoolMarkFile + ".", 0) == 0)
                continue;  // the mark, or a temp file of a write of it
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
            if (action.adopt) mark_pool(conn, action.id.name, lab, trips);
            if (!action.changes.empty()) update_pool(conn, action, trips);
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
