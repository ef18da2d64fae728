// The template pass of the manifest loader (manifest_templates.h): merge keys,
// variables, defaults, templates and counts, before any section is read.
#include "manifest_templates.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <limits>
#include <set>

namespace virtform::detail {
/// Key to what yaml-cpp keeps private and this pass needs: making a node with a
/// mark, so that a copied or substituted value still reports the file:line:col
/// it was written at, in the document's own node store. yaml-cpp befriends
/// every `as_if`.
struct MarkAccess {};
}  // namespace virtform::detail

namespace YAML {
template <>
struct as_if<virtform::detail::MarkAccess, virtform::detail::MarkAccess> {
    /// A new node of `type` (or the scalar `text`) at `mark`, in the node store
    /// of `owner`: inserting it into a tree of that store costs nothing,
    /// where a node of its own store would have the stores merged (a set
    /// insertion per node of the document, for every insertion).
    static Node make(const Node& owner, NodeType::value type, const std::string* text,
                     const Mark& mark) {
        owner.EnsureNodeExists();
        detail::node& n = owner.m_pMemory->create_node();
        if (text != nullptr)
            n.set_scalar(*text);
        else if (type == NodeType::Null)
            n.set_null();
        else
            n.set_type(type);
        n.set_mark(mark);
        return Node(n, owner.m_pMemory);
    }
};
}  // namespace YAML

namespace virtform::detail {
namespace {

using NodeMaker = YAML::as_if<MarkAccess, MarkAccess>;

const std::set<std::string> kKinds = {"networks", "bridges", "pools", "vms"};
const std::set<std::string> kCountKinds = {"networks", "vms"};

/// The value of `key` in `map`, or an undefined node. Not yaml-cpp's const
/// operator[], which formats a missing key through a stringstream: this runs
/// for every object of every manifest.
YAML::Node value_of(const YAML::Node& map, const std::string& key) {
    if (map.IsMap()) {
        for (const auto& kv : map) {
            if (kv.first.Scalar() == key) return kv.second;
        }
    }
    return YAML::Node(YAML::NodeType::Undefined);
}

// ---------------------------------------------------------------------------
// {{ expr }}: integers, + - * / %, parentheses, unary minus, `index`, and an
// optional `| hex` (two hex digits at least) at the end.

class ExprParser {
public:
    ExprParser(const std::string& s, std::optional<long long> index) : s_(s), index_(index) {}

    std::optional<long long> parse(bool& hex, std::string* why) {
        why_ = why;
        auto v = expr(0);
        skip();
        if (v && s_.compare(pos_, 1, "|") == 0) {
            ++pos_;
            skip();
            if (s_.compare(pos_, 3, "hex") == 0) {
                hex = true;
                pos_ += 3;
                skip();
            } else {
                return fail("after '|' only 'hex' is known");
            }
        }
        if (v && pos_ != s_.size()) return fail(fmt::format("unexpected '{}'", s_.substr(pos_, 1)));
        return v;
    }

private:
    static constexpr int kMaxDepth = 32;

