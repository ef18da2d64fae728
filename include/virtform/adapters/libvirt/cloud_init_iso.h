#pragma once
/// cloud-init NoCloud seed: an ISO 9660 image (Rock Ridge + Joliet) labelled "cidata"
/// holding user-data, meta-data and optionally network-config, built in-process with
/// libisofs (no genisoimage/xorriso at run time).
#include <optional>
#include <string>

namespace virtform::libvirt {

struct NoCloudSeed {
    std::string user_data;  ///< written as is ("#cloud-config\n..."); may be empty
    /// Written as is when set; empty: derived (see nocloud_meta_data()).
    std::string meta_data;
    std::optional<std::string> network_config;  ///< network-config v1/v2, omitted if unset
    /// For derived meta-data: empty instance_id means "iid-" + a hash of the contents, so
    /// a changed seed is a new instance to cloud-init; empty local_hostname is left out.
    std::string instance_id;
    std::string local_hostname;
};

/// The meta-data the seed gets: seed.meta_data if set, else
/// "instance-id: <id>\nlocal-hostname: <name>\n".
std::string nocloud_meta_data(const NoCloudSeed& seed);

/// Write the seed ISO to `path`: temp file in the same directory, then rename, mode 0600
/// (user-data can hold secrets). The image is byte-for-byte reproducible for the same
/// seed (fixed timestamps), so callers may compare before replacing a disk's content.
/// Throws AdapterError naming `path` on any failure; leaves no temp file behind.
void write_nocloud_iso(const std::string& path, const NoCloudSeed& seed);

}  // namespace virtform::libvirt
