#pragma once
/// Value types for addresses, so that a diff never shows a change that is only a
/// spelling: "192.168.122.1/24", "fd00::1/64", "52:54:00:AB:cd:01".
#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace virtform {

/// An IPv4 or IPv6 address. Ordered, comparable, printed in canonical form.
struct IpAddress {
    int family = 0;  ///< 4 or 6; 0 for an unset address
    std::array<std::uint8_t, 16> bytes{};

    static std::optional<IpAddress> parse(const std::string& text);
    std::string str() const;
    int max_prefix() const { return family == 6 ? 128 : 32; }
    /// True when the first `prefix` bits equal those of `other` (same family).
    bool same_prefix(const IpAddress& other, int prefix) const;
    /// The address with host bits cleared.
    IpAddress masked(int prefix) const;
    /// The all-ones host part (IPv4 broadcast).
    IpAddress last_in(int prefix) const;

    auto operator<=>(const IpAddress&) const = default;
};

/// An interface address with its prefix, e.g. 192.168.122.1/24.
struct Cidr {
    IpAddress address;
    int prefix = 0;

    /// Accepts "a.b.c.d/n" and "x::y/n"; nullopt (with `why` set) when malformed.
    static std::optional<Cidr> parse(const std::string& text, std::string* why = nullptr);
    std::string str() const;
    bool contains(const IpAddress& ip) const { return ip.same_prefix(address, prefix); }
    bool overlaps(const Cidr& other) const;
    IpAddress network() const { return address.masked(prefix); }

    auto operator<=>(const Cidr&) const = default;
};

/// A MAC address normalised to lower-case colon form; nullopt when malformed.
std::optional<std::string> normalize_mac(const std::string& text);

/// Byte sizes with binary or decimal units: "512MiB", "1GiB", "10G", "4096".
std::optional<std::uint64_t> parse_size(const std::string& text);
/// The shortest exact spelling, e.g. 1073741824 -> "1GiB".
std::string format_size(std::uint64_t bytes);

}  // namespace virtform
