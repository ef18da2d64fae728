#include "virtform/manifest.h"

#include "manifest_sections.h"
#include "manifest_templates.h"
#include "yaml_reader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

namespace virtform {
namespace {

namespace fs = std::filesystem;
using detail::Context;
using detail::MapReader;
using detail::type_name;

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
           c == '+';
}

std::optional<Cidr> read_cidr(const Context& ctx, MapReader& r, const std::string& key,
                              int family) {
    auto text = r.str(key);
    if (!text) return std::nullopt;
    std::string why;
    auto cidr = Cidr::parse(*text, &why);
    if (!cidr) {
        ctx.error(r.get(key), fmt::format("'{}' in {} is not an address with prefix ({}): '{}'",
                                          key, r.what(), why, *text));
        return std::nullopt;
    }
    if (cidr->address.family != family) {
        ctx.error(r.get(key), fmt::format("'{}' in {} must be an IPv{} address, got '{}'", key,
                                          r.what(), family, *text));
        return std::nullopt;
    }
    // From here on the subnet is known even when the address is wrong: it is
    // returned (after the error) so that the DHCP and overlap checks of the
    // network still report their own errors in the same run.
    if (auto problem = subnet_problem(*cidr); !problem.empty()) {
        ctx.error(r.get(key),
                  fmt::format("'{}' in {} cannot be a lab subnet: {}", key, r.what(), problem));
        return cidr;
    }
    if (cidr->prefix == cidr->address.max_prefix() || (family == 4 && cidr->prefix >= 31)) {
        ctx.error(r.get(key), fmt::format("'{}' in {}: prefix /{} leaves no room for guests", key,
                                          r.what(), cidr->prefix));
        return std::nullopt;
    }
    if (cidr->address == cidr->network() ||
        (family == 4 && cidr->address == cidr->address.last_in(cidr->prefix))) {
        ctx.error(r.get(key),
                  fmt::format("'{}' in {}: {} is the subnet's {} address, not a host "
                              "address",
                              key, r.what(), cidr->address.str(),
                              cidr->address == cidr->network() ? "network" : "broadcast"));
    }
    return cidr;
}

std::optional<IpAddress> parse_ip_node(const Context& ctx, const YAML::Node& node,
                                       const std::string& what) {
    if (!node.IsScalar()) {
        ctx.error(node, fmt::format("{} must be an IP address, got {}", what, type_name(node)));
        return std::nullopt;
    }
    auto ip = IpAddress::parse(node.Scalar());
    if (!ip) ctx.error(node, fmt::format("{} is not an IP address: '{}'", what, node.Scalar()));
    return ip;
}

bool is_host_address(const Cidr& subnet, const IpAddress& ip) {
    if (!subnet.contains(ip)) return false;
    if (ip == subnet.network()) return false;
    if (ip.family == 4 && ip == subnet.address.last_in(subnet.prefix)) return false;
    return true;
}

bool valid_dns_name(const std::string& name) {
    if (name.empty() || name.size() > 253) return false;
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
        } else if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-') {
            if (++label > 63) return false;
        } else {
            return false;
        }
    }
    return name.front() != '-' && name.back() != '.';
}

