#include "virtform/access.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "virtform/error.h"

namespace virtform {

namespace {

std::string bare_ip(const std::string& address) {
    return address.substr(0, address.find('/'));
}

bool is_ipv4(const std::string& address) {
    return address.find(':') == std::string::npos;
}

/// A YAML scalar as a double-quoted string (JSON's escapes are YAML's).
std::string yaml_quoted(const std::string& s) {
    return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// A mapping key: plain when nothing in it could be read as another type or
/// as YAML syntax, else quoted.
std::string yaml_key(const std::string& s) {
    static const char* const kSpecial[] = {"true", "false", "yes", "no", "on",
                                           "off",  "null",  "y",   "n",  "~"};
    std::string lower = s;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const bool special =
        std::find(std::begin(kSpecial), std::end(kSpecial), lower) != std::end(kSpecial);
    const bool plain = !s.empty() && !special &&
                       (std::isalpha(static_cast<unsigned char>(s[0])) != 0 || s[0] == '_') &&
                       std::all_of(s.begin(), s.end(), [](unsigned char c) {
                           return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '.';
                       });
    return plain ? s : yaml_quoted(s);
}

/// A value for ssh_config: quoted when it holds a space; '%' doubled (ssh
/// expands %-tokens in IdentityFile). Throws for what it cannot hold.
std::string ssh_config_value(const std::string& vm, const std::string& key, const std::string& v) {
    for (unsigned char c : v) {
        if (c < 0x20 || c == 0x7f || c == '"') {
            throw Error(
                fmt::format("vm {}: {} {} cannot be written to an ssh_config (a quote or "
                            "control character)",
                            vm, key, nlohmann::json(v).dump()));
        }
    }
    std::string out;
    for (char c : v) out += c == '%' ? std::string("%%") : std::string(1, c);
    return v.find(' ') != std::string::npos ? "\"" + out + "\"" : out;
}

std::string begin_marker(const std::string& lab) {
    return "# BEGIN virtform lab " + lab;
}
std::string end_marker(const std::string& lab) {
    return "# END virtform lab " + lab;
}

/// Whether `line` is `marker`, alone or followed by " (...)".
bool is_marker_line(const std::string& line, const std::string& marker) {
    if (line.rfind(marker, 0) != 0) return false;
    const std::string rest = line.substr(marker.size());
    return rest.empty() || rest == "\r" || rest.rfind(" (", 0) == 0;
}

}  // namespace

std::optional<std::string> cloud_init_user(const std::string& user_data) {
    if (user_data.rfind("#cloud-config", 0) != 0) return std::nullopt;
    try {
        const YAML::Node doc = YAML::Load(user_data);  // const: [] never inserts
        if (!doc.IsMap()) return std::nullopt;
        // A missing key is an invalid node, which throws when asked its type.
        if (const YAML::Node users = doc["users"]; users.IsDefined() && users.IsSequence()) {
            for (const auto& u : users) {
                std::string name;
                if (u.IsScalar()) name = u.Scalar();
                if (u.IsMap() && u["name"].IsDefined() && u["name"].IsScalar())
                    name = u["name"].Scalar();
                if (!name.empty() && name != "default") return name;
            }
        }
        if (const YAML::Node si = doc["system_info"]; si.IsDefined() && si.IsMap()) {
            if (const YAML::Node du = si["default_user"]; du.IsDefined() && du.IsMap()) {
                const YAML::Node name = du["name"];
                if (name.IsDefined() && name.IsScalar()) return name.Scalar();
            }
        }
    } catch (const YAML::Exception&) {
        return std::nullopt;  // cloud-init would not read it either
    }
    return std::nullopt;
}

std::map<std::string, std::vector<VmAddress>> declared_addresses(const Desired& desired) {
    std::map<std::string, std::vector<VmAddress>> out;
    for (const auto& [name, vm] : desired.vms) {
        for (const auto& nic : vm.nics) {
            if (nic.type != Nic::Type::network || !nic.mac) continue;
            auto net = desired.networks.find(nic.source);
            if (net == desired.networks.end()) continue;
            for (const auto* ip : {&net->second.ipv4, &net->second.ipv6}) {
                if (!*ip) continue;
                for (const auto& h : (*ip)->hosts) {
                    if (h.mac == *nic.mac) {
                        out[name].push_back(
                            {h.mac, fmt::format("{}/{}", h.ip.str(), (*ip)->address.prefix)});
                    }
                }
            }
        }
    }
    return out;
}

std::vector<VmAccess> vm_access(const Desired& desired,
                                const std::map<std::string, std::vector<VmAddress>>& discovered) {
    const auto declared = declared_addresses(desired);
    std::vector<VmAccess> out;
    for (const auto& [name, vm] : desired.vms) {
        VmAccess a;
        a.vm = name;
        a.port = vm.ssh.port;
        a.identity_file = vm.ssh.identity_file;
        a.user = vm.ssh.user;
        if (!a.user && vm.cloud_init) a.user = cloud_init_user(vm.cloud_init->user_data);
        a.groups = vm.groups;
        for (const auto& nic : vm.nics) {
            if (std::find(a.networks.begin(), a.networks.end(), nic.source) == a.networks.end())
                a.networks.push_back(nic.source);
        }
        std::vector<VmAddress> addrs;
        if (auto it = discovered.find(name); it != discovered.end() && !it->second.empty()) {
            addrs = it->second;
            a.address_source = "host";
        } else if (auto d = declared.find(name); d != declared.end()) {
            addrs = d->second;
            a.address_source = "manifest";
        }
        std::stable_partition(addrs.begin(), addrs.end(),
                              [](const VmAddress& x) { return is_ipv4(x.address); });
        if (!addrs.empty()) {
            a.address = bare_ip(addrs.front().address);
            // The domain of the network whose subnet holds the address.
            const auto ip = IpAddress::parse(a.address);
            for (const auto& nic : vm.nics) {
                auto net = desired.networks.find(nic.source);
                if (net == desired.networks.end() || !net->second.domain || !ip) continue;
                for (const auto* cfg : {&net->second.ipv4, &net->second.ipv6}) {
                    if (*cfg && (*cfg)->address.contains(*ip) && !a.domain)
                        a.domain = net->second.domain;
                }
            }
        } else {
            a.address_source.clear();
        }
        out.push_back(std::move(a));
    }
    return out;
}

std::string ansible_group_name(const std::string& name) {
    std::string out;
    for (unsigned char c : name) out += std::isalnum(c) != 0 || c == '_' ? char(c) : '_';
    if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])) != 0) out = "_" + out;
    return out;
}

