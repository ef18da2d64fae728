#include "virtform/net_types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace virtform {
namespace {

TEST(Cidr, ParsesAndPrintsCanonically) {
    auto c = Cidr::parse("192.168.122.1/24");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->str(), "192.168.122.1/24");
    EXPECT_EQ(c->network().str(), "192.168.122.0");
    EXPECT_TRUE(c->contains(*IpAddress::parse("192.168.122.254")));
    EXPECT_FALSE(c->contains(*IpAddress::parse("192.168.123.1")));
    auto v6 = Cidr::parse("FD00:0:0::1/64");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->str(), "fd00::1/64");
}

TEST(Cidr, RejectsMalformedWithAReason) {
    std::string why;
    EXPECT_FALSE(Cidr::parse("192.168.1.1", &why));
    EXPECT_NE(why.find("prefix"), std::string::npos);
    EXPECT_FALSE(Cidr::parse("192.168.1.300/24", &why));
    EXPECT_NE(why.find("not an IP address"), std::string::npos);
    EXPECT_FALSE(Cidr::parse("10.0.0.1/33", &why));
    EXPECT_FALSE(Cidr::parse("10.0.0.1/", &why));
    EXPECT_FALSE(Cidr::parse("10.1/8", &why));  // inet_aton's short form is not accepted
}

TEST(Cidr, Overlaps) {
    EXPECT_TRUE(Cidr::parse("10.0.0.1/16")->overlaps(*Cidr::parse("10.0.5.1/24")));
    EXPECT_FALSE(Cidr::parse("10.0.0.1/24")->overlaps(*Cidr::parse("10.0.1.1/24")));
    EXPECT_FALSE(Cidr::parse("10.0.0.1/24")->overlaps(*Cidr::parse("fd00::1/64")));
}

// same_prefix compares bytes; it must agree with its definition, the two
// addresses masked to the prefix, at every prefix length, including those that
// end inside a byte and the pairs that differ in exactly one bit.
TEST(IpAddress, SamePrefixAgreesWithMaskingAtEveryLength) {
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"10.0.0.1", "10.0.1.1"},       {"10.180.3.1", "10.181.3.1"},
        {"192.168.0.0", "192.168.0.0"}, {"0.0.0.0", "255.255.255.255"},
        {"fd00::1", "fd00::8000:1"},    {"fd00:1::", "fd00:3::"},
        {"2001:db8::1", "2001:db8::1"},
    };
    for (const auto& [x, y] : pairs) {
        const auto a = *IpAddress::parse(x);
        const auto b = *IpAddress::parse(y);
        for (int p = 0; p <= a.max_prefix(); ++p) {
            EXPECT_EQ(a.same_prefix(b, p), a.masked(p) == b.masked(p))
                << x << " " << y << " /" << p;
            EXPECT_EQ(b.same_prefix(a, p), a.same_prefix(b, p)) << x << " " << y << " /" << p;
        }
        for (int bit = 0; bit < a.max_prefix(); ++bit) {
            IpAddress c = a;
            c.bytes[static_cast<std::size_t>(bit / 8)] ^=
                static_cast<std::uint8_t>(0x80U >> static_cast<unsigned>(bit % 8));
            EXPECT_TRUE(a.same_prefix(c, bit)) << x << " bit " << bit;
            EXPECT_FALSE(a.same_prefix(c, bit + 1)) << x << " bit " << bit;
        }
    }
    EXPECT_FALSE(IpAddress::parse("10.0.0.1")->same_prefix(*IpAddress::parse("::a00:1"), 0));
    EXPECT_TRUE(Cidr::parse("10.0.0.1/23")->overlaps(*Cidr::parse("10.0.1.7/25")));
    EXPECT_FALSE(Cidr::parse("10.0.2.1/23")->overlaps(*Cidr::parse("10.0.1.7/25")));
}

TEST(Mac, NormalisesCaseAndSeparators) {
    EXPECT_EQ(normalize_mac("52:54:00:AB:cd:01"), "52:54:00:ab:cd:01");
    EXPECT_EQ(normalize_mac("52-54-00-ab-cd-01"), "52:54:00:ab:cd:01");
    EXPECT_FALSE(normalize_mac("52:54:00:ab:cd"));
    EXPECT_FALSE(normalize_mac("52:54:00:ab:cd:0g"));
    EXPECT_FALSE(normalize_mac("52:54:00:ab:cd:01:02"));
}

