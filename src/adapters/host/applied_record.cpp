#include "virtform/adapters/host/applied_record.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "virtform/error.h"
#include "virtform/fingerprint.h"
#include "virtform/safe_file.h"

namespace virtform::host {

std::string applied_record_path(const std::string& uri, const std::string& lab) {
    std::string key;
    for (char c : uri) key += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
    return fmt::format("/var/lib/virtform/state/{}@{}.json", lab, key);
}

std::optional<std::map<std::string, std::string>> read_applied_record(const std::string& uri,
                                                                      const std::string& lab) {
    std::optional<std::string> text;
    try {
        text = read_file_nofollow(applied_record_path(uri, lab), 64U << 20, "read the drift record");
    } catch (const Error& e) {
        spdlog::warn("{}: drift will not be shown", e.what());
        return std::nullopt;
    }
    if (!text) return std::nullopt;
    auto doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
    try {
        return doc.get<std::map<std::string, std::string>>();
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

void write_applied_record(const std::string& uri, const std::string& lab, const Live& live) {
    const std::string path = applied_record_path(uri, lab);
    std::error_code ec;
    const auto owned = owned_fingerprint(live, lab);
    if (owned.empty()) {  // the lab owns nothing (destroyed): no record to keep
        std::filesystem::remove(path, ec);
        return;
    }
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    try {
        write_file_atomically(path, nlohmann::json(owned).dump(1) + "\n", "write the drift record");
    } catch (const Error& e) {
        spdlog::warn("{}: drift will not be shown", e.what());
    }
}

}  // namespace virtform::host
