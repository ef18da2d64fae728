// Manifests that scale, through the CLI (issue 13, part 1): --var and the
// environment, errors at file:line:col, `plan` naming expanded objects, the
// saved plan keeping its variables, and `virtform schema`. Plans run against
// libvirt's test driver (test:///default): they read, never change anything.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/testlib.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/adapters/host/lab_lock.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* kLab = R"(lab: vft-tmpl
defaults:
  vms: {memory: "${VFT_MEM:=128MiB}"}
networks:
  vftseg:
    count: 2
    mode: isolated
    ipv4: {address: "10.213.{{ index }}.1/24"}
vms:
  vftweb:
    count: 2
    nics: [{network: vftseg-1, mac: "52:54:00:13:00:{{ index | hex }}"}]
    state: stopped
)";

class TemplatesCli : public ::testing::Test {
protected:
    TempDir dir_{"vft-tmpl"};
};

TEST_F(TemplatesCli, VarsFromTheFlagAndTheEnvironment) {
    const auto file = dir_.write("lab.yaml", "lab: vft-v\nvms:\n  a: {memory: \"${VFT_MEM}\"}\n");
    auto r = virtform({"validate", "--var", "VFT_MEM=300MiB", file.string()});
    EXPECT_EQ(r.code, 0) << r.describe();
    r = sh("VFT_MEM=200MiB '" VIRTFORM_BINARY "' validate '" + file.string() + "'");
    EXPECT_EQ(r.code, 0) << r.describe();
    r = sh("env -u VFT_MEM '" VIRTFORM_BINARY "' validate '" + file.string() + "'");
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr(file.string() + ":3:15: error: variable 'VFT_MEM' is not set"));
    r = virtform({"validate", "--var", "1BAD=x", file.string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("--var takes NAME=VALUE"));
    // A bad substituted value is caught like any other.
    r = virtform({"validate", "--var", "VFT_MEM=lots", file.string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr(file.string() + ":3:15: error: 'memory' of VM 'a' is not a size"));
}

TEST_F(TemplatesCli, PlanShowsExpandedObjectsWithTheirTemplate) {
    const auto file = dir_.write("lab.yaml", kLab);
    auto r = virtform({"plan", "--no-color", "-c", "test:///default", file.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out,
                HasSubstr("# vm.vftweb-2 will be created\n  # (index 2 of count 'vftweb' at " +
                          file.string() + ":10:3)"));
    EXPECT_THAT(r.out, HasSubstr("(index 1 of count 'vftseg' at " + file.string() + ":5:3)"));
    EXPECT_THAT(r.out, HasSubstr("\"52:54:00:13:00:02\""));

    r = virtform({"plan", "--json", "-c", "test:///default", "--var", "VFT_MEM=256MiB", "-o",
                  (dir_.path() / "saved.plan").string(), file.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    const auto doc = nlohmann::json::parse(r.out);
    bool seen = false;
    for (const auto& a : doc.at("actions")) {
        if (a.at("address") == "vm.vftweb-1") {
            seen = true;
            EXPECT_EQ(a.at("expanded_from"),
                      (nlohmann::json{
                          {"template", "vftweb"}, {"at", file.string() + ":10:3"}, {"index", 1}}));
        }
    }
    EXPECT_TRUE(seen) << r.out;
    // The saved plan keeps the value it was made with, for `apply FILE`.
    const auto saved = nlohmann::json::parse(read_text(dir_.path() / "saved.plan"));
    EXPECT_EQ(saved.at("variables"), (nlohmann::json{{"VFT_MEM", "256MiB"}}));
}

TEST_F(TemplatesCli, ASavedPlanIsAppliedWithItsOwnVariables) {
    const auto file = dir_.write("lab.yaml",
                                 "lab: vft-saved\nnetworks:\n  vftsv:\n    count: ${VFT_N}\n"
                                 "    mode: isolated\n");
    const auto saved = (dir_.path() / "saved.plan").string();
    // The apply records the lab on this host (drift record, lock file): removed after.
    struct Forget {
        ~Forget() {
            std::error_code ec;
            std::filesystem::remove(host::applied_record_path("test:///default", "vft-saved"), ec);
            std::string lock;
            try {
                lock = host::LabLock("test:///default", "vft-saved", "test", {}).path();
            } catch (const std::exception&) {
            }
            if (!lock.empty()) std::filesystem::remove(lock, ec);
        }
    } forget;
    auto r =
        virtform({"plan", "-c", "test:///default", "--var", "VFT_N=2", "-o", saved, file.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("network.vftsv-2 will be created"));
    // Neither --var nor the environment at apply time: the plan's own value.
    r = sh("env -u VFT_N '" VIRTFORM_BINARY "' apply -c test:///default '" + saved + "'");
    EXPECT_EQ(r.code, 0) << r.describe();
    EXPECT_THAT(r.out + r.err, Not(HasSubstr("is not set")));
}

TEST_F(TemplatesCli, ExpansionErrorsNameTheObjectAndTheTemplate) {
    const auto file = dir_.write("lab.yaml",
                                 "lab: vft-e\nnetworks:\n  n:\n    count: 200\n    mode: isolated\n"
                                 "    ipv4: {address: \"10.9.{{ 60 + index }}.1/24\"}\n");
    const auto r = virtform({"validate", file.string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr(file.string() + ":6:21: error: '{{ 60 + index }}' is 256 in "
                                                 "network 'n-196' (index 196 of 'n'), which "
                                                 "overflows an IPv4 address byte"));
    EXPECT_THAT(r.err, Not(HasSubstr("n-195")));
}

TEST_F(TemplatesCli, SchemaIsOneJsonDocument) {
    const auto r = virtform({"schema"});
    ASSERT_EQ(r.code, 0) << r.describe();
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc.at("$ref"), "#/$defs/manifest");
    EXPECT_TRUE(doc.at("$defs").at("vm").at("properties").contains("cpus"));
    EXPECT_EQ(doc.at("$defs").at("vm").at("additionalProperties"), false);
    EXPECT_EQ(r.out,
              read_text(std::filesystem::path(VIRTFORM_SOURCE_DIR) / "docs/virtform.schema.json"))
        << "regenerate: build/src/virtform schema > docs/virtform.schema.json";
}

}  // namespace
}  // namespace virtform::testing