    std::optional<long long> fail(std::string message) {
        if (why_ != nullptr && why_->empty()) *why_ = std::move(message);
        return std::nullopt;
    }
    void skip() {
        while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
    }
    std::optional<long long> expr(int depth) {
        auto left = term(depth);
        for (;;) {
            skip();
            if (!left || pos_ >= s_.size() || (s_[pos_] != '+' && s_[pos_] != '-')) return left;
            const char op = s_[pos_++];
            auto right = term(depth);
            if (!right) return right;
            long long out = 0;
            if (op == '+' ? __builtin_add_overflow(*left, *right, &out)
                          : __builtin_sub_overflow(*left, *right, &out))
                return fail("the result overflows a 64-bit integer");
            left = out;
        }
    }
    std::optional<long long> term(int depth) {
        auto left = factor(depth);
        for (;;) {
            skip();
            if (!left || pos_ >= s_.size() ||
                std::string("*/%").find(s_[pos_]) == std::string::npos)
                return left;
            const char op = s_[pos_++];
            auto right = factor(depth);
            if (!right) return right;
            long long out = 0;
            if (op == '*') {
                if (__builtin_mul_overflow(*left, *right, &out))
                    return fail("the result overflows a 64-bit integer");
            } else if (*right == 0) {
                return fail(op == '/' ? "division by zero" : "modulo by zero");
            } else if (*left == std::numeric_limits<long long>::min() && *right == -1) {
                return fail("the result overflows a 64-bit integer");
            } else {
                out = op == '/' ? *left / *right : *left % *right;
            }
            left = out;
        }
    }
    std::optional<long long> factor(int depth) {
        if (depth > kMaxDepth) return fail(fmt::format("nested deeper than {}", kMaxDepth));
        skip();
        if (pos_ >= s_.size()) return fail("an operand is missing");
        const char c = s_[pos_];
        if (c == '(') {
            ++pos_;
            auto v = expr(depth + 1);
            skip();
            if (!v) return v;
            if (pos_ >= s_.size() || s_[pos_] != ')') return fail("')' is missing");
            ++pos_;
            return v;
        }
        if (c == '-') {
            ++pos_;
            auto v = factor(depth + 1);
            if (!v) return v;
            if (*v == std::numeric_limits<long long>::min())
                return fail("the result overflows a 64-bit integer");
            return -*v;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
            long long v = 0;
            while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])) != 0) {
                if (__builtin_mul_overflow(v, 10, &v) ||
                    __builtin_add_overflow(v, s_[pos_] - '0', &v))
                    return fail("a number does not fit a 64-bit integer");
                ++pos_;
            }
            return v;
        }
        if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_') {
            const std::size_t start = pos_;
            while (pos_ < s_.size() &&
                   (std::isalnum(static_cast<unsigned char>(s_[pos_])) != 0 || s_[pos_] == '_'))
                ++pos_;
            const std::string word = s_.substr(start, pos_ - start);
            if (word != "index")
                return fail(fmt::format("unknown name '{}'; only 'index' is known", word));
            if (!index_) return fail("'index' is defined only in an object with 'count'");
            return *index_;
        }
        return fail(fmt::format("unexpected '{}'", std::string(1, c)));
    }

    const std::string& s_;
    std::optional<long long> index_;
    std::size_t pos_ = 0;
    std::string* why_ = nullptr;
};

/// `text` looks like a dotted IPv4 address (perhaps with /prefix) once rendered.
bool looks_like_ipv4(const std::string& text) {
    const std::string addr = text.substr(0, text.find('/'));
    int dots = 0;
    for (char c : addr) {
        if (c == '.')
            ++dots;
        else if (std::isdigit(static_cast<unsigned char>(c)) == 0)
            return false;
    }
    return dots == 3;
}

// ---------------------------------------------------------------------------

class Expander {
public:
    Expander(const Context& ctx, ExpandState& state) : ctx_(ctx), state_(state) {}

    /// A copy of `node` with merge keys resolved and variables substituted.
    YAML::Node resolve(const YAML::Node& node) {
        Depth depth(*this);
        if (!depth.ok(node)) return YAML::Node(YAML::NodeType::Null);
        switch (node.Type()) {
            case YAML::NodeType::Scalar:
                return made_scalar(substitute(node), node);
            case YAML::NodeType::Sequence: {
                YAML::Node out = made(YAML::NodeType::Sequence, node);
                for (const auto& item : node) out.push_back(resolve(item));
                return out;
            }
            case YAML::NodeType::Map:
                return resolve_map(node);
            default:
                return made(YAML::NodeType::Null, node);
        }
    }

    /// A copy of `node` with `{{ expr }}` evaluated for `index`; `what` names
    /// the expanded object in messages.
    YAML::Node instantiate(const YAML::Node& node, long long index, const std::string& what) {
        Depth depth(*this);
        if (!depth.ok(node)) return YAML::Node(YAML::NodeType::Null);
        if (!count_node(node)) return YAML::Node();
        switch (node.Type()) {
            case YAML::NodeType::Scalar:
                return made_scalar(evaluate(node, index, what), node);
            case YAML::NodeType::Sequence: {
                YAML::Node out = made(YAML::NodeType::Sequence, node);
                for (const auto& item : node) out.push_back(instantiate(item, index, what));
                return out;
            }
            case YAML::NodeType::Map: {
                YAML::Node out = made(YAML::NodeType::Map, node);
                for (const auto& kv : node)
                    out.force_insert(made_scalar(kv.first.Scalar(), kv.first),
                                     instantiate(kv.second, index, what));
                return out;
            }
            default:
                return made(YAML::NodeType::Null, node);
        }
    }

