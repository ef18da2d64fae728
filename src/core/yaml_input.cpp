// The loader's first look at a manifest's text: encoding, control characters,
// string sizes and alias expansion, checked once for every key and value.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <sstream>

#include "virtform/manifest.h"
#include "yaml_reader.h"

namespace virtform::detail {

std::string scalar_problem(const std::string& s, bool key) {
    if (s.size() > kMaxStringBytes) {
        return fmt::format("is a string of {} bytes; at most {} are allowed", s.size(),
                           kMaxStringBytes);
    }
    for (std::size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const std::size_t len = utf8_decode(s, i, cp);
        if (len == 0) {
            return fmt::format("is not valid UTF-8 (byte 0x{:02x} at offset {})",
                               static_cast<unsigned char>(s[i]), i);
        }
        if (cp == 0) return fmt::format("holds a NUL character (at offset {})", i);
        const bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
        const bool allowed = !key && (cp == '\t' || cp == '\n' || cp == '\r');
        if (control && !allowed) {
            return fmt::format("holds the control character U+{:04X} (at offset {})",
                               static_cast<unsigned>(cp), i);
        }
        i += len;
    }
    return {};
}

namespace {

class InputChecker : public YAML::EventHandler {
public:
    explicit InputChecker(const Context& ctx) : ctx_(ctx) {}

    bool expansion_ok() const { return !too_many_; }

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { finish(1, anchor); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        auto it = sizes_.find(anchor);
        const std::uint64_t nodes = it == sizes_.end() ? 1 : it->second;
        added_ = saturating_add(added_, nodes - 1);
        if (added_ > kMaxAliasNodes && !too_many_) {
            too_many_ = true;
            error(mark, fmt::format("aliases expand the document by more than {} nodes; write "
                                    "the content out instead",
                                    kMaxAliasNodes));
        }
        finish(nodes, YAML::NullAnchor);
    }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  const std::string& value) override {
        const bool key = is_key();
        if (auto problem = scalar_problem(value, key); !problem.empty())
            error(mark, fmt::format("{} {}", key ? "this key" : "this value", problem));
        finish(1, anchor);
    }
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        stack_.push_back(Frame{false, 0, 1, anchor});
    }
    void OnSequenceEnd() override { end(); }
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        stack_.push_back(Frame{true, 0, 1, anchor});
    }
    void OnMapEnd() override { end(); }

private:
    struct Frame {
        bool map;
        std::size_t children;
        std::uint64_t nodes;  ///< with aliases expanded
        YAML::anchor_t anchor;
    };

    static std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
    }
    bool is_key() const {
        return !stack_.empty() && stack_.back().map && stack_.back().children % 2 == 0;
    }
    void finish(std::uint64_t nodes, YAML::anchor_t anchor) {
        if (anchor != YAML::NullAnchor) sizes_[anchor] = nodes;
        if (stack_.empty()) return;
        stack_.back().nodes = saturating_add(stack_.back().nodes, nodes);
        ++stack_.back().children;
    }
    void end() {
        const Frame f = stack_.back();
        stack_.pop_back();
        finish(f.nodes, f.anchor);
    }
    void error(const YAML::Mark& mark, std::string message) {
        ctx_.diags.error(Location{ctx_.file, mark.line + 1, mark.column + 1}, std::move(message));
    }

    const Context& ctx_;
    std::vector<Frame> stack_;
    std::map<YAML::anchor_t, std::uint64_t> sizes_;
    std::uint64_t added_ = 0;
    bool too_many_ = false;
};

}  // namespace

bool check_yaml_input(const Context& ctx, const std::string& text) {
    std::istringstream in(text);
    InputChecker checker(ctx);
    try {
        YAML::Parser parser(in);
        parser.HandleNextDocument(checker);
    } catch (const YAML::Exception&) {
        // The load reports the syntax error, at the same place.
    }
    return checker.expansion_ok();
}

namespace {

/// check_yaml_input's scalar checks over a loaded tree, in document order (a
/// mapping's key, then its value): the same problems at the same marks (a
/// node's mark is its event's). Only for a document without anchors, where
/// every node is its own (no alias shares one).
void check_scalars(const Context& ctx, const YAML::Node& node, bool key) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            if (auto problem = scalar_problem(node.Scalar(), key); !problem.empty()) {
                const YAML::Mark mark = node.Mark();
                ctx.diags.error(Location{ctx.file, mark.line + 1, mark.column + 1},
                                fmt::format("{} {}", key ? "this key" : "this value", problem));
            }
            break;
        case YAML::NodeType::Sequence:
            for (const auto& item : node) check_scalars(ctx, item, false);
            break;
        case YAML::NodeType::Map:
            for (const auto& kv : node) {
                check_scalars(ctx, kv.first, true);
                check_scalars(ctx, kv.second, false);
            }
            break;
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            break;
    }
}

}  // namespace

std::optional<YAML::Node> load_yaml_input(const Context& ctx, const std::string& text) {
    // Aliases need the event pass (their expansion is counted before anything
    // is built); a text without '&' has no anchor, so no alias either (one to
    // an unknown anchor is a syntax error of the load), and one parse does:
    // yaml-cpp's scanner is most of a no-op plan's own work, twice over before.
    const bool anchors = text.find('&') != std::string::npos;
    if (anchors && !check_yaml_input(ctx, text)) return std::nullopt;
    if (!anchors) {
        if (auto root = fast_yaml_load(text)) {
            check_scalars(ctx, *root, false);
            return root;
        }
    }
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        // What lies before the syntax error is reported as before.
        if (!anchors) check_yaml_input(ctx, text);
        ctx.diags.error(Location{ctx.file, e.mark.line + 1, e.mark.column + 1},
                        "YAML syntax: " + e.msg);
        return std::nullopt;
    }
    if (!anchors) check_scalars(ctx, root, false);
    return root;
}

std::string one_line_problem(const std::string& s) {
    // Other control characters were refused by check_yaml_input, once.
    for (char c : s) {
        if (c == '\n' || c == '\r') return "must be one line; it holds a line break";
        if (c == '\t') return "must be one line; it holds a tab";
    }
    return {};
}

}  // namespace virtform::detail
