#include "virtform/adapters/netlink/take_over.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace virtform::netlink {
namespace {

constexpr int kProtoKernel = 2;         // RTPROT_KERNEL: follows the address, never moved by hand
constexpr std::uint32_t kNoDad = 0x02;  // IFA_F_NODAD

/// The routes that move with the port's addresses: main table, out of the port, not
/// the kernel's own prefix routes. Default routes first.
std::vector<Route> movable_routes(Client& c, const std::string& port) {
    std::vector<Route> out;
    for (Route& r : c.routes({.link = port, .table = 254, .family = 0})) {
        if (r.protocol == kProtoKernel || r.type != 1) continue;
        if (r.family == 6 && r.dst.starts_with("fe80:")) continue;
        out.push_back(std::move(r));
    }
    std::stable_sort(out.begin(), out.end(), [](const Route& a, const Route& b) {
        return a.is_default() > b.is_default();
    });
    return out;
}

std::vector<Address> global_addresses(Client& c, const std::string& link) {
    std::vector<Address> out;
    for (Address& a : c.addresses(link)) {
        if (a.is_global()) out.push_back(std::move(a));
    }
    return out;
}

bool has_cidr(const std::vector<Address>& list, const Address& a) {
    return std::any_of(list.begin(), list.end(), [&](const Address& x) {
        return x.family == a.family && x.address == a.address && x.prefix == a.prefix;
    });
}

/// Same route for the purpose of the revert check (the device is compared apart).
bool same_route(const Route& a, const Route& b) {
    return a.family == b.family && a.dst == b.dst && a.gateway == b.gateway &&
           a.metric == b.metric && a.table == b.table && a.protocol == b.protocol &&
           a.prefsrc == b.prefsrc;
}

Route on(const Route& r, const std::string& dev) {
    Route out = r;
    out.oif = 0;
    out.oif_name = dev;
    return out;
}

std::string list_state(const TakeOverRecord& rec) {
    std::string s = "addresses of " + rec.port + ":";
    for (const Address& a : rec.addresses) s += " " + a.cidr();
    s += "; routes:";
    for (const Route& r : rec.routes) s += " [" + r.str() + "]";
    return s;
}

}  // namespace

TakeOverRolledBack::TakeOverRolledBack(const std::string& port, std::string reason,
                                       TakeOverRecord record)
    : AdapterError(port, "take over addresses",
                   reason + "; rolled back: " + port + " has its addresses and routes again" +
                       (record.port_was_enslaved ? "" : " and is not a port of " + record.bridge),
                   0),
      reason_(std::move(reason)),
      record_(std::move(record)) {}

void revert_take_over(Client& c, const TakeOverRecord& rec) {
    std::vector<std::string> problems;
    auto attempt = [&](const std::string& what, auto&& fn) {
        try {
            fn();
        } catch (const std::exception& e) {
            problems.push_back(what + ": " + e.what());
        }
    };

    // 1. The addresses back onto the port (the bridge still holds them too).
    std::vector<Address> now_on_port;
    attempt("read " + rec.port, [&] { now_on_port = global_addresses(c, rec.port); });
    for (const Address& a : rec.addresses) {
        if (has_cidr(now_on_port, a)) continue;
        // With its own flags: the port is the address's only holder once the bridge
        // lets go of it, and the record should come back exactly.
        attempt("restore " + a.cidr(), [&] { c.add_address(rec.port, a); });
    }
    // 2. The port out of the bridge, so that its own IP stack receives again.
    if (!rec.port_was_enslaved) {
        attempt("release " + rec.port, [&] {
            auto p = c.find_link(rec.port);
            if (p && p->master == rec.bridge) c.release(rec.port);
        });
    }
    // 3. The routes back, each replaced in one step; then copies left on the bridge.
    for (const Route& r : rec.routes) {
        attempt("restore route " + r.str(), [&] { c.add_route(on(r, rec.port), true); });
    }
    std::vector<Route> on_bridge;
    attempt("read routes of " + rec.bridge,
            [&] { on_bridge = c.routes({.link = rec.bridge, .table = 254, .family = 0}); });
    for (const Route& r : rec.routes) {
        for (const Route& b : on_bridge) {
            if (same_route(r, b)) {
                attempt("delete route " + b.str(), [&] { c.delete_route(b); });
            }
        }
    }
    // 4. The addresses the take-over added to the bridge.
    for (const Address& a : rec.addresses) {
        if (has_cidr(rec.bridge_addresses, a)) continue;
        attempt("remove " + a.cidr() + " from " + rec.bridge, [&] {
            auto current = global_addresses(c, rec.bridge);
            if (has_cidr(current, a)) c.delete_address(rec.bridge, a.cidr());
        });
    }
    if (!rec.bridge_was_up)
        attempt("set " + rec.bridge + " down", [&] { c.set_up(rec.bridge, false); });

    // 5. Verify against a fresh read.
    try {
        auto addrs = global_addresses(c, rec.port);
        for (const Address& a : rec.addresses) {
            if (!has_cidr(addrs, a)) problems.push_back(a.cidr() + " is missing on " + rec.port);
        }
        for (const Address& a : addrs) {
            if (!has_cidr(rec.addresses, a))
                problems.push_back(a.cidr() + " is extra on " + rec.port);
        }
        auto routes = movable_routes(c, rec.port);
        for (const Route& r : rec.routes) {
            if (std::none_of(routes.begin(), routes.end(),
                             [&](const Route& x) { return same_route(r, x); })) {
                problems.push_back("route " + r.str() + " is missing");
            }
        }
        for (const Route& r : routes) {
            if (std::none_of(rec.routes.begin(), rec.routes.end(),
                             [&](const Route& x) { return same_route(r, x); })) {
                problems.push_back("route " + r.str() + " is extra");
            }
        }
    } catch (const std::exception& e) {
        problems.push_back(std::string("verify: ") + e.what());
    }
    if (!problems.empty()) {
        std::string detail;
        for (const auto& p : problems) detail += (detail.empty() ? "" : "; ") + p;
        throw AdapterError(rec.port, "revert take-over of",
                           detail + ". Recorded state to restore by hand: " + list_state(rec), 0);
    }
}

