#pragma once
/// What an image named by `backing:` or `import:` is, read from its header by
/// virtform itself (no qemu-img probing, which would guess a format and follow
/// whatever files the image names). An untrusted qcow2 can name a backing file
/// (or an external data file) anywhere on the host: QEMU would read that file
/// into the guest's disk, as root. Such an image is refused unless the
/// manifest says `allow_backing_chain: true`.
#include <cstdint>
#include <string>
#include <string_view>

#include "virtform/model.h"

namespace virtform::libvirt {

struct ImageHeader {
    DiskFormat format = DiskFormat::raw;  ///< qcow2 when the qcow2 magic is there, else raw
    std::string backing_file;             ///< the backing file a qcow2 names, "" when none
    bool external_data_file = false;      ///< qcow2 v3 with an external data file
};

/// Parses the first bytes of an image (at least 104 for a qcow2 v3 header, plus
/// its backing file name). Pure.
ImageHeader parse_image_header(std::string_view bytes);

/// Reads the header of the image at `path` (a regular file or block device;
/// FIFOs and character devices are refused). Throws AdapterError.
ImageHeader probe_image(const std::string& path);

/// Why the image at `path` may not back or be imported into a volume ("" when
/// it may): unreadable, not a regular file or block device, or a qcow2 naming
/// another file while `allow_backing_chain` is false.
std::string image_problem(const std::string& path, bool allow_backing_chain);

}  // namespace virtform::libvirt
