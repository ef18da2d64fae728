// Manifests that scale (issue 13, part 1): merge keys, ${VAR}, defaults,
// templates, count with {{ expr }}, and their errors at file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "../../src/core/manifest_templates.h"
#include "virtform/diag.h"
#include "virtform/manifest.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;

Desired load(const std::string& text, const ManifestVars& vars = {}) {
    return load_manifests({{"lab.yaml", text}}, vars);
}

std::vector<std::string> errors_of(const std::string& text, const ManifestVars& vars = {}) {
    try {
        load_manifests({{"lab.yaml", text}}, vars);
    } catch (const ValidationError& e) {
        std::vector<std::string> out;
        for (const auto& d : e.diagnostics().items()) out.push_back(d.str());
        return out;
    }
    ADD_FAILURE() << "manifest was accepted:\n" << text;
    return {};
}

/// Exactly one error, at `where` (line:col), containing `fragment`.
void expect_error(const std::string& text, const std::string& where, const std::string& fragment,
                  const ManifestVars& vars = {}) {
    auto errors = errors_of(text, vars);
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], HasSubstr("lab.yaml:" + where + ": error: "));
    EXPECT_THAT(errors[0], HasSubstr(fragment));
}

// --- {{ expr }} ------------------------------------------------------------

TEST(Expressions, Arithmetic) {
    std::string why;
    EXPECT_EQ(detail::interpolate("{{ 10 + index }}", 3, &why), "13");
    EXPECT_EQ(detail::interpolate("a{{ (index - 1) * 4 + 2 }}b", 3, &why), "a10b");
    EXPECT_EQ(detail::interpolate("{{ 17 / 5 }}.{{ 17 % 5 }}", std::nullopt, &why), "3.2");
    EXPECT_EQ(detail::interpolate("{{ -index + 1 }}", 5, &why), "-4");
    EXPECT_EQ(detail::interpolate("{{ 2 + 3 * 4 }}", 0, &why), "14");  // precedence
    EXPECT_EQ(detail::interpolate("{{ index | hex }}", 10, &why), "0a");
    EXPECT_EQ(detail::interpolate("{{index|hex}}", 300, &why), "12c");
}

TEST(Expressions, ErrorsSayWhy) {
    auto why_of = [](const std::string& text, std::optional<long long> index) {
        std::string why;
        EXPECT_EQ(detail::interpolate(text, index, &why), std::nullopt) << text;
        return why;
    };
    EXPECT_THAT(why_of("{{ 1 / (index - 1) }}", 1), HasSubstr("division by zero"));
    EXPECT_THAT(why_of("{{ 5 % 0 }}", 1), HasSubstr("modulo by zero"));
    EXPECT_THAT(why_of("{{ index }}", std::nullopt), HasSubstr("only in an object with 'count'"));
    EXPECT_THAT(why_of("{{ idx }}", 1), HasSubstr("unknown name 'idx'"));
    EXPECT_THAT(why_of("{{ 1 + }}", 1), HasSubstr("operand is missing"));
    EXPECT_THAT(why_of("{{ (1 + 2 }}", 1), HasSubstr("')' is missing"));
    EXPECT_THAT(why_of("{{ 9223372036854775807 + 1 }}", 1), HasSubstr("overflows"));
    EXPECT_THAT(why_of("{{ 99999999999999999999 }}", 1), HasSubstr("does not fit"));
    EXPECT_THAT(why_of("{{ index | oct }}", 1), HasSubstr("only 'hex'"));
    EXPECT_THAT(why_of("{{ 1", 1), HasSubstr("without a closing"));
    // Nesting is bounded: no stack exhaustion from an untrusted manifest.
    EXPECT_THAT(
        why_of("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}", 1),
        HasSubstr("nested deeper than"));
}

// --- count -------------------------------------------------------------------

const char* kCounted = R"(lab: t
networks:
  seg:
    count: 3
    mode: isolated
    ipv4: {address: "10.{{ index }}.0.1/24"}