/// `subnet_known`: false when the network's address is unusable; then only the
/// checks that need no subnet run (a range outside "no subnet" says nothing).
void read_dhcp(const Context& ctx, const YAML::Node& node, IpConfig& ip, const std::string& what,
               int family, bool subnet_known = true) {
    MapReader r(ctx, node, what, detail::key_section("dhcp"));
    if (!r.ok()) return;
    const YAML::Node range = r.get("range");
    if (range.IsDefined()) {
        // "start-end" or {start: , end: }
        std::optional<IpAddress> start, end;
        if (range.IsScalar()) {
            const std::string s = range.Scalar();
            // IPv6 addresses contain no '-', so the first '-' separates the two ends.
            const auto dash = s.find('-');
            if (dash == std::string::npos) {
                ctx.error(range,
                          fmt::format("'range' in {} must read 'first-last', got '{}'", what, s));
            } else {
                start = IpAddress::parse(s.substr(0, dash));
                end = IpAddress::parse(s.substr(dash + 1));
                if (!start || !end) {
                    ctx.error(range,
                              fmt::format("'range' in {} is not two IP addresses: '{}'", what, s));
                    start.reset();
                }
            }
        } else if (range.IsMap()) {
            MapReader rr(ctx, range, "the DHCP range of " + what,
                         detail::key_section("dhcp_range"));
            const YAML::Node s = rr.get("start");
            const YAML::Node e = rr.get("end");
            if (!s.IsDefined() || !e.IsDefined()) {
                ctx.error(range, fmt::format("the DHCP range of {} needs 'start' and 'end'", what));
            } else {
                start = parse_ip_node(ctx, s, "'start'");
                end = parse_ip_node(ctx, e, "'end'");
            }
            rr.finish();
        } else {
            ctx.error(range,
                      fmt::format("'range' in {} must be 'first-last' or a mapping with start "
                                  "and end, got {}",
                                  what, type_name(range)));
        }
        if (start && end) {
            if (start->family != family || end->family != family) {
                ctx.error(range, fmt::format("the DHCP range of {} must hold IPv{} addresses", what,
                                             family));
            } else if (subnet_known && (!is_host_address(ip.address, *start) ||
                                        !is_host_address(ip.address, *end))) {
                ctx.error(range, fmt::format("the DHCP range {}-{} of {} is outside the subnet {}",
                                             start->str(), end->str(), what,
                                             Cidr{ip.address.network(), ip.address.prefix}.str()));
            } else if (*end < *start) {
                ctx.error(range, fmt::format("the DHCP range {}-{} of {} is reversed: the first "
                                             "address is after the last",
                                             start->str(), end->str(), what));
            } else {
                ip.dhcp_range = DhcpRange{*start, *end};
            }
        }
    }
    const YAML::Node hosts = r.list("hosts");
    if (hosts.IsDefined() && family == 6) {
        ctx.error(hosts, fmt::format("static DHCP hosts in {} are supported for IPv4 only", what));
    } else if (hosts.IsDefined()) {
        std::map<std::string, YAML::Node> by_mac, by_ip, by_name;
        for (const auto& h : hosts) {
            MapReader hr(ctx, h, "a DHCP host of " + what, detail::key_section("dhcp_host"));
            if (!hr.ok()) continue;
            DhcpHost host;
            bool ok = true;
            const YAML::Node mac = hr.get("mac");
            if (!mac.IsDefined()) {
                ctx.error(h, fmt::format("a DHCP host of {} needs 'mac'", what));
                ok = false;
            } else if (auto m = normalize_mac(mac.IsScalar() ? mac.Scalar() : ""); !m) {
                ctx.error(mac, fmt::format("'mac' of a DHCP host of {} is not a MAC address: '{}'",
                                           what, mac.IsScalar() ? mac.Scalar() : type_name(mac)));
                ok = false;
            } else if (auto problem = mac_problem(*m); !problem.empty()) {
                ctx.error(mac,
                          fmt::format("'mac' of a DHCP host of {}: {}: {}", what, *m, problem));
                ok = false;
            } else {
                host.mac = *m;
            }
            const YAML::Node ipn = hr.get("ip");
            if (!ipn.IsDefined()) {
                ctx.error(h, fmt::format("a DHCP host of {} needs 'ip'", what));
                ok = false;
            } else if (auto a = parse_ip_node(ctx, ipn, "'ip' of a DHCP host"); !a) {
                ok = false;
            } else if (!subnet_known) {
                host.ip = *a;
            } else if (!is_host_address(ip.address, *a)) {
                ctx.error(ipn, fmt::format(
                                   "DHCP host address {} is outside the subnet {} of {}", a->str(),
                                   Cidr{ip.address.network(), ip.address.prefix}.str(), what));
                ok = false;
            } else if (*a == ip.address.address) {
                ctx.error(ipn, fmt::format("DHCP host address {} is the network's own address",
                                           a->str()));
                ok = false;
            } else {
                host.ip = *a;
            }
            if (auto n = hr.str("name")) {
                if (!valid_dns_name(*n)) {
                    ctx.error(hr.get("name"),
                              fmt::format("'name' of a DHCP host of {} is not a valid "
                                          "host name: '{}'",
                                          what, *n));
                    ok = false;
                }
                host.name = *n;
            }
            hr.finish();
            if (!ok) continue;
            auto dup = [&](std::map<std::string, YAML::Node>& seen, const std::string& key,
                           const YAML::Node& at, const char* field) {
                auto [it, inserted] = seen.emplace(key, at);
                if (!inserted) {
                    ctx.error(
                        at, fmt::format("DHCP host {} '{}' in {} is duplicated (first at line {})",
                                        field, key, what, ctx.at(it->second).line));
                    return true;
                }
                return false;
            };
            bool duplicated = dup(by_mac, host.mac, mac, "mac");
            duplicated = dup(by_ip, host.ip.str(), ipn, "ip") || duplicated;
            if (!host.name.empty())
                duplicated = dup(by_name, host.name, hr.get("name"), "name") || duplicated;
            if (!duplicated) ip.hosts.push_back(host);
        }
    }
    r.finish();
}