std::string render_inventory(const std::string& lab, const std::vector<VmAccess>& vms) {
    std::string out =
        fmt::format("# Ansible inventory of lab {}, written by `virtform inventory`.\n",
                    nlohmann::json(lab).dump());
    out += "all:\n  hosts:\n";
    if (vms.empty()) out.resize(out.size() - 1), out += " {}\n";
    std::map<std::string, std::vector<std::string>> groups;
    for (const auto& vm : vms) {
        std::string vars;
        if (!vm.address.empty()) vars += "      ansible_host: " + yaml_quoted(vm.address) + "\n";
        if (vm.user) vars += "      ansible_user: " + yaml_quoted(*vm.user) + "\n";
        if (vm.identity_file) {
            vars += "      ansible_ssh_private_key_file: " + yaml_quoted(*vm.identity_file) + "\n";
        }
        if (vm.port != 22) vars += fmt::format("      ansible_port: {}\n", vm.port);
        out += "    " + yaml_key(vm.vm) + ":" + (vars.empty() ? " {}\n" : "\n" + vars);
        for (const auto& n : vm.networks) groups[ansible_group_name(n)].push_back(vm.vm);
        for (const auto& g : vm.groups) groups[ansible_group_name(g)].push_back(vm.vm);
    }
    if (!groups.empty()) {
        out += "  children:\n";
        for (const auto& [group, members] : groups) {
            out += "    " + yaml_key(group) + ":\n      hosts:\n";
            std::vector<std::string> seen;
            for (const auto& m : members) {
                if (std::find(seen.begin(), seen.end(), m) != seen.end()) continue;
                seen.push_back(m);
                out += "        " + yaml_key(m) + ": {}\n";
            }
        }
    }
    return out;
}