vms:
  web:
    count: 2
    memory: 256MiB
    nics:
      - {network: seg-1, mac: "52:54:00:00:01:{{ index | hex }}"}
    cmdline: "console=ttyS0 ip=192.168.100.{{ 10 + index }}"
    kernel: /boot/vmlinuz
)";

TEST(Count, ExpandsNamesFieldsAndRecordsTheTemplate) {
    const Desired d = load(kCounted);
    ASSERT_EQ(d.networks.size(), 3u);
    EXPECT_EQ(d.networks.at("seg-2").ipv4->address.str(), "10.2.0.1/24");
    ASSERT_EQ(d.vms.size(), 2u);
    const Vm& web2 = d.vms.at("web-2");
    EXPECT_EQ(web2.nics.at(0).mac, "52:54:00:00:01:02");
    EXPECT_EQ(web2.cmdline, "console=ttyS0 ip=192.168.100.12");
    ASSERT_TRUE(web2.expansion);
    EXPECT_EQ(web2.expansion->template_name, "web");
    EXPECT_EQ(web2.expansion->index, 2);
    EXPECT_EQ(web2.expansion->where.str(), "lab.yaml:8:3");
    EXPECT_EQ(web2.where.str(), "lab.yaml:8:3");
    EXPECT_EQ(d.networks.at("seg-3").expansion->where.str(), "lab.yaml:3:3");
    EXPECT_FALSE(load("lab: t\nvms:\n  a: {}\n").vms.at("a").expansion);
}

TEST(Count, OverflowingAnOctetNamesTheExpandedObject) {
    expect_error(
        "lab: t\nnetworks:\n  n:\n    count: 251\n    ipv4: {address: \"10.0.{{ 5 + index "
        "}}.1/24\"}\n",
        "5:21", "is 256 in network 'n-251'");
    expect_error(
        "lab: t\nvms:\n  a:\n    count: 300\n    nics: [{network: x, mac: \"52:54:00:00:00:{{ "
        "index | hex }}\"}]\n",
        "5:30",
        "is 256 in VM 'a-256' (index 256 of 'a'), which overflows a MAC address byte "
        "(0-255) (and 44 more of its copies)");
}

TEST(Count, CollidingMacsAndNamesAreErrors) {
    // index / 2 for indexes 1, 2, 3: 00, 01, 01.
    auto clash = errors_of(
        "lab: t\nnetworks:\n  x: {mode: isolated}\nvms:\n  a:\n    count: 3\n"
        "    nics: [{network: x, mac: \"52:54:00:00:00:{{ index / 2 | hex }}\"}]\n");
    ASSERT_EQ(clash.size(), 1u) << ::testing::PrintToString(clash);
    EXPECT_THAT(clash[0], HasSubstr("lab.yaml:5:3: error: MAC 52:54:00:00:00:01 of VM 'a-3' is "
                                    "already used by VM 'a-2'"));
    expect_error("lab: t\nvms:\n  web-2: {}\n  web:\n    count: 3\n", "4:3",
                 "VM 'web-2' (index 2 of 'web') collides with VM 'web-2' at lab.yaml:3:3");
}

TEST(Count, OverlappingSubnetsNameTheExpandedNetworks) {
    expect_error(
        "lab: t\nnetworks:\n  n:\n    count: 2\n"
        "    ipv4: {address: \"10.5.{{ index / 2 }}.1/16\"}\n",
        "3:3", "network 'n-2' (10.5.1.1/16) overlaps network 'n-1' (10.5.0.1/16, lab.yaml:3:3)");
}

TEST(Count, AliasCyclesAreRefusedNotFollowed) {
    // yaml-cpp builds a cycle for an alias inside its own anchor: the copies
    // stop at a depth bound instead of recursing until the stack runs out.
    auto errors = errors_of("lab: t\nvms:\n  a:\n    count: 2\n    boot: &b [*b]\n");
    EXPECT_THAT(::testing::PrintToString(errors), HasSubstr("nests deeper than 256 levels"));
    errors = errors_of("lab: t\nx-a: &a {<<: *a}\n");
    EXPECT_FALSE(errors.empty());
}

