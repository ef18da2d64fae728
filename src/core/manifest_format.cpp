// `virtform fmt`: a line-based pass over the manifest's block structure. It
// never re-emits YAML from a parsed tree (that would lose comments and the
// user's choice of style): it reads the text as nested blocks of entries
// (mapping keys, list items), each with the comment lines above it and the
// lines that continue it, reorders mapping entries by kKeyOrder, and writes
// the same lines back at two spaces per level. Then it proves the result:
// same YAML tree, same comments, a fixed point.
#include "virtform/manifest_format.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "virtform/diag.h"
#include "virtform/error.h"
#include "yaml_reader.h"

namespace virtform {
namespace {

// ---------------------------------------------------------------------------
// The canonical key order: docs/manifest.md's, per place in the manifest.
// "*" stands for an object's name; "[]" for the items of a list. The one
// table fmt orders by; a place it does not name keeps the user's order.

struct KeyOrder {
    const char* place;
    std::vector<std::string> keys;
};

const std::vector<KeyOrder>& key_order_table() {
    static const std::vector<KeyOrder> table = {
        {"", {"lab", "networks", "bridges", "pools", "vms"}},
        {"networks.*",
         {"mode", "bridge", "ipv4", "ipv6", "dns", "domain", "mtu", "stp", "autostart", "active"}},
        {"networks.*.ipv4", {"address", "dhcp"}},
        {"networks.*.ipv6", {"address", "dhcp"}},
        {"networks.*.ipv4.dhcp", {"range", "hosts"}},
        {"networks.*.ipv6.dhcp", {"range", "hosts"}},
        {"networks.*.ipv4.dhcp.range", {"start", "end"}},
        {"networks.*.ipv6.dhcp.range", {"start", "end"}},
        {"networks.*.ipv4.dhcp.hosts[]", {"mac", "ip", "name"}},
        {"networks.*.dns", {"hosts"}},
        {"networks.*.dns.hosts[]", {"ip", "names"}},
        {"bridges.*",
         {"ports", "take_over_addresses", "stp", "mtu", "mac", "addresses", "up",
          "vlan_filtering"}},
        {"bridges.*.stp", {"enabled", "forward_delay", "hello_time", "max_age", "priority"}},
        {"pools.*", {"path", "autostart", "active"}},
        {"vms.*", {"cpus",    "max_cpus",   "memory",   "max_memory", "accel",
                   "machine", "cpu_mode",   "firmware", "disks",      "boot",
                   "kernel",  "initrd",     "cmdline",  "nics",       "graphics",
                   "console", "cloud_init", "state",    "autostart",  "shutdown_timeout"}},
        {"vms.*.disks[]",
         {"name", "pool", "size", "format", "backing", "import", "allow_backing_chain", "keep",
          "cdrom", "file", "bus"}},
        {"vms.*.nics[]", {"network", "bridge", "mac", "model"}},
        {"vms.*.console", {"file"}},
        {"vms.*.cloud_init", {"user_data", "meta_data", "network_config", "ssh_authorized_keys"}},
    };
    return table;
}

/// Top-level sections whose keys are object names.
bool is_named_map(const std::string& place) {
    return place == "networks" || place == "bridges" || place == "pools" || place == "vms";
}

std::string child_place(const std::string& place, const std::string& key) {
    if (is_named_map(place)) return place + ".*";
    return place.empty() ? key : place + "." + key;
}

const std::vector<std::string>* keys_for(const std::string& place) {
    for (const auto& k : key_order_table()) {
        if (place == k.place) return &k.keys;
    }
    return nullptr;
}

/// Stable order: known keys by the table; an unknown key keeps its place
/// right after the key it followed (first: stays first).
template <typename T, typename KeyOf>
void order_by_table(std::vector<T>& items, const std::string& place, KeyOf key_of) {
    const auto* keys = keys_for(place);
    if (keys == nullptr || items.size() < 2) return;
    // A key given twice is an error the loader reports at its lines: keep them.
    std::set<std::string> seen;
    for (const auto& item : items) {
        if (!seen.insert(key_of(item)).second) return;
    }
    std::vector<std::pair<int, std::size_t>> rank;
    int last = -1;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto it = std::find(keys->begin(), keys->end(), key_of(items[i]));
        if (it != keys->end()) last = static_cast<int>(it - keys->begin());
        rank.push_back({last, i});
    }
    std::stable_sort(rank.begin(), rank.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<T> sorted;
    for (const auto& [r, i] : rank) sorted.push_back(std::move(items[i]));
    items = std::move(sorted);
}

// ---------------------------------------------------------------------------
// Scanning one line.

class Unformattable : public Error {
public:
    using Error::Error;
};

struct Line {
    int indent = 0;
    std::string text;  ///< without the indentation; "" for a blank line
    bool blank() const { return text.empty(); }
    bool comment() const { return !text.empty() && text[0] == '#'; }
};

std::string rstrip(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
    return s;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    return rstrip(s.substr(b));
}

/// Where a comment starts in `s` (a " #" or a leading "#" outside quotes and
/// brackets); npos when there is none.
std::size_t comment_start(const std::string& s) {
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quote == '"') {
            if (c == '\\')
                ++i;
            else if (c == '"')
                quote = 0;
        } else if (quote == '\'') {
            if (c == '\'' && i + 1 < s.size() && s[i + 1] == '\'')
                ++i;  // '' is a quote inside the string
            else if (c == '\'')
                quote = 0;
        } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
            return i;
        } else if ((c == '"' || c == '\'') &&
                   (i == 0 || s[i - 1] == ' ' || s[i - 1] == '[' || s[i - 1] == '{' ||
                    s[i - 1] == ',' || s[i - 1] == ':')) {
            quote = c;
        }
    }
    return std::string::npos;
}

