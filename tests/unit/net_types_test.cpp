#include "virtform/net_types.h"

#include <gtest/gtest.h>

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
    EXPECT_EQ(parse_size("10G"), 10000000000ULL);
    EXPECT_EQ(parse_size("4096"), 4096ULL);
    EXPECT_FALSE(parse_size("12 parsecs"));
    EXPECT_FALSE(parse_size("GiB"));
    EXPECT_EQ(format_size(1ULL << 30), "1GiB");
    EXPECT_EQ(format_size(1536ULL << 20), "1536MiB");
    EXPECT_EQ(format_size(1000), "1000B");
}

}  // namespace
}  // namespace virtform