std::optional<IpConfig> read_ip(const Context& ctx, const YAML::Node& node, const std::string& what,
                                int family) {
    MapReader r(ctx, node, what, detail::key_section("ip"));
    if (!r.ok()) return std::nullopt;
    std::optional<IpConfig> out;
    auto address = read_cidr(ctx, r, "address", family);
    if (!r.get("address").IsDefined()) ctx.error(node, fmt::format("{} needs 'address'", what));
    const YAML::Node dhcp = r.map("dhcp");
    if (address) {
        out = IpConfig{*address, std::nullopt, {}};
        if (dhcp.IsDefined()) read_dhcp(ctx, dhcp, *out, "the DHCP of " + what, family);
    } else if (dhcp.IsDefined()) {
        // The address already has its error; the DHCP's own errors still count.
        IpConfig scratch;
        read_dhcp(ctx, dhcp, scratch, "the DHCP of " + what, family, /*subnet_known=*/false);
    }
    r.finish();
    return out;
}

void read_dns(const Context& ctx, const YAML::Node& node, Network& net, const std::string& what) {
    MapReader r(ctx, node, what, detail::key_section("dns"));
    const YAML::Node hosts = r.list("hosts");
    std::map<std::string, YAML::Node> seen;
    if (hosts.IsDefined()) {
        for (const auto& h : hosts) {
            MapReader hr(ctx, h, "a DNS host of " + what, detail::key_section("dns_host"));
            if (!hr.ok()) continue;
            DnsHost host;
            const YAML::Node ipn = hr.get("ip");
            auto ip =
                ipn.IsDefined() ? parse_ip_node(ctx, ipn, "'ip' of a DNS host") : std::nullopt;
            if (!ipn.IsDefined()) ctx.error(h, fmt::format("a DNS host of {} needs 'ip'", what));
            const YAML::Node names = hr.list("names");
            if (!hr.get("names").IsDefined() || (names.IsDefined() && names.size() == 0)) {
                ctx.error(h,
                          fmt::format("a DNS host of {} needs at least one name in 'names'", what));
            }
            if (names.IsDefined()) {
                for (const auto& n : names) {
                    if (!n.IsScalar() || !valid_dns_name(n.Scalar())) {
                        ctx.error(n, fmt::format("DNS name '{}' in {} is not a valid host name",
                                                 n.IsScalar() ? n.Scalar() : type_name(n), what));
                    } else {
                        host.names.push_back(n.Scalar());
                    }
                }
            }
            hr.finish();
            if (!ip) continue;
            host.ip = *ip;
            auto [it, inserted] = seen.emplace(ip->str(), ipn);
            if (!inserted) {
                ctx.error(ipn, fmt::format("DNS host '{}' in {} is duplicated (first at line {})",
                                           ip->str(), what, ctx.at(it->second).line));
                continue;
            }
            net.dns_hosts.push_back(std::move(host));
        }
    }
    r.finish();
}

