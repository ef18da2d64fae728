#include "common.h"

#include "virtform/adapters/libvirt/connect.h"
#include "virtform/host_checks.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "interrupt.h"
#include "virtform/adapters/host/doctor.h"
#include "virtform/adapters/host/host_probe.h"
#include "virtform/adapters/libvirt/address_wait.h"
#include "virtform/adapters/libvirt/image_probe.h"
#include "virtform/adapters/libvirt/provider.h"
#include "virtform/diag.h"
#include "virtform/error.h"
#include "virtform/safe_file.h"

namespace virtform::cli {

bool holds_lab_key(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("lab", 0) != 0) continue;
        std::size_t k = 3;
        while (k < line.size() && (line[k] == ' ' || line[k] == '\t')) ++k;
        if (k < line.size() && line[k] == ':') return true;
    }
    return false;
}

namespace {

std::string lab_value(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("lab", 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string v = line.substr(colon + 1);
        const auto hash = v.find(" #");
        if (hash != std::string::npos) v.resize(hash);
        v.erase(0, v.find_first_not_of(" \t\"'"));
        v.erase(v.find_last_not_of(" \t\r\"'") + 1);
        return v;
    }
    return "";
}

}  // namespace

std::vector<ManifestSource> manifest_sources(const ManifestOptions& m) {
    std::vector<std::string> paths = m.paths;
    paths.insert(paths.end(), m.positional.begin(), m.positional.end());
    Diagnostics diags;
    std::vector<ManifestSource> sources;
    if (paths.empty()) {
        std::error_code ec;
        const auto cwd = std::filesystem::current_path(ec);
        std::vector<std::filesystem::path> candidates;
        for (const auto& entry : std::filesystem::directory_iterator(cwd, ec)) {
            const auto ext = entry.path().extension().string();
            if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file(ec)) {
                candidates.push_back(entry.path());
            }
        }
        std::sort(candidates.begin(), candidates.end());
        std::vector<std::string> found;
        for (const auto& c : candidates) found.push_back(c.filename().string());
        const auto all = read_manifest_sources(found, diags);
        diags.throw_if_any();
        std::map<std::string, std::vector<std::string>> labs;
        for (const auto& src : all) {
            if (!holds_lab_key(src.text)) continue;
            sources.push_back(src);
            labs[lab_value(src.text)].push_back(src.name);
        }
        if (sources.empty()) {
            throw Error(fmt::format(
                "no manifest given, and no *.yaml or *.yml file in {} holds a top-level `lab:` "
                "key; name the manifests: virtform plan FILE... (or -f FILE, -f - for stdin)",
                cwd.string()));
        }
        if (labs.size() > 1) {
            std::vector<std::string> parts;
            for (const auto& [lab, files] : labs) {
                parts.push_back(fmt::format("lab '{}' in {}", lab, fmt::join(files, ", ")));
            }
            throw Error(fmt::format(
                "no manifest given, and the current directory holds several labs ({}); name the "
                "manifests of one: virtform plan FILE...",
                fmt::join(parts, "; ")));
        }
        spdlog::info("manifests found in {}: {}", cwd.string(),
                     fmt::join(labs.begin()->second, ", "));
        return sources;
    }
    bool stdin_read = false;
    for (const auto& p : paths) {
        if (p == "-") {
            if (stdin_read) throw Error("`-` (standard input) may be given only once");
            stdin_read = true;
            std::ostringstream text;
            text << std::cin.rdbuf();
            sources.push_back({"<stdin>", text.str()});
        } else {
            auto more = read_manifest_sources({p}, diags);
            sources.insert(sources.end(), more.begin(), more.end());
        }
    }
    diags.throw_if_any();
    return sources;
}

ManifestVars manifest_vars(const ManifestOptions& m) {
    ManifestVars vars;
    for (const auto& v : m.vars) {
        const auto eq = v.find('=');
        const std::string name = v.substr(0, eq);
        const bool named = !name.empty() &&
                           std::isdigit(static_cast<unsigned char>(name[0])) == 0 &&
                           std::all_of(name.begin(), name.end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
                           });
        if (eq == std::string::npos || !named) {
            throw Error(
                fmt::format("--var takes NAME=VALUE (NAME: letters, digits and '_', not "
                            "starting with a digit); got '{}'",
                            terminal_escape(v)));
        }
        vars.values[name] = v.substr(eq + 1);
    }
    return vars;
}

