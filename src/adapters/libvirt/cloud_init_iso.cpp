#include "virtform/adapters/libvirt/cloud_init_iso.h"

#include <fcntl.h>
// Gives the definition of struct burn_source (we read the image from it, no libburn).
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "virtform/error.h"
#include "virtform/shared_library.h"

namespace virtform::libvirt {

namespace {

constexpr const char* kOperation = "write cloud-init seed";
// Fixed timestamps make the image reproducible: 2020-01-01 00:00:00 UTC.
constexpr time_t kEpoch = 1577836800;
char kVolumeTime[] = "2020010100000000";

/// libisofs, opened at the first seed (shared_library.h says why).
struct Isofs {
    SharedLibrary so{VIRTFORM_SONAME_ISOFS};
#define VIRTFORM_FN(f) decltype(&::f) f = so.symbol<decltype(::f)>(#f)
    VIRTFORM_FN(iso_error_to_msg);
    VIRTFORM_FN(iso_init_with_flag);
    VIRTFORM_FN(iso_set_msgs_severities);
    VIRTFORM_FN(iso_memory_stream_new);
    VIRTFORM_FN(iso_tree_add_new_file);
    VIRTFORM_FN(iso_stream_unref);
    VIRTFORM_FN(iso_node_set_permissions);
    VIRTFORM_FN(iso_node_set_uid);
    VIRTFORM_FN(iso_node_set_gid);
    VIRTFORM_FN(iso_node_set_mtime);
    VIRTFORM_FN(iso_node_set_atime);
    VIRTFORM_FN(iso_node_set_ctime);
    VIRTFORM_FN(iso_image_new);
    VIRTFORM_FN(iso_image_set_volume_id);
    VIRTFORM_FN(iso_image_set_application_id);
    VIRTFORM_FN(iso_image_get_root);
    VIRTFORM_FN(iso_write_opts_new);
    VIRTFORM_FN(iso_write_opts_set_rockridge);
    VIRTFORM_FN(iso_write_opts_set_joliet);
    VIRTFORM_FN(iso_write_opts_set_always_gmt);
    VIRTFORM_FN(iso_write_opts_set_relaxed_vol_atts);
    VIRTFORM_FN(iso_write_opts_set_pvd_times);
    VIRTFORM_FN(iso_image_create_burn_source);
    VIRTFORM_FN(iso_image_unref);
    VIRTFORM_FN(iso_write_opts_free);
#undef VIRTFORM_FN
};

const Isofs& isofs() {
    static const Isofs lib;  // a failed load throws, and is tried again next time
    return lib;
}

struct ImageUnref {
    void operator()(IsoImage* p) const noexcept { isofs().iso_image_unref(p); }
};
struct OptsFree {
    void operator()(IsoWriteOpts* p) const noexcept { isofs().iso_write_opts_free(p); }
};
using ImagePtr = std::unique_ptr<IsoImage, ImageUnref>;
using OptsPtr = std::unique_ptr<IsoWriteOpts, OptsFree>;

struct BurnSourceFree {
    void operator()(burn_source* src) const noexcept {
        if (src == nullptr) return;
        src->free_data(src);
        std::free(src);
    }
};
using BurnSourcePtr = std::unique_ptr<burn_source, BurnSourceFree>;

[[noreturn]] void fail(const std::string& path, const std::string& what, int code) {
    const char* msg = code < 0 ? isofs().iso_error_to_msg(code) : nullptr;
    throw AdapterError(path, kOperation, what + (msg != nullptr ? std::string(": ") + msg : ""),
                       code);
}

[[noreturn]] void fail_errno(const std::string& path, const std::string& what) {
    const int err = errno;
    throw AdapterError(path, kOperation, what + ": " + std::strerror(err), err);
}

void init_libisofs(const std::string& path) {
    try {
        isofs();
    } catch (const Error& e) {
        throw AdapterError(path, kOperation, e.what());
    }
    static std::once_flag once;
    static int rc = 0;
    std::call_once(once, [] {
        rc = isofs().iso_init_with_flag(1);  // bit0: leave the process locale alone
        if (rc >= 0) {
            // Nothing below the CLI prints: errors come back as codes.
            char never[] = "NEVER";
            char id[] = "virtform";
            isofs().iso_set_msgs_severities(never, never, id);
        }
    });
    if (rc < 0) fail(path, "initialise libisofs", rc);
}

std::uint64_t fnv1a(const std::string& s, std::uint64_t h = 1469598103934665603ULL) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

void add_file(const std::string& path, IsoDir* root, const char* name, const std::string& content) {
    // The stream takes the buffer and free()s it; malloc(0) may return null, so pad.
    auto* buf = static_cast<unsigned char*>(std::malloc(content.size() + 1));
    if (buf == nullptr)
        fail(path, std::string("allocate ") + name, static_cast<int>(ISO_OUT_OF_MEM));
    std::memcpy(buf, content.data(), content.size());
    IsoStream* stream = nullptr;
    int rc = isofs().iso_memory_stream_new(buf, content.size(), &stream);
    if (rc < 0) {
        std::free(buf);
        fail(path, std::string("stream ") + name, rc);
    }
    IsoFile* file = nullptr;
    rc = isofs().iso_tree_add_new_file(root, name, stream, &file);
    if (rc < 0) {
        isofs().iso_stream_unref(stream);  // on success the new file node owns our reference
        fail(path, std::string("add ") + name, rc);
    }
    auto* node = reinterpret_cast<IsoNode*>(file);
    isofs().iso_node_set_permissions(node, 0444);
    isofs().iso_node_set_uid(node, 0);
    isofs().iso_node_set_gid(node, 0);
    isofs().iso_node_set_mtime(node, kEpoch);
    isofs().iso_node_set_atime(node, kEpoch);
    isofs().iso_node_set_ctime(node, kEpoch);
}

/// Removes the temp file unless released (after the rename).
class TempFile {
public:
    TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!released_) ::unlink(path_.c_str());
    }
    int fd() const { return fd_; }
    const std::string& path() const { return path_; }
    int close() {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }
    void release() { released_ = true; }

private:
    std::string path_;
    int fd_;
    bool released_ = false;
};

}  // namespace

