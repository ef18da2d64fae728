// `virtform fmt`: the canonical layout, comments kept, and every manifest of
// the project (manifests/, the YAML blocks of README.md and docs/, the test
// manifests gathered in tests/fuzz/corpus) formats to a fixed point that
// loads to the same model and plans exactly as before.
#include "virtform/manifest_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "virtform/diag.h"
#include "virtform/manifest.h"
#include "virtform/plan.h"
#include "virtform/render.h"
#include "virtform/text_diff.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string fmt_text(const std::string& text) {
    return format_manifest(text, "lab.yaml");
}

TEST(Fmt, OrdersKeysAsTheReferenceDoesAndIndentsByTwo) {
    const std::string in = R"(vms:
    web:
        memory: 256MiB
        cpus: 1
networks:
    n:
        ipv4:
            dhcp: {range: 10.1.0.10-10.1.0.20}
            address: 10.1.0.1/24
        mode: nat
lab: demo
)";
    EXPECT_EQ(fmt_text(in), R"(lab: demo
networks:
  n:
    mode: nat
    ipv4:
      address: 10.1.0.1/24
      dhcp: {range: 10.1.0.10-10.1.0.20}
vms:
  web:
    cpus: 1
    memory: 256MiB
)");
}

TEST(Fmt, CommentsMoveWithTheirKeyAndTheFileHeaderStays) {
    const std::string in =
        R"(# yaml-language-server: $schema=https://virtform.dev/schema/manifest.json
# the lab

vms:
  # the web server
  web:
    memory: 1G    # enough
    # one CPU is plenty
    cpus: 1
lab: demo   # the mark
)";
    EXPECT_EQ(fmt_text(in),
              R"(# yaml-language-server: $schema=https://virtform.dev/schema/manifest.json
# the lab

lab: demo   # the mark
vms:
  # the web server
  web:
    # one CPU is plenty
    cpus: 1
    memory: 1G    # enough
)");
}

TEST(Fmt, FlowAndBlockStylesAreKeptAndFlowMappingsOrdered) {
    const std::string in = R"(lab: demo
networks:
  n:
    ipv4:
      address: 10.1.0.1/24
      dhcp:
        hosts:
        - {name: web1, ip: 10.1.0.10,   mac: "52:54:00:00:01:10"}
        - name: web2
          mac: "52:54:00:00:01:11"
          ip: 10.1.0.11
vms:
  web1:
    nics: [{mac: "52:54:00:00:01:10", network: n}]
)";
    EXPECT_EQ(fmt_text(in), R"(lab: demo
networks:
  n:
    ipv4:
      address: 10.1.0.1/24
      dhcp:
        hosts:
          - {mac: "52:54:00:00:01:10", ip: 10.1.0.10, name: web1}
          - mac: "52:54:00:00:01:11"
            ip: 10.1.0.11
            name: web2
vms:
  web1:
    nics: [{network: n, mac: "52:54:00:00:01:10"}]
)");
}

TEST(Fmt, QuotedCommasBracketsAndHashesInFlowMappingsAreNotSplit) {
    const std::string in =
        "lab: x\nvms:\n  a: {memory: \"1G, }\", cmdline: 'it''s, {x} #1', cpus: 1}  # c\n";
    EXPECT_EQ(fmt_text(in),
              "lab: x\nvms:\n  a: {cpus: 1, memory: \"1G, }\", cmdline: 'it''s, {x} #1'}  # c\n");
}

TEST(Fmt, AFlowCollectionOverSeveralLinesMovesWhole) {
    const std::string in =
        "lab: x\nvms:\n  a:\n    nics: [\n      {network: n},\n    ]\n    cpus: 1\n";
    EXPECT_EQ(fmt_text(in),
              "lab: x\nvms:\n  a:\n    cpus: 1\n    nics: [\n      {network: n},\n    ]\n");
}

TEST(Fmt, AQuotedScalarOverSeveralLinesMovesWhole) {
    // Found by the fuzzer: its lines may sit at any indentation.
    const std::string in = "lab: x\nvms:\n  a:\n    cmdline: \"a\n  b \\\" c\"\n    cpus: 1\n";
    EXPECT_EQ(fmt_text(in), "lab: x\nvms:\n  a:\n    cpus: 1\n    cmdline: \"a\n  b \\\" c\"\n");
}

TEST(Fmt, UnknownSectionsAndKeysStayAfterTheKeyTheyFollowed) {
    // Sections fmt does not know (templates, merge keys, new keys) keep their
    // place and their content as written.
    const std::string in = R"(lab: demo
defaults:
  vms: {memory: 512MiB, cpus: 2}
groups:
    web: [web1, web2]
vms:
  web1:
    <<: *base
    count: 3
    memory: ${MEM}
    cpus: 1
)";
    EXPECT_EQ(fmt_text(in.substr(0, in.find("    <<"))), R"(lab: demo
defaults:
  vms: {memory: 512MiB, cpus: 2}
groups:
  web: [web1, web2]
vms:
  web1:
)");
    const std::string with_anchor = R"(lab: demo
x-base: &base
  state: stopped
vms:
  web1:
    <<: *base
    memory: 1G
    count: 3
    cpus: 1
)";
    EXPECT_EQ(fmt_text(with_anchor), R"(lab: demo
x-base: &base
  state: stopped
vms:
  web1:
    <<: *base
    cpus: 1
    memory: 1G
    count: 3
)");
}

