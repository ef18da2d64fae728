#include "virtform/net_types.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace virtform {

std::optional<IpAddress> IpAddress::parse(const std::string& text) {
    IpAddress ip;
    if (text.find(':') != std::string::npos) {
        if (inet_pton(AF_INET6, text.c_str(), ip.bytes.data()) != 1) return std::nullopt;
        ip.family = 6;
    } else {
        // inet_pton refuses the short and octal forms inet_aton accepts: good.
        if (inet_pton(AF_INET, text.c_str(), ip.bytes.data()) != 1) return std::nullopt;
        ip.family = 4;
    }
    return ip;
}

std::string IpAddress::str() const {
    if (family == 0) return {};
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == 6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
    return buf;
}

bool IpAddress::same_prefix(const IpAddress& other, int prefix) const {
    if (family != other.family) return false;
    // masked(prefix) == other.masked(prefix), without masking bit by bit: the
    // whole bytes of the prefix, the top bits of the byte it ends in, and the
    // bytes past the family's length (zero in any parsed address).
    const int total = max_prefix();
    prefix = std::clamp(prefix, 0, total);
    const auto full = static_cast<std::size_t>(prefix / 8);
    if (std::memcmp(bytes.data(), other.bytes.data(), full) != 0) return false;
    if (const int rest = prefix % 8; rest != 0) {
        const auto mask = static_cast<std::uint8_t>(0xFF00U >> static_cast<unsigned>(rest));
        if ((bytes[full] & mask) != (other.bytes[full] & mask)) return false;
    }
    const auto end = static_cast<std::size_t>(total / 8);
    return std::memcmp(bytes.data() + end, other.bytes.data() + end, bytes.size() - end) == 0;
}

IpAddress IpAddress::masked(int prefix) const {
    IpAddress out = *this;
    const int total = max_prefix();
    for (int bit = prefix; bit < total; ++bit) {
        out.bytes[static_cast<std::size_t>(bit / 8)] &=
            static_cast<std::uint8_t>(~(0x80U >> static_cast<unsigned>(bit % 8)));
    }
    return out;
}

IpAddress IpAddress::last_in(int prefix) const {
    IpAddress out = *this;
    const int total = max_prefix();
    for (int bit = prefix; bit < total; ++bit) {
        out.bytes[static_cast<std::size_t>(bit / 8)] |=
            static_cast<std::uint8_t>(0x80U >> static_cast<unsigned>(bit % 8));
    }
    return out;
}

std::optional<Cidr> Cidr::parse(const std::string& text, std::string* why) {
    auto fail = [&](std::string reason) -> std::optional<Cidr> {
        if (why != nullptr) *why = std::move(reason);
        return std::nullopt;
    };
    const auto slash = text.find('/');
    if (slash == std::string::npos) return fail("missing the prefix length (e.g. /24)");
    auto ip = IpAddress::parse(text.substr(0, slash));
    if (!ip) return fail(fmt::format("'{}' is not an IP address", text.substr(0, slash)));
    int prefix = -1;
    const std::string p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || ptr != p.data() + p.size() || p.empty() || prefix < 0 ||
        prefix > ip->max_prefix()) {
        return fail(fmt::format("prefix length '{}' is not between 0 and {}", p, ip->max_prefix()));
    }
    return Cidr{*ip, prefix};
}

std::string Cidr::str() const {
    return fmt::format("{}/{}", address.str(), prefix);
}

bool Cidr::overlaps(const Cidr& other) const {
    if (address.family != other.address.family) return false;
    const int p = std::min(prefix, other.prefix);
    return address.same_prefix(other.address, p);
}

std::optional<std::string> normalize_mac(const std::string& text) {
    std::string out;
    int digits = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (std::isxdigit(static_cast<unsigned char>(c)) != 0) {
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (++digits % 2 == 0 && digits < 12) {
                out += ':';
                if (i + 1 < text.size() && (text[i + 1] == ':' || text[i + 1] == '-'))
                    ++i;
                else if (i + 1 < text.size())
                    return std::nullopt;
            }
        } else {
            return std::nullopt;
        }
    }
    if (digits != 12) return std::nullopt;
    return out;
}

