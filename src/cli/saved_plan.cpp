#include "saved_plan.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "virtform/error.h"

namespace virtform::cli {

constexpr const char* kFormat = "virtform-plan/1";

void write_saved_plan(const std::string& path, const SavedPlan& saved) {
    nlohmann::json manifests = nlohmann::json::array();
    for (const auto& m : saved.manifests) manifests.push_back({{"name", m.name}, {"text", m.text}});
    const nlohmann::json doc = {{"format", kFormat},        {"uri", saved.uri},
                                {"lab", saved.lab},         {"manifests", manifests},
                                {"targets", saved.targets}, {"fingerprint", saved.fingerprint},
                                {"plan", saved.plan}};
    const std::string text = doc.dump(1) + "\n";
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw AdapterError(path, "write plan file", std::strerror(errno), errno);
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        throw AdapterError(path, "write plan file", std::strerror(errno), errno);
    }
}

std::optional<SavedPlan> read_saved_plan(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '{') return std::nullopt;
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kFormat)
        return std::nullopt;
    try {
        SavedPlan saved;
        saved.uri = doc.at("uri");
        saved.lab = doc.at("lab");
        for (const auto& m : doc.at("manifests"))
            saved.manifests.push_back({m.at("name"), m.at("text")});
        saved.targets = doc.at("targets").get<std::vector<std::string>>();
        saved.fingerprint = doc.at("fingerprint").get<std::map<std::string, std::string>>();
        saved.plan = doc.at("plan");
        return saved;
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("{}: a damaged virtform plan file: {}", path, e.what()));
    }
}

}  // namespace virtform::cli