/// The comments of a text, one per line that has one (for the check that none is lost).
std::multiset<std::string> comments_of(const std::string& text) {
    std::multiset<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const auto at = comment_start(line);
        if (at != std::string::npos) out.insert(rstrip(line.substr(at)));
    }
    return out;
}

struct KeyLine {
    std::string key;   ///< unquoted, for the table
    std::string raw;   ///< as written, up to and without the ':'
    std::string rest;  ///< after ": ", comment included
};

/// "key: rest", "key:", "\"quoted key\": rest"; nullopt for anything else.
std::optional<KeyLine> parse_key(const std::string& text) {
    if (text.empty()) return std::nullopt;
    std::size_t end = 0;  // one past the key
    std::string key;
    const char first = text[0];
    if (first == '"' || first == '\'') {
        std::size_t i = 1;
        for (; i < text.size(); ++i) {
            if (first == '"' && text[i] == '\\') {
                ++i;
                continue;
            }
            if (text[i] == first) {
                if (first == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                    ++i;
                    continue;
                }
                break;
            }
        }
        if (i >= text.size()) return std::nullopt;
        key = text.substr(1, i - 1);
        end = i + 1;
        while (end < text.size() && text[end] == ' ') ++end;
        if (end >= text.size() || text[end] != ':') return std::nullopt;
    } else {
        if (std::string("[]{},#&*!|>%@`?-").find(first) != std::string::npos &&
            !(first == '-' && text.size() > 1 && text[1] != ' ')) {
            return std::nullopt;
        }
        const auto hash = comment_start(text);
        std::size_t i = 0;
        for (; i < text.size() && i < hash; ++i) {
            if (text[i] == ':' && (i + 1 == text.size() || text[i + 1] == ' ')) break;
        }
        if (i >= text.size() || i >= hash) return std::nullopt;
        key = rstrip(text.substr(0, i));
        if (key.empty()) return std::nullopt;
        end = i;
    }
    KeyLine k;
    k.key = key;
    k.raw = rstrip(text.substr(0, end));
    std::size_t r = end + 1;
    while (r < text.size() && text[r] == ' ') ++r;
    k.rest = r < text.size() ? text.substr(r) : "";
    return k;
}

