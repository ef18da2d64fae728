#include "virtform/text_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace virtform {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

struct Op {
    char kind;         ///< ' ', '-', '+'
    std::size_t a, b;  ///< line indexes (before, after)
};

/// The edit script by longest common subsequence.
std::vector<Op> edit_script(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    const std::size_t n = a.size(), m = b.size();
    std::vector<Op> ops;
    if (n * m > 4'000'000) {
        for (std::size_t i = 0; i < n; ++i) ops.push_back({'-', i, 0});
        for (std::size_t j = 0; j < m; ++j) ops.push_back({'+', n, j});
        return ops;
    }
    std::vector<std::vector<unsigned>> lcs(n + 1, std::vector<unsigned>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;) {
        for (std::size_t j = m; j-- > 0;) {
            lcs[i][j] =
                a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
        }
    }
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && a[i] == b[j]) {
            ops.push_back({' ', i++, j++});
        } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
            ops.push_back({'-', i++, j});  // removals before additions, as diff -u
        } else {
            ops.push_back({'+', i, j++});
        }
    }
    return ops;
}

}  // namespace

std::string unified_diff(const std::string& before, const std::string& after,
                         const std::string& name) {
    if (before == after) return "";
    const auto a = lines_of(before), b = lines_of(after);
    const auto ops = edit_script(a, b);
    constexpr std::size_t kContext = 3;
    std::string out = fmt::format("--- a/{}\n+++ b/{}\n", name, name);
    std::size_t k = 0;
    while (k < ops.size()) {
        while (k < ops.size() && ops[k].kind == ' ') ++k;
        if (k == ops.size()) break;
        // A hunk: from kContext lines before this change to kContext after
        // the last change that is at most 2*kContext lines from the next.
        std::size_t start = k >= kContext ? k - kContext : 0;
        std::size_t end = k;
        while (true) {
            while (end < ops.size() && ops[end].kind != ' ') ++end;
            std::size_t same = end;
            while (same < ops.size() && ops[same].kind == ' ') ++same;
            if (same < ops.size() && same - end <= 2 * kContext) {
                end = same;
                continue;
            }
            end = std::min(ops.size(), end + kContext);
            break;
        }
        std::size_t a_start = ops[start].a, b_start = ops[start].b, a_len = 0, b_len = 0;
        std::string body;
        for (std::size_t x = start; x < end; ++x) {
            const Op& op = ops[x];
            if (op.kind != '+') ++a_len;
            if (op.kind != '-') ++b_len;
            body += op.kind;
            body += op.kind == '+' ? b[op.b] : a[op.a];
            body += '\n';
        }
        out += fmt::format("@@ -{},{} +{},{} @@\n", a_len == 0 ? a_start : a_start + 1, a_len,
                           b_len == 0 ? b_start : b_start + 1, b_len);
        out += body;
        k = end;
    }
    return out;
}

}  // namespace virtform