std::optional<std::uint64_t> parse_size(const std::string& text, std::string* why) {
    auto fail = [&](std::string reason) -> std::optional<std::uint64_t> {
        if (why != nullptr) *why = std::move(reason);
        return std::nullopt;
    };
    std::uint64_t value = 0;
    const char* begin = text.data();
    const char* end = begin + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ptr == begin) return fail("not a size");
    if (ec == std::errc::result_out_of_range) return fail("the number overflows 64 bits");
    if (ec != std::errc()) return fail("not a size");
    std::string unit(ptr, end);
    while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // libvirt's virScaleInteger: a letter alone or with "iB" is a power of 1024,
    // with "B" a power of 1000; "b", "byte", "bytes" and nothing are bytes.
    std::uint64_t factor = 1;
    if (!unit.empty() && unit != "b" && unit != "byte" && unit != "bytes") {
        std::uint64_t base = 0;
        if (unit.size() == 1 || unit.substr(1) == "ib")
            base = 1024;
        else if (unit.size() == 2 && unit[1] == 'b')
            base = 1000;
        static constexpr const char* kLetters = "kmgtpe";
        const char* at = base == 0 ? nullptr : std::strchr(kLetters, unit[0]);
        if (at == nullptr || unit[0] == '\0') return fail("unknown unit");
        for (auto n = at - kLetters + 1; n > 0; --n) factor *= base;
    }
    if (value > UINT64_MAX / factor) return fail("the size overflows 64 bits");
    return value * factor;
}

std::string format_size(std::uint64_t bytes) {
    static constexpr const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int unit = 0;
    while (unit < 6 && bytes != 0 && bytes % 1024 == 0) {
        bytes /= 1024;
        ++unit;
    }
    return fmt::format("{}{}", bytes, names[unit]);
}

std::string mac_problem(const std::string& mac) {
    auto m = normalize_mac(mac);
    if (!m) return "not a MAC address";
    if (*m == "00:00:00:00:00:00") return "the all-zero MAC is not an interface address";
    if (*m == "ff:ff:ff:ff:ff:ff") return "the broadcast MAC is not an interface address";
    const int first = std::stoi(m->substr(0, 2), nullptr, 16);
    if ((first & 1) != 0)
        return "a multicast MAC (lowest bit of the first octet set) is not an interface address";
    return {};
}

std::string subnet_problem(const Cidr& subnet) {
    if (subnet.prefix == 0)
        return fmt::format("{}: prefix /0 covers every address", subnet.str());
    struct Range {
        const char* cidr;
        const char* what;
    };
    static constexpr Range kV4[] = {{"0.0.0.0/8", "'this network' range"},
                                    {"127.0.0.0/8", "loopback range"},
                                    {"169.254.0.0/16", "link-local range"},
                                    {"224.0.0.0/4", "multicast range"},
                                    {"240.0.0.0/4", "reserved range (and broadcast)"}};
    static constexpr Range kV6[] = {{"::1/128", "loopback address"},
                                    {"::/128", "unspecified address"},
                                    {"::ffff:0:0/96", "IPv4-mapped range"},
                                    {"fe80::/10", "link-local range"},
                                    {"ff00::/8", "multicast range"}};
    auto check = [&](const auto& ranges) -> std::string {
        for (const auto& r : ranges) {
            const Cidr c = *Cidr::parse(r.cidr);
            if (subnet.overlaps(c))
                return fmt::format("{} overlaps the {} {}", subnet.str(), r.what, r.cidr);
        }
        return {};
    };
    return subnet.address.family == 6 ? check(kV6) : check(kV4);
}

}  // namespace virtform
