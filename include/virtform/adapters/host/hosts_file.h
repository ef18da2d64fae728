#pragma once
/// The lab's block in /etc/hosts (or another hosts file), and the record of
/// which files hold one, so that `destroy` removes what `hosts` wrote.
#include <string>
#include <vector>

namespace virtform::host {

/// Replaces (or appends, or with an empty `block` removes) the lab's block in
/// the hosts file at `path`, atomically, keeping the rest byte for byte and
/// the file's permission bits. A symbolic link or non-regular file at `path`
/// is refused. Returns false when the file did not change.
bool update_hosts_file(const std::string& path, const std::string& lab, const std::string& block);

/// Where the paths of the files holding the lab's block are kept.
std::string hosts_record_path(const std::string& lab);
/// Adds `path` (absolute) to the lab's record.
void record_hosts_file(const std::string& lab, const std::string& path);
/// Drops `path` from the lab's record (removes the record when it is empty).
void forget_hosts_file(const std::string& lab, const std::string& path);
/// The files the record names.
std::vector<std::string> recorded_hosts_files(const std::string& lab);

/// The interface of the host's IPv4 default route (/proc/net/route); "" when none.
std::string default_route_interface();

}  // namespace virtform::host
