// `virtform hosts`: the lab's marked block in /etc/hosts (or --file PATH),
// replaced in place; `destroy` removes it (remove_hosts_blocks).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common.h"
#include "virtform/adapters/host/hosts_file.h"
#include "virtform/diag.h"

namespace virtform::cli {

int cmd_hosts(const GlobalOptions& g, const ManifestOptions& m, const HostsOptions& o, bool json) {
    const Desired desired = load(m);
    const std::string path = std::filesystem::absolute(o.file).lexically_normal().string();
    std::vector<VmAccess> vms;
    bool changed = false;
    if (o.remove) {
        changed = host::update_hosts_file(path, desired.lab, "");
        host::forget_hosts_file(desired.lab, path);
    } else {
        vms = lab_access(g, desired, o.offline);
        for (const auto& vm : vms) {
            if (vm.address.empty())
                std::cerr << fmt::format("vm.{}: no address known; left out\n", vm.vm);
        }
        changed = host::update_hosts_file(path, desired.lab, hosts_block(desired.lab, vms));
        host::record_hosts_file(desired.lab, path);  // for destroy
    }
    if (json) {
        auto doc = nlohmann::json::parse(access_json(desired, vms));
        doc["file"] = path;
        doc["changed"] = changed;
        std::cout << doc.dump(2) << "\n";
    } else {
        std::cout << fmt::format("{}: lab {}'s block {}\n", terminal_escape(path), desired.lab,
                                 !changed   ? "unchanged"
                                 : o.remove ? "removed"
                                            : "written");
    }
    return 0;
}

void remove_hosts_blocks(const std::string& lab) {
    std::vector<std::string> paths;
    try {
        paths = host::recorded_hosts_files(lab);
    } catch (const Error& e) {
        std::cerr << fmt::format("warning: {}\n", e.what());
        return;
    }
    for (const auto& path : paths) {
        try {
            if (host::update_hosts_file(path, lab, "")) {
                std::cerr << fmt::format("{}: lab {}'s block removed\n", terminal_escape(path),
                                         lab);
            }
            host::forget_hosts_file(lab, path);
        } catch (const Error& e) {
            std::cerr << fmt::format("warning: lab {}'s block stays in {}: {}\n", lab,
                                     terminal_escape(path), e.what());
        }
    }
}

}  // namespace virtform::cli
