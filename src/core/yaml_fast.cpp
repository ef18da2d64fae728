// The manifest's YAML tree built from libyaml's parser instead of yaml-cpp's:
// the same YAML::Node (types, scalars, order, marks) for the documents
// manifests are, about ten times faster (yaml-cpp's scanner was most of a
// no-op plan's own CPU). Anything outside that common ground is left to
// YAML::Load: see fast_yaml_load.
#include <yaml.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "yaml_reader.h"

namespace virtform::detail {
struct FastYamlRoot;
}

// yaml-cpp keeps the constructor of a Node from its internal node private and
// befriends every specialisation of YAML::as_if: this one only wraps the root
// this file built, as yaml-cpp's own NodeBuilder does.
template <>
struct YAML::as_if<virtform::detail::FastYamlRoot, void> {
    static Node wrap(detail::node& root, detail::shared_memory_holder memory) {
        return Node(root, std::move(memory));
    }
};

namespace virtform::detail {
namespace {

struct Parser {
    yaml_parser_t p{};
    Parser() { yaml_parser_initialize(&p); }
    ~Parser() { yaml_parser_delete(&p); }
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;
};

struct Event {
    yaml_event_t e{};
    bool held = false;
    ~Event() { reset(); }
    void reset() {
        if (held) yaml_event_delete(&e);
        held = false;
    }
};

YAML::Mark mark_of(const yaml_mark_t& m) {
    YAML::Mark mark;
    mark.pos = static_cast<int>(m.index);
    mark.line = static_cast<int>(m.line);
    mark.column = static_cast<int>(m.column);
    return mark;
}

/// Where yaml-cpp places an empty node: at the token after it (the next key,
/// ',' or '}', the next '-'), past blanks, line breaks and comments.
YAML::Mark next_token(const std::string& text, const yaml_mark_t& from) {
    std::size_t i = from.index;
    YAML::Mark mark = mark_of(from);
    while (i < text.size()) {
        const char c = text[i];
        if (c == ' ' || c == '\t') {
            ++i;
            ++mark.column;
        } else if (c == '\n' || c == '\r') {
            i += c == '\r' && i + 1 < text.size() && text[i + 1] == '\n' ? 2 : 1;
            ++mark.line;
            mark.column = 0;
        } else if (c == '#') {
            for (; i < text.size() && text[i] != '\n' && text[i] != '\r'; ++i) ++mark.column;
        } else {
            break;
        }
    }
    mark.pos = static_cast<int>(i);
    return mark;
}

/// yaml-cpp's null: a plain scalar "~", "null", "Null", "NULL" or nothing.
bool null_scalar(const yaml_event_t& e) {
    if (e.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const std::string_view v(reinterpret_cast<const char*>(e.data.scalar.value),
                             e.data.scalar.length);
    return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

/// Nesting beyond this is left to yaml-cpp, which refuses more than 500 levels
/// ("bad file"): libyaml has no limit, and the loader's walks of the tree
/// recurse (a manifest nested 100,000 deep overflowed the stack). Manifests
/// nest a few levels.
constexpr std::size_t kMaxDepth = 64;

/// A collection being filled; a map's pending key.
struct Open {
    YAML::detail::node* node;
    bool map;
    YAML::detail::node* key = nullptr;
};

class Builder {
public:
    explicit Builder(YAML::detail::shared_memory_holder memory) : memory_(std::move(memory)) {}

    /// Adds a finished node to the open collection (or makes it the root).
    void add(YAML::detail::node& n) {
        if (open_.empty()) {
            root_ = &n;
            return;
        }
        Open& top = open_.back();
        if (!top.map) {
            top.node->push_back(n, memory_);
        } else if (top.key == nullptr) {
            top.key = &n;
        } else {
            top.node->insert(*top.key, n, memory_);
            top.key = nullptr;
        }
    }
    YAML::detail::node& make(const YAML::Mark& mark) {
        YAML::detail::node& n = memory_->create_node();
        n.set_mark(mark);
        return n;
    }
    /// A sequence or map starts: filled until close(). False when it would
    /// nest deeper than kMaxDepth.
    bool open(const YAML::Mark& mark, bool map, bool flow) {
        if (open_.size() >= kMaxDepth) return false;
        YAML::detail::node& n = make(mark);
        n.set_type(map ? YAML::NodeType::Map : YAML::NodeType::Sequence);
        n.set_tag("?");
        n.set_style(flow ? YAML::EmitterStyle::Flow : YAML::EmitterStyle::Block);
        open_.push_back(Open{&n, map});
        return true;
    }
    void close() {
        YAML::detail::node& n = *open_.back().node;
        open_.pop_back();
        add(n);
    }
    YAML::detail::node* root() const { return root_; }

private:
    YAML::detail::shared_memory_holder memory_;
    std::vector<Open> open_;
    YAML::detail::node* root_ = nullptr;
};

}  // namespace

std::optional<YAML::Node> fast_yaml_load(const std::string& text) {
    // libyaml counts characters where yaml-cpp counts bytes: the marks agree
    // on ASCII only. A CR not followed by LF is a line break to libyaml and
    // not to yaml-cpp (a differential run on mutated manifests found that).
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if ((c & 0x80) != 0) return std::nullopt;
        if (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return std::nullopt;
    }
    Parser parser;
    yaml_parser_set_input_string(&parser.p, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    auto memory = std::make_shared<YAML::detail::memory_holder>();
    Builder b(memory);
    int documents = 0;
    Event ev;
    for (;;) {
        ev.reset();
        if (yaml_parser_parse(&parser.p, &ev.e) == 0) return std::nullopt;  // yaml-cpp's message
        ev.held = true;
        const yaml_event_t& e = ev.e;
        switch (e.type) {
            case YAML_STREAM_START_EVENT:
                break;
            case YAML_DOCUMENT_START_EVENT:
                // One document without directives: anything else is yaml-cpp's.
                if (++documents > 1 || e.data.document_start.version_directive != nullptr ||
                    e.data.document_start.tag_directives.start !=
                        e.data.document_start.tag_directives.end)
                    return std::nullopt;
                break;
            case YAML_DOCUMENT_END_EVENT:
                break;
            case YAML_STREAM_END_EVENT: {
                YAML::detail::node* root = b.root();
                if (root == nullptr) return YAML::Node();  // an empty document
                return YAML::as_if<FastYamlRoot, void>::wrap(*root, memory);
            }
            case YAML_ALIAS_EVENT:
                return std::nullopt;  // anchors: the input checks need yaml-cpp's events
            case YAML_SCALAR_EVENT: {
                if (e.data.scalar.anchor != nullptr || e.data.scalar.tag != nullptr)
                    return std::nullopt;
                // An empty scalar ("key:" and nothing) is where libyaml saw
                // nothing more: yaml-cpp marks it at what follows.
                const bool empty = e.start_mark.index == e.end_mark.index;
                YAML::detail::node& n =
                    b.make(empty ? next_token(text, e.start_mark) : mark_of(e.start_mark));
                if (null_scalar(e)) {
                    n.set_null();
                } else {
                    n.set_scalar(std::string(reinterpret_cast<const char*>(e.data.scalar.value),
                                             e.data.scalar.length));
                    n.set_tag(e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "?" : "!");
                }
                b.add(n);
                break;
            }
            case YAML_SEQUENCE_START_EVENT: {
                const auto& d = e.data.sequence_start;
                if (d.anchor != nullptr || d.tag != nullptr) return std::nullopt;
                if (!b.open(mark_of(e.start_mark), false, d.style == YAML_FLOW_SEQUENCE_STYLE))
                    return std::nullopt;
                break;
            }
            case YAML_MAPPING_START_EVENT: {
                const auto& d = e.data.mapping_start;
                if (d.anchor != nullptr || d.tag != nullptr) return std::nullopt;
                if (!b.open(mark_of(e.start_mark), true, d.style == YAML_FLOW_MAPPING_STYLE))
                    return std::nullopt;
                break;
            }
            case YAML_SEQUENCE_END_EVENT:
            case YAML_MAPPING_END_EVENT:
                b.close();
                break;
            case YAML_NO_EVENT:
                return std::nullopt;
        }
    }
}

}  // namespace virtform::detail