TEST(Count, IsCapped) {
    expect_error("lab: t\nvms:\n  a: {count: 1001}\n", "3:14",
                 "'count' of VM 'a' must be an integer between 1 and 1000, got '1001'");
    expect_error("lab: t\nvms:\n  a: {count: 0}\n", "3:14", "between 1 and 1000");
    expect_error("lab: t\npools:\n  p: {count: 2, path: /srv/p}\n", "3:14",
                 "'count' is for VMs and networks");
    // Many counted objects together stay within the node budget, and say so.
    std::string big = "lab: t\nvms:\n";
    for (int i = 0; i < 60; ++i) {
        big += "  v" + std::to_string(i) +
               ": {count: 1000, cloud_init: {ssh_authorized_keys: [a, b, c]}}\n";
    }
    auto errors = errors_of(big);
    ASSERT_FALSE(errors.empty());
    EXPECT_THAT(::testing::PrintToString(errors), HasSubstr("expand the manifests to more than"));
}

TEST(Count, ExpressionsOutsideCountedObjectsAreLeftAlone) {
    // cloud-init's own Jinja templates keep their braces in plain objects.
    const Desired d =
        load("lab: t\nvms:\n  a:\n    cloud_init: {user_data: \"#cloud-config\\n# {{ v1.x }}\"}\n");
    EXPECT_THAT(d.vms.at("a").cloud_init->user_data, HasSubstr("{{ v1.x }}"));
    expect_error("lab: t\nvms:\n  a:\n    count: 2\n    cmdline: \"x={{ nope }}\"\n", "5:14",
                 "'{{ nope }}' in VM 'a-1' (index 1 of 'a'): unknown name 'nope'; only 'index' is "
                 "known (and 1 more of its copies)");
}

// --- defaults and templates ------------------------------------------------

TEST(Templates, PrecedenceIsObjectThenTemplateThenDefaults) {
    const Desired d = load(R"(lab: t
defaults:
  vms: {cpus: 2, memory: 1GiB, autostart: true}
templates:
  vms:
    web: {cpus: 4, memory: 2GiB}
vms:
  a: {template: web, memory: 3GiB}
  b: {template: web}
  c: {}
)");
    EXPECT_EQ(d.vms.at("a").cpus, 4);
    EXPECT_EQ(d.vms.at("a").memory, 3ULL << 30);
    EXPECT_EQ(d.vms.at("b").memory, 2ULL << 30);
    EXPECT_EQ(d.vms.at("c").cpus, 2);
    EXPECT_EQ(d.vms.at("c").memory, 1ULL << 30);
    EXPECT_TRUE(d.vms.at("c").autostart);
}

TEST(Templates, ErrorsPointAtTheirSource) {
    expect_error("lab: t\nvms:\n  a: {template: wbe}\ntemplates:\n  vms:\n    web: {}\n", "3:17",
                 "'a' names template 'wbe', which 'templates: vms:' does not declare; did you "
                 "mean 'web'?");
    // A bad value from the defaults is reported where the defaults say it.
    expect_error("lab: t\ndefaults:\n  vms: {cpus: many}\nvms:\n  a: {}\n", "3:15",
                 "'cpus' in VM 'a' must be an integer");
    expect_error("lab: t\ndefaults:\n  vm: {cpus: 2}\n", "3:3",
                 "unknown kind 'vm' in defaults; it holds bridges, networks, pools, vms; did you "
                 "mean 'vms'?");
    expect_error("lab: t\ndefaults:\n  vms: {count: 2}\n", "3:9",
                 "'count' cannot be set in the defaults of vms");
}

// --- ${VAR} -------------------------------------------------------------------