/// The value part of `rest` (comment and trailing spaces removed).
std::string value_of(const std::string& rest) {
    const auto at = comment_start(rest);
    return rstrip(at == std::string::npos ? rest : rest.substr(0, at));
}

/// A value after which the entry's more-indented lines are a nested block:
/// nothing, or only an anchor and/or a tag.
bool opens_block(const std::string& value) {
    std::istringstream in(value);
    for (std::string word; in >> word;) {
        if (word[0] != '&' && word[0] != '!') return false;
    }
    return true;
}

/// Whether a `quote`d scalar is still open at the end of `text` (scanned from
/// `from`, inside the quotes).
bool still_quoted(const std::string& text, std::size_t from, char quote) {
    for (std::size_t i = from; i < text.size(); ++i) {
        if (quote == '"' && text[i] == '\\') {
            ++i;
        } else if (text[i] == quote) {
            if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                ++i;
                continue;
            }
            return false;
        }
    }
    return true;
}

/// Open brackets after `text`, starting from `depth` (quotes and comments skipped).
int flow_depth(const std::string& text, int depth) {
    const auto hash = comment_start(text);
    char quote = 0;
    for (std::size_t i = 0; i < text.size() && i < hash; ++i) {
        const char c = text[i];
        if (quote != 0) {
            if (quote == '"' && c == '\\')
                ++i;
            else if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return depth;
}

bool is_item(const std::string& text) {
    return text == "-" || text.rfind("- ", 0) == 0;
}

// ---------------------------------------------------------------------------
// Flow collections on one line: `{mac: x, ip: y}` and `[a, {..}]`.

/// Splits the inside of a flow collection at its top-level commas; nullopt
/// when the brackets or quotes do not balance on this line.
std::optional<std::vector<std::string>> split_flow(const std::string& inner) {
    std::vector<std::string> parts;
    std::string cur;
    int depth = 0;
    char quote = 0;
    for (std::size_t i = 0; i < inner.size(); ++i) {
        const char c = inner[i];
        cur += c;
        if (quote == '"') {
            if (c == '\\' && i + 1 < inner.size())
                cur += inner[++i];
            else if (c == '"')
                quote = 0;
            continue;
        }
        if (quote == '\'') {
            if (c == '\'' && i + 1 < inner.size() && inner[i + 1] == '\'')
                cur += inner[++i];  // '' is a quote inside the string
            else if (c == '\'')
                quote = 0;
            continue;
        }
        if (c == '"' || c == '\'') {
            // Only at a scalar's start: after nothing, ':', ',', '[' or '{'.
            const auto before = cur.find_last_not_of(' ', cur.size() - 2);
            if (cur.size() == 1 || before == std::string::npos ||
                std::string(":,[{").find(cur[before]) != std::string::npos)
                quote = c;
            continue;
        }
        if (c == '#' && i > 0 && inner[i - 1] == ' ') return std::nullopt;
        if (c == '[' || c == '{') ++depth;
        if (c == ']' || c == '}') {
            if (--depth < 0) return std::nullopt;
        }
        if (c == ',' && depth == 0) {
            cur.pop_back();
            parts.push_back(trim(cur));
            cur.clear();
        }
    }
    if (depth != 0 || quote != 0) return std::nullopt;
    if (!trim(cur).empty()) parts.push_back(trim(cur));
    for (const auto& p : parts) {
        if (p.empty()) return std::nullopt;  // "a,,b": leave it to YAML to judge
    }
    return parts;
}

/// The flow value with its mappings' keys ordered for `place`; unchanged when
/// it is not one balanced flow collection.
std::string format_flow(const std::string& value, const std::string& place) {
    if (value.size() < 2) return value;
    const char open = value.front(), close = value.back();
    if (!((open == '{' && close == '}') || (open == '[' && close == ']'))) return value;
    const auto parts = split_flow(value.substr(1, value.size() - 2));
    if (!parts) return value;
    if (parts->empty()) return std::string{open, close};
    if (open == '[') {
        std::vector<std::string> items;
        for (const auto& p : *parts) items.push_back(format_flow(p, place + "[]"));
        return fmt::format("[{}]", fmt::join(items, ", "));
    }
    struct Pair {
        std::string key, text;
    };
    std::vector<Pair> pairs;
    for (const auto& p : *parts) {
        auto k = parse_key(p);
        if (!k) return value;  // `{a}`, `{? x}`, JSON-ish `"k":v`: keep as written
        const std::string v = rstrip(k->rest);
        const std::string inner = format_flow(v, child_place(place, k->key));
        pairs.push_back({k->key, inner.empty() ? k->raw + ":" : k->raw + ": " + inner});
    }
    order_by_table(pairs, place, [](const Pair& p) { return p.key; });
    std::vector<std::string> texts;
    for (const auto& p : pairs) texts.push_back(p.text);
    return fmt::format("{{{}}}", fmt::join(texts, ", "));
}

// ---------------------------------------------------------------------------
// The block structure.

struct Block;

struct Entry {
    std::vector<Line> lead;     ///< blank and comment lines above it
    bool item = false;          ///< a list item ("- ...")
    std::string key;            ///< a mapping entry's key (unquoted)
    std::string head;           ///< the first line, without indentation (items: after "- ")
    int indent = 0;             ///< column of the key or the dash, as written
    std::vector<Line> tail;     ///< lines continuing the value, shifted with it
    bool literal_tail = false;  ///< tail is a block scalar: kept byte for byte
    std::shared_ptr<Block> children;
    bool inline_block = false;  ///< an item whose mapping or list starts on the dash line
};

struct Block {
    std::vector<Entry> entries;
    std::vector<Line> trailing;  ///< comments after the last entry, at this level
};

class Parser {
public:
    explicit Parser(std::vector<Line> lines) : lines_(std::move(lines)) {}

    Block parse_document() {
        std::size_t first = 0;
        while (first < lines_.size() && (lines_[first].blank() || lines_[first].comment())) ++first;
        Block root = parse_block(first < lines_.size() ? lines_[first].indent : 0, false);
        if (pos_ < lines_.size()) {
            throw Unformattable(fmt::format("line {}: unexpected indentation", pos_ + 1));
        }
        return root;
    }

private:
    bool content_at(std::size_t i) const {
        return i < lines_.size() && !lines_[i].blank() && !lines_[i].comment();
    }
    std::size_t next_content(std::size_t from) const {
        while (from < lines_.size() && !content_at(from)) ++from;
        return from;
    }

    /// Comments and blanks from pos_ up to `upto` that belong at this level
    /// (indented at least `indent`) become the block's trailing lines.
    void take_trailing(Block& block, int indent, std::size_t upto) {
        std::size_t last = pos_;
        for (std::size_t i = pos_; i < upto; ++i) {
            if (lines_[i].comment()) {
                if (lines_[i].indent < indent) break;
                last = i + 1;
            }
        }
        for (; pos_ < last; ++pos_) block.trailing.push_back(lines_[pos_]);
    }

    /// Entries at `indent`. `items_only`: a list written at its key's indentation.
    Block parse_block(int indent, bool items_only) {
        Block block;
        std::optional<bool> of_items;
        while (true) {
            const std::size_t next = next_content(pos_);
            if (next >= lines_.size() || lines_[next].indent < indent ||
                (items_only && !is_item(lines_[next].text))) {
                take_trailing(block, indent, next);
                return block;
            }
            if (lines_[next].indent > indent) {
                throw Unformattable(fmt::format("line {}: unexpected indentation", next + 1));
            }
            const bool item = is_item(lines_[next].text);
            if (of_items && *of_items != item) {
                throw Unformattable(
                    fmt::format("line {}: a list item among mapping keys", next + 1));
            }
            of_items = item;
            Entry e;
            for (; pos_ < next; ++pos_) e.lead.push_back(lines_[pos_]);
            parse_entry(e, indent);
            block.entries.push_back(std::move(e));
        }
    }

    void parse_entry(Entry& e, int indent) {
        Line& line = lines_[pos_];
        e.indent = indent;
        if (is_item(line.text)) {
            e.item = true;
            const std::string rest = line.text.size() > 2 ? trim(line.text.substr(2)) : "";
            const int inner = indent + static_cast<int>(line.text.find_first_not_of(" ", 1));
            if (!rest.empty() && (parse_key(rest) || is_item(rest))) {
                // "- key: v" / "- - x": a block whose first line is the dash line.
                e.inline_block = true;
                line = Line{inner, rest};
                e.children = std::make_shared<Block>(parse_block(inner, false));
                return;
            }
            e.head = rest;
            ++pos_;
            continue_value(e, indent, rest);
            return;
        }
        const auto k = parse_key(line.text);
        if (!k) {
            throw Unformattable(
                fmt::format("line {}: not a 'key: value' line fmt can handle", pos_ + 1));
        }
        e.key = k->key;
        e.head = line.text;
        ++pos_;
        continue_value(e, indent, k->rest);
    }

    /// What follows an entry's first line: a nested block, a block scalar, or
    /// the continuation of a multi-line value.
    void continue_value(Entry& e, int indent, const std::string& rest) {
        const std::string value = value_of(rest);
        const std::size_t next = next_content(pos_);
        if (opens_block(value)) {
            if (next < lines_.size() && lines_[next].indent > indent) {
                e.children = std::make_shared<Block>(parse_block(lines_[next].indent, false));
            } else if (!e.item && next < lines_.size() && lines_[next].indent == indent &&
                       is_item(lines_[next].text)) {
                e.children = std::make_shared<Block>(parse_block(indent, true));
            }
            return;
        }
        // A block scalar keeps every line indented deeper (and the blank lines
        // among them) as it is; so does a value continued on further lines.
        e.literal_tail = value[0] == '|' || value[0] == '>';
        if (value[0] == '"' || value[0] == '\'') {
            // A quoted scalar over several lines: up to its closing quote,
            // wherever that is.
            char quote = value[0];
            std::size_t from = 1;
            std::string text = value;
            while (still_quoted(text, from, quote) && pos_ < lines_.size()) {
                text = lines_[pos_].text;
                from = 0;
                e.tail.push_back(lines_[pos_++]);
            }
            e.literal_tail = true;  // spaces in a quoted scalar's lines count
            return;
        }
        if (value[0] == '[' || value[0] == '{') {
            // A flow collection over several lines: up to where it closes,
            // wherever that is (`]` may sit at the key's indentation).
            int depth = flow_depth(value, 0);
            while (depth > 0 && pos_ < lines_.size()) {
                if (!lines_[pos_].blank()) depth = flow_depth(lines_[pos_].text, depth);
                e.tail.push_back(lines_[pos_++]);
            }
            if (depth == 0) return;
        }
        std::size_t end = pos_;
        for (std::size_t i = pos_; i < lines_.size(); ++i) {
            if (lines_[i].blank()) continue;
            if (lines_[i].indent <= indent) break;
            end = i + 1;
        }
        for (; pos_ < end; ++pos_) e.tail.push_back(lines_[pos_]);
    }

    std::vector<Line> lines_;
    std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Writing it back.

std::string spaces(int n) {
    return std::string(static_cast<std::size_t>(std::max(n, 0)), ' ');
}

void emit_aside(std::vector<std::string>& out, const Line& l, int indent) {
    out.push_back(l.blank() ? std::string() : spaces(indent) + rstrip(l.text));
}

/// "key: {b: 1, a: 2}  # c" with its flow value formatted for `place`.
std::string format_head(const std::string& head, const std::string& rest, const std::string& prefix,
                        const std::string& place) {
    const auto at = comment_start(rest);
    const std::string value = rstrip(at == std::string::npos ? rest : rest.substr(0, at));
    const std::string formatted = format_flow(value, place);
    if (formatted == value) return rstrip(head);
    std::string comment;
    if (at != std::string::npos) {
        const std::size_t gap = rest.find_last_not_of(' ', at - 1);
        comment = rest.substr(gap == std::string::npos ? 0 : gap + 1);
    }
    return rstrip(prefix + formatted + comment);
}

void emit_block(std::vector<std::string>& out, Block& block, int indent, const std::string& place,
                bool keep_first_lead);

void emit_entry(std::vector<std::string>& out, Entry& e, int indent, const std::string& place) {
    for (const auto& l : e.lead) emit_aside(out, l, indent);
    const int shift = indent - e.indent;
    std::string value_place;
    if (e.item) {
        value_place = place + "[]";
        if (e.inline_block) {
            std::vector<std::string> inner;
            emit_block(inner, *e.children, indent + 2, value_place, false);
            // The dash goes on the first line of the item's own content;
            // comments that now come first stay above the item.
            std::size_t i = 0;
            for (; i < inner.size(); ++i) {
                const std::string t = trim(inner[i]);
                if (!t.empty() && t[0] != '#') break;
                out.push_back(t.empty() ? "" : spaces(indent) + t);
            }
            if (i < inner.size())
                out.push_back(spaces(indent) + "- " + inner[i].substr(indent + 2));
            for (++i; i < inner.size(); ++i) out.push_back(inner[i]);
            return;
        }
        out.push_back(spaces(indent) +
                      (e.head.empty() ? std::string("-")
                                      : format_head("- " + e.head, e.head, "- ", value_place)));
    } else {
        value_place = child_place(place, e.key);
        const auto k = parse_key(e.head);
        out.push_back(spaces(indent) + format_head(e.head, k->rest, k->raw + ": ", value_place));
    }
    for (const auto& l : e.tail) {
        if (l.blank())
            out.emplace_back();
        else
            out.push_back(spaces(l.indent + shift) + (e.literal_tail ? l.text : rstrip(l.text)));
    }
    if (e.children) emit_block(out, *e.children, indent + 2, value_place, false);
}

void emit_block(std::vector<std::string>& out, Block& block, int indent, const std::string& place,
                bool keep_first_lead) {
    std::vector<Line> header;
    if (keep_first_lead && !block.entries.empty()) {
        header = std::move(block.entries.front().lead);
        block.entries.front().lead.clear();
    }
    for (const auto& l : header) emit_aside(out, l, indent);
    if (!block.entries.empty() && !block.entries.front().item) {
        order_by_table(block.entries, place, [](const Entry& e) { return e.key; });
    }
    for (auto& e : block.entries) emit_entry(out, e, indent, place);
    for (const auto& l : block.trailing) emit_aside(out, l, indent);
}

std::vector<Line> split_lines(const std::string& text) {
    std::vector<Line> lines;
    std::istringstream in(text);
    for (std::string raw; std::getline(in, raw);) {
        if (!raw.empty() && raw.back() == '\r') raw.pop_back();
        const auto first = raw.find_first_not_of(' ');
        if (first == std::string::npos || rstrip(raw).empty()) {
            lines.push_back({0, ""});
            continue;
        }
        lines.push_back({static_cast<int>(first), raw.substr(first)});
    }
    return lines;
}

std::string layout(const std::string& text) {
    std::vector<Line> lines = split_lines(text);
    // A leading "---" stays; directives or further documents are not handled.
    std::vector<std::string> header;
    std::size_t start = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& t = lines[i].text;
        if (lines[i].indent != 0) continue;
        const bool marker = t == "---" || t.rfind("--- ", 0) == 0 || t == "..." || t[0] == '%';
        if (!marker) continue;
        bool before_content = true;
        for (std::size_t j = 0; j < i; ++j) {
            if (!lines[j].blank() && !lines[j].comment()) before_content = false;
        }
        if (!before_content || t != "---") {
            throw Unformattable(fmt::format(
                "line {}: fmt handles one YAML document per file, without directives", i + 1));
        }
        for (std::size_t j = 0; j <= i; ++j) header.push_back(rstrip(lines[j].text));
        start = i + 1;
    }
    lines.erase(lines.begin(), lines.begin() + static_cast<long>(start));
    Parser parser(std::move(lines));
    Block root = parser.parse_document();
    std::vector<std::string> out = header;
    emit_block(out, root, 0, "", true);
    while (!out.empty() && out.back().empty()) out.pop_back();
    std::string result;
    for (const auto& l : out) result += l + "\n";
    return result;
}

// ---------------------------------------------------------------------------
// The proof.

bool same_tree(const YAML::Node& a, const YAML::Node& b) {
    if (a.Type() != b.Type() || a.Tag() != b.Tag()) return false;
    switch (a.Type()) {
        case YAML::NodeType::Scalar:
            return a.Scalar() == b.Scalar();
        case YAML::NodeType::Sequence:
            if (a.size() != b.size()) return false;
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (!same_tree(a[i], b[i])) return false;
            }
            return true;
        case YAML::NodeType::Map: {
            if (a.size() != b.size()) return false;
            // Indexes, not copies: assigning a YAML::Node writes through to
            // the node it refers to.
            std::vector<YAML::const_iterator> rest;
            for (auto it = b.begin(); it != b.end(); ++it) rest.push_back(it);
            std::vector<bool> used(rest.size(), false);
            for (const auto& kv : a) {
                bool found = false;
                for (std::size_t i = 0; i < rest.size() && !found; ++i) {
                    if (used[i] || !same_tree(kv.first, rest[i]->first) ||
                        !same_tree(kv.second, rest[i]->second))
                        continue;
                    used[i] = found = true;
                }
                if (!found) return false;
            }
            return true;
        }
        default:
            return true;
    }
}

YAML::Node load_checked(const std::string& text, const std::string& file) {
    Diagnostics diags;
    // YAML text holds no NUL (yaml-cpp would read up to it, fmt past it).
    if (const auto nul = text.find('\0'); nul != std::string::npos) {
        const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(nul), '\n');
        const auto bol = text.rfind('\n', nul);
        const auto col = nul - (bol == std::string::npos ? 0 : bol + 1) + 1;
        diags.error(Location{file, static_cast<int>(line), static_cast<int>(col)},
                    "a NUL byte: not YAML text");
        diags.throw_if_any();
    }
    const detail::Context ctx{file, diags};
    const bool loadable = detail::check_yaml_input(ctx, text);
    diags.throw_if_any();
    if (!loadable) throw Error(fmt::format("{}: cannot be read as YAML", file));
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        diags.error(Location{file, e.mark.line + 1, e.mark.column + 1}, "YAML syntax: " + e.msg);
        diags.throw_if_any();
        throw;
    }
}

}  // namespace

std::string format_manifest(const std::string& text, const std::string& file) {
    const YAML::Node before = load_checked(text, file);
    std::string formatted;
    try {
        formatted = layout(text);
    } catch (const Unformattable& e) {
        throw Error(fmt::format("{}: fmt cannot lay this file out ({}); it is left as it is", file,
                                e.what()));
    }
    auto refuse = [&](const std::string& why) {
        return Error(
            fmt::format("{}: fmt would {}; the file is left as it is (please report this as a bug)",
                        file, why));
    };
    YAML::Node after;
    try {
        after = YAML::Load(formatted);
    } catch (const YAML::Exception&) {
        throw refuse("write invalid YAML");
    }
    if (!same_tree(before, after)) throw refuse("change what the file means");
    if (comments_of(text) != comments_of(formatted)) throw refuse("lose or change a comment");
    std::string again;
    try {
        again = layout(formatted);
    } catch (const Unformattable&) {
        throw refuse("not reach a fixed point");
    }
    if (again != formatted) throw refuse("not reach a fixed point");
    return formatted;
}

}  // namespace virtform
