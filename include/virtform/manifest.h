#pragma once
/// Manifests: YAML files -> the typed Desired model. All validation happens
/// here, before anything is touched, and every error is reported at once with
/// its file:line:col. No connection to libvirt or netlink is needed.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform {

/// What the loader reads at most (docs/manifest.md, "Limits"): larger input is
/// refused before it is parsed, so a wrong path cannot exhaust memory.
inline constexpr std::size_t kMaxManifestFileBytes = 16u << 20;   ///< one manifest file
inline constexpr std::size_t kMaxManifestTotalBytes = 64u << 20;  ///< all files of one set
inline constexpr std::size_t kMaxStringBytes = 1u << 20;  ///< any one string, e.g. user_data
inline constexpr std::size_t kMaxAliasNodes = 1000000;    ///< nodes YAML aliases may add
/// `count:` of one object at most, and the nodes `count:` copies may add, for
/// all files of one set together (docs/manifest.md, "Limits").
inline constexpr long long kMaxCount = 1000;
inline constexpr std::uint64_t kMaxExpandedNodes = 250000;

/// Values for `${VAR}` in manifests: `--var NAME=VALUE` first, then (unless
/// turned off, as when a saved plan is applied) the environment.
struct ManifestVars {
    std::map<std::string, std::string> values;
    bool environment = true;
};

/// One manifest's text and the name used in messages (its path).
struct ManifestSource {
    std::string name;
    std::string text;
};

/// Expands `-f` arguments: a file stands for itself, a directory for its
/// *.yaml and *.yml files in name order. Unreadable paths, anything but a
/// regular file (a FIFO, a device) and files over the limits are diagnostics.
std::vector<ManifestSource> read_manifest_sources(const std::vector<std::string>& paths,
                                                  Diagnostics& diags);

/// Reads a file virtform is given to read (a manifest, a saved plan): only a
/// regular file (a symlink to one is fine) of at most `max_bytes`, checked
/// before it is opened and again on the descriptor, opened non-blocking, so a
/// FIFO or a device can neither hang the read nor exhaust memory. nullopt, with
/// the reason in `diags` at the path, otherwise.
std::optional<std::string> read_regular_file(const std::string& path, std::size_t max_bytes,
                                             Diagnostics& diags);

/// Parses and validates; throws ValidationError listing every problem.
/// Desired::variables records the values `vars` and the environment gave.
Desired load_manifests(const std::vector<ManifestSource>& sources, const ManifestVars& vars = {});
Desired load_manifest_files(const std::vector<std::string>& paths);

/// The JSON Schema (draft 2020-12) of a manifest, made from the loader's key
/// table (`virtform schema`, docs/virtform.schema.json).
std::string manifest_json_schema();

/// Where virtform keeps the cloud-init seed ISO of a VM.
std::string seed_iso_path(const std::string& lab, const std::string& vm);

/// Rules the loader enforces, exposed for the adapters' own checks.
bool valid_object_name(const std::string& name);
/// Interface names (bridges, ports, network bridges): 1-15 ASCII letters,
/// digits, '-', '_' or '.', not "." or ".." (safe for the kernel, sysfs paths
/// and dnsmasq's configuration). "" when fine, else why not.
std::string interface_name_problem(const std::string& name);

}  // namespace virtform
