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

/// Why `subnet` cannot be a lab's subnet or a bridge's address ("" when it can):
/// /0, and any overlap with the unspecified, loopback, multicast, link-local or
/// reserved ranges of its family.
std::string subnet_problem(const Cidr& subnet);

/// A MAC address normalised to lower-case colon form; nullopt when malformed.
std::optional<std::string> normalize_mac(const std::string& text);
/// Why a normalised MAC cannot be a NIC's or bridge's address ("" when it can):
/// all zeros, broadcast, or multicast (group bit set).
std::string mac_problem(const std::string& mac);

/// Byte sizes with libvirt's scaled-integer units (virScaleInteger): no unit,
/// `b`, `byte`, `bytes` = bytes; `K M G T P E` and `KiB MiB ...` = powers of
/// 1024; `KB MB ...` = powers of 1000; units in any case. nullopt when not a
/// size or when it overflows 64 bits; `why` (if given) then says which.
std::optional<std::uint64_t> parse_size(const std::string& text, std::string* why = nullptr);
/// The shortest exact spelling, e.g. 1073741824 -> "1GiB".
std::string format_size(std::uint64_t bytes);

}  // namespace virtform
