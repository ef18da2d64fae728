#pragma once
// Private to the manifest loader: reading YAML mappings with every problem
// reported at its file:line:col, and unknown keys with a suggestion.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "manifest_keys.h"
#include "virtform/diag.h"

namespace virtform::detail {

/// The file being read and where its problems go.
struct Context {
    std::string file;
    Diagnostics& diags;

    Location at(const YAML::Node& node) const {
        const YAML::Mark mark = node.Mark();
        if (mark.is_null()) return Location{file, 0, 0};
        return Location{file, mark.line + 1, mark.column + 1};
    }
    void error(const YAML::Node& node, std::string message) const {
        diags.error(at(node), std::move(message));
    }
};

/// Checks a document's text before it is loaded, in one pass over its parse
/// events: every scalar must be valid UTF-8 of at most kMaxStringBytes, without
/// NUL or control characters (keys: none at all; values: TAB, LF and CR only),
/// and aliases may not expand it by more than kMaxAliasNodes nodes. Problems go
/// to ctx at their file:line:col. Returns false when the document must not be
/// loaded (it would exhaust memory or time); syntax errors are left to the load.
bool check_yaml_input(const Context& ctx, const std::string& text);

/// check_yaml_input, then YAML::Load, with a syntax error reported at its
/// file:line:col ("YAML syntax: ..."); the root, or nothing when the document
/// must not or cannot be loaded. A text without anchors is parsed once: the
/// checks then walk the loaded tree (same problems, same marks).
std::optional<YAML::Node> load_yaml_input(const Context& ctx, const std::string& text);

/// The document's tree as YAML::Load builds it (types, scalars, order, marks),
/// parsed by libyaml: about ten times faster. Nothing when the text is not
/// in the ground both parsers agree on: a syntax error (yaml-cpp's message and
/// mark are the ones reported), anchors or aliases, tags, directives, more
/// than one document. Then YAML::Load decides.
std::optional<YAML::Node> fast_yaml_load(const std::string& text);

/// The first problem of a scalar ("" when none): not UTF-8, NUL, a control
/// character (keys refuse every one, values keep TAB, LF, CR), too long.
/// Also applied to values the template pass substitutes.
std::string scalar_problem(const std::string& s, bool key);

/// Why `s` cannot be a one-line string ("" when it can): a line break or tab.
std::string one_line_problem(const std::string& s);

inline const char* type_name(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Null:
            return "nothing";
        case YAML::NodeType::Scalar:
            return "a scalar";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Undefined:
            return "nothing";
    }
    return "something else";
}

/// Reads one mapping of the key table's section `keys` (manifest_keys.h):
/// finish() reports every key that was not read as unknown (the section's
/// keys, or those that apply here), with the closest key of the table as a
/// suggestion. Asking for a key the section lacks, or with other bounds or
/// words than the table's, is a bug (std::logic_error): the table is what
/// `virtform schema` publishes, so every key accepted is in it (and the test
/// ManifestSchema.TheLoaderReadsEveryKeyOfTheTable checks the converse).
class MapReader {
public:
    MapReader(const Context& ctx, const YAML::Node& node, std::string what, const KeySection& keys)
        : ctx_(ctx), node_(node), what_(std::move(what)), keys_(&keys) {
        init();
    }
    /// A mapping of names (networks:, vms:, ...): only duplicates are checked.
    MapReader(const Context& ctx, const YAML::Node& node, std::string what)
        : ctx_(ctx), node_(node), what_(std::move(what)) {
        init();
    }

private:
    void init() {
        if (!node_.IsMap()) {
            ctx_.error(node_, fmt::format("{} must be a mapping, got {}", what_, type_name(node_)));
            ok_ = false;
            return;
        }
        // One pass over the pairs (yaml-cpp's iteration copies nodes): every
        // get() after this is a look-up in `pairs_`, not another walk.
        pairs_.reserve(node_.size());
        for (const auto& kv : node_) {
            Pair p{kv.first.Scalar(), kv.first, kv.second};
            auto [it, inserted] = first_.emplace(p.key, pairs_.size());
            if (!inserted) {
                ctx_.error(kv.first,
                           fmt::format("duplicate key '{}' in {} (first at line {})", p.key, what_,
                                       ctx_.at(pairs_[it->second].key_node).line));
            }
            pairs_.push_back(std::move(p));
        }
    }

public:
    bool ok() const { return ok_; }
    const YAML::Node& node() const { return node_; }
    const std::string& what() const { return what_; }

    /// The value under `key`, or an undefined node when absent.
    YAML::Node get(const std::string& key) {
        spec(key);
        known_.push_back(key);
        if (!ok_) return absent();
        auto it = first_.find(key);  // the first of duplicates, as yaml-cpp's own look-up
        if (it == first_.end()) return absent();
        return pairs_[it->second].value;
    }

    /// A one-line string: names, paths, words (no line break or tab;
    /// check_yaml_input already refused other controls, NUL and bad UTF-8).
    std::optional<std::string> str(const std::string& key) {
        auto s = text(key);
        if (!s) return s;
        if (auto problem = one_line_problem(*s); !problem.empty()) {
            ctx_.error(get(key), fmt::format("'{}' in {} {}", key, what_, problem));
            return std::nullopt;
        }
        return s;
    }

    /// A string that may span lines (user_data and the like).
    std::optional<std::string> text(const std::string& key) {
        YAML::Node v = get(key);
        if (!v.IsDefined()) return std::nullopt;
        if (!v.IsScalar()) {
            ctx_.error(
                v, fmt::format("'{}' in {} must be a string, got {}", key, what_, type_name(v)));
            return std::nullopt;
        }
        return v.Scalar();
    }

