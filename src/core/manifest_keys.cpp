// The manifest's key table (manifest_keys.h) and the JSON Schema made from it.
#include "manifest_keys.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "virtform/manifest.h"

namespace virtform::detail {
namespace {

using K = KeyType;

KeySpec count_key() {
    return {"count", K::integer, "make this many objects, NAME-1..NAME-N ({{ index }} in values)",
            nullptr, 1,          kMaxCount,
            {},      true};
}
KeySpec host_key() {
    return {"host", K::string,
            "the host (of `hosts:`) it lives on; default: local, the --connect URI"};
}
KeySpec template_key() {
    return {"template", K::string, "a template (of this kind) whose keys this object inherits",
            nullptr,    0,         0,
            {},         true};
}

std::vector<KeySection> make_sections() {
    return {
        {"manifest",
         "A virtform lab manifest (docs/manifest.md).",
         {
             {"lab", K::string, "the lab's name: the mark of everything it owns"},
             {"networks", K::names, "libvirt networks, by name", "network"},
             {"bridges", K::names, "Linux bridges managed over netlink, by name", "bridge"},
             {"pools", K::names, "libvirt directory pools, by name", "pool"},
             {"vms", K::names, "virtual machines, by name", "vm"},
             {"hosts", K::names, "other libvirt hosts the lab spans, by name", "lab_host"},
             {"defaults",
              K::mapping,
              "keys every object of a kind gets unless it sets them",
              "defaults",
              0,
              0,
              {},
              true},
             {"templates",
              K::mapping,
              "named sets of keys objects inherit with `template:`",
              "templates",
              0,
              0,
              {},
              true},
         }},
        {"defaults",
         "Per kind: keys every object of that kind gets unless it (or its template) sets them.",
         {
             {"networks", K::mapping, "", "network"},
             {"bridges", K::mapping, "", "bridge"},
             {"pools", K::mapping, "", "pool"},
             {"vms", K::mapping, "", "vm"},
         }},
        {"templates",
         "Per kind, named templates; an object names one with `template: NAME`.",
         {
             {"networks", K::names, "", "network"},
             {"bridges", K::names, "", "bridge"},
             {"pools", K::names, "", "pool"},
             {"vms", K::names, "", "vm"},
         }},
        {"network",
         "A libvirt network.",
         {
             {"mode",
              K::choice,
              "how guests reach the outside",
              nullptr,
              0,
              0,
              {"nat", "route", "isolated", "open", "bridge"}},
             {"bridge", K::string, "the Linux bridge's name (mode bridge: an existing one)"},
             {"ipv4", K::mapping, "the IPv4 address, subnet and DHCP", "ip"},
             {"ipv6", K::mapping, "the IPv6 address, subnet and DHCP", "ip"},
             {"dns", K::mapping, "static DNS entries", "dns"},
             {"domain", K::string, "the DNS domain of the guests"},
             {"mtu", K::integer, "the bridge's MTU", nullptr, 68, 65535},
             {"stp", K::boolean, "spanning tree on the bridge"},
             {"autostart", K::boolean, "start with libvirtd"},
             {"active", K::boolean, "running"},
             count_key(),
             {"adopt", K::boolean,
              "take an existing object of this name that no lab owns as the lab's"},
             host_key(),
             template_key(),
         },
         true},
        {"ip",
         "An address family's configuration of a network.",
         {
             {"address", K::string, "the host's address with prefix, e.g. 192.168.100.1/24"},
             {"dhcp", K::mapping, "the DHCP server", "dhcp"},
         }},
        {"dhcp",
         "DHCP of a network.",
         {
             {"range", K::string_or_mapping, "'first-last' or {start, end}", "dhcp_range"},
             {"hosts", K::list, "static leases (IPv4)", "dhcp_host"},
         }},
        {"dhcp_range",
         "A DHCP range.",
         {
             {"start", K::string, "the first address"},
             {"end", K::string, "the last address"},
         }},
        {"dhcp_host",
         "A static DHCP lease.",
         {
             {"mac", K::string, "the guest's MAC address"},
             {"ip", K::string, "the address it gets"},
             {"name", K::string, "its host name"},
         }},
        {"dns",
         "Static DNS entries of a network.",
         {
             {"hosts", K::list, "addresses and their names", "dns_host"},
         }},
        {"dns_host",
         "A DNS entry.",
         {
             {"ip", K::string, "the address"},
             {"names", K::list, "its host names"},
         }},
        {"bridge",
         "A Linux bridge virtform manages over netlink.",
         {
             {"ports", K::list, "host interfaces enslaved to the bridge"},
             {"stp", K::boolean_or_mapping, "spanning tree: true/false or its settings",
              "bridge_stp"},
             {"mtu", K::integer, "the MTU", nullptr, 68, 65535},
             {"mac", K::string, "the bridge's MAC address"},
             {"addresses", K::list, "addresses with prefix the bridge holds"},
             {"up", K::boolean, "administratively up"},
             {"vlan_filtering", K::boolean, "VLAN filtering"},
             {"take_over_addresses", K::string, "a port whose addresses move to the bridge"},
             {"adopt", K::boolean,
              "take an existing object of this name that no lab owns as the lab's"},
             host_key(),
             template_key(),
         },
         true},
        {"lab_host",
         "A libvirt host of the lab, reached over libvirt's remote protocol.",
         {
             {"uri", K::string, "its libvirt URI, e.g. qemu+ssh://root@b.example/system"},
         }},
        {"bridge_stp",
         "Spanning tree settings of a bridge.",
         {
             {"enabled", K::boolean, "spanning tree on"},
             {"forward_delay", K::number, "seconds", nullptr, 2, 30},
             {"hello_time", K::number, "seconds", nullptr, 1, 10},
             {"max_age", K::number, "seconds", nullptr, 6, 40},
             {"priority", K::integer, "bridge priority", nullptr, 0, 65535},
         }},
        {"pool",
         "A libvirt directory pool.",
         {
             {"path", K::path, "the directory"},
             {"autostart", K::boolean, "start with libvirtd"},
             {"active", K::boolean, "running"},
             {"adopt", K::boolean,
              "take an existing object of this name that no lab owns as the lab's"},
             host_key(),
             template_key(),
         }},
        {"vm",
         "A virtual machine.",
         {
             {"cpus", K::integer, "vCPUs", nullptr, 1, 1024},
             {"max_cpus", K::integer, "vCPUs it may grow to live", nullptr, 1, 1024},
             {"memory", K::size, "memory, e.g. 1GiB"},
             {"max_memory", K::size, "memory it may grow to live"},
             {"accel", K::choice, "accelerator", nullptr, 0, 0, {"auto", "kvm", "qemu"}},
             {"machine", K::choice, "machine type", nullptr, 0, 0, {"q35", "pc"}},
             {"cpu_mode",
              K::choice,
              "CPU model",
              nullptr,
              0,
              0,
              {"host-passthrough", "host-model", "maximum"}},
             {"firmware", K::choice, "firmware", nullptr, 0, 0, {"bios", "uefi"}},
             {"disks", K::list, "disks, in order", "disk"},
             {"boot", K::list, "boot devices: hd, cdrom, network"},
             {"kernel", K::path, "direct kernel boot"},
             {"initrd", K::path, "its initrd"},
             {"cmdline", K::string, "its command line"},
             {"nics", K::list, "network interfaces, in order", "nic"},
             {"graphics", K::choice, "display", nullptr, 0, 0, {"none", "vnc", "spice"}},
             {"console", K::string_or_mapping, "'pty' or {file: /path}", "console"},
             {"cloud_init", K::mapping, "a cloud-init NoCloud seed", "cloud_init"},
             {"state", K::choice, "running or stopped", nullptr, 0, 0, {"running", "stopped"}},
             {"autostart", K::boolean, "start with libvirtd"},
             {"shutdown_timeout", K::integer, "seconds of graceful shutdown", nullptr, 0, 3600},
             count_key(),
             {"adopt", K::boolean,
              "take an existing object of this name that no lab owns as the lab's"},
             {"groups", K::list, "Ansible inventory groups (virtform inventory)"},
             {"ssh", K::mapping, "how virtform ssh, ssh-config and inventory reach it", "vm_ssh"},
             host_key(),
             template_key(),
         }},
        {"disk",
         "A disk: a volume (name, pool, size), a cdrom or an image file.",
         {
             {"name", K::string, "the disk's name (volume: NAME of VM-NAME.FORMAT)"},
             {"pool", K::string, "the pool of the volume"},
             {"size", K::size, "the volume's capacity"},
             {"format", K::choice, "volume format", nullptr, 0, 0, {"qcow2", "raw"}},
             {"backing", K::path, "a qcow2 backing image"},
             {"import", K::path, "an image copied into the volume"},
             {"keep", K::boolean, "keep the volume when the VM goes"},
             {"allow_backing_chain", K::boolean, "accept an image that has a backing chain"},
             {"cdrom", K::path, "an ISO image"},
             {"file", K::path, "an image file used in place"},
             {"bus", K::choice, "disk bus", nullptr, 0, 0, {"virtio", "sata", "scsi", "ide"}},
         }},
        {"nic",
         "A network interface.",
         {
             {"network", K::string, "a libvirt network"},
             {"bridge", K::string, "a host bridge"},
             {"mac", K::string, "its MAC address"},
             {"model",
              K::choice,
              "device model",
              nullptr,
              0,
              0,
              {"virtio", "e1000", "e1000e", "rtl8139"}},
         }},
        {"vm_ssh",
         "How the access commands reach a VM over ssh.",
         {
             {"user", K::string, "the user to log in as"},
             {"identity_file", K::path, "the private key"},
             {"port", K::integer, "the ssh port", nullptr, 1, 65535},
         }},
        {"console",
         "A serial console written to a file.",
         {
             {"file", K::path, "the file"},
         }},
        {"cloud_init",
         "A cloud-init NoCloud seed.",
         {
             {"user_data", K::text, "#cloud-config or a script"},
             {"meta_data", K::text, "meta-data"},
             {"network_config", K::text, "network-config"},
             {"ssh_authorized_keys", K::list, "SSH public keys, one per entry"},
         }},
    };
}

}  // namespace

const KeySpec* KeySection::find(const std::string& key) const {
    for (const auto& k : keys) {
        if (key == k.name) return &k;
    }
    return nullptr;
}

std::vector<std::string> KeySection::names() const {
    std::vector<std::string> out;
    for (const auto& k : keys) out.emplace_back(k.name);
    return out;
}

const std::vector<KeySection>& key_sections() {
    static const std::vector<KeySection> sections = make_sections();
    return sections;
}

const KeySection& key_section(const std::string& id) {
    for (const auto& s : key_sections()) {
        if (id == s.id) return s;
    }
    throw std::logic_error("no manifest key section '" + id + "'");
}

}  // namespace virtform::detail