std::string render_ssh_config(const std::string& lab, const std::vector<VmAccess>& vms) {
    std::string out = fmt::format(
        "# ssh_config of lab {}, written by `virtform ssh-config`: ssh -F FILE VM\n"
        "# Lab VMs get new host keys when they are re-created: keys are accepted, not kept.\n",
        nlohmann::json(lab).dump());
    for (const auto& vm : vms) {
        if (vm.address.empty()) {
            out += fmt::format("\n# {}: no address known\n", vm.vm);
            continue;
        }
        out += fmt::format("\nHost {}\n  HostName {}\n", vm.vm, vm.address);
        if (vm.port != 22) out += fmt::format("  Port {}\n", vm.port);
        if (vm.user) out += "  User " + ssh_config_value(vm.vm, "user", *vm.user) + "\n";
        if (vm.identity_file) {
            out += "  IdentityFile " + ssh_config_value(vm.vm, "identity_file", *vm.identity_file) +
                   "\n  IdentitiesOnly yes\n";
        }
        out +=
            "  StrictHostKeyChecking accept-new\n  UserKnownHostsFile /dev/null\n"
            "  LogLevel ERROR\n";
    }
    return out;
}

std::string hosts_block(const std::string& lab, const std::vector<VmAccess>& vms) {
    std::string out = begin_marker(lab) + " (written by `virtform hosts`; do not edit)\n";
    for (const auto& vm : vms) {
        if (vm.address.empty()) continue;
        out += vm.address + "\t" + vm.vm;
        if (vm.domain) out += " " + vm.vm + "." + *vm.domain;
        out += "\n";
    }
    return out + end_marker(lab) + "\n";
}

std::string replace_hosts_block(const std::string& text, const std::string& lab,
                                const std::string& block) {
    // Lines with their newlines, so that what is kept is kept byte for byte.
    std::size_t begin = std::string::npos, end = std::string::npos;
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t nl = text.find('\n', pos);
        const std::size_t next = nl == std::string::npos ? text.size() : nl + 1;
        const std::string line =
            text.substr(pos, (nl == std::string::npos ? text.size() : nl) - pos);
        if (begin == std::string::npos && is_marker_line(line, begin_marker(lab))) {
            begin = pos;
        } else if (begin != std::string::npos && is_marker_line(line, end_marker(lab))) {
            end = next;
            break;
        }
        pos = next;
    }
    if (begin != std::string::npos && end == std::string::npos) {
        throw Error(fmt::format("the hosts file has '{}' without '{}': fix it by hand first",
                                begin_marker(lab), end_marker(lab)));
    }
    if (begin != std::string::npos) {
        return text.substr(0, begin) + block + text.substr(end);
    }
    if (block.empty()) return text;
    std::string out = text;
    if (!out.empty() && out.back() != '\n') out += '\n';
    return out + block;
}

std::vector<std::string> ssh_argv(const VmAccess& vm, const std::vector<std::string>& command) {
    if (vm.address.empty()) {
        throw Error(
            fmt::format("vm {}: no address known (is it running, and has it taken a "
                        "DHCP lease? `virtform status` lists the addresses)",
                        vm.vm));
    }
    std::vector<std::string> argv = {"ssh",
                                     "-o",
                                     "StrictHostKeyChecking=accept-new",
                                     "-o",
                                     "UserKnownHostsFile=/dev/null",
                                     "-o",
                                     "LogLevel=ERROR"};
    if (vm.port != 22) argv.insert(argv.end(), {"-p", std::to_string(vm.port)});
    if (vm.identity_file) {
        argv.insert(argv.end(), {"-i", *vm.identity_file, "-o", "IdentitiesOnly=yes"});
    }
    if (vm.user) argv.insert(argv.end(), {"-l", *vm.user});
    argv.insert(argv.end(), {"--", vm.address});
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
}

std::string shell_join(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) out += ' ';
        const bool plain = !a.empty() && std::all_of(a.begin(), a.end(), [](unsigned char c) {
            return std::isalnum(c) != 0 ||
                   std::string_view("-_./=:@%+,").find(c) != std::string_view::npos;
        });
        if (plain) {
            out += a;
            continue;
        }
        out += '\'';
        for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
        out += '\'';
    }
    return out;
}

}  // namespace virtform
