// write_file_atomically / read_file_nofollow (safe_file.h): what another user
// who can write in the directory might plant is never followed or reused.
#include "virtform/safe_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "virtform/error.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SafeFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "virtform-safe.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string p(const std::string& name) const { return (dir_ / name).string(); }
    static void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
    static std::string get(const std::string& path) {
        std::ifstream in(path);
        std::ostringstream out;
        out << in.rdbuf();
        return out.str();
    }
    fs::path dir_;
};

TEST_F(SafeFileTest, ASymlinkAtTheTargetIsReplacedNotFollowed) {
    put(p("victim"), "precious\n");
    fs::create_symlink(p("victim"), p("out"));
    write_file_atomically(p("out"), "new\n", "write test file");
    EXPECT_EQ(get(p("victim")), "precious\n");
    EXPECT_FALSE(fs::is_symlink(p("out")));
    EXPECT_EQ(get(p("out")), "new\n");
}

TEST_F(SafeFileTest, PlantedTempNamesAreLeftAloneAndNoTempFileRemains) {
    put(p("victim"), "precious\n");
    fs::create_symlink(p("victim"), p("out.tmp"));
    fs::create_symlink(p("victim"), p(".out.tmp"));
    write_file_atomically(p("out"), "data", "write test file");
    EXPECT_EQ(get(p("victim")), "precious\n");
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{".out.tmp", "out", "out.tmp", "victim"}));
}

TEST_F(SafeFileTest, TheModeIsExactWhateverTheUmask) {
    const mode_t old = ::umask(0);
    write_file_atomically(p("a"), "x", "write test file", {0600, false});
    ::umask(old);
    struct stat st {};
    ASSERT_EQ(::stat(p("a").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(SafeFileTest, ADirectoryThatIsASymlinkIsRefusedWhenAsked) {
    fs::create_directory(p("real"));
    fs::create_symlink(p("real"), p("link"));
    EXPECT_THROW(write_file_atomically(p("link") + "/m", "x", "write test file", {0644, true}), AdapterError);
    EXPECT_FALSE(fs::exists(p("real") + "/m"));
    write_file_atomically(p("link") + "/m", "x", "write test file", {0644, false});  // the user's path
    EXPECT_EQ(get(p("real") + "/m"), "x");
}

TEST_F(SafeFileTest, ReadRefusesSymlinksAndFifosAndBigFiles) {
    EXPECT_EQ(read_file_nofollow(p("none"), 10, "read"), std::nullopt);
    put(p("f"), "hello");
    EXPECT_EQ(read_file_nofollow(p("f"), 10, "read"), "hello");
    try {
        read_file_nofollow(p("f"), 3, "read");
        ADD_FAILURE();
    } catch (const AdapterError& e) {
        EXPECT_THAT(e.what(), HasSubstr("more than the 3 allowed"));
    }
    fs::create_symlink(p("f"), p("l"));
    EXPECT_THROW(read_file_nofollow(p("l"), 10, "read"), AdapterError);
    ASSERT_EQ(::mkfifo(p("fifo").c_str(), 0600), 0);
    EXPECT_THROW(read_file_nofollow(p("fifo"), 10, "read"), AdapterError);  // does not hang
}

}  // namespace
}  // namespace virtform