std::string nocloud_meta_data(const NoCloudSeed& seed) {
    if (!seed.meta_data.empty()) return seed.meta_data;
    std::string id = seed.instance_id;
    if (id.empty()) {
        std::uint64_t h = fnv1a(seed.local_hostname);
        h = fnv1a(std::string(1, '\0') + seed.user_data, h);
        if (seed.network_config) h = fnv1a(std::string(1, '\0') + *seed.network_config, h);
        char buf[24];
        std::snprintf(buf, sizeof buf, "iid-%016llx", static_cast<unsigned long long>(h));
        id = buf;
    }
    std::string out = "instance-id: " + id + "\n";
    if (!seed.local_hostname.empty()) out += "local-hostname: " + seed.local_hostname + "\n";
    return out;
}

void write_nocloud_iso(const std::string& path, const NoCloudSeed& seed) {
    if (path.empty()) throw AdapterError(path, kOperation, "empty path");
    init_libisofs(path);

    IsoImage* raw_image = nullptr;
    int rc = isofs().iso_image_new("cidata", &raw_image);
    if (rc < 0) fail(path, "create image", rc);
    ImagePtr image(raw_image);
    isofs().iso_image_set_volume_id(image.get(), "cidata");
    isofs().iso_image_set_application_id(image.get(), "virtform");

    IsoDir* root = isofs().iso_image_get_root(image.get());
    auto* root_node = reinterpret_cast<IsoNode*>(root);
    isofs().iso_node_set_permissions(root_node, 0555);
    isofs().iso_node_set_mtime(root_node, kEpoch);
    isofs().iso_node_set_atime(root_node, kEpoch);
    isofs().iso_node_set_ctime(root_node, kEpoch);
    add_file(path, root, "user-data", seed.user_data);
    add_file(path, root, "meta-data", nocloud_meta_data(seed));
    if (seed.network_config) add_file(path, root, "network-config", *seed.network_config);

    IsoWriteOpts* raw_opts = nullptr;
    rc = isofs().iso_write_opts_new(&raw_opts, 0);
    if (rc < 0) fail(path, "create write options", rc);
    OptsPtr opts(raw_opts);
    isofs().iso_write_opts_set_rockridge(opts.get(), 1);
    isofs().iso_write_opts_set_joliet(opts.get(), 1);
    isofs().iso_write_opts_set_always_gmt(opts.get(), 1);
    // Keep the volume id lower case in the primary descriptor too, as genisoimage and
    // cloud-localds do (blkid, and so cloud-init, read the label "cidata").
    isofs().iso_write_opts_set_relaxed_vol_atts(opts.get(), 1);
    isofs().iso_write_opts_set_pvd_times(opts.get(), kEpoch, kEpoch, 0, 0, kVolumeTime);

    burn_source* raw_src = nullptr;
    rc = isofs().iso_image_create_burn_source(image.get(), opts.get(), &raw_src);
    if (rc < 0) fail(path, "start image generation", rc);
    BurnSourcePtr src(raw_src);

    // Temp file next to the target so the rename is atomic; mkstemp creates it 0600.
    const std::filesystem::path target(path);
    const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
    std::string tmpl = dir + "/." + target.filename().string() + ".XXXXXX";
    const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) fail_errno(path, "create temp file in " + dir);
    TempFile tmp(tmpl, fd);
    if (::fchmod(tmp.fd(), 0600) != 0) fail_errno(path, "chmod temp file");

    std::vector<unsigned char> block(2048);
    while (true) {
        const int n = src->read_xt(src.get(), block.data(), static_cast<int>(block.size()));
        if (n == 0) break;
        if (n < 0) {
            src->cancel(src.get());
            fail(path, "generate image", rc < 0 ? rc : static_cast<int>(ISO_WRITE_ERROR));
        }
        std::size_t off = 0;
        while (off < static_cast<std::size_t>(n)) {
            const ssize_t w =
                ::write(tmp.fd(), block.data() + off, static_cast<std::size_t>(n) - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                const int err = errno;
                src->cancel(src.get());
                // Drain so the generator thread ends before the image is freed.
                while (src->read_xt(src.get(), block.data(), static_cast<int>(block.size())) > 0) {
                }
                errno = err;
                fail_errno(path, "write " + tmp.path());
            }
            off += static_cast<std::size_t>(w);
        }
        if (n < static_cast<int>(block.size())) break;
    }
    if (::fsync(tmp.fd()) != 0) fail_errno(path, "fsync " + tmp.path());
    if (tmp.close() != 0) fail_errno(path, "close " + tmp.path());
    if (::rename(tmp.path().c_str(), path.c_str()) != 0) fail_errno(path, "rename into place");
    tmp.release();
}

}  // namespace virtform::libvirt
