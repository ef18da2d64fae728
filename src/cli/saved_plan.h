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
    std::vector<std::string> targets;
    std::map<std::string, std::string> fingerprint;
    nlohmann::json plan;
    std::vector<std::string> adopt;  ///< `plan --adopt`: what the plan adopts
};

/// Written atomically with mode 0600: the manifests may hold secrets.
void write_saved_plan(const std::string& path, const SavedPlan& saved);
/// nullopt when `path` is not a saved plan (e.g. a manifest); throws when it
/// looks like one but cannot be read.
std::optional<SavedPlan> read_saved_plan(const std::string& path);

}  // namespace virtform::cli
