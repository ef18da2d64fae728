// The cloud-init NoCloud seed ISO, read back with xorriso (an independent reader).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "integration/libvirt_test_util.h"
#include "virtform/adapters/libvirt/cloud_init_iso.h"
#include "virtform/error.h"

namespace fs = std::filesystem;
using vftest::sh;
using virtform::libvirt::NoCloudSeed;

namespace {

class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "virtform-seed.XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
        path_ = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        // xorriso extracts read-only files and directories: make them removable.
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
        for (auto it = fs::recursive_directory_iterator(path_, ec);
             it != fs::recursive_directory_iterator(); it.increment(ec))
            fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

NoCloudSeed sample_seed() {
    NoCloudSeed seed;
    seed.user_data =
        "#cloud-config\n"
        "password: s3cret-\xc3\xa9t\xc3\xa9\n"  // UTF-8 survives byte for byte
        "chpasswd: {expire: false}\n"
        "ssh_authorized_keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@host\n";
    seed.meta_data = "instance-id: web1-0001\nlocal-hostname: web1\n";
    seed.network_config = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n";
    return seed;
}

}  // namespace

TEST(CloudInitIso, ExtractsByteForByteWithVolumeIdCidata) {
    TempDir dir;
    const fs::path iso = dir.path() / "web1-seed.iso";
    const auto seed = sample_seed();
    virtform::libvirt::write_nocloud_iso(iso.string(), seed);

    struct stat st {};
    ASSERT_EQ(::stat(iso.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << "seeds can hold secrets";
    EXPECT_EQ(st.st_size % 2048, 0) << "an ISO is whole 2 KiB sectors";
    EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"web1-seed.iso"})
        << "temp file left behind";

    const fs::path out = dir.path() / "x";
    auto [log, rc] =
        sh("xorriso -osirrox on -indev '" + iso.string() + "' -extract / '" + out.string() + "'");
    ASSERT_EQ(rc, 0) << log;
    EXPECT_EQ(names_in(out),
              (std::vector<std::string>{"meta-data", "network-config", "user-data"}));
    EXPECT_EQ(read(out / "user-data"), seed.user_data);
    EXPECT_EQ(read(out / "meta-data"), seed.meta_data);
    EXPECT_EQ(read(out / "network-config"), *seed.network_config);

    auto [toc, rc2] = sh("xorriso -indev '" + iso.string() + "' -toc");
    ASSERT_EQ(rc2, 0) << toc;
    EXPECT_NE(toc.find("Volume id    : 'cidata'"), std::string::npos) << toc;
    EXPECT_NE(toc.find("ISO offers   : Rock_Ridge Joliet"), std::string::npos) << toc;
    // blkid is how cloud-init finds the seed: by the label.
    auto [blkid, rc3] = sh("blkid -o export '" + iso.string() + "'");
    EXPECT_EQ(rc3, 0) << blkid;
    EXPECT_NE(blkid.find("LABEL=cidata\n"), std::string::npos) << blkid;
    EXPECT_NE(blkid.find("TYPE=iso9660\n"), std::string::npos) << blkid;
}

TEST(CloudInitIso, DerivedMetaDataAndNoNetworkConfig) {
    TempDir dir;
    const fs::path iso = dir.path() / "seed.iso";
    NoCloudSeed seed;
    seed.user_data = "#cloud-config\nruncmd: [true]\n";
    seed.local_hostname = "tiny";
    virtform::libvirt::write_nocloud_iso(iso.string(), seed);

    const fs::path out = dir.path() / "x";
    auto [log, rc] =
        sh("xorriso -osirrox on -indev '" + iso.string() + "' -extract / '" + out.string() + "'");
    ASSERT_EQ(rc, 0) << log;
    EXPECT_EQ(names_in(out), (std::vector<std::string>{"meta-data", "user-data"}));
    const auto meta = read(out / "meta-data");
    EXPECT_EQ(meta, virtform::libvirt::nocloud_meta_data(seed));
    EXPECT_EQ(meta.rfind("instance-id: iid-", 0), 0u) << meta;
    EXPECT_NE(meta.find("\nlocal-hostname: tiny\n"), std::string::npos) << meta;

    // The derived instance-id follows the content: new user-data, new instance.
    NoCloudSeed changed = seed;
    changed.user_data += "# changed\n";
    EXPECT_NE(virtform::libvirt::nocloud_meta_data(changed), meta);
    EXPECT_EQ(virtform::libvirt::nocloud_meta_data(seed), meta);
    seed.instance_id = "fixed-1";
    EXPECT_EQ(virtform::libvirt::nocloud_meta_data(seed),
              "instance-id: fixed-1\nlocal-hostname: tiny\n");
}

TEST(CloudInitIso, ReproducibleAndReplacesAtomically) {
    TempDir dir;
    const fs::path a = dir.path() / "a.iso";
    const fs::path b = dir.path() / "b.iso";
    const auto seed = sample_seed();
    virtform::libvirt::write_nocloud_iso(a.string(), seed);
    virtform::libvirt::write_nocloud_iso(b.string(), seed);
    EXPECT_EQ(read(a), read(b)) << "same seed, same bytes";

    // Overwriting an existing file (even one with open permissions) yields 0600.
    { std::ofstream(a) << "old"; }
    fs::permissions(a, fs::perms::all);
    auto other = seed;
    other.user_data = "#cloud-config\n{}\n";
    virtform::libvirt::write_nocloud_iso(a.string(), other);
    struct stat st {};
    ASSERT_EQ(::stat(a.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_NE(read(a), read(b));
    EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"a.iso", "b.iso"}));
}

TEST(CloudInitIso, ErrorsNameThePath) {
    TempDir dir;
    const std::string bad = (dir.path() / "missing-dir" / "seed.iso").string();
    try {
        virtform::libvirt::write_nocloud_iso(bad, sample_seed());
        FAIL() << "expected AdapterError";
    } catch (const virtform::AdapterError& e) {
        EXPECT_EQ(e.object(), bad);
        EXPECT_EQ(e.operation(), "write cloud-init seed");
        EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
        EXPECT_NE(e.detail().find("No such file or directory"), std::string::npos) << e.detail();
    }
    EXPECT_FALSE(fs::exists(bad));
}