    std::optional<long long> integer(const std::string& key, long long min, long long max) {
        if (const KeySpec* k = spec(key); k != nullptr && (k->min != min || k->max != max))
            throw std::logic_error("the key table's bounds of '" + key +
                                   "' differ from the loader's");
        YAML::Node v = get(key);
        if (!v.IsDefined()) return std::nullopt;
        long long value = 0;
        const std::string s = v.IsScalar() ? v.Scalar() : "";
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
        if (v.IsScalar() && ec == std::errc::result_out_of_range && ptr == s.data() + s.size()) {
            ctx_.error(v, fmt::format("'{}' in {} is out of range: {} does not fit; it must be "
                                      "between {} and {}",
                                      key, what_, s, min, max));
            return std::nullopt;
        }
        if (!v.IsScalar() || ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
            ctx_.error(v, fmt::format("'{}' in {} must be an integer, got {}", key, what_,
                                      v.IsScalar() ? "'" + s + "'" : type_name(v)));
            return std::nullopt;
        }
        if (value < min || value > max) {
            ctx_.error(v, fmt::format("'{}' in {} must be between {} and {}, got {}", key, what_,
                                      min, max, value));
            return std::nullopt;
        }
        return value;
    }

    std::optional<bool> boolean(const std::string& key) {
        YAML::Node v = get(key);
        if (!v.IsDefined()) return std::nullopt;
        if (v.IsScalar()) {
            std::string s = v.Scalar();
            std::transform(s.begin(), s.end(), s.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            if (s == "true" || s == "yes" || s == "on") return true;
            if (s == "false" || s == "no" || s == "off") return false;
        }
        ctx_.error(v, fmt::format("'{}' in {} must be true or false, got {}", key, what_,
                                  v.IsScalar() ? "'" + v.Scalar() + "'" : type_name(v)));
        return std::nullopt;
    }

    /// One of a fixed set of words, with a suggestion for a near miss.
    template <class T>
    std::optional<T> choice(const std::string& key,
                            const std::vector<std::pair<std::string, T>>& options) {
        std::vector<std::string> words;
        for (const auto& [word, value] : options) words.push_back(word);
        if (const KeySpec* k = spec(key); k != nullptr && k->choices != words)
            throw std::logic_error("the key table's words of '" + key +
                                   "' differ from the loader's");
        auto text = str(key);
        if (!text) return std::nullopt;
        for (const auto& [word, value] : options) {
            if (word == *text) return value;
        }
        std::string list;
        for (const auto& w : words) list += (list.empty() ? "" : ", ") + w;
        std::string hint = closest_match(*text, words);
        ctx_.error(get(key),
                   fmt::format("'{}' of {} must be one of {}; got '{}'{}", key, what_, list, *text,
                               hint.empty() ? "" : "; did you mean '" + hint + "'?"));
        return std::nullopt;
    }

    /// A nested mapping or list, type-checked; undefined when absent or wrong.
    YAML::Node map(const std::string& key) { return typed(key, YAML::NodeType::Map, "a mapping"); }
    YAML::Node list(const std::string& key) {
        return typed(key, YAML::NodeType::Sequence, "a list");
    }

    void finish() {
        if (!ok_) return;
        for (const auto& p : pairs_) {
            const std::string& key = p.key;
            if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
            std::vector<std::string> candidates = keys_ != nullptr ? keys_->names() : known_;
            candidates.erase(std::remove(candidates.begin(), candidates.end(), key),
                             candidates.end());
            std::string hint = closest_match(key, candidates);
            std::string message = fmt::format("unknown key '{}' in {}", key, what_);
            if (!hint.empty()) message += fmt::format("; did you mean '{}'?", hint);
            ctx_.error(p.key_node, message);
        }
    }

private:
    /// The table's entry for `key` (nullptr for a mapping of names).
    const KeySpec* spec(const std::string& key) const {
        if (keys_ == nullptr) return nullptr;
        const KeySpec* k = keys_->find(key);
        if (k == nullptr)
            throw std::logic_error("the loader reads key '" + key + "' of section '" + keys_->id +
                                   "', which the key table (manifest_keys.cpp) lacks");
        return k;
    }

    /// The undefined node get() returns for a key that is not there: one per
    /// reader, as a new one costs yaml-cpp five allocations (and their frees),
    /// about 3k instructions, and most keys a VM may have are absent. Callers
    /// only test it (the loader never writes to a node it reads); should one
    /// ever be written to, the next absent key gets a new one.
    YAML::Node absent() {
        // emplace, not =: a YAML::Node's operator= writes through to the node.
        if (!absent_ || absent_->IsDefined()) absent_.emplace(YAML::NodeType::Undefined);
        return *absent_;
    }

    YAML::Node typed(const std::string& key, YAML::NodeType::value type, const char* expected) {
        YAML::Node v = get(key);
        if (!v.IsDefined()) return v;
        if (v.Type() != type) {
            ctx_.error(v, fmt::format("'{}' in {} must be {}, got {}", key, what_, expected,
                                      type_name(v)));
            return YAML::Node(YAML::NodeType::Undefined);
        }
        return v;
    }

    struct Pair {
        std::string key;
        YAML::Node key_node;
        YAML::Node value;
    };

    const Context& ctx_;
    YAML::Node node_;
    std::vector<Pair> pairs_;                   ///< the mapping's pairs in document order
    std::map<std::string, std::size_t> first_;  ///< key -> its first pair
    std::optional<YAML::Node> absent_;          ///< see absent()
    std::string what_;
    const KeySection* keys_ = nullptr;
    std::vector<std::string> known_;
    bool ok_ = true;
};

}  // namespace virtform::detail