namespace virtform {
namespace {

using detail::KeyType;
using nlohmann::json;

/// A value written as ${VAR} or {{ expr }} is a string to YAML tools until
/// virtform substitutes it: accepted wherever a number or boolean is.
json templated() {
    return {{"type", "string"}, {"pattern", "\\$\\{|\\{\\{"}};
}

json ref(const char* section) {
    return {{"$ref", std::string("#/$defs/") + section}};
}

json key_schema(const detail::KeySpec& k) {
    json s;
    switch (k.type) {
        case KeyType::string:
        case KeyType::text:
        case KeyType::size:
            s = {{"type", "string"}};
            break;
        case KeyType::path:
            s = {{"type", "string"}, {"pattern", "^(/|\\$\\{)"}};
            break;
        case KeyType::integer:
            s = {{"anyOf",
                  {{{"type", "integer"}, {"minimum", k.min}, {"maximum", k.max}}, templated()}}};
            break;
        case KeyType::number:
            s = {{"anyOf",
                  {{{"type", "number"}, {"minimum", k.min}, {"maximum", k.max}}, templated()}}};
            break;
        case KeyType::boolean:
            s = {{"anyOf", {{{"type", "boolean"}}, templated()}}};
            break;
        case KeyType::choice:
            s = {{"anyOf", {{{"enum", k.choices}}, templated()}}};
            break;
        case KeyType::mapping:
            s = ref(k.ref);
            break;
        case KeyType::names:
            s = {{"type", "object"}, {"additionalProperties", ref(k.ref)}};
            break;
        case KeyType::list:
            s = {{"type", "array"},
                 {"items", k.ref != nullptr ? ref(k.ref) : json{{"type", "string"}}}};
            break;
        case KeyType::string_or_mapping:
            s = {{"anyOf", {{{"type", "string"}}, ref(k.ref)}}};
            break;
        case KeyType::boolean_or_mapping:
            s = {{"anyOf", {{{"type", "boolean"}}, templated(), ref(k.ref)}}};
            break;
    }
    if (k.description != nullptr && *k.description != '\0') s["description"] = k.description;
    return s;
}

}  // namespace

std::string manifest_json_schema() {
    json defs = json::object();
    for (const auto& section : detail::key_sections()) {
        json props = json::object();
        for (const auto& k : section.keys) props[k.name] = key_schema(k);
        // YAML merge keys are resolved by the loader (and by YAML tools).
        props["<<"] = json::object();
        json obj = {{"type", section.nullable ? json{"object", "null"} : json("object")},
                    {"description", section.description},
                    {"properties", props},
                    {"additionalProperties", false}};
        if (std::string(section.id) == "manifest") {
            obj["patternProperties"] = {{"^x-", json::object()}};
        }
        defs[section.id] = obj;
    }
    json schema = {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                   {"title", "virtform manifest"},
                   {"$ref", "#/$defs/manifest"},
                   {"$defs", defs}};
    return schema.dump(2) + "\n";
}

}  // namespace virtform