TEST(Size, ParsesUnitsAndPrintsShortest) {
    EXPECT_EQ(parse_size("512MiB"), 512ULL << 20);
    EXPECT_EQ(parse_size("1GiB"), 1ULL << 30);
    EXPECT_EQ(parse_size("10G"), 10ULL << 30);  // libvirt: G is GiB
    EXPECT_EQ(parse_size("10GB"), 10000000000ULL);
    EXPECT_EQ(parse_size("4096"), 4096ULL);
    EXPECT_FALSE(parse_size("12 parsecs"));
    EXPECT_FALSE(parse_size("GiB"));
    EXPECT_EQ(format_size(1ULL << 30), "1GiB");
    EXPECT_EQ(format_size(1536ULL << 20), "1536MiB");
    EXPECT_EQ(format_size(1000), "1000B");
    EXPECT_EQ(format_size(1ULL << 50), "1PiB");
    EXPECT_EQ(format_size(3ULL << 60), "3EiB");
}

TEST(Size, LibvirtScaledIntegerUnits) {
    // virScaleInteger: letter or letter+"iB" = 1024^n, letter+"B" = 1000^n, any case.
    EXPECT_EQ(parse_size("1k"), 1024ULL);
    EXPECT_EQ(parse_size("1KiB"), 1024ULL);
    EXPECT_EQ(parse_size("1kib"), 1024ULL);
    EXPECT_EQ(parse_size("1KB"), 1000ULL);
    EXPECT_EQ(parse_size("1kb"), 1000ULL);
    EXPECT_EQ(parse_size("1M"), 1ULL << 20);
    EXPECT_EQ(parse_size("1T"), 1ULL << 40);
    EXPECT_EQ(parse_size("1PB"), 1000000000000000ULL);
    EXPECT_EQ(parse_size("1E"), 1ULL << 60);
    EXPECT_EQ(parse_size("7b"), 7ULL);
    EXPECT_EQ(parse_size("7 byte"), 7ULL);
    EXPECT_EQ(parse_size("7Bytes"), 7ULL);
    EXPECT_FALSE(parse_size("1iB"));
    EXPECT_FALSE(parse_size("1KiBB"));
    EXPECT_FALSE(parse_size("1Z"));
    EXPECT_FALSE(parse_size("-1"));
    std::string why;
    EXPECT_FALSE(parse_size("16E", &why));
    EXPECT_EQ(why, "the size overflows 64 bits");
    EXPECT_FALSE(parse_size("99999999999999999999", &why));
    EXPECT_EQ(why, "the number overflows 64 bits");
    EXPECT_FALSE(parse_size("5 parsecs", &why));
    EXPECT_EQ(why, "unknown unit");
}

TEST(Mac, GroupBroadcastAndZeroAreNotInterfaceAddresses) {
    EXPECT_EQ(mac_problem("52:54:00:00:00:01"), "");
    EXPECT_EQ(mac_problem("02:00:00:00:00:01"), "");  // locally administered unicast
    EXPECT_THAT(mac_problem("01:00:5e:00:00:01"), ::testing::HasSubstr("multicast"));
    EXPECT_THAT(mac_problem("33:33:00:00:00:01"), ::testing::HasSubstr("multicast"));
    EXPECT_THAT(mac_problem("ff:ff:ff:ff:ff:ff"), ::testing::HasSubstr("broadcast"));
    EXPECT_THAT(mac_problem("00:00:00:00:00:00"), ::testing::HasSubstr("all-zero"));
}

TEST(Subnet, SpecialRangesAreNamed) {
    auto problem = [](const char* text) { return subnet_problem(*Cidr::parse(text)); };
    EXPECT_EQ(problem("10.0.0.1/24"), "");
    EXPECT_EQ(problem("192.168.1.1/24"), "");
    EXPECT_EQ(problem("fd00::1/64"), "");
    EXPECT_EQ(problem("2001:db8::1/64"), "");
    EXPECT_EQ(problem("10.0.0.1/0"), "10.0.0.1/0: prefix /0 covers every address");
    EXPECT_EQ(problem("127.1.2.3/16"), "127.1.2.3/16 overlaps the loopback range 127.0.0.0/8");
    EXPECT_EQ(problem("169.254.3.1/24"),
              "169.254.3.1/24 overlaps the link-local range 169.254.0.0/16");
    EXPECT_EQ(problem("239.1.1.1/24"), "239.1.1.1/24 overlaps the multicast range 224.0.0.0/4");
    EXPECT_EQ(problem("255.255.255.1/24"),
              "255.255.255.1/24 overlaps the reserved range (and broadcast) 240.0.0.0/4");
    EXPECT_EQ(problem("fe80::1/64"), "fe80::1/64 overlaps the link-local range fe80::/10");
    EXPECT_EQ(problem("ff05::1/64"), "ff05::1/64 overlaps the multicast range ff00::/8");
    EXPECT_EQ(problem("::ffff:10.0.0.1/120"),
              "::ffff:10.0.0.1/120 overlaps the IPv4-mapped range ::ffff:0:0/96");
}

}  // namespace
}  // namespace virtform
