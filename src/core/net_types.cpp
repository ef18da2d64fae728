#include "virtform/net_types.h"

#include <arpa/inet.h>
#include <fmt/format.h>

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
    return masked(prefix) == other.masked(prefix);
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

std::optional<std::uint64_t> parse_size(const std::string& text) {
    std::uint64_t value = 0;
    const char* begin = text.data();
    const char* end = begin + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr == begin) return std::nullopt;
    std::string unit(ptr, end);
    while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    struct Unit {
        const char* name;
        std::uint64_t factor;
    };
    static constexpr Unit units[] = {
        {"", 1},
        {"B", 1},
        {"KiB", 1ULL << 10},
        {"MiB", 1ULL << 20},
        {"GiB", 1ULL << 30},
        {"TiB", 1ULL << 40},
        {"K", 1000},
        {"KB", 1000},
        {"M", 1000000},
        {"MB", 1000000},
        {"G", 1000000000},
        {"GB", 1000000000},
        {"T", 1000000000000ULL},
        {"TB", 1000000000000ULL},
    };
    for (const auto& u : units) {
        if (unit == u.name) {
            if (value > UINT64_MAX / u.factor) return std::nullopt;
            return value * u.factor;
        }
    }
    return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
    static constexpr const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (unit < 4 && bytes != 0 && bytes % 1024 == 0) {
        bytes /= 1024;
        ++unit;
    }
    return fmt::format("{}{}", bytes, names[unit]);
}

}  // namespace virtform
