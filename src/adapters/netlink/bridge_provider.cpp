#include "virtform/adapters/netlink/bridge_provider.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "virtform/adapters/netlink/client.h"
#include "virtform/safe_file.h"

namespace virtform::netlink {
namespace {

namespace fs = std::filesystem;
constexpr const char* kAliasPrefix = "virtform:";

std::vector<Cidr> global_addresses(const std::vector<Address>& all, const std::string& link) {
    std::vector<Cidr> out;
    for (const auto& a : all) {
        if (a.link != link || !a.is_global()) continue;
        if (auto c = Cidr::parse(a.cidr())) out.push_back(*c);
    }
    std::sort(out.begin(), out.end());
    return out;
}

nlohmann::json to_json(const Address& a) {
    return {{"link", a.link}, {"family", a.family}, {"address", a.address}, {"prefix", a.prefix},
            {"broadcast", a.broadcast}, {"label", a.label}, {"scope", a.scope}, {"flags", a.flags}};
}
Address address_from_json(const nlohmann::json& j) {
    Address a;
    a.link = j.at("link");
    a.family = j.at("family");
    a.address = j.at("address");
    a.prefix = j.at("prefix");
    a.broadcast = j.value("broadcast", "");
    a.label = j.value("label", "");
    a.scope = j.value("scope", 0);
    a.flags = j.value("flags", 0U);
    return a;
}
nlohmann::json to_json(const Route& r) {
    return {{"family", r.family}, {"dst", r.dst}, {"gateway", r.gateway}, {"oif_name", r.oif_name},
            {"metric", r.metric}, {"table", r.table}, {"protocol", r.protocol}, {"scope", r.scope},
            {"type", r.type}, {"prefsrc", r.prefsrc}};
}
Route route_from_json(const nlohmann::json& j) {
    Route r;
    r.family = j.at("family");
    r.dst = j.at("dst");
    r.gateway = j.value("gateway", "");
    r.oif_name = j.value("oif_name", "");
    r.metric = j.value("metric", 0U);
    r.table = j.value("table", 254U);
    r.protocol = j.value("protocol", 3);
    r.scope = j.value("scope", -1);
    r.type = j.value("type", 1);
    r.prefsrc = j.value("prefsrc", "");
    return r;
}

nlohmann::json record_to_json(const TakeOverRecord& rec) {
    nlohmann::json addrs = nlohmann::json::array(), routes = nlohmann::json::array(),
                   bridge_addrs = nlohmann::json::array();
    for (const auto& a : rec.addresses) addrs.push_back(to_json(a));
    for (const auto& r : rec.routes) routes.push_back(to_json(r));
    for (const auto& a : rec.bridge_addresses) bridge_addrs.push_back(to_json(a));
    return {{"port", rec.port}, {"bridge", rec.bridge}, {"addresses", addrs}, {"routes", routes},
            {"bridge_addresses", bridge_addrs}, {"port_was_enslaved", rec.port_was_enslaved},
            {"bridge_was_up", rec.bridge_was_up}};
}

TakeOverRecord record_from_json(const nlohmann::json& j) {
    TakeOverRecord rec;
    rec.port = j.at("port");
    rec.bridge = j.at("bridge");
    for (const auto& a : j.at("addresses")) rec.addresses.push_back(address_from_json(a));
    for (const auto& r : j.at("routes")) rec.routes.push_back(route_from_json(r));
    for (const auto& a : j.value("bridge_addresses", nlohmann::json::array())) {
        rec.bridge_addresses.push_back(address_from_json(a));
    }
    rec.port_was_enslaved = j.value("port_was_enslaved", false);
    rec.bridge_was_up = j.value("bridge_was_up", false);
    return rec;
}

/// Written atomically (unique O_EXCL|O_NOFOLLOW temp file, fsync, rename),
/// mode 0600: see safe_file.h.
void write_record(const std::string& dir, const TakeOverRecord& rec) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    write_file_atomically(fmt::format("{}/{}.json", dir, rec.bridge), record_to_json(rec).dump(2),
                          "write take-over record");
}

std::optional<TakeOverRecord> read_record(const std::string& dir, const std::string& bridge) {
    const auto text = read_file_nofollow(fmt::format("{}/{}.json", dir, bridge), 16u << 20,
                                         "read take-over record");
    if (!text) return std::nullopt;
    try {
        return record_from_json(nlohmann::json::parse(*text));
    } catch (const std::exception& e) {
        throw AdapterError(fmt::format("{}/{}.json", dir, bridge), "read take-over record", e.what());
    }
}

/// The ports record of a bridge: the ports its lab gave it, so that deleting
/// the bridge after the manifest dropped it can tell them from ports others
/// enslaved (Live::declared_ports). <dir>/<bridge>.ports.json, 0600.
std::string ports_path(const std::string& dir, const std::string& bridge) {
    return fmt::format("{}/{}.ports.json", dir, bridge);
}

void write_ports(const std::string& dir, const Bridge& b) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    write_file_atomically(ports_path(dir, b.name), nlohmann::json(b.ports).dump(),
                          "write the ports record");
}

