#pragma once
/// Manifests: YAML files -> the typed Desired model. All validation happens
/// here, before anything is touched, and every error is reported at once with
/// its file:line:col. No connection to libvirt or netlink is needed.
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform {

/// One manifest's text and the name used in messages (its path).
struct ManifestSource {
    std::string name;
    std::string text;
};

/// Expands `-f` arguments: a file stands for itself, a directory for its
/// *.yaml and *.yml files in name order. Unreadable paths are diagnostics.
std::vector<ManifestSource> read_manifest_sources(const std::vector<std::string>& paths,
                                                  Diagnostics& diags);

/// Parses and validates; throws ValidationError listing every problem.
Desired load_manifests(const std::vector<ManifestSource>& sources);
Desired load_manifest_files(const std::vector<std::string>& paths);

/// Where virtform keeps the cloud-init seed ISO of a VM.
std::string seed_iso_path(const std::string& lab, const std::string& vm);

/// Rules the loader enforces, exposed for the adapters' own checks.
bool valid_object_name(const std::string& name);
/// Interface names (bridges, ports, network bridges): 1-15 ASCII letters,
/// digits, '-', '_' or '.', not "." or ".." (safe for the kernel, sysfs paths
/// and dnsmasq's configuration). "" when fine, else why not.
std::string interface_name_problem(const std::string& name);

}  // namespace virtform
