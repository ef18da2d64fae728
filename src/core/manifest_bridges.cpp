// The `bridges:` section of a manifest: Linux bridges managed over netlink.
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "manifest_sections.h"

namespace virtform::detail {
namespace {

/// STP timers are written in seconds (decimals allowed) and kept in centiseconds.
std::optional<std::uint32_t> read_seconds(const Context& ctx, MapReader& r, const std::string& key,
                                          double min, double max) {
    YAML::Node v = r.get(key);
    if (!v.IsDefined()) return std::nullopt;
    // A plain decimal only: yaml-cpp's as<double>() takes .nan and .inf, which
    // pass any range check and make the conversion to an integer undefined.
    double seconds = -1;
    const std::string s = v.IsScalar() ? v.Scalar() : "";
    const bool plain = !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
    auto [ptr, ec] =
        std::from_chars(s.data(), s.data() + s.size(), seconds, std::chars_format::fixed);
    if (!v.IsScalar() || !plain || ec != std::errc() || ptr != s.data() + s.size() ||
        !std::isfinite(seconds) || seconds < min || seconds > max) {
        ctx.error(
            v, fmt::format("'{}' of {} must be a number of seconds between {} and {}{}", key,
                           r.what(), min, max, v.IsScalar() ? fmt::format(", got '{}'", s) : ""));
        return std::nullopt;
    }
    return static_cast<std::uint32_t>(seconds * 100 + 0.5);
}

Bridge read_bridge(const Context& ctx, const std::string& name, const YAML::Node& key,
                   const YAML::Node& node) {
    Bridge br;
    br.name = name;
    br.where = ctx.at(key);
    const std::string what = fmt::format("bridge '{}'", name);
    if (auto problem = interface_name_problem(name); !problem.empty()) {
        ctx.error(key, fmt::format("bridge name: {}", problem));
    }
    MapReader r(ctx, node.IsNull() ? YAML::Node(YAML::NodeType::Map) : node, what,
                key_section("bridge"));
    if (!r.ok()) return br;
    std::set<std::string> ports;
    if (YAML::Node list = r.list("ports"); list.IsDefined()) {
        for (const auto& p : list) {
            const std::string port = p.IsScalar() ? p.Scalar() : "";
            if (auto problem = interface_name_problem(port); !problem.empty()) {
                ctx.error(p, fmt::format("port of {}: {}", what, problem));
            } else if (port == name) {
                ctx.error(p, fmt::format("{} cannot be a port of itself", what));
            } else if (!ports.insert(port).second) {
                ctx.error(p, fmt::format("port '{}' is listed twice in {}", port, what));
            } else {
                br.ports.push_back(port);
            }
        }
    }
    if (YAML::Node stp = r.get("stp"); stp.IsDefined()) {
        if (stp.IsMap()) {
            MapReader sr(ctx, stp, "the STP of " + what, key_section("bridge_stp"));
            br.stp = sr.boolean("enabled").value_or(true);
            br.forward_delay_cs = read_seconds(ctx, sr, "forward_delay", 2, 30);
            br.hello_time_cs = read_seconds(ctx, sr, "hello_time", 1, 10);
            br.max_age_cs = read_seconds(ctx, sr, "max_age", 6, 40);
            if (auto prio = sr.integer("priority", 0, 65535))
                br.priority = static_cast<std::uint16_t>(*prio);
            sr.finish();
        } else if (auto on = r.boolean("stp")) {
            br.stp = *on;
        }
    }
    if (auto mtu = r.integer("mtu", 68, 65535)) br.mtu = static_cast<int>(*mtu);
    if (auto mac = r.str("mac")) {
        auto m = normalize_mac(*mac);
        if (m && !mac_problem(*m).empty())
            ctx.error(r.get("mac"), fmt::format("'mac' of {}: {}: {}", what, *m, mac_problem(*m)));
        else if (m)
            br.mac = *m;
        else
            ctx.error(r.get("mac"),
                      fmt::format("'mac' of {} is not a MAC address: '{}'", what, *mac));
    }
    if (YAML::Node list = r.list("addresses"); list.IsDefined()) {
        for (const auto& a : list) {
            std::string why;
            auto cidr = a.IsScalar() ? Cidr::parse(a.Scalar(), &why) : std::nullopt;
            if (!cidr) {
                ctx.error(a,
                          fmt::format("an address of {} is not an address with prefix ({}): '{}'",
                                      what, a.IsScalar() ? why : "not a string",
                                      a.IsScalar() ? a.Scalar() : ""));
            } else if (auto problem = subnet_problem(*cidr); !problem.empty()) {
                ctx.error(a, fmt::format("an address of {} cannot be used: {}", what, problem));
            } else {
                br.addresses.push_back(*cidr);
            }
        }
    }
    br.up = r.boolean("up").value_or(true);
    br.adopt = r.boolean("adopt").value_or(false);
    br.vlan_filtering = r.boolean("vlan_filtering");
    if (auto port = r.str("take_over_addresses")) {
        if (auto problem = interface_name_problem(*port); !problem.empty()) {
            ctx.error(r.get("take_over_addresses"),
                      fmt::format("'take_over_addresses' of {}: {}", what, problem));
        } else if (ports.count(*port) == 0) {
            ctx.error(
                r.get("take_over_addresses"),
                fmt::format(
                    "'take_over_addresses' of {} names '{}', which must also be listed in its "
                    "'ports'",
                    what, *port));
        }
        br.take_over = *port;
    }
    read_host_key(ctx, r, br.host, br.host_where);
    r.finish();
    br.normalize();
    return br;
}

}  // namespace

void read_bridges(const Context& ctx, const YAML::Node& bridges, Desired& desired) {
    MapReader all(ctx, bridges, "bridges");
    if (!all.ok()) return;
    for (const auto& kv : bridges) {
        const std::string name = kv.first.Scalar();
        Bridge br = read_bridge(ctx, name, kv.first, kv.second);
        auto it = desired.bridges.find(name);
        if (it != desired.bridges.end()) {
            if (it->second.where.file != ctx.file) {
                ctx.error(kv.first, fmt::format("bridge '{}' is declared twice (first at {})", name,
                                                it->second.where.str()));
            }
            continue;
        }
        desired.bridges.emplace(name, std::move(br));
    }
}

void finish_bridges(const Desired& desired, Diagnostics& diags) {
    std::map<std::string, const Bridge*> port_owner;
    for (const auto& [name, br] : desired.bridges) {
        for (const auto& port : br.ports) {
            auto [it, inserted] = port_owner.emplace(port, &br);
            if (!inserted) {
                diags.error(
                    br.where,
                    fmt::format("port '{}' of bridge '{}' is also a port of bridge '{}' ({})", port,
                                name, it->second->name, it->second->where.str()));
            }
            if (desired.bridges.count(port) != 0) {
                diags.error(br.where, fmt::format("bridge '{}' cannot have bridge '{}' as a port",
                                                  name, port));
            }
        }
        for (const auto& [nname, net] : desired.networks) {
            if (net.mode != NetworkMode::bridge && net.bridge == name) {
                diags.error(net.where,
                            fmt::format("network '{}' (mode {}) wants to create bridge '{}', which "
                                        "the manifest declares under 'bridges:'; use mode: bridge",
                                        nname, to_string(net.mode), name));
            }
        }
    }
}

}  // namespace virtform::detail
