#pragma once
// Private to the manifest loader: the pass that turns a parsed manifest into
// the plain one the section readers read. It resolves YAML merge keys (`<<:`),
// `${VAR}` substitutions, `defaults:` and `templates:`, and expands `count:`
// with its `{{ expr }}` expressions. Every node it writes keeps the
// file:line:col of the text it came from, so later errors point there.
#include <map>
#include <string>

#include "virtform/manifest.h"
#include "yaml_reader.h"

namespace virtform::detail {

/// What one load shares across its files: the variables asked for (to record
/// the values used) and the budget of nodes copies may add.
struct ExpandState {
    const ManifestVars& vars;
    std::map<std::string, std::string> used;  ///< variables from --var or the environment
    std::uint64_t nodes = 0;                  ///< nodes copied so far, all files
    bool over_budget = false;
    /// Objects made by `count`, by "kind/name" ("vms/web-3").
    std::map<std::string, Expansion> expansions;
};

/// The manifest `root` (a mapping) with templates resolved; errors go to ctx.
/// `text` is the source `root` was parsed from.
YAML::Node expand_manifest(const Context& ctx, const YAML::Node& root, const std::string& text,
                           ExpandState& state);

/// `{{ expr }}` evaluated in `text` (with `index` when given); for tests and
/// the reader. nullopt with `why` set when an expression is invalid.
std::optional<std::string> interpolate(const std::string& text, std::optional<long long> index,
                                       std::string* why);

}  // namespace virtform::detail