/// A lab name read from an alias is only used as a directory name when it is one.
bool plain_name(const std::string& s) {
    return !s.empty() && s.size() <= 64 && s[0] != '.' &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) {
               return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
           });
}

std::optional<std::vector<std::string>> read_ports(const std::string& dir,
                                                   const std::string& bridge) {
    try {
        const auto text =
            read_file_nofollow(ports_path(dir, bridge), 1u << 20, "read ports record");
        if (!text) return std::nullopt;
        return nlohmann::json::parse(*text).get<std::vector<std::string>>();
    } catch (const std::exception& e) {
        // A cache for the plan's warnings: unreadable means unknown.
        spdlog::debug("bridge {}: ports record unreadable: {}", bridge, e.what());
        return std::nullopt;
    }
}

BridgeOptions options_of(const Bridge& b) {
    BridgeOptions o;
    o.stp = b.stp;
    o.forward_delay_cs = b.forward_delay_cs;
    o.hello_time_cs = b.hello_time_cs;
    o.max_age_cs = b.max_age_cs;
    o.priority = b.priority;
    o.vlan_filtering = b.vlan_filtering;
    return o;
}

}  // namespace

std::string owner_alias(const std::string& lab) { return kAliasPrefix + lab; }

std::string owner_from_alias(const std::string& alias) {
    if (alias.rfind(kAliasPrefix, 0) != 0) return {};
    return alias.substr(std::string(kAliasPrefix).size());
}

namespace {

/// What BridgeProvider::read_into() fills, read into `part` alone; the
/// interfaces deleted while it read go to `gone`.
void read_netlink(Client& client, const std::string& state_dir, Live& part,
                  std::vector<std::string>& gone) {
    const auto links = client.links();
    const auto addrs = client.addresses();
    for (const auto& l : links) {
        part.host_interfaces.insert(l.name);
        part.interfaces[l.name] =
            HostInterface{l.name, l.kind, l.master, global_addresses(addrs, l.name)};
    }
    // Routes another network's subnet would collide with (the kernel's own
    // routes of addresses are covered by the addresses).
    for (const auto& r : client.routes()) {
        if (r.is_default() || r.protocol == 2 /* RTPROT_KERNEL */) continue;
        if (auto dst = Cidr::parse(r.dst)) part.routes.push_back({*dst, r.oif_name, r.gateway});
    }
    // Every bridge's options from one dump, not two requests per bridge.
    const auto infos = client.bridge_infos();
    for (const auto& l : links) {
        if (!l.is_bridge()) continue;
        Bridge b;
        b.name = l.name;
        b.owner = owner_from_alias(l.alias);
        for (const auto& p : links) {
            // libvirt's taps (vnetN, kind tun) come and go with VMs: never managed here.
            if (p.master == l.name && p.kind != "tun") b.ports.push_back(p.name);
        }
        BridgeInfo info;
        try {
            const auto known = infos.find(l.name);
            info = known != infos.end() ? known->second : client.bridge_info(l.name);
        } catch (const AdapterError& e) {
            // Deleted by someone else between the dump and this read (another
            // lab's destroy, libvirt stopping a network): it is not there any
            // more, which is what the plan must see. Anything else stands.
            if (e.code() != code::no_device) throw;
            part.host_interfaces.erase(l.name);
            part.interfaces.erase(l.name);
            gone.push_back(l.name);
            continue;
        }
        b.stp = info.stp_enabled();
        b.forward_delay_cs = info.forward_delay_cs;
        b.hello_time_cs = info.hello_time_cs;
        b.max_age_cs = info.max_age_cs;
        b.priority = info.priority;
        b.vlan_filtering = info.vlan_filtering;
        b.mtu = static_cast<int>(l.mtu);
        if (!l.mac.empty()) b.mac = l.mac;
        b.addresses = global_addresses(addrs, l.name);
        b.up = l.admin_up;
        b.normalize();
        if (plain_name(b.owner)) {
            if (auto ports = read_ports(state_dir + "/" + b.owner, b.name))
                part.declared_ports[b.name] = std::move(*ports);
        }
        part.bridges[b.name] = std::move(b);
    }
}

}  // namespace

