#pragma once
// Saved plans (`plan -o FILE`, `apply FILE`): the manifests as they were, the
// fingerprint of the live state the plan was made from, and the plan itself.
// Applying re-reads the host, refuses when anything changed, re-plans from the
// saved manifests and checks the result is the saved plan to the letter.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "virtform/manifest.h"

namespace virtform::cli {

struct SavedPlan {
    std::string uri;
    std::string lab;
    std::vector<ManifestSource> manifests;
    /// The `${VAR}` values the manifests were loaded with (from --var or the
    /// environment): applying the plan loads them with these, not today's.
    std::map<std::string, std::string> variables;
    std::vector<std::string> targets;
    std::map<std::string, std::string> fingerprint;
    nlohmann::json plan;
    /// When the plan was made, UTC, ISO 8601 ("2026-12-02T09:40:00Z"); empty
    /// in plans saved before it was recorded.
    std::string created;
    std::vector<std::string> adopt;  ///< `plan --adopt`: what the plan adopts
};

/// Now, UTC, ISO 8601 to the second.
std::string utc_now_iso8601();

/// Written atomically with mode 0600: the manifests may hold secrets.
void write_saved_plan(const std::string& path, const SavedPlan& saved);
/// nullopt when `path` is not a saved plan (e.g. a manifest); throws when it
/// looks like one but cannot be read. With `must_be_private` (apply: the plan
/// will be carried out), also when someone else owns or can write the file;
/// `show` only reads it.
std::optional<SavedPlan> read_saved_plan(const std::string& path, bool must_be_private = true);

}  // namespace virtform::cli
