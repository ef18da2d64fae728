#include "saved_plan.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "virtform/error.h"
#include "virtform/safe_file.h"

namespace virtform::cli {

constexpr const char* kFormat = "virtform-plan/1";

void write_saved_plan(const std::string& path, const SavedPlan& saved) {
    nlohmann::json manifests = nlohmann::json::array();
    for (const auto& m : saved.manifests) manifests.push_back({{"name", m.name}, {"text", m.text}});
    const nlohmann::json doc = {{"format", kFormat},        {"uri", saved.uri},
                                {"lab", saved.lab},         {"manifests", manifests},
                                {"targets", saved.targets}, {"fingerprint", saved.fingerprint},
                                {"plan", saved.plan},       {"variables", saved.variables},
                                {"created", saved.created},
                                {"adopt", saved.adopt}};
    // The directory may be anyone's (/tmp): a unique O_EXCL|O_NOFOLLOW temp
    // file renamed into place, so nobody can pre-create, own or redirect it.
    write_file_atomically(path, doc.dump(1) + "\n", "write plan file", {0600, false});
}

namespace {

/// A saved plan is run by `apply FILE` without a question, as whoever runs
/// it: like ssh with its keys, refuse one that someone else could have written.
void check_private(const std::string& path, const struct stat& st) {
    const uid_t me = ::geteuid();
    if (st.st_uid != me) {
        throw Error(fmt::format(
            "{}: refusing this saved plan: it is owned by uid {}, not by you (uid {}), so its "
            "owner decides what `apply` does. Check its content, then `chown {} {}`, or make "
            "the plan again with `virtform plan -o`.",
            path, st.st_uid, me, me, path));
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        throw Error(fmt::format(
            "{}: refusing this saved plan: it is writable by {} (mode {:04o}), so they decide "
            "what `apply` does. Check its content, then `chmod go-w {}`, or make the plan again "
            "with `virtform plan -o`.",
            path, (st.st_mode & S_IWOTH) != 0 ? "others" : "its group", st.st_mode & 07777, path));
    }
}

constexpr std::size_t kMaxPlanBytes = 64u << 20;

}  // namespace

std::string utc_now_iso8601() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<SavedPlan> read_saved_plan(const std::string& path, bool must_be_private) {
    // Not a regular file (a FIFO, a device, a directory): not a saved plan;
    // O_NONBLOCK so that opening a FIFO does not wait for a writer.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) > kMaxPlanBytes) {
        ::close(fd);
        return std::nullopt;
    }
    std::string text;
    char buf[8192];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() <= kMaxPlanBytes)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '{') return std::nullopt;
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kFormat)
        return std::nullopt;
    if (must_be_private) check_private(path, st);
    try {
        SavedPlan saved;
        saved.uri = doc.at("uri");
        saved.lab = doc.at("lab");
        for (const auto& m : doc.at("manifests"))
            saved.manifests.push_back({m.at("name"), m.at("text")});
        saved.targets = doc.at("targets").get<std::vector<std::string>>();
        saved.fingerprint = doc.at("fingerprint").get<std::map<std::string, std::string>>();
        saved.plan = doc.at("plan");
        saved.variables = doc.value("variables", nlohmann::json::object())
                              .get<std::map<std::string, std::string>>();
        if (doc.contains("created") && doc["created"].is_string()) saved.created = doc["created"];
        saved.adopt = doc.value("adopt", std::vector<std::string>{});
        return saved;
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("{}: a damaged virtform plan file: {}", path, e.what()));
    }
}

}  // namespace virtform::cli