Desired load(const ManifestOptions& m) {
    return load_manifests(manifest_sources(m), manifest_vars(m));
}

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& flag) {
    // ^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*(ms|s|m|h)?\s*$, by hand: a std::regex costs
    // every run of virtform (main parses --heartbeat-interval and the timeouts) about
    // 2M instructions to compile, more than the rest of the option parsing.
    auto bad = [&] {
        return Error(
            fmt::format("{} '{}': not a duration; write e.g. 30 (seconds), 250ms, 10s, 5m or 1h "
                        "(not negative)",
                        flag, text));
    };
    auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n && space(text[i])) ++i;
    const std::size_t num_begin = i;
    std::size_t int_digits = 0, frac_digits = 0;
    while (i < n && digit(text[i])) ++i, ++int_digits;
    if (i < n && text[i] == '.') {
        ++i;
        while (i < n && digit(text[i])) ++i, ++frac_digits;
        if (int_digits == 0 && frac_digits == 0) throw bad();
    } else if (int_digits == 0) {
        throw bad();
    }
    const std::string number = text.substr(num_begin, i - num_begin);
    while (i < n && space(text[i])) ++i;
    std::string unit = "s";
    if (text.compare(i, 2, "ms") == 0) {
        unit = "ms", i += 2;
    } else if (i < n && (text[i] == 's' || text[i] == 'm' || text[i] == 'h')) {
        unit = std::string(1, text[i]), ++i;
    }
    while (i < n && space(text[i])) ++i;
    if (i != n) throw bad();
    const double value = std::stod(number);
    const double ms = unit == "ms"  ? value
                      : unit == "s" ? value * 1000
                      : unit == "m" ? value * 60000
                                    : value * 3600000;
    if (ms > 1e12) throw Error(fmt::format("{} '{}': too long", flag, text));
    return std::chrono::milliseconds(static_cast<long long>(ms + 0.5));
}

std::string format_duration(std::chrono::milliseconds d) {
    long long ms = d.count();
    if (ms % 1000 != 0) return fmt::format("{}ms", ms);
    long long s = ms / 1000;
    std::string out;
    if (s >= 3600) out += fmt::format("{}h", s / 3600), s %= 3600;
    if (s >= 60) out += fmt::format("{}m", s / 60), s %= 60;
    if (s > 0 || out.empty()) out += fmt::format("{}s", s);
    return out;
}

std::string hint_for(const std::string& message) {
    auto has = [&](const char* what) { return message.find(what) != std::string::npos; };
    const bool root = ::geteuid() == 0;
    if (has("Unable to get system bus connection") || has("authentication unavailable") ||
        has("authentication failed") || has("Permission denied") || has("access denied") ||
        has("Operation not permitted")) {
        if (root) return "";
        return "hint: virtform manages host networks, bridges and qemu:///system: run it as root "
               "(sudo virtform ...), or join the `libvirt` group (sudo adduser $USER libvirt, "
               "then log in again) for libvirt access";
    }
    if (has("Failed to connect socket") || has("Connection refused") ||
        has("no connection driver available") || has("Cannot recv data") ||
        has("Cannot write data")) {
        return "hint: is libvirtd running? Start it with `systemctl start libvirtd` (or, without "
               "systemd, `virtlogd -d; libvirtd -d`), then check with `virsh -c URI version`; "
               "pick another host with --connect URI";
    }
    return "";
}

void check_files(const Desired& desired, const std::string& uri) {
    // On another host the files a VM names are that host's: not checked here.
    if (!libvirt::remote_host_of(uri).empty()) return;
    Diagnostics diags;
    // Each path once: a lab of 180 VMs names one kernel 180 times.
    std::map<std::string, bool> seen;
    auto exists = [&](const std::string& path) {
        auto [it, fresh] = seen.try_emplace(path, true);
        if (fresh) {
            std::error_code ec;
            it->second = std::filesystem::exists(path, ec);
        }
        return it->second;
    };
    auto need = [&](const Location& where, const std::optional<std::string>& path,
                    const auto& what) {
        if (path && !path->empty() && !exists(*path))
            diags.error(where, fmt::format("{}: no such file {}", what(), *path));
    };
    for (const auto& [name, vm] : desired.vms) {
        need(vm.where, vm.kernel, [&] { return fmt::format("kernel of VM '{}'", name); });
        need(vm.where, vm.initrd, [&] { return fmt::format("initrd of VM '{}'", name); });
        for (const auto& d : vm.disks) {
            if (d.type != Disk::Type::volume) {
                need(vm.where, d.path,
                     [&] { return fmt::format("disk '{}' of VM '{}'", d.name, name); });
            }
        }
    }
    for (const auto& [id, vol] : desired.volumes) {
        need(vol.where, vol.backing, [&] { return fmt::format("backing image of volume {}", id); });
        need(vol.where, vol.import_from,
             [&] { return fmt::format("image to import into volume {}", id); });
        for (const auto& image : {vol.backing, vol.import_from}) {
            if (!image || !exists(*image)) continue;
            if (auto p = libvirt::image_problem(*image, vol.allow_backing_chain); !p.empty())
                diags.error(vol.where, fmt::format("volume {}: image {}: {}", id, *image, p));
        }
    }
    diags.throw_if_any();
}