NetlinkSnapshot::NetlinkSnapshot(const std::string& state_dir) : state_dir_(state_dir) {
    Client client;
    read_netlink(client, state_dir_, part_, gone_);
}

BridgeProvider::BridgeProvider(std::string lab, BridgeProviderOptions options)
    : lab_(std::move(lab)), options_(std::move(options)), client_(std::make_unique<Client>()) {}

BridgeProvider::BridgeProvider(std::string lab, BridgeProviderOptions options,
                               NetlinkSnapshot snapshot)
    : BridgeProvider(std::move(lab), std::move(options)) {
    if (snapshot.state_dir_ != options_.state_dir)
        throw Error("a netlink snapshot of " + snapshot.state_dir_ +
                    " handed to the bridge provider of " + options_.state_dir);
    snapshot_ = std::move(snapshot);
}

BridgeProvider::~BridgeProvider() = default;

void BridgeProvider::read_into(Live& live) {
    std::lock_guard lock(mu_);
    Live part;
    std::vector<std::string> gone;
    if (snapshot_) {
        part = std::move(snapshot_->part_);
        gone = std::move(snapshot_->gone_);
        snapshot_.reset();
    } else {
        read_netlink(*client_, options_.state_dir, part, gone);
    }
    live.host_interfaces.merge(part.host_interfaces);
    for (auto& [name, i] : part.interfaces) live.interfaces[name] = std::move(i);
    for (const auto& name : gone) {
        live.host_interfaces.erase(name);
        live.interfaces.erase(name);
    }
    live.routes.insert(live.routes.end(), part.routes.begin(), part.routes.end());
    for (auto& [name, b] : part.bridges) live.bridges[name] = std::move(b);
    for (auto& [name, ports] : part.declared_ports) live.declared_ports[name] = std::move(ports);
}

void BridgeProvider::apply(const Action& action) {
    std::lock_guard lock(mu_);
    switch (action.type) {
        case ActionType::create: create(std::get<Bridge>(*action.after)); break;
        case ActionType::update:
            // Adopting: the mark first, as for a bridge virtform creates.
            if (action.adopt) client_->set_alias(action.id.name, owner_alias(lab_));
            update(std::get<Bridge>(*action.before), std::get<Bridge>(*action.after));
            break;
        case ActionType::replace:
            destroy(action.id.name);
            create(std::get<Bridge>(*action.after));
            break;
        case ActionType::destroy: destroy(action.id.name); break;
    }
}

void BridgeProvider::create(const Bridge& want) {
    client_->create_bridge(want.name);
    // The mark first: from here on a failed apply leaves a bridge the next
    // apply recognises as its own and repairs.
    client_->set_alias(want.name, owner_alias(lab_));
    client_->set_bridge_options(want.name, options_of(want));
    write_ports(record_dir(), want);
    for (const auto& port : want.ports) {
        if (port != want.take_over) enslave(port, want.name);
    }
    if (want.mtu) client_->set_mtu(want.name, static_cast<std::uint32_t>(*want.mtu));
    if (want.mac) client_->set_mac(want.name, *want.mac);
    for (const auto& a : want.addresses) client_->add_address(want.name, a.str());
    client_->set_up(want.name, want.up);
    if (want.take_over) take_over(want);
}

