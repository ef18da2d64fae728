#pragma once
/// How people and tools reach a lab's VMs: the Ansible inventory, an
/// ssh_config, a marked block of /etc/hosts and the ssh command line, built
/// from the manifests and the addresses the host reports. Pure: the CLI reads
/// the addresses and writes the files.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform {

/// One address of a VM: the NIC's MAC and "ip/prefix" (or a bare ip).
struct VmAddress {
    std::string mac;
    std::string address;
};

/// Everything a tool needs to reach one VM.
struct VmAccess {
    std::string vm;
    std::string address;  ///< bare IP ("10.0.0.5"); "" when none is known
    /// "host" (discovered: DHCP lease or guest agent), "manifest" (a DHCP host
    /// entry for a MAC of the VM), "" when none is known.
    std::string address_source;
    std::optional<std::string> user;  ///< `ssh.user`, else cloud-init's first user
    std::optional<std::string> identity_file;
    int port = 22;
    std::vector<std::string> groups;    ///< the VM's `groups:`
    std::vector<std::string> networks;  ///< networks and bridges its NICs are on, in order
    std::optional<std::string> domain;  ///< DNS domain of the network of `address`
};

/// The first user cloud-init creates from a `#cloud-config` user_data:
/// `users:`' first entry other than `default` (its `name`, or the string
/// itself), else `system_info.default_user.name`; nullopt when there is none
/// or the text is not a cloud-config that parses.
std::optional<std::string> cloud_init_user(const std::string& user_data);

/// The addresses the manifests fix: DHCP host entries of the lab's networks
/// for a MAC of a VM's NIC on that network, by VM.
std::map<std::string, std::vector<VmAddress>> declared_addresses(const Desired& desired);

/// One entry per VM of the manifests, in name order. `discovered` holds what
/// the host reports (by VM); a VM with none there gets its declared address.
/// IPv4 addresses are preferred over IPv6.
std::vector<VmAccess> vm_access(const Desired& desired,
                                const std::map<std::string, std::vector<VmAddress>>& discovered);

/// `name` as an Ansible group: characters other than letters, digits and '_'
/// become '_', and a leading digit gets a '_' before it.
std::string ansible_group_name(const std::string& name);

/// An Ansible YAML inventory: every VM under `all.hosts` (ansible_host, user,
/// key, port), a group per network or bridge its NICs are on and per name of
/// its `groups:`. VMs without an address are listed without ansible_host.
std::string render_inventory(const std::string& lab, const std::vector<VmAccess>& vms);

/// `Host` blocks for `ssh -F FILE VM`. VMs without an address are left out
/// (named in a comment). Throws Error for a value ssh_config cannot hold.
std::string render_ssh_config(const std::string& lab, const std::vector<VmAccess>& vms);

/// The lab's block for /etc/hosts: a "# BEGIN virtform lab LAB" line, one
/// "ADDRESS NAME [NAME.DOMAIN]" line per VM with an address, a "# END" line.
std::string hosts_block(const std::string& lab, const std::vector<VmAccess>& vms);

/// `text` (a hosts file) with the lab's block replaced by `block`, appended
/// when there is none, or removed when `block` is empty. Everything outside
/// the block is kept byte for byte (a missing final newline is added before
/// an appended block). Throws Error when a BEGIN line has no END.
std::string replace_hosts_block(const std::string& text, const std::string& lab,
                                const std::string& block);

/// The ssh command line that reaches `vm` and runs `command` there (a login
/// shell when empty). Throws Error when the VM has no address.
std::vector<std::string> ssh_argv(const VmAccess& vm, const std::vector<std::string>& command);

/// `argv` as one line a POSIX shell reads back as the same words.
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace virtform