    /// A copy of `node`, counted in the budget.
    YAML::Node copy(const YAML::Node& node) {
        Depth depth(*this);
        if (!depth.ok(node)) return YAML::Node(YAML::NodeType::Null);
        if (!count_node(node)) return YAML::Node();
        switch (node.Type()) {
            case YAML::NodeType::Scalar:
                return made_scalar(node.Scalar(), node);
            case YAML::NodeType::Sequence: {
                YAML::Node out = made(YAML::NodeType::Sequence, node);
                for (const auto& item : node) out.push_back(copy(item));
                return out;
            }
            case YAML::NodeType::Map: {
                YAML::Node out = made(YAML::NodeType::Map, node);
                for (const auto& kv : node)
                    out.force_insert(made_scalar(kv.first.Scalar(), kv.first), copy(kv.second));
                return out;
            }
            default:
                return made(YAML::NodeType::Null, node);
        }
    }

    YAML::Node expand(const YAML::Node& root, bool resolve_all) {
        owner_ = root;
        YAML::Node resolved = resolve_all ? resolve(root) : root;
        if (!resolved.IsMap()) return resolved;
        read_defaults(resolved);
        YAML::Node out = made(YAML::NodeType::Map, resolved);
        for (const auto& kv : resolved) {
            const std::string key = kv.first.Scalar();
            // Top-level `x-...` keys hold anchors for merge keys and aliases.
            if (key == "defaults" || key == "templates" || key.rfind("x-", 0) == 0) continue;
            if (kKinds.count(key) != 0 && kv.second.IsMap())
                out.force_insert(kv.first, expand_section(key, kv.second));
            else
                out.force_insert(kv.first, kv.second);
        }
        return out;
    }

private:
    YAML::Node made(YAML::NodeType::value type, const YAML::Node& at) const {
        return NodeMaker::make(owner_, type, nullptr, at.Mark());
    }
    YAML::Node made_scalar(const std::string& text, const YAML::Node& at) const {
        return NodeMaker::make(owner_, YAML::NodeType::Scalar, &text, at.Mark());
    }

    /// How deep the copy is: bounded, since an alias inside its own anchor
    /// (`&a [*a]`) makes yaml-cpp build a cycle, which no copy may follow.
    static constexpr int kMaxDepth = 256;
    class Depth {
    public:
        explicit Depth(Expander& e) : e_(e) { ++e_.depth_; }
        ~Depth() { --e_.depth_; }
        Depth(const Depth&) = delete;
        Depth& operator=(const Depth&) = delete;
        bool ok(const YAML::Node& node) {
            if (e_.depth_ <= kMaxDepth) return true;
            if (!e_.too_deep_) {
                e_.too_deep_ = true;
                e_.ctx_.error(node, fmt::format("the manifest nests deeper than {} levels here "
                                                "(or an alias refers to its own anchor)",
                                                kMaxDepth));
            }
            return false;
        }

    private:
        Expander& e_;
    };

    bool count_node(const YAML::Node& node) {
        if (state_.over_budget) return false;
        if (++state_.nodes > kMaxExpandedNodes) {
            state_.over_budget = true;
            ctx_.error(node, fmt::format("defaults, templates and counts expand the manifests to "
                                         "more than {} nodes; write less or split the lab",
                                         kMaxExpandedNodes));
            return false;
        }
        return true;
    }