void BridgeProvider::update(const Bridge& before, const Bridge& after) {
    const std::set<std::string> had(before.ports.begin(), before.ports.end());
    const std::set<std::string> wants(after.ports.begin(), after.ports.end());
    write_ports(record_dir(), after);
    for (const auto& port : before.ports) {
        // Only ports this lab's bridge holds and the manifest no longer lists.
        if (wants.count(port) == 0) client_->release(port);
    }
    for (const auto& port : after.ports) {
        if (had.count(port) == 0 && port != after.take_over) enslave(port, after.name);
    }
    BridgeOptions o;
    if (before.stp != after.stp) o.stp = after.stp;
    if (after.forward_delay_cs != before.forward_delay_cs) o.forward_delay_cs = after.forward_delay_cs;
    if (after.hello_time_cs != before.hello_time_cs) o.hello_time_cs = after.hello_time_cs;
    if (after.max_age_cs != before.max_age_cs) o.max_age_cs = after.max_age_cs;
    if (after.priority != before.priority) o.priority = after.priority;
    if (after.vlan_filtering && after.vlan_filtering != before.vlan_filtering) o.vlan_filtering = after.vlan_filtering;
    client_->set_bridge_options(after.name, o);
    if (after.mtu && after.mtu != before.mtu) client_->set_mtu(after.name, static_cast<std::uint32_t>(*after.mtu));
    if (after.mac && after.mac != before.mac) client_->set_mac(after.name, *after.mac);
    if (!after.take_over || !after.addresses.empty()) {
        for (const auto& a : before.addresses) {
            if (std::find(after.addresses.begin(), after.addresses.end(), a) == after.addresses.end()) {
                client_->delete_address(after.name, a.str());
            }
        }
        for (const auto& a : after.addresses) {
            if (std::find(before.addresses.begin(), before.addresses.end(), a) == before.addresses.end()) {
                client_->add_address(after.name, a.str());
            }
        }
    }
    if (after.up != before.up) client_->set_up(after.name, after.up);
    if (after.take_over && before.take_over != after.take_over) take_over(after);
}

void BridgeProvider::enslave(const std::string& port, const std::string& bridge) {
    client_->enslave(port, bridge);
    // A port that is down carries nothing: bring it up, as `ip link set master` users expect.
    client_->set_up(port, true);
}

std::string BridgeProvider::record_dir() const { return options_.state_dir + "/" + lab_; }

void BridgeProvider::take_over(const Bridge& want) {
    const auto port = client_->find_link(*want.take_over);
    if (port && port->master == want.name) {
        // Enslaved by an earlier, interrupted apply: put it back first, so the
        // take-over below records the real original state.
        if (auto old = read_record(record_dir(), want.name)) revert_take_over(*client_, *old);
        else client_->release(*want.take_over);
    }
    const TakeOverReport report = take_over_addresses(*client_, *want.take_over, want.name, options_.take_over);
    write_record(record_dir(), report.original);
    spdlog::info("bridge {}: took over {} address(es) and {} route(s) from {} in {} us; gateway {} {}",
                 want.name, report.moved_addresses.size(), report.moved_routes.size(), *want.take_over,
                 report.switch_time.count(), report.gateway.empty() ? "(none)" : report.gateway,
                 report.gateway_checked ? (report.gateway_reachable ? "reachable" : "NOT reachable") : "not checked");
    if (!report.problem.empty()) {
        throw AdapterError(want.name, "take over addresses of " + *want.take_over,
                           report.problem + " (left in place: --no-rollback)");
    }
}

void BridgeProvider::destroy(const std::string& name) {
    // A bridge that took over a port's addresses gives them back first.
    std::error_code ec;
    if (auto record = read_record(record_dir(), name)) {
        revert_take_over(*client_, *record);
        fs::remove(fmt::format("{}/{}.json", record_dir(), name), ec);
    }
    client_->delete_link(name);
    fs::remove(ports_path(record_dir(), name), ec);
    fs::remove(record_dir(), ec);  // only when no other bridge of the lab has a record
}

}  // namespace virtform::netlink
