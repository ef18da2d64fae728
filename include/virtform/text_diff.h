#pragma once
/// A unified diff of two texts (`virtform fmt --diff`). Pure.
#include <string>

namespace virtform {

/// `diff -u`'s format with 3 lines of context, headed `--- a/NAME` and
/// `+++ b/NAME`; "" when the texts are equal. Very large texts (more than
/// 4 million line pairs) differ as one hunk.
std::string unified_diff(const std::string& before, const std::string& after,
                         const std::string& name);

}  // namespace virtform
