// What a start of the binary costs: Graphviz and libisofs are opened when a
// feature first needs them (include/virtform/shared_library.h), so a run that
// uses neither maps none of their libraries. `graph --format svg` and the
// cloud-init seed tests (integration) show they still work when asked for.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace {

/// stdout and stderr of `command` (through the shell).
std::string output_of(const std::string& command) {
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    std::string out;
    char buf[4096];
    std::size_t n;
    while (p != nullptr && (n = ::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (p != nullptr) ::pclose(p);
    return out;
}

TEST(Startup, MapsNeitherGraphvizNorLibisofsUntilAFeatureNeedsThem) {
    // The dynamic loader lists every library it maps (LD_DEBUG=libs).
    const std::string loaded =
        output_of(std::string("LD_DEBUG=libs ") + VIRTFORM_BINARY + " --version");
    ASSERT_THAT(loaded, ::testing::HasSubstr("libvirt.so")) << "LD_DEBUG gave no list: " << loaded;
    for (const char* lib : {"libgvc.so", "libcgraph.so", "libisofs.so"})
        EXPECT_THAT(loaded, ::testing::Not(::testing::HasSubstr(lib))) << lib;
}

}  // namespace
