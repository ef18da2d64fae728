#include "virtform/adapters/libvirt/image_probe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "virtform/error.h"

namespace virtform::libvirt {
namespace {

std::uint64_t be(std::string_view bytes, std::size_t offset, std::size_t width) {
    std::uint64_t out = 0;
    for (std::size_t i = 0; i < width; ++i)
        out = (out << 8) | static_cast<unsigned char>(bytes[offset + i]);
    return out;
}

constexpr std::size_t kHeaderBytes = 64 * 1024;  // header, extensions and backing name fit
constexpr std::uint64_t kIncompatExternalDataFile = 1u << 2;

/// A name read from an untrusted image, safe to print.
std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out += static_cast<char>(c);
        else
            out += fmt::format("\\x{:02x}", c);
    }
    return out;
}

}  // namespace

ImageHeader parse_image_header(std::string_view bytes) {
    ImageHeader out;
    if (bytes.size() < 4 || std::memcmp(bytes.data(), "QFI\xfb", 4) != 0) return out;
    out.format = DiskFormat::qcow2;
    if (bytes.size() < 20) {
        out.backing_file = "(a truncated qcow2 header)";  // refused: nothing is known
        return out;
    }
    const std::uint64_t version = be(bytes, 4, 4);
    const std::uint64_t offset = be(bytes, 8, 8);
    const std::uint64_t size = be(bytes, 16, 4);
    if (offset != 0) {
        if (size == 0 || offset >= bytes.size() || size > bytes.size() - offset) {
            out.backing_file = "(a backing file name outside the header)";
        } else {
            out.backing_file = std::string(bytes.substr(offset, size));
        }
    }
    if (version >= 3) {
        if (bytes.size() < 80) {
            out.external_data_file = true;  // cannot tell: assume the worst
        } else {
            out.external_data_file = (be(bytes, 72, 8) & kIncompatExternalDataFile) != 0;
        }
    }
    return out;
}

ImageHeader probe_image(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw AdapterError(path, "open the image", std::strerror(errno), errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
        ::close(fd);
        throw AdapterError(path, "open the image", "not a regular file or block device");
    }
    std::string bytes(kHeaderBytes, '\0');
    std::size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            throw AdapterError(path, "read the header of the image", std::strerror(err), err);
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    bytes.resize(got);
    return parse_image_header(bytes);
}

std::string image_problem(const std::string& path, bool allow_backing_chain) {
    ImageHeader header;
    try {
        header = probe_image(path);
    } catch (const AdapterError& e) {
        return e.detail();
    }
    if (allow_backing_chain) return {};
    if (!header.backing_file.empty()) {
        return fmt::format(
            "the qcow2 image names a backing file ({}) that QEMU would read too; "
            "refused unless the disk says 'allow_backing_chain: true'",
            printable(header.backing_file));
    }
    if (header.external_data_file) {
        return "the qcow2 image keeps its data in an external file that QEMU would read too; "
               "refused unless the disk says 'allow_backing_chain: true'";
    }
    return {};
}

}  // namespace virtform::libvirt
