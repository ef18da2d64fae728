// `virtform fmt [--check] [--diff] [FILE|DIR|-]...`: manifests in the
// canonical layout (virtform/manifest_format.h). Files are replaced
// atomically and keep their mode and owner.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common.h"
#include "virtform/diag.h"
#include "virtform/error.h"
#include "virtform/manifest_format.h"
#include "virtform/safe_file.h"
#include "virtform/text_diff.h"

namespace virtform::cli {
namespace {

/// With no argument: the *.yaml/*.yml files here that hold a top-level `lab:`
/// (the manifests `plan` would find; never a CI file beside them).
std::vector<std::string> default_files() {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(".", ec)) {
        const auto ext = entry.path().extension().string();
        if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file(ec))
            found.push_back(entry.path().filename().string());
    }
    std::sort(found.begin(), found.end());
    Diagnostics diags;
    std::vector<std::string> labs;
    for (const auto& src : read_manifest_sources(found, diags)) {
        if (holds_lab_key(src.text)) labs.push_back(src.name);
    }
    diags.throw_if_any();
    if (labs.empty()) {
        throw Error(
            "no manifest given, and no *.yaml or *.yml file here holds a top-level `lab:` key; "
            "name the files or directories: virtform fmt FILE...");
    }
    return labs;
}

void replace_file(const std::string& name, const std::string& text) {
    std::error_code ec;
    // A symbolic link stays one: its target is what gets formatted.
    const std::string target = std::filesystem::canonical(name, ec).string();
    if (ec) throw Error(fmt::format("{}: {}", name, ec.message()));
    struct stat st {};
    if (::stat(target.c_str(), &st) != 0) throw Error(fmt::format("{}: cannot stat", name));
    write_file_atomically(target, text, "fmt: rewrite manifest",
                          {static_cast<mode_t>(st.st_mode & 07777), false});
    if (::geteuid() == 0 && (st.st_uid != 0 || st.st_gid != 0)) {
        if (::lchown(target.c_str(), st.st_uid, st.st_gid) != 0)
            throw Error(fmt::format("{}: formatted, but its owner could not be restored", name));
    }
}

}  // namespace

int cmd_fmt(const FmtOptionsCli& o) {
    std::vector<ManifestSource> sources;
    Diagnostics diags;
    const auto paths = o.paths.empty() ? default_files() : o.paths;
    bool from_stdin = false;
    for (const auto& p : paths) {
        if (p == "-") {
            if (from_stdin) throw Error("`-` (standard input) may be given only once");
            from_stdin = true;
            std::ostringstream text;
            text << std::cin.rdbuf();
            sources.push_back({"<stdin>", text.str()});
            continue;
        }
        auto more = read_manifest_sources({p}, diags);
        sources.insert(sources.end(), more.begin(), more.end());
    }
    diags.throw_if_any();

    // Every file is formatted before any is written: one that cannot be
    // leaves all of them as they are.
    std::vector<std::string> formatted;
    for (const auto& src : sources) formatted.push_back(format_manifest(src.text, src.name));

    nlohmann::json files = nlohmann::json::array();
    std::vector<std::string> changed;
    for (std::size_t i = 0; i < sources.size(); ++i) {
        const auto& src = sources[i];
        const bool differs = formatted[i] != src.text;
        files.push_back({{"file", src.name}, {"changed", differs}});
        // Standard input in, the formatted text out (a diff with --diff).
        if (src.name == "<stdin>" && !o.check && !o.diff) {
            if (!o.json) std::cout << formatted[i];
            if (differs) changed.push_back(src.name);
            continue;
        }
        if (!differs) continue;
        changed.push_back(src.name);
        if (!o.json) {
            if (o.diff)
                std::cout << unified_diff(src.text, formatted[i], src.name);
            else
                std::cout << terminal_escape(src.name) << "\n";
        }
        if (!o.check && src.name != "<stdin>") replace_file(src.name, formatted[i]);
    }
    if (o.json) {
        std::cout << nlohmann::json{{"format_version", "1"},
                                    {"ok", !(o.check && !changed.empty())},
                                    {"check", o.check},
                                    {"files", files},
                                    {"changed", changed}}
                         .dump(2)
                  << "\n";
    }
    if (o.check && !changed.empty()) {
        std::cerr << fmt::format(
            "{} file{} not in the canonical layout; `virtform fmt` rewrites {}.\n", changed.size(),
            changed.size() == 1 ? " is" : "s are", changed.size() == 1 ? "it" : "them");
        return 1;
    }
    return 0;
}

}  // namespace virtform::cli
