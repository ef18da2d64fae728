#include "virtform/adapters/host/hosts_file.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "virtform/access.h"
#include "virtform/error.h"
#include "virtform/safe_file.h"

namespace virtform::host {

namespace {

constexpr std::size_t kMaxHostsFile = 16U << 20;

void write_record(const std::string& lab, const std::vector<std::string>& paths) {
    const std::string record = hosts_record_path(lab);
    std::error_code ec;
    if (paths.empty()) {
        std::filesystem::remove(record, ec);
        return;
    }
    std::filesystem::create_directories(std::filesystem::path(record).parent_path(), ec);
    std::string text;
    for (const auto& p : paths) text += p + "\n";
    write_file_atomically(record, text, "record the hosts files of lab " + lab);
}

}  // namespace

bool update_hosts_file(const std::string& path, const std::string& lab, const std::string& block) {
    const auto text = read_file_nofollow(path, kMaxHostsFile, "read the hosts file");
    if (!text && block.empty()) return false;
    const std::string before = text.value_or("");
    const std::string after = replace_hosts_block(before, lab, block);
    if (text && after == before) return false;
    SafeWriteOptions options;
    options.mode = 0644;
    struct stat st {};
    if (text && ::stat(path.c_str(), &st) == 0) options.mode = st.st_mode & 07777;
    write_file_atomically(path, after, "write the hosts file", options);
    return true;
}

std::string hosts_record_path(const std::string& lab) {
    return fmt::format("/var/lib/virtform/hosts/{}.paths", lab);
}

std::vector<std::string> recorded_hosts_files(const std::string& lab) {
    const auto text =
        read_file_nofollow(hosts_record_path(lab), 1U << 20, "read the hosts files of lab " + lab);
    std::vector<std::string> paths;
    if (!text) return paths;
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line[0] == '/') paths.push_back(line);
    }
    return paths;
}

void record_hosts_file(const std::string& lab, const std::string& path) {
    auto paths = recorded_hosts_files(lab);
    if (std::find(paths.begin(), paths.end(), path) != paths.end()) return;
    paths.push_back(path);
    write_record(lab, paths);
}

void forget_hosts_file(const std::string& lab, const std::string& path) {
    auto paths = recorded_hosts_files(lab);
    paths.erase(std::remove(paths.begin(), paths.end(), path), paths.end());
    write_record(lab, paths);
}

std::string default_route_interface() {
    std::ifstream in("/proc/net/route");
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
        fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask;
        if (destination == "00000000" && mask == "00000000") return iface;
    }
    return "";
}

}  // namespace virtform::host