TakeOverReport take_over_addresses(Client& c, const std::string& port, const std::string& bridge,
                                   const TakeOverOptions& options) {
    const std::string op = "take over addresses";
    const std::string object = port + " to " + bridge;
    // Preconditions: checked before anything changes.
    if (port == bridge) throw AdapterError(object, op, "port and bridge are the same device", 0);
    Link p = c.link(port);
    Link b = c.link(bridge);
    if (!b.is_bridge()) {
        throw AdapterError(object, op,
                           bridge + " is not a bridge (it is " +
                               (b.kind.empty() ? "a network device" : "a " + b.kind) + ")",
                           0);
    }
    if (p.master_ifindex != 0 && p.master_ifindex != b.ifindex) {
        throw AdapterError(object, op, port + " is already a port of " + p.master, 0);
    }

    TakeOverReport report;
    TakeOverRecord& rec = report.original;
    rec.port = port;
    rec.bridge = bridge;
    rec.addresses = global_addresses(c, port);
    rec.routes = movable_routes(c, port);
    rec.bridge_addresses = global_addresses(c, bridge);
    rec.port_was_enslaved = p.master_ifindex == b.ifindex;
    rec.bridge_was_up = b.admin_up;
    spdlog::debug("netlink: take-over {} -> {}: {} addresses, {} routes", port, bridge,
                  rec.addresses.size(), rec.routes.size());

    auto fail = [&](const std::string& reason) -> TakeOverReport {
        if (options.no_rollback) {
            report.problem = reason;
            spdlog::debug("netlink: take-over {} left in place (no_rollback): {}", object, reason);
            return report;
        }
        try {
            revert_take_over(c, rec);
        } catch (const AdapterError& e) {
            throw AdapterError(object, op, reason + "; rollback failed: " + e.what(), e.code());
        }
        throw TakeOverRolledBack(port, reason, rec);
    };

    std::chrono::steady_clock::time_point switch_start;
    try {
        // 1. The bridge up, holding the addresses as well (same address on two devices).
        if (!b.admin_up) c.set_up(bridge, true);
        for (const Address& a : rec.addresses) {
            if (has_cidr(rec.bridge_addresses, a)) continue;
            Address copy = a;
            if (copy.family == 6) copy.flags |= kNoDad;  // the port holds it: not a duplicate
            c.add_address(bridge, copy);
            report.moved_addresses.push_back(copy);
        }
        // 2. The port into the bridge: its frames now reach the bridge's addresses.
        switch_start = std::chrono::steady_clock::now();
        if (!rec.port_was_enslaved) c.enslave(port, bridge);
        // 3. The routes, default first, each swapped in one step.
        for (const Route& r : rec.routes) {
            c.add_route(on(r, bridge), true);
            report.moved_routes.push_back(on(r, bridge));
        }
        report.switch_time = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - switch_start);
        // IPv6 replace may leave the port's route beside the new one.
        for (const Route& r : movable_routes(c, port)) c.delete_route(r);
        // 4. The addresses off the port (deleting a primary may take its secondaries).
        for (const Address& a : rec.addresses) {
            auto current = global_addresses(c, port);
            if (has_cidr(current, a)) c.delete_address(port, a.cidr());
        }
        // 5. Verify against a fresh read.
        auto on_bridge = global_addresses(c, bridge);
        for (const Address& a : rec.addresses) {
            if (!has_cidr(on_bridge, a))
                return fail(a.cidr() + " is not on " + bridge + " afterwards");
        }
        if (!global_addresses(c, port).empty())
            return fail(port + " still holds addresses afterwards");
        auto routes = movable_routes(c, bridge);
        for (const Route& r : rec.routes) {
            if (std::none_of(routes.begin(), routes.end(),
                             [&](const Route& x) { return same_route(r, x); })) {
                return fail("route " + on(r, bridge).str() + " is missing afterwards");
            }
        }
    } catch (const AdapterError& e) {
        return fail(e.what());
    }

    // 6. The gateway, through the bridge.
    if (options.gateway) {
        report.gateway = *options.gateway;
    } else {
        for (int family : {4, 6}) {
            for (const Route& r : rec.routes) {
                if (report.gateway.empty() && r.family == family && r.is_default() &&
                    !r.gateway.empty()) {
                    report.gateway = r.gateway;
                }
            }
        }
        for (const Route& r : rec.routes) {
            if (report.gateway.empty() && !r.gateway.empty()) report.gateway = r.gateway;
        }
    }
    if (report.gateway.empty()) {
        report.gateway_reachable = true;  // nothing to lose
        return report;
    }
    report.gateway_checked = true;
    try {
        report.gateway_reachable =
            c.gateway_reachable(bridge, report.gateway, options.timeout, options.accept_neighbour);
    } catch (const AdapterError& e) {
        return fail(e.what());
    }
    if (!report.gateway_reachable) {
        return fail("gateway " + report.gateway + " did not answer via " + bridge + " within " +
                    std::to_string(options.timeout.count()) + " ms");
    }
    spdlog::debug("netlink: take-over {} done; switch {} us", object, report.switch_time.count());
    return report;
}

}  // namespace virtform::netlink
