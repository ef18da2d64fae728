// Inputs the fuzzer (tests/fuzz/manifest_fuzzer.cpp, docs/fuzzing.md) found,
// each replayed through the step that failed on it. The XML mapping is pure
// (no libvirt connection), so it is tested here with the unit tier.
#include <gtest/gtest.h>

#include "virtform/adapters/libvirt/domain_xml.h"
#include "virtform/manifest.h"

namespace virtform {
namespace {

Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

// A kernel command line of spaces only read back as "" (pugixml drops
// whitespace-only text by default), so the plan after apply showed
// `cmdline: "" -> " "` for ever.
TEST(FuzzRegression, WhitespaceOnlyCmdlineRoundTripsThroughDomainXml) {
    const Desired d =
        load("lab: demo\nvms:\n  web:\n    kernel: /img/vmlinuz\n    cmdline: \" \"\n");
    const Vm& want = d.vms.at("web");
    ASSERT_EQ(want.cmdline, std::optional<std::string>(" "));
    const Vm got = libvirt::domain_from_xml(libvirt::domain_to_xml(want, d.lab));
    EXPECT_EQ(got.cmdline, want.cmdline);
}

// A CR in text that goes into the domain XML (`cmdline: "a\r\nb"`) read back
// as "a\nb" (XML parsers turn CR LF into LF), so the plan never settled. The
// loader refuses it, as it does every line break in a one-line string.
TEST(FuzzRegression, CarriageReturnInCmdlineIsRefusedByTheLoader) {
    try {
        load("lab: demo\nvms:\n  web:\n    kernel: /img/vmlinuz\n    cmdline: \"a\\r\\nb\"\n");
        FAIL() << "a cmdline with CR LF loaded";
    } catch (const ValidationError& e) {
        EXPECT_NE(e.diagnostics().str().find(
                      "lab.yaml:5:14: error: 'cmdline' in VM 'web' must be one line"),
                  std::string::npos)
            << e.diagnostics().str();
    }
}

}  // namespace
}  // namespace virtform