Network read_network(const Context& ctx, const std::string& name, const YAML::Node& key,
                     const YAML::Node& node) {
    const std::string what = fmt::format("network '{}'", name);
    Network net;
    net.name = name;
    net.where = ctx.at(key);
    if (!valid_object_name(name)) {
        ctx.error(key, fmt::format("network name '{}' is not valid: use letters, digits, '-', '_', "
                                   "'.' or '+', starting with a letter or digit (at most 64)",
                                   name));
    }
    MapReader r(ctx, node.IsNull() ? YAML::Node(YAML::NodeType::Map) : node, what,
                detail::key_section("network"));
    if (!r.ok()) return net;
    bool mode_known = true;  // an unknown mode skips the checks that depend on it
    if (auto mode = r.str("mode")) {
        if (auto m = network_mode_from_string(*mode)) {
            net.mode = *m;
        } else {
            mode_known = false;
            std::string hint = closest_match(*mode, {"nat", "route", "isolated", "open", "bridge"});
            ctx.error(
                r.get("mode"),
                fmt::format("'mode' of {} must be one of nat, route, isolated, "
                            "open, bridge; got '{}'{}",
                            what, *mode, hint.empty() ? "" : "; did you mean '" + hint + "'?"));
        }
    } else if (r.get("mode").IsDefined()) {
        mode_known = false;  // not a string: already reported
    }
    if (auto bridge = r.str("bridge")) {
        if (auto problem = interface_name_problem(*bridge); !problem.empty()) {
            ctx.error(r.get("bridge"), fmt::format("'bridge' of {}: {}", what, problem));
        }
        net.bridge = *bridge;
    }
    if (YAML::Node n = r.map("ipv4"); n.IsDefined())
        net.ipv4 = read_ip(ctx, n, "the ipv4 of " + what, 4);
    if (YAML::Node n = r.map("ipv6"); n.IsDefined())
        net.ipv6 = read_ip(ctx, n, "the ipv6 of " + what, 6);
    if (YAML::Node n = r.map("dns"); n.IsDefined()) read_dns(ctx, n, net, "the DNS of " + what);
    if (auto domain = r.str("domain")) {
        if (!valid_dns_name(*domain)) {
            ctx.error(r.get("domain"),
                      fmt::format("'domain' of {} is not a valid DNS name: '{}'", what, *domain));
        }
        net.domain = *domain;
    }
    if (auto mtu = r.integer("mtu", 68, 65535)) net.mtu = static_cast<int>(*mtu);
    if (auto stp = r.boolean("stp")) net.stp = *stp;
    if (auto autostart = r.boolean("autostart")) net.autostart = *autostart;
    if (auto active = r.boolean("active")) net.active = *active;
    net.adopt = r.boolean("adopt").value_or(false);
    detail::read_host_key(ctx, r, net.host, net.host_where);

    // Combinations libvirt would refuse, said in the manifest's terms.
    if (!mode_known) {
        // no mode to combine with
    } else if (net.mode == NetworkMode::bridge) {
        if (!net.bridge)
            ctx.error(node, fmt::format("{} is in mode bridge and needs 'bridge': the "
                                        "name of an existing or declared host bridge",
                                        what));
        for (const char* k : {"ipv4", "ipv6", "dns", "domain", "mtu", "stp"}) {
            if (r.get(k).IsDefined()) {
                ctx.error(r.get(k), fmt::format("'{}' cannot be set on {}: in mode bridge the host "
                                                "bridge's own configuration applies",
                                                k, what));
            }
        }
    } else if ((net.mode == NetworkMode::nat || net.mode == NetworkMode::route) && !net.ipv4 &&
               !net.ipv6 && !r.get("ipv4").IsDefined() && !r.get("ipv6").IsDefined()) {
        ctx.error(node, fmt::format("{} is in mode {} and needs an 'ipv4' (or 'ipv6') address to "
                                    "route for",
                                    what, to_string(net.mode)));
    }
    r.finish();
    net.normalize();
    return net;
}