OutputFormat output_format(const std::string& format, bool json) {
    if (format.empty()) return json ? OutputFormat::json : OutputFormat::text;
    OutputFormat f = OutputFormat::text;
    if (format == "json") {
        f = OutputFormat::json;
    } else if (format == "markdown") {
        f = OutputFormat::markdown;
    } else if (format != "text") {
        throw Error(
            fmt::format("--format '{}': use text, json or markdown", terminal_escape(format)));
    }
    if (json && f != OutputFormat::json) {
        throw Error(fmt::format("--json and --format {} contradict each other; give one", format));
    }
    return f;
}

std::mutex g_out_mutex;  // progress lines come from parallel actions

std::unique_ptr<HostProvider> connect(const GlobalOptions& g, const Desired& desired,
                                      bool allow_restart, bool no_rollback, EarlyRead early) {
    auto make_libvirt = [&](libvirt::ProviderOptions options) {
        if (early.libvirt) {
            return std::make_unique<libvirt::LibvirtProvider>(
                g.uri, desired.lab, std::move(options), std::move(*early.libvirt));
        }
        return std::make_unique<libvirt::LibvirtProvider>(g.uri, desired.lab, std::move(options));
    };
    libvirt::ProviderOptions options;
    options.allow_restart = allow_restart;
    const std::string remote = libvirt::remote_host_of(g.uri);
    if (!remote.empty()) {
        // Another host: only what goes over libvirt's protocol, checked before
        // anything is read or touched. No netlink, KVM probe or pool directory
        // of this host stands for that one.
        Diagnostics diags;
        check_remote_host(desired, remote, diags);
        diags.throw_if_any();
        options.remote = true;
        std::cerr << fmt::format(
            "note: {} is another host: its interfaces' addresses and routes are not visible over "
            "libvirt's protocol, so subnets are checked against its libvirt networks only\n",
            terminal_escape(g.uri));
        spdlog::info("connecting to {}", g.uri);
        return std::make_unique<HostProvider>(make_libvirt(std::move(options)), nullptr);
    }
    // accel: auto needs to know whether KVM really works here (a cached probe),
    // and accel: kvm where it does not is a plan error with the probe's reason.
    const bool needs_probe =
        std::any_of(desired.vms.begin(), desired.vms.end(),
                    [](const auto& kv) { return kv.second.accel != Accel::qemu; });
    if (needs_probe) {
        host::SystemProbe probe;
        const auto kvm = host::probe_kvm(probe);
        options.kvm_usable = kvm.usable;
        if (!kvm.usable) options.kvm_detail = kvm.detail;
        spdlog::info("KVM usable on this host: {}", *options.kvm_usable);
    }
    for (const auto& [name, pool] : desired.pools) options.pool_paths.push_back(pool.path);
    options.on_notice = [](const ResourceId& id, const std::string& message) {
        std::lock_guard lock(g_out_mutex);
        std::cerr << fmt::format("{}: note: {}\n", id.str(), message) << std::flush;
    };
    spdlog::info("connecting to {}", g.uri);
    netlink::BridgeProviderOptions bridge_options;
    bridge_options.take_over.no_rollback = no_rollback;
    auto bridges = early.netlink
                       ? std::make_unique<netlink::BridgeProvider>(desired.lab, bridge_options,
                                                                   std::move(*early.netlink))
                       : std::make_unique<netlink::BridgeProvider>(desired.lab, bridge_options);
    return std::make_unique<HostProvider>(make_libvirt(std::move(options)), std::move(bridges));
}