TEST(Fmt, BlockScalarsAreKeptByteForByte) {
    const std::string in =
        "lab: demo\nvms:\n    web:\n        cloud_init:\n            user_data: |\n"
        "                #cloud-config\n                  indented: kept   \n\n"
        "                runcmd: [x]\n        cpus: 1\n";
    const std::string out = fmt_text(in);
    // The block moves with its key, keeping its own indentation relative to
    // the key (4 here) and every space of its content.
    EXPECT_THAT(
        out, HasSubstr("    cpus: 1\n    cloud_init:\n      user_data: |\n          #cloud-config\n"
                       "            indented: kept   \n\n          runcmd: [x]\n"));
}

TEST(Fmt, IsAFixedPointAndRefusesWhatItCannotLayOut) {
    const std::string in = "lab: demo\nnetworks:\n  n: {mode: nat, ipv4: {address: 10.1.0.1/24}}\n";
    EXPECT_EQ(fmt_text(fmt_text(in)), fmt_text(in));
    EXPECT_THROW(fmt_text("lab: a\n---\nlab: b\n"), Error);
    // Found by the fuzzer: text after a NUL byte, which yaml-cpp never reads.
    try {
        fmt_text(std::string("lab: demo\nvms:\0\n  b: 1\n  a: 2\n", 24));
        ADD_FAILURE() << "a NUL byte was formatted";
    } catch (const ValidationError& e) {
        EXPECT_THAT(e.diagnostics().str(), HasSubstr("lab.yaml:2:5: error: a NUL byte"));
    }
    try {
        fmt_text("lab: demo\nnetworks: {n: [\n");
        ADD_FAILURE() << "invalid YAML was formatted";
    } catch (const ValidationError& e) {
        EXPECT_THAT(e.diagnostics().str(), HasSubstr("lab.yaml:"));
    }
}

TEST(TextDiff, UnifiedDiffWithContext) {
    const std::string a = "a\nb\nc\nd\ne\nf\ng\nh\n", b = "a\nb\nc\nD\ne\nf\ng\nh\n";
    EXPECT_EQ(unified_diff(a, b, "x.yaml"),
              "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n");
    EXPECT_EQ(unified_diff(a, a, "x.yaml"), "");
}

// ---------------------------------------------------------------------------
// Every manifest of the project.

struct Sample {
    std::string name, text;
};

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<Sample> samples() {
    const fs::path root = VIRTFORM_SOURCE_DIR;
    std::vector<Sample> out;
    for (const auto& e : fs::directory_iterator(root / "manifests"))
        out.push_back({e.path().string(), read(e.path())});
    std::vector<fs::path> pages = {root / "README.md"};
    for (const auto& e : fs::directory_iterator(root / "docs"))
        if (e.path().extension() == ".md") pages.push_back(e.path());
    for (const auto& page : pages) {
        std::istringstream in(read(page));
        std::string line, block;
        int n = 0;
        bool in_yaml = false;
        while (std::getline(in, line)) {
            if (!in_yaml && line == "```yaml") {
                in_yaml = true;
                block.clear();
            } else if (in_yaml && line == "```") {
                in_yaml = false;
                out.push_back({page.string() + "#yaml" + std::to_string(n++), block});
            } else if (in_yaml) {
                block += line + "\n";
            }
        }
    }
    for (const auto& e : fs::directory_iterator(root / "tests/fuzz/corpus"))
        out.push_back({e.path().string(), read(e.path())});
    return out;
}

/// What the manifest means to virtform: its plan against an empty host, or
/// its errors (without their line numbers, which fmt may move).
std::string meaning(const std::string& text) {
    try {
        const Desired d = load_manifests({{"lab.yaml", text}});
        return plan_to_json(make_plan(d, Live{})).dump(1);
    } catch (const ValidationError& e) {
        std::string errors;
        for (const auto& item : e.diagnostics().items()) errors += item.message + "\n";
        return "errors:\n" + errors;
    } catch (const Error& e) {
        return std::string("error: ") + e.what();
    }
}

TEST(Fmt, EveryManifestOfTheProjectRoundTripsWithoutChangingItsPlan) {
    const auto all = samples();
    ASSERT_GT(all.size(), 20u);
    int formatted = 0, planned = 0, not_yaml = 0;
    for (const auto& s : all) {
        std::string out;
        try {
            out = format_manifest(s.text, s.name);
        } catch (const ValidationError&) {
            ++not_yaml;  // the fuzz corpus holds broken YAML on purpose
            continue;
        }
        ++formatted;
        EXPECT_EQ(format_manifest(out, s.name), out) << s.name << ": not a fixed point";
        const std::string before = meaning(s.text), after = meaning(out);
        EXPECT_EQ(before, after) << s.name << "\n" << unified_diff(s.text, out, s.name);
        if (before.rfind("error", 0) != 0) ++planned;
    }
    std::cerr << formatted << " manifests formatted (" << planned << " of them plan), " << not_yaml
              << " corpus files are not YAML\n";
    EXPECT_GT(planned, 10);
    EXPECT_GT(formatted, 40);
}

TEST(Fmt, TheExampleManifestsAreInTheCanonicalLayout) {
    // Users copy them: a copy must pass `virtform fmt --check` in CI.
    for (const auto& e : fs::directory_iterator(fs::path(VIRTFORM_SOURCE_DIR) / "manifests")) {
        const std::string text = read(e.path());
        EXPECT_EQ(format_manifest(text, e.path().string()), text)
            << "run: virtform fmt " << e.path().string();
    }
}

}  // namespace
}  // namespace virtform
