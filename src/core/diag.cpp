#include "virtform/diag.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace virtform {

std::string Location::str() const {
    if (!known()) return {};
    if (line <= 0) return file;
    return fmt::format("{}:{}:{}", file, line, column);
}

std::string Diagnostic::str() const {
    if (!where.known()) return "error: " + message;
    return fmt::format("{}: error: {}", where.str(), message);
}

void Diagnostics::error(Location where, std::string message) {
    items_.push_back(Diagnostic{std::move(where), std::move(message)});
}

std::string Diagnostics::str() const {
    std::string out;
    for (const auto& d : items_) {
        out += d.str();
        out += '\n';
    }
    return out;
}

void Diagnostics::throw_if_any() const {
    if (!empty()) throw ValidationError(*this);
}

ValidationError::ValidationError(Diagnostics diags)
    : Error(fmt::format("{} error{} found:\n{}", diags.size(), diags.size() == 1 ? "" : "s",
                        diags.str())),
      diags_(std::move(diags)) {}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), 0);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
        const std::size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

}  // namespace virtform