std::string addresses_text(const std::vector<libvirt::GuestAddress>& addrs) {
    std::string out;
    for (const auto& a : addrs) out += (out.empty() ? "" : ", ") + a.address;
    return out;
}

AddressWait wait_for_addresses(HostProvider& host, const Desired& desired,
                               std::chrono::milliseconds timeout, bool print) {
    AddressWait result;
    std::vector<std::string> waiting;
    for (const auto& [name, vm] : desired.vms) {
        if (vm.state == VmState::running && !vm.nics.empty()) waiting.push_back(name);
    }
    if (waiting.empty()) return result;
    result.waited = true;
    std::cerr << fmt::format("\nWaiting up to {} for the addresses of {} VM{}...\n",
                             format_duration(timeout), waiting.size(),
                             waiting.size() == 1 ? "" : "s");
    result.missing = libvirt::wait_for_addresses(
        [&](const std::string& vm) { return host.libvirt().vm_addresses(vm); }, waiting, timeout,
        [&](const std::string& vm, const std::vector<libvirt::GuestAddress>& addrs, double secs) {
            for (const auto& a : addrs) result.found[vm].push_back(a.address);
            if (print) {
                std::cout << fmt::format("vm.{}: {} (after {:.0f}s)\n", vm, addresses_text(addrs),
                                         secs)
                          << std::flush;
            }
        },
        std::chrono::milliseconds(500),
        [] { return InterruptGuard::interrupt_signal() != 0; });  // Ctrl-C: stop waiting
    for (const auto& name : result.missing) {
        std::cerr << fmt::format("vm.{}: no address after {}\n", name, format_duration(timeout));
    }
    return result;
}

std::map<std::string, std::vector<VmAddress>> discover_addresses(const GlobalOptions& g,
                                                                 const Desired& desired) {
    std::map<std::string, std::vector<VmAddress>> out;
    for (const auto& [name, vm] : desired.vms) {
        try {
            // A lab with `hosts:`: each VM's addresses come from its own host
            // (a part of one host has no `hosts:`: its VMs are on g.uri).
            const auto on = desired.hosts.find(vm.host);
            const std::string& uri = on == desired.hosts.end() ? g.uri : on->second.uri;
            for (const auto& a : libvirt::vm_addresses(uri, name)) {
                out[name].push_back({a.mac, a.address});
            }
        } catch (const AdapterError& e) {
            spdlog::info("vm.{}: no address: {}", name, e.what());  // not defined: none
        }
    }
    return out;
}

std::vector<VmAccess> lab_access(const GlobalOptions& g, const Desired& desired, bool offline) {
    return vm_access(desired, offline ? std::map<std::string, std::vector<VmAddress>>{}
                                      : discover_addresses(g, desired));
}

void emit(const std::string& text, const std::string& path) {
    if (path.empty() || path == "-") {
        std::cout << text << std::flush;
        return;
    }
    SafeWriteOptions options;
    options.mode = 0644;
    write_file_atomically(path, text, "write the output file", options);
    std::cerr << fmt::format("wrote {}\n", terminal_escape(path));
}

std::string access_json(const Desired& desired, const std::vector<VmAccess>& vms) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& vm : vms) {
        nlohmann::json j{
            {"name", vm.vm},
            {"address", vm.address.empty() ? nlohmann::json() : nlohmann::json(vm.address)},
            {"address_source", vm.address_source},
            {"user", vm.user ? nlohmann::json(*vm.user) : nlohmann::json()},
            {"identity_file",
             vm.identity_file ? nlohmann::json(*vm.identity_file) : nlohmann::json()},
            {"port", vm.port},
            {"groups", vm.groups},
            {"networks", vm.networks}};
        list.push_back(j);
    }
    return nlohmann::json{{"format_version", "1"}, {"lab", desired.lab}, {"vms", list}}.dump(2) +
           "\n";
}

