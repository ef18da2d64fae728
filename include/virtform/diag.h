#pragma once
/// Diagnostics: what was wrong, and where. A location is a manifest position
/// (file:line:col) or, for errors found while planning, the object concerned.
#include <string>
#include <string_view>
#include <vector>

#include "virtform/error.h"

namespace virtform {

/// A position in a manifest file; line and column count from 1.
struct Location {
    std::string file;
    int line = 0;
    int column = 0;

    bool known() const { return !file.empty(); }
    /// "file:line:col", or "" when unknown.
    std::string str() const;
};

struct Diagnostic {
    Location where;
    std::string message;

    /// "file:line:col: error: message" (or "error: message" without a location).
    std::string str() const;
};

/// Every problem found at once, in the order found.
class Diagnostics {
public:
    void error(Location where, std::string message);
    bool empty() const { return items_.empty(); }
    std::size_t size() const { return items_.size(); }
    const std::vector<Diagnostic>& items() const { return items_; }
    /// All diagnostics, one per line.
    std::string str() const;
    /// Throws ValidationError holding every diagnostic if there is any.
    void throw_if_any() const;

private:
    std::vector<Diagnostic> items_;
};

/// Manifests (or the plan's cross-checks) are invalid; nothing was touched.
class ValidationError : public Error {
public:
    explicit ValidationError(Diagnostics diags);
    const Diagnostics& diagnostics() const { return diags_; }

private:
    Diagnostics diags_;
};

/// Decodes the UTF-8 code point starting at s[i] into `cp`; returns its length
/// in bytes, or 0 when the bytes there are not valid UTF-8 (truncated,
/// overlong, a surrogate, above U+10FFFF).
std::size_t utf8_decode(std::string_view s, std::size_t i, char32_t& cp);

/// `text` made safe to print on a terminal: C0 and C1 control characters, DEL,
/// bidirectional overrides and bytes that are not UTF-8 are shown as escapes
/// (`\n`, `\t`, `\x1b`, `\u009b`, `\u202e`, `\xff`); everything else is kept.
/// Whatever virtform prints that came from a manifest or the host goes through it.
std::string terminal_escape(std::string_view text);

/// `text` for HTML/XML text and attribute values: & < > " ' escaped (graph's
/// HTML page, the Markdown plan's <summary> and <code>).
std::string html_escape(std::string_view text);

/// Levenshtein distance, for "did you mean".
std::size_t edit_distance(const std::string& a, const std::string& b);
/// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace virtform
