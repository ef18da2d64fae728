#include "common.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>

#include "virtform/adapters/host/doctor.h"
#include "virtform/adapters/host/host_probe.h"
#include "virtform/adapters/libvirt/address_wait.h"
#include "virtform/adapters/libvirt/provider.h"
#include "virtform/diag.h"
#include "virtform/error.h"

namespace virtform::cli {

Desired load(const ManifestOptions& m) {
    return load_manifest_files(m.paths);
}

void check_files(const Desired& desired) {
    Diagnostics diags;
    auto need = [&](const Location& where, const std::string& what,
                    const std::optional<std::string>& path) {
        std::error_code ec;
        if (path && !path->empty() && !std::filesystem::exists(*path, ec)) {
            diags.error(where, fmt::format("{}: no such file {}", what, *path));
        }
    };
    for (const auto& [name, vm] : desired.vms) {
        need(vm.where, fmt::format("kernel of VM '{}'", name), vm.kernel);
        need(vm.where, fmt::format("initrd of VM '{}'", name), vm.initrd);
        for (const auto& d : vm.disks) {
            if (d.type != Disk::Type::volume) {
                need(vm.where, fmt::format("disk '{}' of VM '{}'", d.name, name), d.path);
            }
        }
    }
    for (const auto& [id, vol] : desired.volumes) {
        need(vol.where, fmt::format("backing image of volume {}", id), vol.backing);
        need(vol.where, fmt::format("image to import into volume {}", id), vol.import_from);
    }
    diags.throw_if_any();
}

std::mutex g_out_mutex;  // progress lines come from parallel actions

std::unique_ptr<HostProvider> connect(const GlobalOptions& g, const Desired& desired,
                                      bool allow_restart, bool no_rollback) {
    libvirt::ProviderOptions options;
    options.allow_restart = allow_restart;
    // accel: auto needs to know whether KVM really works here (a cached probe).
    const bool needs_probe =
        std::any_of(desired.vms.begin(), desired.vms.end(),
                    [](const auto& kv) { return kv.second.accel == Accel::auto_; });
    if (needs_probe) {
        host::SystemProbe probe;
        options.kvm_usable = host::kvm_usable(probe);
        spdlog::info("KVM usable on this host: {}", *options.kvm_usable);
    }
    options.on_notice = [](const ResourceId& id, const std::string& message) {
        std::lock_guard lock(g_out_mutex);
        std::cout << fmt::format("{}: note: {}\n", id.str(), message) << std::flush;
    };
    spdlog::info("connecting to {}", g.uri);
    netlink::BridgeProviderOptions bridge_options;
    bridge_options.take_over.no_rollback = no_rollback;
    return std::make_unique<HostProvider>(
        std::make_unique<libvirt::LibvirtProvider>(g.uri, desired.lab, std::move(options)),
        std::make_unique<netlink::BridgeProvider>(desired.lab, bridge_options));
}

std::string addresses_text(const std::vector<libvirt::GuestAddress>& addrs) {
    std::string out;
    for (const auto& a : addrs) out += (out.empty() ? "" : ", ") + a.address;
    return out;
}

bool wait_for_addresses(HostProvider& host, const Desired& desired, int timeout_seconds) {
    std::vector<std::string> waiting;
    for (const auto& [name, vm] : desired.vms) {
        if (vm.state == VmState::running && !vm.nics.empty()) waiting.push_back(name);
    }
    if (waiting.empty()) return true;
    std::cout << fmt::format("\nWaiting up to {}s for the addresses of {} VM{}...\n",
                             timeout_seconds, waiting.size(), waiting.size() == 1 ? "" : "s");
    const auto missing = libvirt::wait_for_addresses(
        [&](const std::string& vm) { return host.libvirt().vm_addresses(vm); }, waiting,
        std::chrono::seconds(timeout_seconds),
        [](const std::string& vm, const std::vector<libvirt::GuestAddress>& addrs, double secs) {
            std::cout << fmt::format("vm.{}: {} (after {:.0f}s)\n", vm, addresses_text(addrs), secs)
                      << std::flush;
        });
    for (const auto& name : missing) {
        std::cout << fmt::format("vm.{}: no address after {}s\n", name, timeout_seconds);
    }
    return missing.empty();
}

bool confirm(const std::string& question) {
    if (isatty(STDIN_FILENO) == 0) {
        throw Error(
            "standard input is not a terminal: pass --auto-approve to apply without asking");
    }
    std::cout << "\n"
              << question
              << "\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "yes";
}

const char* progress_verb(ActionType type, bool done) {
    switch (type) {
        case ActionType::create:
            return done ? "Creation complete" : "Creating...";
        case ActionType::update:
            return done ? "Modifications complete" : "Modifying...";
        case ActionType::replace:
            return done ? "Replacement complete" : "Replacing...";
        case ActionType::destroy:
            return done ? "Destruction complete" : "Destroying...";
    }
    return "";
}

void print_stats(HostProvider& provider) {
    if (std::getenv("VIRTFORM_STATS") == nullptr) return;
    std::cerr << fmt::format("virtform stats: libvirt round trips: {}\n",
                             provider.libvirt().round_trips());
}

int run_guarded(const std::function<int()>& command) {
    try {
        return command();
    } catch (const ValidationError& e) {
        std::cerr << e.diagnostics().str();
        std::cerr << fmt::format("{} error{}; nothing was changed.\n", e.diagnostics().size(),
                                 e.diagnostics().size() == 1 ? "" : "s");
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
    }
    return 1;
}

}  // namespace virtform::cli