/// Checks across objects (and files) of one host: shared bridges, overlapping
/// subnets. Networks of different hosts (`host:`) may use the same subnet.
void cross_check_host(const Desired& desired, const std::string& host, Diagnostics& diags) {
    std::map<std::string, const Network*> bridges;
    std::vector<const Network*> nets;
    for (const auto& [name, net] : desired.networks) {
        if (net.host == host) nets.push_back(&net);
    }
    for (const Network* net : nets) {
        if (!net->bridge || net->mode == NetworkMode::bridge) continue;
        auto [it, inserted] = bridges.emplace(*net->bridge, net);
        if (!inserted) {
            diags.error(
                net->where,
                fmt::format("network '{}' claims bridge '{}', which network '{}' "
                            "({}) already uses",
                            net->name, *net->bridge, it->second->name, it->second->where.str()));
        }
    }
    // Overlapping subnets, by sort and sweep (N log N; the pairwise check was
    // quadratic). CIDR blocks are nested or disjoint, so after sorting by first
    // address (the larger block first on a tie), a block overlaps an earlier one
    // exactly when it starts inside the earlier block that reaches furthest.
    struct Block {
        IpAddress first, last;
        const Network* net;
        const Cidr* cidr;
    };
    struct Overlap {
        const Network* later;  // by name: the error is reported there
        const Network* earlier;
        const Cidr* later_cidr;
        const Cidr* earlier_cidr;
    };
    std::vector<Overlap> overlaps;
    for (auto member : {&Network::ipv4, &Network::ipv6}) {
        std::vector<Block> blocks;
        for (const Network* net : nets) {
            const auto& ip = net->*member;
            if (ip) {
                blocks.push_back({ip->address.network(),
                                  ip->address.address.last_in(ip->address.prefix), net,
                                  &ip->address});
            }
        }
        std::sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) {
            if (a.first != b.first) return a.first < b.first;
            if (a.last != b.last) return b.last < a.last;
            return a.net->name < b.net->name;
        });
        const Block* reach = nullptr;  // of the blocks so far, the one that ends last
        for (const Block& b : blocks) {
            if (reach != nullptr && !(reach->last < b.first)) {
                const bool b_later = reach->net->name < b.net->name;
                overlaps.push_back(b_later ? Overlap{b.net, reach->net, b.cidr, reach->cidr}
                                           : Overlap{reach->net, b.net, reach->cidr, b.cidr});
            }
            if (reach == nullptr || reach->last < b.last) reach = &b;
        }
    }
    std::sort(overlaps.begin(), overlaps.end(), [](const Overlap& a, const Overlap& b) {
        return std::tie(a.later->name, a.earlier->name) < std::tie(b.later->name, b.earlier->name);
    });
    for (const auto& o : overlaps) {
        diags.error(o.later->where, fmt::format("network '{}' ({}) overlaps network '{}' ({}, {})",
                                                o.later->name, o.later_cidr->str(), o.earlier->name,
                                                o.earlier_cidr->str(), o.earlier->where.str()));
    }
}

void cross_check(const Desired& desired, Diagnostics& diags) {
    std::set<std::string> hosts;
    for (const auto& [name, net] : desired.networks) hosts.insert(net.host);
    for (const auto& host : hosts) cross_check_host(desired, host, diags);
}

}  // namespace

bool valid_object_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    if (std::isalnum(static_cast<unsigned char>(name.front())) == 0) return false;
    return std::all_of(name.begin(), name.end(), is_name_char);
}

std::string interface_name_problem(const std::string& name) {
    // What the kernel takes is wider (any byte but '/', ':', white space and
    // NUL), but names end up in dnsmasq's configuration (`interface=NAME`,
    // where ',' splits), in sysfs paths and in messages: keep to the set every
    // consumer reads as one plain name.
    auto shown = [](const std::string& s) {
        std::string out;
        for (unsigned char u : s.substr(0, 64)) {
            if (u >= 0x20 && u < 0x7f && u != '\\')
                out += static_cast<char>(u);
            else
                out += fmt::format("\\x{:02x}", u);
        }
        return s.size() > 64 ? out + "..." : out;
    };
    if (name.empty()) return "an interface name cannot be empty";
    if (name == "." || name == "..") return fmt::format("'{}' is not a valid interface name", name);
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                        (u >= '0' && u <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok) {
            return fmt::format(
                "interface name '{}' contains '{}': use only letters, digits, "
                "'-', '_' and '.' (at most 15)",
                shown(name), shown(std::string(1, c)));
        }
    }
    if (name.size() > 15) {
        return fmt::format("interface name '{}' is {} characters; Linux allows at most 15", name,
                           name.size());
    }
    return {};
}