bool confirm(const std::string& question) {
    if (isatty(STDIN_FILENO) == 0) {
        throw Error(
            "standard input is not a terminal: pass --auto-approve to apply without asking");
    }
    std::cerr << "\n"
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

void print_progress(const ExecEvent& e, std::chrono::steady_clock::time_point t0,
                    const std::string& host) {
    const double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string who = host.empty() ? e.action.id.str() : host + ": " + e.action.id.str();
    if (e.type == ExecEvent::Type::started) {
        std::cerr << fmt::format("[{:6.1f}s] {}: {}\n", at, who,
                                 progress_verb(e.action.type, false));
    } else if (e.result.outcome == Outcome::done) {
        std::cerr << fmt::format("[{:6.1f}s] {}: {} after {:.1f}s\n", at, who,
                                 progress_verb(e.action.type, true), e.result.seconds());
    } else {
        std::cerr << fmt::format("[{:6.1f}s] {}: FAILED after {:.1f}s: {}\n", at, who,
                                 e.result.seconds(), e.result.message);
    }
    std::cerr.flush();
}

void refuse_cutting_off(const std::vector<std::string>& cut_off, bool force, bool destroy,
                        const std::string& where) {
    if (cut_off.empty() || force) return;
    throw Error(
        fmt::format("refusing to delete what others on {} still use: {}. Nothing was changed; "
                    "{} with --force to cut them off",
                    where, terminal_escape(fmt::format("{}", fmt::join(cut_off, "; "))),
                    destroy ? "destroy" : "apply"));
}

int print_cancelled(bool destroy, bool json) {
    std::cerr << fmt::format("\n{} cancelled.\n", destroy ? "Destroy" : "Apply");
    if (json) {
        std::cout << nlohmann::json{{"format_version", "1"},
                                    {"ok", false},
                                    {"error", "cancelled: the answer was not yes"}}
                         .dump(2)
                  << "\n";
    }
    return 1;
}

ResultTally tally(const Plan& plan, const ExecResult& result) {
    ResultTally t;
    for (std::size_t i = 0; i < plan.actions.size() && i < result.results.size(); ++i) {
        if (result.results[i].outcome != Outcome::done) continue;
        if (plan.actions[i].adopt) {
            ++t.adopted;
            if (plan.actions[i].changes.empty()) continue;
        }
        switch (plan.actions[i].type) {
            case ActionType::create:
                ++t.added;
                break;
            case ActionType::update:
                ++t.changed;
                break;
            case ActionType::replace:
                ++t.added, ++t.destroyed;
                break;
            case ActionType::destroy:
                ++t.destroyed;
                break;
        }
    }
    return t;
}

std::string complete_line(bool destroy, const ResultTally& t) {
    if (destroy) return fmt::format("\nDestroy complete! Resources: {} destroyed.\n", t.destroyed);
    return fmt::format("\nApply complete! Resources: {}{} added, {} changed, {} destroyed.\n",
                       t.adopted != 0 ? fmt::format("{} adopted, ", t.adopted) : "", t.added,
                       t.changed, t.destroyed);
}

std::string incomplete_line(bool destroy, bool interrupted, const ResultTally& t,
                            const ExecResult& result) {
    return fmt::format(
        "\n{} {}. Resources: {} added, {} changed, {} destroyed; {} failed, {} skipped, {} "
        "not started.\n",
        destroy ? "Destroy" : "Apply", interrupted ? "interrupted" : "incomplete", t.added,
        t.changed, t.destroyed, result.count(Outcome::failed), result.count(Outcome::skipped),
        result.count(Outcome::not_started));
}

void print_stats(HostProvider& provider) {
    if (std::getenv("VIRTFORM_STATS") == nullptr) return;
    std::cerr << fmt::format("virtform stats: libvirt round trips: {}\n",
                             provider.libvirt().round_trips());
}

int run_guarded(const std::function<int()>& command, bool json) {
    nlohmann::json doc{{"format_version", "1"}, {"ok", false}};
    try {
        return command();
    } catch (const ValidationError& e) {
        std::cerr << e.diagnostics().str();
        std::cerr << fmt::format("{} error{}; nothing was changed.\n", e.diagnostics().size(),
                                 e.diagnostics().size() == 1 ? "" : "s");
        doc["error"] = fmt::format("{} error{}; nothing was changed", e.diagnostics().size(),
                                   e.diagnostics().size() == 1 ? "" : "s");
        doc["diagnostics"] = nlohmann::json::array();
        for (const auto& d : e.diagnostics().items()) doc["diagnostics"].push_back(d.str());
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        doc["error"] = e.what();
        const std::string hint = hint_for(e.what());
        if (!hint.empty()) {
            std::cerr << hint << "\n";
            doc["hint"] = hint;
        }
    }
    if (json) std::cout << doc.dump(2) << "\n";
    return 1;
}

}  // namespace virtform::cli
