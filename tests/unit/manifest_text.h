#pragma once
// Loading a manifest written inline in a test, as the file "lab.yaml", and
// reading back its diagnostics: the helpers the loader's unit tests share.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "virtform/diag.h"
#include "virtform/manifest.h"

namespace virtform::test_manifest {

inline Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

/// Every diagnostic line of loading `text`; empty when it loads.
inline std::vector<std::string> load_errors(const std::string& text) {
    try {
        load(text);
    } catch (const ValidationError& e) {
        std::vector<std::string> out;
        for (const auto& d : e.diagnostics().items()) out.push_back(d.str());
        return out;
    }
    return {};
}

/// As load_errors, expecting `text` to fail: a test failure when it loads.
inline std::vector<std::string> errors_of(const std::string& text) {
    auto errors = load_errors(text);
    if (errors.empty()) ADD_FAILURE() << "manifest was accepted:\n" << terminal_escape(text);
    return errors;
}

/// Exactly one error, at `where` (line:col), containing `fragment`.
inline void expect_error(const std::string& text, const std::string& where,
                         const std::string& fragment) {
    auto errors = errors_of(text);
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_THAT(errors[0], ::testing::HasSubstr("lab.yaml:" + where + ": error: "));
    EXPECT_THAT(errors[0], ::testing::HasSubstr(fragment));
}

}  // namespace virtform::test_manifest