namespace {

const char* file_type_name(mode_t mode) {
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISDIR(mode)) return "a directory";
    return "not a regular file";
}

}  // namespace

// stat before opening, so that no device is opened; fstat after, since the
// path may have changed in between (non-blocking, so a FIFO cannot hang us).
std::optional<std::string> read_regular_file(const std::string& path, std::size_t max_bytes,
                                             Diagnostics& diags) {
    const Location where{path, 0, 0};
    auto refuse_type = [&](mode_t mode) {
        diags.error(where, fmt::format("is {}; only regular files are read", file_type_name(mode)));
    };
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        diags.error(where, fmt::format("cannot read the file: {}", std::strerror(errno)));
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        refuse_type(st.st_mode);
        return std::nullopt;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        diags.error(where, fmt::format("cannot read the file: {}", std::strerror(errno)));
        return std::nullopt;
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        refuse_type(st.st_mode);
        return std::nullopt;
    }
    auto too_big = [&](std::uint64_t bytes) {
        diags.error(where,
                    fmt::format("is {} bytes; a {} may be at most {}", bytes,
                                max_bytes == kMaxManifestFileBytes ? "manifest file" : "file",
                                format_size(max_bytes)));
    };
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
        too_big(static_cast<std::uint64_t>(st.st_size));
        return std::nullopt;
    }
    std::string text;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            diags.error(where, fmt::format("cannot read the file: {}", std::strerror(errno)));
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > max_bytes) {  // it grew while being read
            too_big(text.size());
            return std::nullopt;
        }
    }
    return text;
}

std::vector<ManifestSource> read_manifest_sources(const std::vector<std::string>& paths,
                                                  Diagnostics& diags) {
    std::vector<ManifestSource> out;
    std::size_t total = 0;
    bool total_reported = false;
    auto read_one = [&](const fs::path& p) {
        auto text = read_regular_file(p.string(), kMaxManifestFileBytes, diags);
        if (!text) return;
        total += text->size();
        if (total > kMaxManifestTotalBytes) {
            if (!total_reported) {
                diags.error(Location{p.string(), 0, 0},
                            fmt::format("the manifest files add up to more than {}",
                                        format_size(kMaxManifestTotalBytes)));
            }
            total_reported = true;
            return;
        }
        out.push_back({p.string(), std::move(*text)});
    };
    for (const auto& arg : paths) {
        std::error_code ec;
        const fs::path p(arg);
        if (fs::is_directory(p, ec)) {
            std::vector<fs::path> files;
            for (const auto& entry : fs::directory_iterator(p, ec)) {
                const auto ext = entry.path().extension();
                std::error_code dir_ec;
                // Not sub-directories; anything else named *.yaml is read, and
                // refused by read_one if it is not a regular file.
                if ((ext == ".yaml" || ext == ".yml") && !entry.is_directory(dir_ec))
                    files.push_back(entry.path());
            }
            std::sort(files.begin(), files.end());
            if (files.empty())
                diags.error(Location{arg, 0, 0}, "the directory holds no *.yaml or *.yml file");
            for (const auto& f : files) read_one(f);
        } else if (fs::exists(fs::symlink_status(p, ec))) {  // a dangling link: read_one says so
            read_one(p);
        } else {
            diags.error(Location{arg, 0, 0}, "no such file or directory");
        }
    }
    return out;
}

