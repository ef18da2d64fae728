#include "virtform/adapters/host/snapshot_record.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <tuple>

#include "virtform/error.h"
#include "virtform/safe_file.h"

namespace virtform::host {
namespace {

constexpr const char* kFormat = "virtform-snapshot/1";

std::string record_path(const std::string& uri, const std::string& lab, const std::string& name) {
    return snapshot_record_dir(uri, lab) + "/" + name + ".json";
}

SnapshotRecord from_json(const nlohmann::json& doc) {
    if (doc.value("format", "") != kFormat) throw Error("not a virtform snapshot record");
    SnapshotRecord r;
    r.lab = doc.at("lab");
    r.name = doc.at("name");
    r.created = doc.at("created");
    for (const auto& v : doc.at("vms")) r.vms.push_back({v.at("name"), v.at("running")});
    for (const auto& n : doc.at("networks"))
        r.networks.push_back({n.at("name"), n.at("xml"), n.at("active"), n.at("autostart")});
    return r;
}

}  // namespace

std::string snapshot_record_dir(const std::string& uri, const std::string& lab) {
    std::string key;
    for (char c : uri) key += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
    return fmt::format("/var/lib/virtform/snapshots/{}@{}", lab, key);
}

void write_snapshot_record(const std::string& uri, const SnapshotRecord& r) {
    nlohmann::json vms = nlohmann::json::array();
    for (const auto& v : r.vms) vms.push_back({{"name", v.name}, {"running", v.running}});
    nlohmann::json nets = nlohmann::json::array();
    for (const auto& n : r.networks) {
        nets.push_back(
            {{"name", n.name}, {"xml", n.xml}, {"active", n.active}, {"autostart", n.autostart}});
    }
    const nlohmann::json doc = {{"format", kFormat},    {"lab", r.lab}, {"name", r.name},
                                {"created", r.created}, {"vms", vms},   {"networks", nets}};
    std::error_code ec;
    std::filesystem::create_directories(snapshot_record_dir(uri, r.lab), ec);
    if (ec) {
        throw AdapterError(snapshot_record_dir(uri, r.lab), "create the snapshot directory",
                           ec.message());
    }
    write_file_atomically(record_path(uri, r.lab, r.name), doc.dump(1) + "\n",
                          "write the snapshot record");
}

std::optional<SnapshotRecord> read_snapshot_record(const std::string& uri, const std::string& lab,
                                                   const std::string& name) {
    const std::string path = record_path(uri, lab, name);
    const auto text = read_file_nofollow(path, 64U << 20, "read the snapshot record");
    if (!text) return std::nullopt;
    try {
        return from_json(nlohmann::json::parse(*text));
    } catch (const std::exception& e) {
        throw Error(fmt::format("{}: a damaged snapshot record: {}", path, e.what()));
    }
}

std::vector<SnapshotRecord> list_snapshot_records(const std::string& uri, const std::string& lab) {
    std::vector<SnapshotRecord> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(snapshot_record_dir(uri, lab), ec)) {
        const auto file = e.path().filename().string();
        if (e.path().extension() != ".json" || file.front() == '.') continue;
        try {
            if (auto r = read_snapshot_record(uri, lab, e.path().stem().string()))
                out.push_back(std::move(*r));
        } catch (const Error& err) {
            spdlog::warn("{}", err.what());
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.created, a.name) < std::tie(b.created, b.name);
    });
    return out;
}

void remove_snapshot_record(const std::string& uri, const std::string& lab,
                            const std::string& name) {
    std::error_code ec;
    std::filesystem::remove(record_path(uri, lab, name), ec);
    if (ec) throw AdapterError(record_path(uri, lab, name), "remove", ec.message());
    std::filesystem::remove(snapshot_record_dir(uri, lab), ec);  // only when empty
}

}  // namespace virtform::host
