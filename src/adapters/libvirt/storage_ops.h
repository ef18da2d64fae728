#pragma once
// libvirt directory pools and their volumes: read into the model, carry out
// plan actions.
#include "libvirt_util.h"
#include "virtform/plan.h"

namespace virtform::libvirt {

/// Name of the file in a pool's directory that carries the lab's mark; it is
/// never read as a volume.
inline constexpr const char* kPoolMarkFile = ".virtform-lab";

/// `path` without `.`/`..` components, duplicate or trailing slashes: the form
/// in which two pool directories are compared.
std::string normal_dir_path(const std::string& path);
/// What the directory at `path` holds (its mark, other files), read without
/// following a symbolic link at `path` or at its mark.
PoolDir inspect_pool_dir(const std::string& path);

/// Adds every pool libvirt knows to live.pools (owner from the mark file).
void read_pools(virConnectPtr conn, Live& live, RoundTrips& trips);
/// Adds the volumes of every active pool to live.volumes, keyed "pool/name",
/// each owned by its pool's owner. Refreshes each pool first so files made
/// outside libvirt show.
void read_volumes(virConnectPtr conn, Live& live, RoundTrips& trips);

/// Carries out a create/update/replace/destroy of a pool.
void apply_pool(virConnectPtr conn, const std::string& lab, const Action& action,
                RoundTrips& trips);
/// Carries out a create/update/replace/destroy of a volume. A capacity growth
/// of the disk of a running VM goes through virDomainBlockResize.
void apply_volume(virConnectPtr conn, const std::string& lab, const Action& action,
                  RoundTrips& trips);

/// Format of a volume as libvirt reports it; nullopt when there is no such volume.
std::optional<DiskFormat> volume_format(virConnectPtr conn, const std::string& pool,
                                        const std::string& name, RoundTrips& trips);

}  // namespace virtform::libvirt
