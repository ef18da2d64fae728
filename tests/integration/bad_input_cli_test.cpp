// `virtform validate` on inputs that are not manifests (issue 8, item 3): a
// FIFO, a device, files over the size limit. No libvirt needed. Every run has
// its own timeout and memory limit, so a regression fails instead of hanging
// the suite or eating the machine's memory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>

#include "integration/testlib.h"
#include "virtform/manifest.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

/// `virtform validate ARGS` under a 20 s timeout (then SIGKILL: exit 137) and
/// a 2 GiB memory limit: of address space, or under AddressSanitizer (which
/// reserves terabytes of shadow address space up front, so no `ulimit -v`
/// lets it start) of resident memory, through ASan's own hard_rss_limit_mb.
CommandResult validate(const std::vector<std::string>& args) {
    const std::string limit =
        kAsan ? "export ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=2048\"; "
              : "ulimit -v 2097152; ";
    std::string cmd = limit + "exec timeout -s KILL 20 '" VIRTFORM_BINARY "' validate";
    for (const auto& a : args) cmd += " '" + a + "'";
    return sh(cmd);
}

TEST(BadInputCli, FifoIsRefusedAtOnce) {
    TempDir dir("vf-badinput");
    const auto fifo = dir.path() / "x.yaml";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto start = std::chrono::steady_clock::now();
    const auto r = validate({"-f", fifo.string()});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.code, 1) << r.describe();  // 137: it hung until killed
    EXPECT_THAT(r.err, HasSubstr(fifo.string() + ": error: is a FIFO; only regular files are read"));
    EXPECT_THAT(r.err, HasSubstr("1 error; nothing was changed."));
    EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(BadInputCli, FifoInADirectoryIsRefusedToo) {
    TempDir dir("vf-badinput");
    dir.write("a.yaml", "lab: x\n");
    ASSERT_EQ(::mkfifo((dir.path() / "b.yaml").c_str(), 0600), 0);
    const auto r = validate({"-f", dir.path().string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("b.yaml: error: is a FIFO"));
}

TEST(BadInputCli, DevZeroIsRefused) {
    const auto r = validate({"-f", "/dev/zero"});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("/dev/zero: error: is a character device; only regular files"));
}

TEST(BadInputCli, SymlinkToARegularFileIsRead) {
    TempDir dir("vf-badinput");
    const auto real = dir.write("real.yaml", "lab: x\n");
    std::filesystem::create_symlink(real, dir.path() / "link.yaml");
    const auto r = validate({"-f", (dir.path() / "link.yaml").string()});
    EXPECT_EQ(r.code, 0) << r.describe();
}

TEST(BadInputCli, FileOverTheLimitIsRefusedWithoutReadingIt) {
    TempDir dir("vf-badinput");
    const auto big = dir.path() / "big.yaml";
    {
        // 200 MiB of user_data, as in the report; sparse, so it costs no disk.
        std::ofstream out(big);
        out << "lab: x\nvms:\n  a:\n    cloud_init:\n      user_data: \"#cloud-config\n";
    }
    std::filesystem::resize_file(big, 200u << 20);
    const auto r = validate({"-f", big.string()});
    EXPECT_EQ(r.code, 1) << r.describe().substr(0, 2000);
    EXPECT_THAT(r.err, HasSubstr("big.yaml: error: is 209715200 bytes; a manifest file may be at "
                                 "most 16MiB"));
}

TEST(BadInputCli, ManyFilesOverTheTotalLimitAreRefused) {
    TempDir dir("vf-badinput");
    const std::string filler = "lab: x\n# " + std::string(15u << 20, 'x') + "\n";
    for (int i = 0; i < 5; ++i) dir.write("f" + std::to_string(i) + ".yaml", filler);
    const auto r = validate({"-f", dir.path().string()});
    EXPECT_EQ(r.code, 1) << r.describe().substr(0, 2000);
    EXPECT_THAT(r.err, HasSubstr("f4.yaml: error: the manifest files add up to more than 64MiB"));
}

TEST(BadInputCli, ControlCharactersArePrintedEscaped) {
    TempDir dir("vf-badinput");
    const auto f = dir.write("lab.yaml", "lab: x\nvms:\n  \"a\\e]0;pwned\\a\": {}\n");
    const auto r = validate({"-f", f.string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\x07'), std::string::npos) << r.err;
    EXPECT_THAT(r.err, HasSubstr("\\x1b]0;pwned\\x07"));
}

}  // namespace
}  // namespace virtform::testing