TEST(Variables, FromVarsEnvironmentAndDefaults) {
    ::setenv("VFT_TEST_MEM", "768MiB", 1);
    ::unsetenv("VFT_TEST_UNSET");
    const char* text = R"(lab: ${VFT_LAB:=tlab}
vms:
  a:
    memory: ${VFT_TEST_MEM}
    cpus: ${VFT_TEST_UNSET:=3}
    cmdline: "literal $${HOME} and $PATH"
    kernel: /k
)";
    Desired d = load(text);
    EXPECT_EQ(d.lab, "tlab");
    EXPECT_EQ(d.vms.at("a").memory, 768ULL << 20);
    EXPECT_EQ(d.vms.at("a").cpus, 3);
    EXPECT_EQ(d.vms.at("a").cmdline, "literal ${HOME} and $PATH");
    EXPECT_EQ(d.variables, (std::map<std::string, std::string>{{"VFT_TEST_MEM", "768MiB"}}));
    // --var wins over the environment, and a saved plan turns the environment off.
    d = load(text, ManifestVars{{{"VFT_TEST_MEM", "1GiB"}, {"VFT_LAB", "other"}}, true});
    EXPECT_EQ(d.vms.at("a").memory, 1ULL << 30);
    EXPECT_EQ(d.lab, "other");
    expect_error(text, "4:13", "variable 'VFT_TEST_MEM' is not set", ManifestVars{{}, false});
}

TEST(Variables, ErrorsAndUntrustedValues) {
    ::unsetenv("VFT_TEST_UNSET");
    expect_error("lab: t\nvms:\n  a: {cpus: \"${VFT_TEST_UNSET}\"}\n", "3:13",
                 "variable 'VFT_TEST_UNSET' is not set: set it in the environment, with --var "
                 "VFT_TEST_UNSET=VALUE, or give a default: ${VFT_TEST_UNSET:=VALUE}");
    expect_error("lab: t\nvms:\n  a: {cmdline: \"${1X}\", kernel: /k}\n", "3:16",
                 "'${1X}' is not a variable");
    expect_error("lab: t\nvms:\n  a: {cmdline: \"${X\", kernel: /k}\n", "3:16",
                 "'${' without a closing '}'");
    // A substituted value is checked like any other value of the manifest.
    expect_error("lab: t\nvms:\n  a: {cmdline: \"${V}\", kernel: /k}\n", "3:16",
                 "with its variables substituted, holds the control character U+001B",
                 ManifestVars{{{"V", "a\x1b[31m"}}, false});
    expect_error("lab: ${V}\n", "1:6", "lab name 'a/b' is not valid",
                 ManifestVars{{{"V", "a/b"}}, false});
    // Keys are not substituted.
    expect_error("lab: t\nvms:\n  ${V}: {}\n", "3:3", "VM name '${V}' is not valid",
                 ManifestVars{{{"V", "a"}}, false});
}

// --- <<: ------------------------------------------------------------------------

TEST(MergeKeys, WorkAsYamlUsersExpect) {
    const Desired d = load(R"(lab: t
x-base: &base {cpus: 2, memory: 1GiB}
x-big: &big {memory: 4GiB, autostart: true}
vms:
  a: {<<: *base}
  b:
    <<: [*big, *base]
    cpus: 8
  c:
    cpus: 3
    <<: *base
)");
    EXPECT_EQ(d.vms.at("a").cpus, 2);
    EXPECT_EQ(d.vms.at("b").cpus, 8);             // explicit keys win
    EXPECT_EQ(d.vms.at("b").memory, 4ULL << 30);  // the first merged mapping wins
    EXPECT_TRUE(d.vms.at("b").autostart);
    EXPECT_EQ(d.vms.at("c").cpus, 3);  // even when written before the merge key
}

TEST(MergeKeys, Errors) {
    expect_error("lab: t\nvms:\n  a: {<<: 3}\n", "3:11", "the merge key '<<' takes a mapping");
    expect_error("lab: t\nvms:\n  a: {<<: [{cpus: 1}, 2]}\n", "3:11",
                 "the merge key '<<' takes a mapping");
    // A merged-in key the VM does not know is reported where it is written.
    expect_error("lab: t\nx-b: &b {cpu: 2}\nvms:\n  a: {<<: *b}\n", "2:10",
                 "unknown key 'cpu' in VM 'a'");
}

}  // namespace
}  // namespace virtform
