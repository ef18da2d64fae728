// `virtform ssh VM [-- CMD...]`: runs ssh with the VM's discovered address and
// the manifest's user and key (the process becomes ssh).
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "common.h"
#include "virtform/diag.h"
#include "virtform/error.h"

namespace virtform::cli {

const Vm& find_vm(const Desired& desired, const std::string& name) {
    auto it = desired.vms.find(name);
    if (it != desired.vms.end()) return it->second;
    std::vector<std::string> names;
    for (const auto& [n, vm] : desired.vms) names.push_back(n);
    const std::string guess = closest_match(name, names);
    throw Error(fmt::format("lab {} has no VM '{}'{}", desired.lab, terminal_escape(name),
                            guess.empty() ? "" : fmt::format("; did you mean '{}'?", guess)));
}

int cmd_ssh(const GlobalOptions& g, const ManifestOptions& m, const SshOptions& o) {
    Desired desired = load(m);
    find_vm(desired, o.vm);
    // Only the addresses the host reports: a declared one may not be up.
    Desired one = desired;
    one.vms = {{o.vm, desired.vms.at(o.vm)}};
    auto discovered = discover_addresses(g, one);
    const auto vms = vm_access(one, discovered);
    VmAccess access = vms.front();
    if (discovered[o.vm].empty()) access.address.clear();
    const auto argv = ssh_argv(access, o.command);
    if (o.dry_run) {
        std::cout << terminal_escape(shell_join(argv)) << "\n";
        return 0;
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    throw Error(fmt::format("cannot run ssh: {} (install openssh-client)", std::strerror(errno)));
}

}  // namespace virtform::cli
