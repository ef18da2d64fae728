// The key table behind `virtform schema` (issue 13) is the loader's: every key
// of the table is read by the loader (a bad value of it is an error about that
// value, never "unknown key"), and the loader reads no key outside it (it
// would throw std::logic_error, so every manifest test checks that too).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "../../src/core/manifest_keys.h"
#include "virtform/diag.h"
#include "virtform/manifest.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;

/// Per section: a valid manifest and the path to one mapping of that section.
struct Context {
    const char* yaml;
    std::vector<std::string> path;
};

const std::map<std::string, Context> kContexts = {
    {"manifest", {"lab: t\n", {}}},
    {"defaults", {"lab: t\ndefaults: {}\n", {"defaults"}}},
    {"templates", {"lab: t\ntemplates: {}\n", {"templates"}}},
    {"network", {"lab: t\nnetworks: {n: {mode: isolated}}\n", {"networks", "n"}}},
    {"ip",
     {"lab: t\nnetworks: {n: {mode: isolated, ipv4: {address: 10.0.0.1/24}}}\n",
      {"networks", "n", "ipv4"}}},
    {"dhcp",
     {"lab: t\nnetworks: {n: {mode: isolated, ipv4: {address: 10.0.0.1/24, dhcp: {}}}}\n",
      {"networks", "n", "ipv4", "dhcp"}}},
    {"dhcp_range",
     {"lab: t\nnetworks: {n: {mode: isolated, ipv4: {address: 10.0.0.1/24, dhcp: {range: "
      "{start: 10.0.0.5, end: 10.0.0.9}}}}}\n",
      {"networks", "n", "ipv4", "dhcp", "range"}}},
    {"dhcp_host",
     {"lab: t\nnetworks: {n: {mode: isolated, ipv4: {address: 10.0.0.1/24, dhcp: {hosts: "
      "[{mac: '52:54:00:00:00:01', ip: 10.0.0.5}]}}}}\n",
      {"networks", "n", "ipv4", "dhcp", "hosts", "0"}}},
    {"dns", {"lab: t\nnetworks: {n: {mode: isolated, dns: {}}}\n", {"networks", "n", "dns"}}},
    {"dns_host",
     {"lab: t\nnetworks: {n: {mode: isolated, dns: {hosts: [{ip: 10.0.0.5, names: [a]}]}}}\n",
      {"networks", "n", "dns", "hosts", "0"}}},
    {"bridge", {"lab: t\nbridges: {br0: {ports: [p1]}}\n", {"bridges", "br0"}}},
    {"bridge_stp", {"lab: t\nbridges: {br0: {stp: {}}}\n", {"bridges", "br0", "stp"}}},
    {"pool", {"lab: t\npools: {p: {path: /srv/p}}\n", {"pools", "p"}}},
    {"vm", {"lab: t\nvms: {a: {}}\n", {"vms", "a"}}},
    {"disk",
     {"lab: t\npools: {p: {path: /srv/p}}\nvms: {a: {disks: [{name: d, pool: p, size: 1GiB}]}}\n",
      {"vms", "a", "disks", "0"}}},
    {"nic", {"lab: t\nvms: {a: {nics: [{network: x}]}}\n", {"vms", "a", "nics", "0"}}},
    {"console", {"lab: t\nvms: {a: {console: {file: /x}}}\n", {"vms", "a", "console"}}},
    {"cloud_init", {"lab: t\nvms: {a: {cloud_init: {}}}\n", {"vms", "a", "cloud_init"}}},
    {"vm_ssh", {"lab: t\nvms: {a: {ssh: {}}}\n", {"vms", "a", "ssh"}}},
    {"lab_host", {"lab: t\nhosts: {b: {uri: qemu+tcp://b/system}}\n", {"hosts", "b"}}},
};

std::vector<std::string> errors_of(const std::string& text) {
    try {
        load_manifests({{"lab.yaml", text}}, ManifestVars{{}, false});
    } catch (const ValidationError& e) {
        std::vector<std::string> out;
        for (const auto& d : e.diagnostics().items()) out.push_back(d.str());
        return out;
    }
    return {};
}

TEST(ManifestSchema, TheLoaderReadsEveryKeyOfTheTable) {
    std::size_t keys = 0;
    for (const auto& section : detail::key_sections()) {
        SCOPED_TRACE(section.id);
        ASSERT_EQ(kContexts.count(section.id), 1u) << "add a context for section " << section.id;
        const Context& c = kContexts.at(section.id);
        // The context itself is valid (or only misses a network: no unknown key).
        for (const auto& e : errors_of(c.yaml)) EXPECT_THAT(e, Not(HasSubstr("unknown key"))) << e;
        for (const auto& key : section.keys) {
            SCOPED_TRACE(key.name);
            YAML::Node root = YAML::Load(c.yaml);
            YAML::Node node = root;
            for (const auto& p : c.path) {
                node.reset(node.IsSequence() ? node[std::stoul(p)] : node[p]);
            }
            node[key.name] = YAML::Load("[[1]]");  // wrong for every key
            const auto errors = errors_of(YAML::Dump(root) + "\n");
            ASSERT_FALSE(errors.empty()) << YAML::Dump(root);
            for (const auto& e : errors) {
                EXPECT_THAT(e, Not(HasSubstr(std::string("unknown key '") + key.name))) << e;
            }
            ++keys;
        }
    }
    EXPECT_GT(keys, 80u);
}

TEST(ManifestSchema, IsMadeFromTheTable) {
    const auto schema = nlohmann::json::parse(manifest_json_schema());
    const auto& defs = schema.at("$defs");
    for (const auto& section : detail::key_sections()) {
        SCOPED_TRACE(section.id);
        const auto& props = defs.at(section.id).at("properties");
        EXPECT_EQ(props.size(), section.keys.size() + 1);  // and "<<"
        for (const auto& key : section.keys) EXPECT_TRUE(props.contains(key.name)) << key.name;
    }
    // Bounds and words come along.
    const auto& cpus = defs.at("vm").at("properties").at("cpus").at("anyOf").at(0);
    EXPECT_EQ(cpus.at("minimum"), 1);
    EXPECT_EQ(cpus.at("maximum"), 1024);
    EXPECT_EQ(defs.at("vm").at("properties").at("state").at("anyOf").at(0).at("enum"),
              (nlohmann::json{"running", "stopped"}));
    EXPECT_EQ(defs.at("vm").at("properties").at("count").at("anyOf").at(0).at("maximum"),
              kMaxCount);
}

}  // namespace
}  // namespace virtform