Desired load_manifests(const std::vector<ManifestSource>& sources, const ManifestVars& vars) {
    Diagnostics diags;
    Desired desired;
    detail::ExpandState templates{vars};
    Location lab_where;
    bool lab_declared = false;  // present, even if invalid: no second error for it
    bool all_parsed = true;
    if (sources.empty()) diags.error({}, "no manifest given (use -f FILE or a directory)");
    for (const auto& src : sources) {
        desired.files.push_back(src.name);
        Context ctx{src.name, diags};
        // Sources may come from a saved plan, not only read_manifest_sources.
        if (src.text.size() > kMaxManifestFileBytes) {
            diags.error(Location{src.name, 0, 0},
                        fmt::format("is {} bytes; a manifest file may be at most {}",
                                    src.text.size(), format_size(kMaxManifestFileBytes)));
            all_parsed = false;
            continue;
        }
        auto loaded = detail::load_yaml_input(ctx, src.text);
        if (!loaded) {
            all_parsed = false;
            continue;
        }
        YAML::Node root = std::move(*loaded);
        if (root.IsNull()) continue;  // an empty file declares nothing
        if (root.IsMap()) root = detail::expand_manifest(ctx, root, src.text, templates);
        MapReader r(ctx, root, "the manifest", detail::key_section("manifest"));
        if (!r.ok()) continue;
        lab_declared = lab_declared || r.get("lab").IsDefined();
        if (auto lab = r.str("lab")) {
            if (!valid_object_name(*lab) || lab->size() > 32) {
                ctx.error(r.get("lab"),
                          fmt::format("lab name '{}' is not valid: use at most 32 letters, "
                                      "digits, '-', '_', '.' or '+'",
                                      *lab));
            } else if (desired.lab.empty()) {
                desired.lab = *lab;
                lab_where = ctx.at(r.get("lab"));
            } else if (desired.lab != *lab) {
                ctx.error(r.get("lab"),
                          fmt::format("lab '{}' differs from lab '{}' declared at {}; one "
                                      "manifest set describes one lab",
                                      *lab, desired.lab, lab_where.str()));
            }
        }
        const YAML::Node networks = r.map("networks");
        if (networks.IsDefined()) {
            MapReader nr(ctx, networks, "networks");  // reports duplicate names in this file
            for (const auto& kv : networks) {
                const std::string name = kv.first.Scalar();
                Network net = read_network(ctx, name, kv.first, kv.second);
                auto it = desired.networks.find(name);
                if (it != desired.networks.end()) {
                    if (it->second.where.file != src.name) {
                        ctx.error(kv.first,
                                  fmt::format("network '{}' is declared twice (first at {})", name,
                                              it->second.where.str()));
                    }
                    continue;
                }
                desired.networks.emplace(name, std::move(net));
            }
        }
        if (YAML::Node bridges = r.get("bridges"); bridges.IsDefined()) {
            detail::read_bridges(ctx, bridges, desired);
        }
        if (YAML::Node pools = r.get("pools"); pools.IsDefined())
            detail::read_pools(ctx, pools, desired);
        if (YAML::Node vms = r.get("vms"); vms.IsDefined()) detail::read_vms(ctx, vms, desired);
        if (YAML::Node hosts = r.get("hosts"); hosts.IsDefined())
            detail::read_hosts(ctx, hosts, desired);
        r.finish();
    }
    if (!lab_declared && all_parsed && !sources.empty()) {
        diags.error(Location{sources.front().name, 1, 1},
                    "the manifest needs 'lab: NAME', the mark of everything this lab owns");
    }
    for (auto& [key, expansion] : templates.expansions) {
        const auto slash = key.find('/');
        const std::string kind = key.substr(0, slash), name = key.substr(slash + 1);
        if (auto vm = desired.vms.find(name); kind == "vms" && vm != desired.vms.end())
            vm->second.expansion = expansion;
        if (auto net = desired.networks.find(name);
            kind == "networks" && net != desired.networks.end())
            net->second.expansion = expansion;
    }
    desired.variables = templates.used;
    cross_check(desired, diags);
    detail::finish_vms(desired, diags);
    detail::finish_bridges(desired, diags);
    detail::finish_hosts(desired, diags);
    diags.throw_if_any();
    return desired;
}

Desired load_manifest_files(const std::vector<std::string>& paths) {
    Diagnostics diags;
    auto sources = read_manifest_sources(paths, diags);
    diags.throw_if_any();
    return load_manifests(sources);
}

}  // namespace virtform