    YAML::Node resolve_map(const YAML::Node& node) {
        YAML::Node out = made(YAML::NodeType::Map, node);
        std::set<std::string> explicit_keys;
        std::vector<YAML::Node> merged;
        const YAML::Node* merge_key = nullptr;
        for (const auto& kv : node) {
            const std::string key = kv.first.Scalar();
            if (key != "<<") {
                explicit_keys.insert(key);
                const std::size_t errors = ctx_.diags.size();
                YAML::Node value = resolve(kv.second);
                // A value whose variable failed is left out: one error, not two.
                if (ctx_.diags.size() == errors || !value.IsScalar())
                    out.force_insert(made_scalar(kv.first.Scalar(), kv.first), value);
                continue;
            }
            if (merge_key != nullptr) {
                ctx_.error(kv.first, fmt::format("duplicate merge key '<<' (first at line {}); "
                                                 "merge several mappings with <<: [*a, *b]",
                                                 ctx_.at(*merge_key).line));
                continue;
            }
            merge_key = &kv.first;
            if (kv.second.IsMap()) {
                merged.push_back(kv.second);
            } else if (kv.second.IsSequence() &&
                       std::all_of(kv.second.begin(), kv.second.end(),
                                   [](const YAML::Node& n) { return n.IsMap(); })) {
                for (const auto& m : kv.second) merged.push_back(m);
            } else {
                ctx_.error(kv.second, fmt::format("the merge key '<<' takes a mapping or a list of "
                                                  "mappings (e.g. <<: *base or <<: [*a, *b]), "
                                                  "got {}",
                                                  type_name(kv.second)));
            }
        }
        // Explicit keys win; of the merged mappings, the first that has a key wins.
        for (const auto& m : merged) {
            const YAML::Node r = resolve(m);
            if (!r.IsMap()) continue;
            for (const auto& kv : r) {
                if (explicit_keys.insert(kv.first.Scalar()).second)
                    out.force_insert(made_scalar(kv.first.Scalar(), kv.first), kv.second);
            }
        }
        return out;
    }

