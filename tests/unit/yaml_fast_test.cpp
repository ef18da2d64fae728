// The libyaml-built tree (fast_yaml_load) against yaml-cpp's YAML::Load, node
// by node: type, scalar, tag, style, order of keys and items, and the mark
// every error message is placed at. Both on hand-written corners of YAML and
// on every manifest the repository ships (manifests/, the docs' examples).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <sstream>

#include "../../src/core/yaml_reader.h"

namespace virtform::detail {
namespace {

std::string where(const YAML::Node& n) {
    return std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
}

/// "" when both trees are the same, else the first difference and where.
std::string diff(const YAML::Node& want, const YAML::Node& got, const std::string& path) {
    if (want.Type() != got.Type())
        return path + ": type " + std::to_string(got.Type()) + ", yaml-cpp " +
               std::to_string(want.Type());
    if (want.Mark().line != got.Mark().line || want.Mark().column != got.Mark().column ||
        want.Mark().pos != got.Mark().pos)
        return path + ": at " + where(got) + ", yaml-cpp at " + where(want);
    if (want.Tag() != got.Tag())
        return path + ": tag '" + got.Tag() + "', yaml-cpp '" + want.Tag() + "'";
    switch (want.Type()) {
        case YAML::NodeType::Scalar:
            if (want.Scalar() != got.Scalar())
                return path + ": '" + got.Scalar() + "', yaml-cpp '" + want.Scalar() + "'";
            return "";
        case YAML::NodeType::Sequence: {
            if (want.size() != got.size()) return path + ": size differs";
            if (want.Style() != got.Style()) return path + ": style differs";
            for (std::size_t i = 0; i < want.size(); ++i) {
                auto d = diff(want[i], got[i], path + "[" + std::to_string(i) + "]");
                if (!d.empty()) return d;
            }
            return "";
        }
        case YAML::NodeType::Map: {
            if (want.size() != got.size()) return path + ": size differs";
            if (want.Style() != got.Style()) return path + ": style differs";
            auto w = want.begin();
            auto g = got.begin();
            for (; w != want.end(); ++w, ++g) {
                const std::string key = w->first.IsScalar() ? w->first.Scalar() : "?";
                auto d = diff(w->first, g->first, path + "." + key + "(key)");
                if (d.empty()) d = diff(w->second, g->second, path + "." + key);
                if (!d.empty()) return d;
            }
            return "";
        }
        default:
            return "";
    }
}

std::string compare(const std::string& text) {
    const YAML::Node want = YAML::Load(text);
    const auto got = fast_yaml_load(text);
    if (!got) return "fast_yaml_load declined";
    return diff(want, *got, "$");
}

TEST(FastYamlLoad, BuildsWhatYamlCppBuildsOnTheCornersManifestsUse) {
    const std::vector<std::string> corners = {
        "",
        "# only a comment\n",
        "lab: x\n",
        "lab: x\nnetworks:\n  a:\n    mode: nat\n    ipv4: {address: 10.0.0.1/24, dhcp: {range: "
        "10.0.0.10-10.0.0.20}}\n",
        // empty values, at the end of a map, of the document, in flow
        "a:\nb: 1\n",
        "a:\n  b:\nc: 2\n",
        "a:\n  b:\n",
        "a: {b: , c: 1}\n",
        // the null spellings, and the same quoted (strings)
        "a: ~\nb: null\nc: Null\nd: NULL\ne: 'null'\nf: \"~\"\n",
        // sequences: block, indentless, flow, nested, of maps
        "a:\n  - 1\n  - 2\n",
        "a:\n- 1\n- 2\nb: 3\n",
        "a: [x, [y, z], {k: v}]\n",
        "- a: 1\n  b: 2\n- c: 3\n",
        "vms:\n  web:\n    nics: [{network: n}]\n    disks:\n      - {size: 1G}\n      - pool: p\n "
        "       size: 2G\n",
        // scalars: quoted, escaped, multi-line, block literal and folded
        "a: 'it''s'\nb: \"tab\\tnew\\nline \\u00e9\"\n",
        "a: one\n  two\n  three\nb: x\n",
        "a: |\n  line 1\n  line 2\nb: >\n  folded\n  text\n\nc: |-\n  kept\n",
        "a: \"x\n  y\"\n",
        // keys: numbers, quoted, with spaces; comments everywhere
        "1: a\n'2': b\n\"three four\": c\n",
        "a: 1 # comment\n# between\nb: # after a key\n  c: 2\n",
        // document markers, windows line ends, unicode
        "---\na: 1\n...\n",
        "a: 1\r\nb:\r\n  c: 2\r\n",
        // flow mappings over lines, compact maps in flow sequences
        "a: {b: 1,\n    c: 2}\n",
        "a: [b: 1, c: 2]\n",
        "a: {b, c: 1}\n",
        "- \n- b\n-\n",
        "a: # nothing\n\n  # more nothing\nb: 1\n",
        "cloud_init:\n  user_data: |\n    #cloud-config\n    users:\n      - name: x\n",
        // chomping and indentation indicators, '#' and ':' inside scalars
        "a: |+\n  kept\n\nb: >-\n  folded\n  strip\nc: |2\n    indented\n",
        "a: b#c\nd: 'x # not a comment'\n\"e:f\": g\nh: http://x:8080/p\n",
        "? complex\n: value\n",
        "a:\n  - [1, 2]\n  - {b: [c, {d: e}]}\n  -\n    - nested\n",
    };
    for (const auto& text : corners) EXPECT_EQ(compare(text), "") << text;
}

TEST(FastYamlLoad, BuildsWhatYamlCppBuildsOnEveryShippedManifest) {
    namespace fs = std::filesystem;
    std::vector<std::string> texts;
    for (const auto& e : fs::directory_iterator(fs::path(VIRTFORM_SOURCE_DIR) / "manifests")) {
        std::ifstream in(e.path());
        std::stringstream ss;
        ss << in.rdbuf();
        texts.push_back(ss.str());
    }
    // The docs' ```yaml blocks (the manifest reference's examples).
    const std::regex block("```yaml\n([\\s\\S]*?)```");
    for (const auto& e : fs::directory_iterator(fs::path(VIRTFORM_SOURCE_DIR) / "docs")) {
        if (e.path().extension() != ".md") continue;
        std::ifstream in(e.path());
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string doc = ss.str();
        for (std::sregex_iterator it(doc.begin(), doc.end(), block), end; it != end; ++it)
            texts.push_back((*it)[1].str());
    }
    ASSERT_GT(texts.size(), 10u);
    std::size_t compared = 0;
    for (const auto& text : texts) {
        YAML::Node want;
        try {
            want = YAML::Load(text);
        } catch (const YAML::Exception&) {
            continue;  // a fragment that is not a document on its own
        }
        const auto got = fast_yaml_load(text);
        if (!got) continue;  // declined (anchors, tags): yaml-cpp loads it
        ++compared;
        EXPECT_EQ(diff(want, *got, "$"), "") << text;
    }
    EXPECT_GT(compared, 10u);
}

/// A random manifest-like document: block and flow maps and sequences, the
/// scalars manifests hold, empty values, comments, blank lines, CRLF.
std::string random_document(std::mt19937& rng) {
    auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
    const std::vector<std::string> scalars = {"a",    "web-1", "10.0.0.1/24",  "64MiB",   "true",
                                              "null", "~",     "'q'",          "\"d q\"", "'it''s'",
                                              "a#b",  "x y z", "http://h:1/p", "1",       ""};
    std::function<std::string(int, int)> node = [&](int depth, int indent) -> std::string {
        const unsigned r = rng() % 100;
        if (depth > 3 || r < 40) return " " + pick(scalars);
        if (r < 55) {
            std::string out = " [";
            for (unsigned i = 0, n = rng() % 4; i < n; ++i) {
                const std::string item = pick(scalars);
                out += (i ? ", " : "") + (item.empty() ? std::string("x") : item);
            }
            return out + "]";
        }
        if (r < 65) {
            std::string out = " {";
            for (unsigned i = 0, n = rng() % 4; i < n; ++i)
                out += (i ? ", k" : "k") + std::to_string(i) + ": v";
            return out + "}";
        }
        std::string out;
        const bool map = r < 85;
        for (unsigned i = 0, n = 1 + rng() % 3; i < n; ++i) {
            out += "\n" + std::string(indent, ' ') +
                   (map ? "k" + std::to_string(i) + (rng() % 2 ? ":" : " :") : std::string("-")) +
                   node(depth + 1, indent + 2) + (rng() % 5 == 0 ? " # c" : "");
        }
        return out;
    };
    std::string doc = pick({"", "---\n", "# head\n"});
    for (unsigned i = 0, n = 1 + rng() % 4; i < n; ++i) {
        doc += "top" + std::to_string(i) + ":" + node(0, 2) + "\n";
        if (rng() % 5 == 0) doc += "\n";
        if (rng() % 10 == 0) doc += "  # indented comment\n";
    }
    if (rng() % 3 == 0) {
        std::string crlf;
        for (char c : doc) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
        doc = crlf;
    }
    return doc;
}

TEST(FastYamlLoad, BuildsWhatYamlCppBuildsOnRandomDocuments) {
    std::mt19937 rng(13);  // fixed: a failure names a document that stays the same
    for (int i = 0; i < 1000; ++i) {
        const std::string text = random_document(rng);
        ASSERT_EQ(compare(text), "") << "document " << i << ":\n" << text;
    }
}

// libyaml has no nesting limit and the loader's walks recurse: a manifest
// nested 100,000 deep crashed `virtform validate` (stack overflow) until deep
// documents went back to yaml-cpp, which refuses them with an error.
TEST(FastYamlLoad, LeavesDeepNestingToYamlCppWhichRefusesIt) {
    const std::string deep = "lab: x\nvms: " + std::string(100000, '[') + std::string(100000, ']');
    EXPECT_FALSE(fast_yaml_load(deep).has_value());
    Diagnostics diags;
    const Context ctx{"deep.yaml", diags};
    EXPECT_FALSE(load_yaml_input(ctx, deep).has_value());
    EXPECT_THAT(diags.str(), ::testing::HasSubstr("deep.yaml:2:"));
    EXPECT_THAT(diags.str(), ::testing::HasSubstr("YAML syntax"));
    // Shallow enough: the fast tree, the same as yaml-cpp's.
    const std::string nested = "a: " + std::string(40, '[') + "x" + std::string(40, ']') + "\n";
    EXPECT_EQ(compare(nested), "");
}

TEST(FastYamlLoad, LeavesToYamlCppWhatItDoesNotCover) {
    // Syntax errors (yaml-cpp's message and mark are reported), anchors and
    // aliases (the expansion checks run on yaml-cpp's events), tags,
    // directives, a second document, what libyaml refuses and yaml-cpp takes,
    // and anything not ASCII (libyaml counts columns in characters, yaml-cpp
    // in bytes).
    for (const std::string text : {"a: [1, , 2]\n", "n\xc3\xa4me: v\n",
                                   "\xef\xbb\xbf"
                                   "a: 1\n",
                                   "a: [1, 2\n", "a: b: c\n", "a: &x 1\nb: *x\n", "a: !!str 1\n",
                                   "%YAML 1.1\n---\na: 1\n", "a: 1\n---\nb: 2\n", "\ta: 1\n",
                                   // a CR alone breaks a line for libyaml, not for yaml-cpp
                                   "a: 1\rb: 2\n"}) {
        EXPECT_FALSE(fast_yaml_load(text).has_value()) << text;
    }
}

}  // namespace
}  // namespace virtform::detail