    /// `${VAR}` and `${VAR:=default}` in a scalar value; `$${` is a literal `${`.
    std::string substitute(const YAML::Node& node) {
        const std::string& s = node.Scalar();
        if (s.find("${") == std::string::npos) return s;
        std::string out;
        bool substituted = false;
        for (std::size_t i = 0; i < s.size();) {
            if (s.compare(i, 3, "$${") == 0) {
                out += "${";
                i += 3;
                continue;
            }
            if (s.compare(i, 2, "${") != 0) {
                out += s[i++];
                continue;
            }
            const std::size_t close = s.find('}', i + 2);
            if (close == std::string::npos) {
                ctx_.error(node, "'${' without a closing '}'; write $${ for a literal ${");
                return s;
            }
            const std::string body = s.substr(i + 2, close - i - 2);
            const std::size_t op = body.find(":=");
            const std::string name = body.substr(0, op);
            const bool named =
                !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) == 0 &&
                std::all_of(name.begin(), name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
                });
            if (!named) {
                ctx_.error(node, fmt::format("'${{{}}}' is not a variable: write ${{NAME}} or "
                                             "${{NAME:=default}} (NAME: letters, digits, '_')",
                                             body));
                return s;
            }
            std::optional<std::string> value = lookup(name);
            if ((!value || value->empty()) && op != std::string::npos) value = body.substr(op + 2);
            if (!value) {
                ctx_.error(node,
                           fmt::format("variable '{}' is not set: set it in the environment, "
                                       "with --var {}=VALUE, or give a default: ${{{}:=VALUE}}",
                                       name, name, name));
                return s;
            }
            out += *value;
            substituted = true;
            i = close + 1;
        }
        if (substituted) {
            if (auto problem = scalar_problem(out, false); !problem.empty()) {
                ctx_.error(node,
                           fmt::format("this value, with its variables substituted, {}", problem));
            }
        }
        return out;
    }

    std::optional<std::string> lookup(const std::string& name) {
        auto it = state_.vars.values.find(name);
        if (it != state_.vars.values.end()) {
            state_.used[name] = it->second;
            return it->second;
        }
        if (!state_.vars.environment) return std::nullopt;
        const char* env = std::getenv(name.c_str());
        if (env == nullptr) return std::nullopt;
        state_.used[name] = env;
        return std::string(env);
    }

    /// An error of one copy of a counted object. The same error at the same
    /// place in later copies is counted, not repeated (flush_reports).
    void report(const YAML::Node& node, std::string message) {
        failed_ = true;
        const Location at = ctx_.at(node);
        const std::string key = at.str();
        for (auto& r : reports_) {
            if (r.key == key) {
                ++r.more;
                return;
            }
        }
        reports_.push_back({key, at, std::move(message), 0});
    }
    void flush_reports() {
        for (const auto& r : reports_) {
            ctx_.diags.error(r.at, r.more == 0 ? r.message
                                               : fmt::format("{} (and {} more of its copies)",
                                                             r.message, r.more));
        }
        reports_.clear();
    }

    std::string evaluate(const YAML::Node& node, long long index, const std::string& what) {
        const std::string& s = node.Scalar();
        if (s.find("{{") == std::string::npos) return s;
        struct Octet {
            long long value;
            std::string expr;
        };
        std::string out;
        std::vector<Octet> octets;  // results written between dots, checked if out is IPv4
        for (std::size_t i = 0; i < s.size();) {
            if (s.compare(i, 2, "{{") != 0) {
                out += s[i++];
                continue;
            }
            const std::size_t close = s.find("}}", i + 2);
            if (close == std::string::npos) {
                report(node, fmt::format("'{{{{' without a closing '}}}}' in {}", what));
                return s;
            }
            const std::string expr = s.substr(i + 2, close - i - 2);
            std::string why;
            bool hex = false;
            auto v = ExprParser(expr, index).parse(hex, &why);
            if (!v) {
                report(node, fmt::format("'{{{{{}}}}}' in {}: {}", expr, what, why));
                return s;
            }
            const char before = i == 0 ? '\0' : s[i - 1];
            const char after = close + 2 < s.size() ? s[close + 2] : '\0';
            if (hex && (before == ':' || after == ':') && (*v < 0 || *v > 255)) {
                report(node, fmt::format("'{{{{{}}}}}' is {} in {}, which overflows a MAC "
                                         "address byte (0-255)",
                                         expr, *v, what));
                return s;
            }
            if (hex)
                out += *v < 0 ? fmt::format("-{:02x}", -*v) : fmt::format("{:02x}", *v);
            else
                out += fmt::format("{}", *v);
            if (!hex && (before == '.' || after == '.')) octets.push_back({*v, expr});
            i = close + 2;
        }
        if (looks_like_ipv4(out)) {
            for (const auto& o : octets) {
                if (o.value > 255) {
                    report(node, fmt::format("'{{{{{}}}}}' is {} in {}, which overflows an "
                                             "IPv4 address byte (0-255): '{}'",
                                             o.expr, o.value, what, out));
                    return s;
                }
            }
        }
        return out;
    }

    void read_defaults(const YAML::Node& root) {
        for (const char* section : {"defaults", "templates"}) {
            const YAML::Node node = value_of(root, section);
            if (!node.IsDefined() || node.IsNull()) continue;
            const bool templates = std::string(section) == "templates";
            if (!node.IsMap()) {
                ctx_.error(node, fmt::format("'{}' must be a mapping of kinds ({}), got {}",
                                             section, fmt::join(kKinds, ", "), type_name(node)));
                continue;
            }
            for (const auto& kv : node) {
                const std::string kind = kv.first.Scalar();
                if (kKinds.count(kind) == 0) {
                    std::vector<std::string> kinds(kKinds.begin(), kKinds.end());
                    const std::string hint = closest_match(kind, kinds);
                    ctx_.error(kv.first,
                               fmt::format("unknown kind '{}' in {}; it holds {}{}", kind, section,
                                           fmt::join(kKinds, ", "),
                                           hint.empty() ? "" : "; did you mean '" + hint + "'?"));
                    continue;
                }
                if (!kv.second.IsMap()) {
                    ctx_.error(kv.second, fmt::format("'{}' of {} must be a mapping, got {}", kind,
                                                      section, type_name(kv.second)));
                    continue;
                }
                if (!templates) {
                    check_template_keys(kv.second, fmt::format("the defaults of {}", kind));
                    defaults_[kind] = kv.second;
                    continue;
                }
                for (const auto& t : kv.second) {
                    if (!t.second.IsMap()) {
                        ctx_.error(t.second,
                                   fmt::format("template '{}' of {} must be a mapping, "
                                               "got {}",
                                               t.first.Scalar(), kind, type_name(t.second)));
                        continue;
                    }
                    check_template_keys(t.second,
                                        fmt::format("template '{}' of {}", t.first.Scalar(), kind));
                    templates_[kind][t.first.Scalar()] = t.second;
                }
            }
        }
    }

    void check_template_keys(const YAML::Node& node, const std::string& what) {
        for (const auto& kv : node) {
            const std::string key = kv.first.Scalar();
            if (key == "template" || key == "count" || key == "defaults") {
                ctx_.error(kv.first, fmt::format("'{}' cannot be set in {}: set it on the object",
                                                 key, what));
            }
        }
    }

    /// One kind's section: templates and defaults applied, counts expanded.
    YAML::Node expand_section(const std::string& kind, const YAML::Node& section) {
        YAML::Node out = made(YAML::NodeType::Map, section);
        const std::string noun = kind == "vms" ? "VM" : kind.substr(0, kind.size() - 1);
        std::map<std::string, std::pair<Location, std::string>> names;  // name -> where, origin
        for (const auto& kv : section) {
            const std::string name = kv.first.Scalar();
            names.emplace(name, std::make_pair(ctx_.at(kv.first), std::string()));
        }
        for (const auto& kv : section) {
            const std::string name = kv.first.Scalar();
            const YAML::Node& body = kv.second;
            const bool empty = body.IsNull();
            if (!body.IsMap() && !empty) {
                out.force_insert(kv.first, body);
                continue;
            }
            const YAML::Node count = value_of(body, "count");
            const bool plain = defaults_.count(kind) == 0 && !count.IsDefined() &&
                               !value_of(body, "template").IsDefined();
            if (plain) {  // nothing to do: the object as written
                out.force_insert(kv.first, body);
                continue;
            }
            YAML::Node composed =
                compose(kind, name, empty ? YAML::Node(YAML::NodeType::Map) : body);
            if (!count.IsDefined()) {
                out.force_insert(kv.first, empty && composed.size() == 0 ? body : composed);
                continue;
            }
            auto n = read_count(kind, noun, name, count);
            if (!n) continue;
            const Location template_at = ctx_.at(kv.first);
            for (long long i = 1; i <= *n && !state_.over_budget; ++i) {
                const std::string expanded = fmt::format("{}-{}", name, i);
                const std::string what =
                    fmt::format("{} '{}' (index {} of '{}')", noun, expanded, i, name);
                auto [it, inserted] = names.emplace(
                    expanded,
                    std::make_pair(template_at, fmt::format("index {} of '{}'", i, name)));
                if (!inserted) {
                    ctx_.error(
                        kv.first,
                        fmt::format("{} '{}' ({}) collides with {} '{}'{} at {}", noun, expanded,
                                    fmt::format("index {} of '{}'", i, name), noun, expanded,
                                    it->second.second.empty() ? "" : " (" + it->second.second + ")",
                                    it->second.first.str()));
                    continue;
                }
                failed_ = false;
                YAML::Node object = instantiate(composed, i, what);
                if (failed_) continue;  // one error, not a cascade of the readers' too
                out.force_insert(made_scalar(expanded, kv.first), object);
                state_.expansions[kind + "/" + expanded] =
                    Expansion{name, template_at, static_cast<int>(i)};
            }
            flush_reports();
        }
        return out;
    }

    std::optional<long long> read_count(const std::string& kind, const std::string& noun,
                                        const std::string& name, const YAML::Node& count) {
        if (kCountKinds.count(kind) == 0) {
            ctx_.error(count,
                       fmt::format("'count' is for VMs and networks, not {} '{}'", noun, name));
            return std::nullopt;
        }
        const std::string s = count.IsScalar() ? count.Scalar() : "";
        long long n = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || n < 1 ||
            n > kMaxCount) {
            ctx_.error(count, fmt::format("'count' of {} '{}' must be an integer between 1 and {}, "
                                          "got {}",
                                          noun, name, kMaxCount,
                                          count.IsScalar() ? "'" + s + "'" : type_name(count)));
            return std::nullopt;
        }
        return n;
    }

    /// The object's keys, then its template's it does not set, then the defaults'.
    YAML::Node compose(const std::string& kind, const std::string& name, const YAML::Node& body) {
        YAML::Node out = made(YAML::NodeType::Map, body);
        std::set<std::string> keys;
        for (const auto& kv : body) {
            const std::string key = kv.first.Scalar();
            if (key == "count") continue;
            if (key == "template") {
                if (!kv.second.IsScalar()) {
                    ctx_.error(kv.second, fmt::format("'template' of '{}' must be a template's "
                                                      "name, got {}",
                                                      name, type_name(kv.second)));
                }
                continue;
            }
            keys.insert(key);
            out.force_insert(made_scalar(kv.first.Scalar(), kv.first), copy(kv.second));
        }
        auto add = [&](const YAML::Node& from) {
            for (const auto& kv : from) {
                if (keys.insert(kv.first.Scalar()).second)
                    out.force_insert(made_scalar(kv.first.Scalar(), kv.first), copy(kv.second));
            }
        };
        const YAML::Node tmpl = value_of(body, "template");
        if (tmpl.IsDefined() && tmpl.IsScalar()) {
            auto& named = templates_[kind];
            auto it = named.find(tmpl.Scalar());
            if (it == named.end()) {
                std::vector<std::string> known;
                for (const auto& [n, t] : named) known.push_back(n);
                const std::string hint = closest_match(tmpl.Scalar(), known);
                ctx_.error(tmpl,
                           fmt::format("'{}' names template '{}', which 'templates: {}:' does "
                                       "not declare{}",
                                       name, tmpl.Scalar(), kind,
                                       hint.empty() ? "" : "; did you mean '" + hint + "'?"));
            } else {
                add(it->second);
            }
        }
        if (auto it = defaults_.find(kind); it != defaults_.end()) add(it->second);
        return out;
    }

    const Context& ctx_;
    ExpandState& state_;
    YAML::Node owner_;  ///< the document: new nodes go to its node store
    std::map<std::string, YAML::Node> defaults_;
    std::map<std::string, std::map<std::string, YAML::Node>> templates_;
    struct Report {
        std::string key;
        Location at;
        std::string message;
        std::size_t more;
    };
    std::vector<Report> reports_;
    bool failed_ = false;
    int depth_ = 0;
    bool too_deep_ = false;
};

}  // namespace

YAML::Node expand_manifest(const Context& ctx, const YAML::Node& root, const std::string& text,
                           ExpandState& state) {
    // Without merge keys or variables the tree is taken as parsed (no copy);
    // without any key of the pass, it is the manifest as written.
    const bool resolve =
        text.find("<<") != std::string::npos || text.find("${") != std::string::npos;
    if (!resolve && text.find("defaults") == std::string::npos &&
        text.find("template") == std::string::npos && text.find("count") == std::string::npos &&
        text.find("x-") == std::string::npos)
        return root;
    return Expander(ctx, state).expand(root, resolve);
}

std::optional<std::string> interpolate(const std::string& text, std::optional<long long> index,
                                       std::string* why) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        if (text.compare(i, 2, "{{") != 0) {
            out += text[i++];
            continue;
        }
        const std::size_t close = text.find("}}", i + 2);
        if (close == std::string::npos) {
            if (why != nullptr) *why = "'{{' without a closing '}}'";
            return std::nullopt;
        }
        bool hex = false;
        auto v = ExprParser(text.substr(i + 2, close - i - 2), index).parse(hex, why);
        if (!v) return std::nullopt;
        out += hex ? fmt::format("{:02x}", *v) : fmt::format("{}", *v);
        i = close + 2;
    }
    return out;
}

}  // namespace virtform::detail
