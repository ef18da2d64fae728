#include "virtform/adapters/netlink/client.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <thread>

#include "nl_util.h"
#include "probe.h"
#include "virtform/c_ptr.h"
#include "virtform/error.h"

namespace virtform::netlink {

static_assert(code::exists == -NLE_EXIST && code::invalid == -NLE_INVAL &&
              code::range == -NLE_RANGE && code::not_supported == -NLE_OPNOTSUPP &&
              code::not_found == -NLE_OBJ_NOTFOUND && code::no_address == -NLE_NOADDR &&
              code::busy == -NLE_BUSY && code::permission == -NLE_PERM &&
              code::no_device == -NLE_NODEV);

using detail::CachePtr;
using detail::Failure;
using detail::IpText;
using detail::LinkPtr;
using detail::MsgPtr;
using detail::NlAddrPtr;

namespace {

using AddrPtr = std::unique_ptr<rtnl_addr, Free<rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Free<rtnl_route_put>>;
using NeighPtr = std::unique_ptr<rtnl_neigh, Free<rtnl_neigh_put>>;
using SockPtr = std::unique_ptr<nl_sock, Free<nl_socket_free>>;
using CbPtr = std::unique_ptr<nl_cb, Free<nl_cb_put>>;

std::string mac_text(nl_addr* a) {
    if (a == nullptr || nl_addr_get_len(a) == 0) return "";
    const auto* b = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(a));
    std::string s;
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned i = 0; i < nl_addr_get_len(a); ++i) {
        if (i != 0) s += ':';
        s += kHex[b[i] >> 4];
        s += kHex[b[i] & 0x0f];
    }
    return s;
}

std::optional<std::array<std::uint8_t, 6>> parse_mac(const std::string& text) {
    std::array<std::uint8_t, 6> out{};
    std::size_t pos = 0;
    for (std::size_t i = 0; i < 6; ++i) {
        if (i != 0) {
            if (pos >= text.size() || (text[pos] != ':' && text[pos] != '-')) return std::nullopt;
            ++pos;
        }
        int v = 0;
        for (int d = 0; d < 2; ++d, ++pos) {
            if (pos >= text.size()) return std::nullopt;
            char c = static_cast<char>(text[pos] | 0x20);
            int h = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
            if (h < 0) return std::nullopt;
            v = v * 16 + h;
        }
        out[i] = static_cast<std::uint8_t>(v);
    }
    if (pos != text.size()) return std::nullopt;
    return out;
}

int family_of(int version) {
    return version == 6 ? AF_INET6 : AF_INET;
}
int version_of(int af) {
    return af == AF_INET6 ? 6 : 4;
}

struct Transaction {
    int error = 0;  // negative errno from NLMSG_ERROR
    bool done = false;
    std::string extack;
    std::function<void(nlmsghdr*)> on_valid;
};

constexpr std::size_t kHdrLen =
    (sizeof(nlmsghdr) + NLMSG_ALIGNTO - 1) & ~std::size_t{NLMSG_ALIGNTO - 1};

int on_error(sockaddr_nl* /*who*/, nlmsgerr* e, void* arg) {
    auto* t = static_cast<Transaction*>(arg);
    t->error = e->error;
    t->done = true;
    // Extended ack (NETLINK_EXT_ACK): the kernel's words for what was wrong.
    auto* hdr = reinterpret_cast<nlmsghdr*>(reinterpret_cast<char*>(e) - kHdrLen);
    if ((hdr->nlmsg_flags & NLM_F_ACK_TLVS) != 0) {
        std::size_t off = kHdrLen + sizeof(nlmsgerr);
        if ((hdr->nlmsg_flags & NLM_F_CAPPED) == 0) {
            off += ((e->msg.nlmsg_len - kHdrLen) + 3) & ~std::size_t{3};
        }
        if (off < hdr->nlmsg_len) {
            std::array<nlattr*, NLMSGERR_ATTR_MAX + 1> tb{};
            auto* attrs = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(hdr) + off);
            if (nla_parse(tb.data(), NLMSGERR_ATTR_MAX, attrs,
                          static_cast<int>(hdr->nlmsg_len - off), nullptr) == 0 &&
                tb[NLMSGERR_ATTR_MSG] != nullptr) {
                t->extack = nla_get_string(tb[NLMSGERR_ATTR_MSG]);
            }
        }
    }
    return NL_STOP;
}

int on_ack(nl_msg* /*msg*/, void* arg) {
    static_cast<Transaction*>(arg)->done = true;
    return NL_STOP;
}

int on_valid(nl_msg* msg, void* arg) {
    auto* t = static_cast<Transaction*>(arg);
    if (t->on_valid) t->on_valid(nlmsg_hdr(msg));
    return NL_OK;
}

std::string read_sysfs(const std::string& path) {
    std::ifstream in(path);
    std::string v;
    if (!in || !std::getline(in, v)) return "";
    return v;
}

}  // namespace

namespace detail {

std::string describe(const Failure& f) {
    std::string text;
    switch (f.err_no) {
        case 0:
            text = nl_geterror(f.nlerr);
            break;
        case EPERM:
        case EACCES:
            text =
                "operation not permitted (needs root or CAP_NET_ADMIN in this network namespace)";
            break;
        case ENODEV:
            text = "no such network device";
            break;
        case EEXIST:
            text = "already exists";
            break;
        case EADDRNOTAVAIL:
            text = "no such address";
            break;
        case ESRCH:
            text = "no such route";
            break;
        case ENETUNREACH:
            text = "network unreachable (the gateway is not on a subnet of the device)";
            break;
        case EBUSY:
            text = "device or resource busy";
            break;
        default:
            text = std::strerror(f.err_no);
            break;
    }
    if (!f.extack.empty()) text += " (kernel: " + f.extack + ")";
    return text;
}

[[noreturn]] void raise(const std::string& object, const std::string& operation, const Failure& f,
                        const std::string& detail) {
    std::string text = detail.empty() ? describe(f) : detail;
    if (!detail.empty() && !f.extack.empty()) text += " (kernel: " + f.extack + ")";
    throw AdapterError(object, operation, text, f.nlerr);
}

std::string IpText::str() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == 6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf));
    return buf;
}

std::optional<IpText> parse_ip(const std::string& text) {
    IpText ip;
    if (inet_pton(AF_INET, text.c_str(), ip.bytes.data()) == 1) {
        ip.family = 4;
    } else if (inet_pton(AF_INET6, text.c_str(), ip.bytes.data()) == 1) {
        ip.family = 6;
    } else {
        return std::nullopt;
    }
    return ip;
}

std::optional<std::pair<IpText, int>> parse_cidr(const std::string& text) {
    auto slash = text.find('/');
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    int max = ip->family == 6 ? 128 : 32;
    int prefix = max;
    if (slash != std::string::npos) {
        std::string p = text.substr(slash + 1);
        if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), ::isdigit)) {
            return std::nullopt;
        }
        prefix = std::stoi(p);
        if (prefix > max) return std::nullopt;
    }
    return std::make_pair(*ip, prefix);
}

std::string addr_text(nl_addr* a) {
    if (a == nullptr) return "";
    unsigned len = nl_addr_get_len(a);
    int af = nl_addr_get_family(a);
    if ((af != AF_INET && af != AF_INET6) || (len != 4 && len != 16)) return "";
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(af, nl_addr_get_binary_addr(a), buf, sizeof(buf));
    return buf;
}

NlAddrPtr make_addr(const IpText& ip, int prefix) {
    NlAddrPtr a(nl_addr_build(family_of(ip.family), ip.bytes.data(), ip.family == 6 ? 16 : 4));
    if (!a) throw AdapterError("", "build address", "out of memory", -NLE_NOMEM);
    nl_addr_set_prefixlen(a.get(), prefix);
    return a;
}

}  // namespace detail

using detail::addr_text;
using detail::make_addr;
using detail::parse_cidr;
using detail::parse_ip;
using detail::raise;

// ---------------------------------------------------------------------------------

struct Client::Impl {
    SockPtr sock;

    Impl() : sock(nl_socket_alloc()) {
        if (!sock) throw AdapterError("NETLINK_ROUTE", "open", "out of memory", -NLE_NOMEM);
        int r = nl_connect(sock.get(), NETLINK_ROUTE);
        if (r < 0) throw AdapterError("NETLINK_ROUTE", "open", nl_geterror(r), r);
        int one = 1;
        int fd = nl_socket_get_fd(sock.get());
        // Best effort: older kernels lack these and we only lose the kernel's message.
        setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    }

    /// Sends `msg` and waits for the kernel's answer; nullopt on success.
    /// A dump (NLM_F_DUMP in `msg`) ends with NLMSG_DONE, which the kernel
    /// sends instead of an ACK.
    std::optional<Failure> transact(nl_msg* msg, std::function<void(nlmsghdr*)> valid = {}) {
        Transaction t;
        t.on_valid = std::move(valid);
        CbPtr cb(nl_cb_alloc(NL_CB_DEFAULT));
        if (!cb) return Failure{0, -NLE_NOMEM, ""};
        nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &t);
        nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, on_ack, &t);
        nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, on_ack, &t);
        nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &t);
        int r = nl_send_auto(sock.get(), msg);
        if (r < 0) return Failure{0, r, ""};
        while (!t.done) {
            r = nl_recvmsgs(sock.get(), cb.get());
            if (r < 0 && t.error == 0) return Failure{0, r, ""};
            if (r < 0) break;
        }
        if (t.error != 0) {
            return Failure{-t.error, -nl_syserr2nlerr(-t.error), t.extack};
        }
        return std::nullopt;
    }

    void must(nl_msg* msg, const std::string& object, const std::string& op,
              const std::function<std::string(const Failure&)>& explain = {}) {
        if (auto f = transact(msg)) {
            spdlog::debug("netlink: {} {} failed: errno {} {}", op, object, f->err_no, f->extack);
            raise(object, op, *f, explain ? explain(*f) : std::string{});
        }
    }

    CachePtr link_cache() {
        nl_cache* c = nullptr;
        int r = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &c);
        CachePtr cache(c);
        if (r < 0) throw AdapterError("links", "read", nl_geterror(r), r);
        return cache;
    }

    /// ifindex of `name`; throws AdapterError(name, op, "no such network device").
    int ifindex(const std::string& name, const std::string& op) {
        if (name.empty() || name.size() >= IFNAMSIZ) {
            throw AdapterError(name, op, "invalid device name", -NLE_INVAL);
        }
        nl_msg* raw = nullptr;
        int r = rtnl_link_build_get_request(0, name.c_str(), &raw);
        MsgPtr msg(raw);
        if (r < 0) throw AdapterError(name, op, nl_geterror(r), r);
        int index = 0;
        auto f = transact(msg.get(), [&](nlmsghdr* h) {
            if (h->nlmsg_type == RTM_NEWLINK) {
                index = static_cast<ifinfomsg*>(nlmsg_data(h))->ifi_index;
            }
        });
        if (f) raise(name, op, *f);
        if (index == 0) throw AdapterError(name, op, "no such network device", -NLE_NODEV);
        return index;
    }

    void change_link(const std::string& name, const std::string& op,
                     const std::function<void(rtnl_link*)>& mutate,
                     const std::function<std::string(const Failure&)>& explain = {}) {
        int index = ifindex(name, op);
        LinkPtr orig(rtnl_link_alloc());
        LinkPtr change(rtnl_link_alloc());
        if (!orig || !change) throw AdapterError(name, op, "out of memory", -NLE_NOMEM);
        rtnl_link_set_ifindex(orig.get(), index);
        mutate(change.get());
        nl_msg* raw = nullptr;
        int r = rtnl_link_build_change_request(orig.get(), change.get(), 0, &raw);
        MsgPtr msg(raw);
        if (r < 0) throw AdapterError(name, op, nl_geterror(r), r);
        // RTM_SETLINK changes an existing device and never creates one.
        nlmsg_hdr(msg.get())->nlmsg_type = RTM_SETLINK;
        must(msg.get(), name, op, explain);
    }

    struct RawLink {
        std::string kind;
        bool has_info_data = false;
        std::optional<BridgeInfo> bridge;
    };

    /// RTM_GETLINK parsed by hand: libnl 3.7 does not parse bridge IFLA_INFO_DATA.
    RawLink raw_link(const std::string& name, const std::string& op) {
        int index = ifindex(name, op);
        nl_msg* raw = nullptr;
        int r = rtnl_link_build_get_request(index, nullptr, &raw);
        MsgPtr msg(raw);
        if (r < 0) throw AdapterError(name, op, nl_geterror(r), r);
        RawLink out;
        auto f = transact(msg.get(), [&](nlmsghdr* h) {
            if (h->nlmsg_type == RTM_NEWLINK) parse_raw_link(h, out);
        });
        if (f) raise(name, op, *f);
        return out;
    }

    /// Every link in one RTM_GETLINK dump, parsed as raw_link does, by name.
    std::map<std::string, RawLink> raw_links(const std::string& op) {
        MsgPtr msg(nlmsg_alloc_simple(RTM_GETLINK, NLM_F_DUMP));
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        if (!msg || nlmsg_append(msg.get(), &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
            throw AdapterError("links", op, "out of memory", -NLE_NOMEM);
        std::map<std::string, RawLink> out;
        auto f = transact(msg.get(), [&](nlmsghdr* h) {
            if (h->nlmsg_type != RTM_NEWLINK) return;
            RawLink link;
            if (std::string name = parse_raw_link(h, link); !name.empty())
                out[name] = std::move(link);
        });
        if (f) raise("links", op, *f);
        return out;
    }

    /// Fills `out` from an RTM_NEWLINK message; returns the link's name.
    static std::string parse_raw_link(nlmsghdr* h, RawLink& out) {
        std::array<nlattr*, IFLA_MAX + 1> tb{};
        if (nlmsg_parse(h, sizeof(ifinfomsg), tb.data(), IFLA_MAX, nullptr) < 0) return "";
        std::string name = tb[IFLA_IFNAME] != nullptr ? nla_get_string(tb[IFLA_IFNAME]) : "";
        if (tb[IFLA_LINKINFO] == nullptr) return name;
        std::array<nlattr*, IFLA_INFO_MAX + 1> li{};
        if (nla_parse_nested(li.data(), IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) < 0) return name;
        if (li[IFLA_INFO_KIND] != nullptr) out.kind = nla_get_string(li[IFLA_INFO_KIND]);
        if (out.kind != "bridge" || li[IFLA_INFO_DATA] == nullptr) return name;
        std::array<nlattr*, IFLA_BR_MAX + 1> br{};
        if (nla_parse_nested(br.data(), IFLA_BR_MAX, li[IFLA_INFO_DATA], nullptr) < 0) return name;
        out.has_info_data = true;
        BridgeInfo info;
        if (br[IFLA_BR_STP_STATE]) info.stp_state = nla_get_u32(br[IFLA_BR_STP_STATE]);
        if (br[IFLA_BR_FORWARD_DELAY]) {
            info.forward_delay_cs = nla_get_u32(br[IFLA_BR_FORWARD_DELAY]);
        }
        if (br[IFLA_BR_HELLO_TIME]) info.hello_time_cs = nla_get_u32(br[IFLA_BR_HELLO_TIME]);
        if (br[IFLA_BR_MAX_AGE]) info.max_age_cs = nla_get_u32(br[IFLA_BR_MAX_AGE]);
        if (br[IFLA_BR_PRIORITY]) info.priority = nla_get_u16(br[IFLA_BR_PRIORITY]);
        if (br[IFLA_BR_VLAN_FILTERING]) {
            info.vlan_filtering = nla_get_u8(br[IFLA_BR_VLAN_FILTERING]) != 0;
        }
        out.bridge = info;
        return name;
    }
};

Client::Client() : impl_(std::make_unique<Impl>()) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

// ---- Reading ----------------------------------------------------------------------

namespace {

Link to_link(rtnl_link* l, nl_cache* cache) {
    Link out;
    out.name = rtnl_link_get_name(l) != nullptr ? rtnl_link_get_name(l) : "";
    out.ifindex = rtnl_link_get_ifindex(l);
    if (const char* kind = rtnl_link_get_type(l)) out.kind = kind;
    out.master_ifindex = rtnl_link_get_master(l);
    if (out.master_ifindex != 0) {
        char buf[IFNAMSIZ + 1] = {};
        if (rtnl_link_i2name(cache, out.master_ifindex, buf, sizeof(buf)) != nullptr) {
            out.master = buf;
        }
    }
    if (const char* alias = rtnl_link_get_ifalias(l)) out.alias = alias;
    out.mtu = rtnl_link_get_mtu(l);
    out.mac = mac_text(rtnl_link_get_addr(l));
    unsigned flags = rtnl_link_get_flags(l);
    out.admin_up = (flags & IFF_UP) != 0;
    out.lower_up = (flags & IFF_LOWER_UP) != 0;
    char buf[32] = {};
    out.oper_state = rtnl_link_operstate2str(rtnl_link_get_operstate(l), buf, sizeof(buf));
    return out;
}

std::string link_name(nl_cache* cache, int index) {
    if (index == 0) return "";
    char buf[IFNAMSIZ + 1] = {};
    if (rtnl_link_i2name(cache, index, buf, sizeof(buf)) == nullptr) return "";
    return buf;
}

}  // namespace

std::vector<Link> Client::links() {
    CachePtr cache = impl_->link_cache();
    std::vector<Link> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
        out.push_back(to_link(reinterpret_cast<rtnl_link*>(o), cache.get()));
    }
    std::sort(out.begin(), out.end(),
              [](const Link& a, const Link& b) { return a.ifindex < b.ifindex; });
    return out;
}

std::optional<Link> Client::find_link(const std::string& name) {
    CachePtr cache = impl_->link_cache();
    LinkPtr l(rtnl_link_get_by_name(cache.get(), name.c_str()));
    if (!l) return std::nullopt;
    return to_link(l.get(), cache.get());
}

Link Client::link(const std::string& name) {
    auto l = find_link(name);
    if (!l) throw AdapterError(name, "read link", "no such network device", -NLE_NODEV);
    return *l;
}

std::vector<std::string> Client::ports(const std::string& bridge) {
    int index = impl_->ifindex(bridge, "list ports of");
    std::vector<std::string> out;
    for (const Link& l : links()) {
        if (l.master_ifindex == index) out.push_back(l.name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

BridgeInfo Client::bridge_info(const std::string& bridge) {
    const std::string op = "read bridge options of";
    auto raw = impl_->raw_link(bridge, op);
    if (raw.kind != "bridge") {
        throw AdapterError(
            bridge, op,
            "it is " +
                (raw.kind.empty() ? std::string("a network device") : "a " + raw.kind + " device") +
                ", not a bridge",
            -NLE_OPNOTSUPP);
    }
    if (raw.bridge) return *raw.bridge;
    // Kernels without IFLA_INFO_DATA for bridges: sysfs (of the namespace sysfs was
    // mounted in).
    const std::string dir = "/sys/class/net/" + bridge + "/bridge/";
    auto num = [&](const char* file) -> std::uint32_t {
        std::string v = read_sysfs(dir + file);
        return v.empty() ? 0 : static_cast<std::uint32_t>(std::stoul(v));
    };
    BridgeInfo info;
    info.stp_state = num("stp_state");
    info.forward_delay_cs = num("forward_delay");
    info.hello_time_cs = num("hello_time");
    info.max_age_cs = num("max_age");
    info.priority = static_cast<std::uint16_t>(num("priority"));
    std::string vf = read_sysfs(dir + "vlan_filtering");
    if (!vf.empty()) info.vlan_filtering = vf != "0";
    return info;
}

std::map<std::string, BridgeInfo> Client::bridge_infos() {
    std::map<std::string, BridgeInfo> out;
    for (auto& [name, raw] : impl_->raw_links("read bridge options of")) {
        if (raw.bridge) out.emplace(name, *raw.bridge);
    }
    return out;
}

bool Client::vlan_filtering_supported(const std::string& bridge) {
    const std::string op = "probe VLAN filtering of";
    BridgeInfo info = bridge_info(bridge);
    if (!info.vlan_filtering) return false;
    // Kernels built without CONFIG_BRIDGE_VLAN_FILTERING still report the attribute
    // but refuse any change: set the current value, which changes nothing.
    int index = impl_->ifindex(bridge, op);
    MsgPtr msg(nlmsg_alloc_simple(RTM_NEWLINK, 0));
    if (!msg) throw AdapterError(bridge, op, "out of memory", -NLE_NOMEM);
    ifinfomsg ifi{};
    ifi.ifi_index = index;
    nlattr* li = nullptr;
    nlattr* data = nullptr;
    if (nlmsg_append(msg.get(), &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
        (li = nla_nest_start(msg.get(), IFLA_LINKINFO)) == nullptr ||
        nla_put_string(msg.get(), IFLA_INFO_KIND, "bridge") < 0 ||
        (data = nla_nest_start(msg.get(), IFLA_INFO_DATA)) == nullptr ||
        nla_put_u8(msg.get(), IFLA_BR_VLAN_FILTERING, *info.vlan_filtering ? 1 : 0) < 0) {
        throw AdapterError(bridge, op, "message too large", -NLE_NOMEM);
    }
    nla_nest_end(msg.get(), data);
    nla_nest_end(msg.get(), li);
    auto f = impl_->transact(msg.get());
    if (f && f->err_no == EOPNOTSUPP) return false;
    if (f) raise(bridge, op, *f);
    return true;
}

std::vector<Address> Client::addresses(const std::string& link) {
    int only = link.empty() ? 0 : impl_->ifindex(link, "read addresses of");
    CachePtr links = impl_->link_cache();
    nl_cache* c = nullptr;
    int r = rtnl_addr_alloc_cache(impl_->sock.get(), &c);
    CachePtr cache(c);
    if (r < 0)
        throw AdapterError(link.empty() ? "addresses" : link, "read addresses of", nl_geterror(r),
                           r);
    std::vector<Address> v4;
    std::vector<Address> v6;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        int af = rtnl_addr_get_family(a);
        if (af != AF_INET && af != AF_INET6) continue;
        if (only != 0 && rtnl_addr_get_ifindex(a) != only) continue;
        Address out;
        out.ifindex = rtnl_addr_get_ifindex(a);
        out.link = link_name(links.get(), out.ifindex);
        out.family = version_of(af);
        out.address = addr_text(rtnl_addr_get_local(a));
        out.prefix = rtnl_addr_get_prefixlen(a);
        out.broadcast = addr_text(rtnl_addr_get_broadcast(a));
        if (const char* label = rtnl_addr_get_label(a); label != nullptr && out.link != label) {
            out.label = label;
        }
        out.scope = rtnl_addr_get_scope(a);
        out.flags = rtnl_addr_get_flags(a);
        out.valid_lifetime = rtnl_addr_get_valid_lifetime(a);
        out.preferred_lifetime = rtnl_addr_get_preferred_lifetime(a);
        (af == AF_INET ? v4 : v6).push_back(std::move(out));
    }
    v4.insert(v4.end(), v6.begin(), v6.end());
    return v4;
}

std::vector<Route> Client::routes(const RouteFilter& filter) {
    int only = filter.link.empty() ? 0 : impl_->ifindex(filter.link, "read routes of");
    CachePtr links = impl_->link_cache();
    nl_cache* c = nullptr;
    int r = rtnl_route_alloc_cache(impl_->sock.get(), AF_UNSPEC, 0, &c);
    CachePtr cache(c);
    if (r < 0) throw AdapterError("routes", "read", nl_geterror(r), r);
    std::vector<Route> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
        auto* rt = reinterpret_cast<rtnl_route*>(o);
        int af = rtnl_route_get_family(rt);
        if (af != AF_INET && af != AF_INET6) continue;
        if (filter.family != 0 && version_of(af) != filter.family) continue;
        if (filter.table != 0 && rtnl_route_get_table(rt) != filter.table) continue;
        Route route;
        route.family = version_of(af);
        nl_addr* dst = rtnl_route_get_dst(rt);
        int prefix = dst != nullptr ? static_cast<int>(nl_addr_get_prefixlen(dst)) : 0;
        if (prefix == 0) {
            route.dst = "default";
        } else {
            route.dst = addr_text(dst) + "/" + std::to_string(prefix);
        }
        if (rtnl_route_get_nnexthops(rt) > 0) {
            rtnl_nexthop* nh = rtnl_route_nexthop_n(rt, 0);
            route.oif = rtnl_route_nh_get_ifindex(nh);
            route.gateway = addr_text(rtnl_route_nh_get_gateway(nh));
        }
        if (only != 0 && route.oif != only) continue;
        route.oif_name = link_name(links.get(), route.oif);
        route.metric = rtnl_route_get_priority(rt);
        route.table = rtnl_route_get_table(rt);
        route.protocol = rtnl_route_get_protocol(rt);
        route.scope = rtnl_route_get_scope(rt);
        route.type = rtnl_route_get_type(rt);
        route.prefsrc = addr_text(rtnl_route_get_pref_src(rt));
        out.push_back(std::move(route));
    }
    return out;
}

// ---- Writing ----------------------------------------------------------------------

void Client::create_bridge(const std::string& name) {
    const std::string op = "create bridge";
    if (name.empty() || name.size() >= IFNAMSIZ) {
        throw AdapterError(name, op, "invalid device name (1 to 15 characters)", -NLE_INVAL);
    }
    LinkPtr link(rtnl_link_alloc());
    if (!link) throw AdapterError(name, op, "out of memory", -NLE_NOMEM);
    rtnl_link_set_name(link.get(), name.c_str());
    int r = rtnl_link_set_type(link.get(), "bridge");
    if (r < 0) throw AdapterError(name, op, nl_geterror(r), r);
    nl_msg* raw = nullptr;
    r = rtnl_link_build_add_request(link.get(), NLM_F_CREATE | NLM_F_EXCL, &raw);
    MsgPtr msg(raw);
    if (r < 0) throw AdapterError(name, op, nl_geterror(r), r);
    impl_->must(msg.get(), name, op, [&](const Failure& f) -> std::string {
        if (f.err_no != EEXIST) return "";
        auto existing = find_link(name);
        if (existing && existing->is_bridge()) return "a bridge named " + name + " already exists";
        std::string what = existing && !existing->kind.empty() ? "a " + existing->kind + " device"
                                                               : "a network device";
        return "the name " + name + " is taken by " + what + ", not a bridge";
    });
    spdlog::debug("netlink: created bridge {}", name);
}

bool Client::ensure_bridge(const std::string& name) {
    if (auto existing = find_link(name)) {
        if (existing->is_bridge()) return false;
    }
    create_bridge(name);  // reports a name taken by another kind of device
    return true;
}

void Client::delete_link(const std::string& name) {
    const std::string op = "delete link";
    int index = impl_->ifindex(name, op);
    LinkPtr link(rtnl_link_alloc());
    if (!link) throw AdapterError(name, op, "out of memory", -NLE_NOMEM);
    rtnl_link_set_ifindex(link.get(), index);
    nl_msg* raw = nullptr;
    int r = rtnl_link_build_delete_request(link.get(), &raw);
    MsgPtr msg(raw);
    if (r < 0) throw AdapterError(name, op, nl_geterror(r), r);
    impl_->must(msg.get(), name, op);
}

void Client::set_alias(const std::string& link, const std::string& alias) {
    if (alias.size() >= 256) {
        throw AdapterError(link, "set alias of", "alias longer than 255 bytes", -NLE_RANGE);
    }
    impl_->change_link(link, "set alias of",
                       [&](rtnl_link* l) { rtnl_link_set_ifalias(l, alias.c_str()); });
}

void Client::set_mtu(const std::string& link, std::uint32_t mtu) {
    const std::string op = "set mtu " + std::to_string(mtu) + " on";
    impl_->change_link(
        link, op, [&](rtnl_link* l) { rtnl_link_set_mtu(l, mtu); },
        [&](const Failure& f) -> std::string {
            if (f.err_no == EINVAL)
                return "MTU " + std::to_string(mtu) + " is outside the range the device accepts";
            return "";
        });
}

void Client::set_mac(const std::string& link, const std::string& mac) {
    const std::string op = "set mac " + mac + " on";
    auto bytes = parse_mac(mac);
    if (!bytes)
        throw AdapterError(link, op, "not a MAC address (expected aa:bb:cc:dd:ee:ff)", -NLE_INVAL);
    if (((*bytes)[0] & 1) != 0) {
        throw AdapterError(link, op, "a multicast MAC cannot be a device address", -NLE_INVAL);
    }
    NlAddrPtr addr(nl_addr_build(AF_LLC, bytes->data(), bytes->size()));
    impl_->change_link(link, op, [&](rtnl_link* l) { rtnl_link_set_addr(l, addr.get()); });
}

void Client::set_up(const std::string& link, bool up) {
    impl_->change_link(link, up ? "set up" : "set down", [&](rtnl_link* l) {
        if (up) {
            rtnl_link_set_flags(l, IFF_UP);
        } else {
            rtnl_link_unset_flags(l, IFF_UP);
        }
    });
}

void Client::enslave(const std::string& port, const std::string& bridge) {
    const std::string op = "enslave";
    const std::string object = port + " to " + bridge;
    auto p = find_link(port);
    if (!p) throw AdapterError(object, op, "no such network device: " + port, -NLE_NODEV);
    auto b = find_link(bridge);
    if (!b) throw AdapterError(object, op, "no such network device: " + bridge, -NLE_NODEV);
    if (!b->is_bridge()) {
        throw AdapterError(object, op, bridge + " is not a bridge", -NLE_OPNOTSUPP);
    }
    if (p->master_ifindex == b->ifindex) return;
    if (p->master_ifindex != 0) {
        auto master = p->master.empty() ? "#" + std::to_string(p->master_ifindex) : p->master;
        throw AdapterError(
            object, op,
            port + " is already a port of " + master + "; release it from " + master + " first",
            -NLE_BUSY);
    }
    impl_->change_link(port, op + " to " + bridge,
                       [&](rtnl_link* l) { rtnl_link_set_master(l, b->ifindex); });
    // Verify against a fresh read: the kernel may refuse silently for some devices.
    auto after = find_link(port);
    if (!after || after->master_ifindex != b->ifindex) {
        throw AdapterError(object, op,
                           "the kernel accepted the request but " + port + " is not a port of " +
                               bridge + " afterwards",
                           -NLE_FAILURE);
    }
}

void Client::release(const std::string& port) {
    auto p = find_link(port);
    if (!p) throw AdapterError(port, "release", "no such network device", -NLE_NODEV);
    if (p->master_ifindex == 0) return;
    impl_->change_link(port, "release", [&](rtnl_link* l) { rtnl_link_set_master(l, 0); });
}

namespace {

void write_sysfs(const std::string& bridge, const std::string& file, std::uint32_t value) {
    const std::string path = "/sys/class/net/" + bridge + "/bridge/" + file;
    std::ofstream out(path);
    out << value << '\n';
    out.flush();
    if (!out) {
        throw AdapterError(bridge, "set bridge option " + file + " of",
                           "cannot write " + path + ": " + std::strerror(errno), errno);
    }
}

}  // namespace

void Client::set_bridge_options(const std::string& bridge, const BridgeOptions& o) {
    const std::string op = "set bridge options of";
    auto raw_link = impl_->raw_link(bridge, op);
    if (raw_link.kind != "bridge") {
        throw AdapterError(bridge, op, "it is not a bridge", -NLE_OPNOTSUPP);
    }
    // Checked first: the kernel applies attributes one by one and stops at the first
    // it refuses, which would leave the options half set.
    if (o.vlan_filtering && !vlan_filtering_supported(bridge)) {
        throw AdapterError(bridge, op,
                           "VLAN filtering on bridges is not supported by this kernel "
                           "(CONFIG_BRIDGE_VLAN_FILTERING)",
                           -NLE_OPNOTSUPP);
    }
    if (!raw_link.has_info_data) {
        // A kernel that reports no bridge attributes over netlink: sysfs.
        spdlog::debug("netlink: no IFLA_INFO_DATA for bridge {}, using sysfs", bridge);
        if (o.forward_delay_cs) write_sysfs(bridge, "forward_delay", *o.forward_delay_cs);
        if (o.hello_time_cs) write_sysfs(bridge, "hello_time", *o.hello_time_cs);
        if (o.max_age_cs) write_sysfs(bridge, "max_age", *o.max_age_cs);
        if (o.stp) write_sysfs(bridge, "stp_state", *o.stp ? 1 : 0);
        if (o.priority) write_sysfs(bridge, "priority", *o.priority);
        if (o.vlan_filtering) write_sysfs(bridge, "vlan_filtering", *o.vlan_filtering ? 1 : 0);
        return;
    }
    int index = impl_->ifindex(bridge, op);
    MsgPtr msg(nlmsg_alloc_simple(RTM_NEWLINK, 0));
    if (!msg) throw AdapterError(bridge, op, "out of memory", -NLE_NOMEM);
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = index;
    int r = nlmsg_append(msg.get(), &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    nlattr* info = nla_nest_start(msg.get(), IFLA_LINKINFO);
    if (r < 0 || info == nullptr || nla_put_string(msg.get(), IFLA_INFO_KIND, "bridge") < 0) {
        throw AdapterError(bridge, op, "message too large", -NLE_NOMEM);
    }
    nlattr* data = nla_nest_start(msg.get(), IFLA_INFO_DATA);
    // The kernel applies the timers before the STP state, so a delay valid only with
    // STP off still goes through while STP is being turned off, and vice versa.
    r = data == nullptr ? -NLE_NOMEM : 0;
    if (r == 0 && o.forward_delay_cs)
        r = nla_put_u32(msg.get(), IFLA_BR_FORWARD_DELAY, *o.forward_delay_cs);
    if (r == 0 && o.hello_time_cs) r = nla_put_u32(msg.get(), IFLA_BR_HELLO_TIME, *o.hello_time_cs);
    if (r == 0 && o.max_age_cs) r = nla_put_u32(msg.get(), IFLA_BR_MAX_AGE, *o.max_age_cs);
    if (r == 0 && o.stp) r = nla_put_u32(msg.get(), IFLA_BR_STP_STATE, *o.stp ? 1 : 0);
    if (r == 0 && o.priority) r = nla_put_u16(msg.get(), IFLA_BR_PRIORITY, *o.priority);
    if (r == 0 && o.vlan_filtering) {
        r = nla_put_u8(msg.get(), IFLA_BR_VLAN_FILTERING, *o.vlan_filtering ? 1 : 0);
    }
    if (r < 0) throw AdapterError(bridge, op, "message too large", r);
    nla_nest_end(msg.get(), data);
    nla_nest_end(msg.get(), info);

    auto f = impl_->transact(msg.get());
    if (f) {
        std::string detail;
        if (f->err_no == ERANGE) {
            detail =
                "a value is out of range (with STP on: forward_delay 200-3000 cs, hello_time "
                "100-1000 cs, max_age 600-4000 cs)";
        }
        raise(bridge, op, *f, detail);
    }
}

void Client::add_address(const std::string& link, const std::string& cidr) {
    auto parsed = parse_cidr(cidr);
    if (!parsed) {
        throw AdapterError(link, "add address " + cidr + " to",
                           "not an address with prefix (192.168.80.138/24, fd00::1/64)",
                           -NLE_INVAL);
    }
    Address a;
    a.family = parsed->first.family;
    a.address = parsed->first.str();
    a.prefix = parsed->second;
    if (a.family == 4 && a.prefix < 31) {
        detail::IpText b = parsed->first;
        std::uint32_t host = a.prefix == 0 ? 0xffffffffU : (0xffffffffU >> a.prefix);
        for (int i = 0; i < 4; ++i) {
            b.bytes[static_cast<std::size_t>(i)] |=
                static_cast<std::uint8_t>(host >> (8 * (3 - i)) & 0xff);
        }
        a.broadcast = b.str();
    }
    add_address(link, a);
}

void Client::add_address(const std::string& link, const Address& a) {
    const std::string op = "add address " + a.cidr() + " to";
    auto ip = parse_ip(a.address);
    if (!ip || a.prefix < 0 || a.prefix > (ip->family == 6 ? 128 : 32)) {
        throw AdapterError(link, op, "not a valid address", -NLE_INVAL);
    }
    int index = impl_->ifindex(link, op);
    AddrPtr addr(rtnl_addr_alloc());
    if (!addr) throw AdapterError(link, op, "out of memory", -NLE_NOMEM);
    rtnl_addr_set_ifindex(addr.get(), index);
    rtnl_addr_set_family(addr.get(), family_of(ip->family));
    NlAddrPtr local = make_addr(*ip, a.prefix);
    rtnl_addr_set_local(addr.get(), local.get());
    rtnl_addr_set_prefixlen(addr.get(), a.prefix);
    NlAddrPtr brd;
    if (!a.broadcast.empty()) {
        if (auto b = parse_ip(a.broadcast)) {
            brd = make_addr(*b, b->family == 6 ? 128 : 32);
            rtnl_addr_set_broadcast(addr.get(), brd.get());
        }
    }
    if (!a.label.empty() && ip->family == 4) {
        // An IPv4 label must start with the device's name: "ens33:1" becomes "br0:1".
        auto colon = a.label.find(':');
        std::string label = colon == std::string::npos ? "" : link + a.label.substr(colon);
        if (!label.empty() && label.size() < IFNAMSIZ)
            rtnl_addr_set_label(addr.get(), label.c_str());
    }
    rtnl_addr_set_scope(addr.get(), a.scope);
    constexpr unsigned kSettable = IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR |
                                   IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN;
    if ((a.flags & kSettable) != 0) rtnl_addr_set_flags(addr.get(), a.flags & kSettable);
    if (a.valid_lifetime != 0xffffffffU || a.preferred_lifetime != 0xffffffffU) {
        rtnl_addr_set_valid_lifetime(addr.get(), a.valid_lifetime);
        rtnl_addr_set_preferred_lifetime(addr.get(), a.preferred_lifetime);
    }
    nl_msg* raw = nullptr;
    int r = rtnl_addr_build_add_request(addr.get(), NLM_F_CREATE | NLM_F_EXCL, &raw);
    MsgPtr msg(raw);
    if (r < 0) throw AdapterError(link, op, nl_geterror(r), r);
    impl_->must(msg.get(), link, op, [&](const Failure& f) -> std::string {
        if (f.err_no == EEXIST) return "address " + a.cidr() + " already exists on " + link;
        if (ip->family == 6 && (f.err_no == EINVAL || f.err_no == EACCES)) {
            // The kernel drops a device's IPv6 state when IPv6 is disabled on it or its
            // MTU is below 1280, and then answers EINVAL without saying why.
            const std::string conf = "/proc/sys/net/ipv6/conf/" + link + "/disable_ipv6";
            std::string disabled = read_sysfs(conf);
            if (disabled.empty() || disabled == "1") {
                auto l = find_link(link);
                std::string mtu = l ? " (MTU " + std::to_string(l->mtu) + ")" : "";
                return "IPv6 is not active on " + link + mtu +
                       ": it is disabled there or the MTU is below 1280";
            }
        }
        return "";
    });
}

void Client::delete_address(const std::string& link, const std::string& cidr) {
    const std::string op = "delete address " + cidr + " from";
    auto parsed = parse_cidr(cidr);
    if (!parsed) throw AdapterError(link, op, "not an address with prefix", -NLE_INVAL);
    int index = impl_->ifindex(link, op);
    AddrPtr addr(rtnl_addr_alloc());
    if (!addr) throw AdapterError(link, op, "out of memory", -NLE_NOMEM);
    rtnl_addr_set_ifindex(addr.get(), index);
    rtnl_addr_set_family(addr.get(), family_of(parsed->first.family));
    NlAddrPtr local = make_addr(parsed->first, parsed->second);
    rtnl_addr_set_local(addr.get(), local.get());
    rtnl_addr_set_prefixlen(addr.get(), parsed->second);
    nl_msg* raw = nullptr;
    int r = rtnl_addr_build_delete_request(addr.get(), 0, &raw);
    MsgPtr msg(raw);
    if (r < 0) throw AdapterError(link, op, nl_geterror(r), r);
    impl_->must(msg.get(), link, op, [&](const Failure& f) -> std::string {
        if (f.err_no == EADDRNOTAVAIL || f.err_no == ENOENT || f.err_no == ESRCH) {
            return "there is no address " + cidr + " on " + link;
        }
        return "";
    });
}

namespace {

/// A libnl route object for `r`; `for_delete` leaves unset what the kernel should
/// not match on.
RoutePtr build_route(const Route& r, int oif, bool for_delete, const std::string& object,
                     const std::string& op) {
    RoutePtr rt(rtnl_route_alloc());
    if (!rt) throw AdapterError(object, op, "out of memory", -NLE_NOMEM);
    int af = family_of(r.family);
    rtnl_route_set_family(rt.get(), static_cast<std::uint8_t>(af));
    rtnl_route_set_table(rt.get(), r.table);
    detail::IpText dst;
    dst.family = r.family;
    int prefix = 0;
    if (!r.is_default()) {
        auto parsed = parse_cidr(r.dst);
        if (!parsed || parsed->first.family != r.family) {
            throw AdapterError(object, op, "not a destination: " + r.dst, -NLE_INVAL);
        }
        dst = parsed->first;
        prefix = parsed->second;
    }
    NlAddrPtr d = make_addr(dst, prefix);
    rtnl_route_set_dst(rt.get(), d.get());
    rtnl_route_set_priority(rt.get(), r.metric);
    if (!for_delete || r.protocol != 0) {
        rtnl_route_set_protocol(rt.get(), static_cast<std::uint8_t>(r.protocol));
    }
    rtnl_route_set_type(rt.get(), static_cast<std::uint8_t>(r.type));
    int scope = r.scope;
    if (scope < 0)
        scope =
            for_delete ? RT_SCOPE_NOWHERE : (r.gateway.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
    rtnl_route_set_scope(rt.get(), static_cast<std::uint8_t>(scope));
    if (!r.prefsrc.empty()) {
        auto src = parse_ip(r.prefsrc);
        if (!src) throw AdapterError(object, op, "not an address: " + r.prefsrc, -NLE_INVAL);
        NlAddrPtr s = make_addr(*src, src->family == 6 ? 128 : 32);
        rtnl_route_set_pref_src(rt.get(), s.get());
    }
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (nh == nullptr) throw AdapterError(object, op, "out of memory", -NLE_NOMEM);
    rtnl_route_nh_set_ifindex(nh, oif);
    if (!r.gateway.empty()) {
        auto gw = parse_ip(r.gateway);
        if (!gw || gw->family != r.family) {
            rtnl_route_nh_free(nh);
            throw AdapterError(object, op, "not a gateway address: " + r.gateway, -NLE_INVAL);
        }
        NlAddrPtr g = make_addr(*gw, gw->family == 6 ? 128 : 32);
        rtnl_route_nh_set_gateway(nh, g.get());
    }
    rtnl_route_add_nexthop(rt.get(), nh);  // the route owns nh from here
    return rt;
}

}  // namespace

void Client::add_route(const Route& route, bool replace) {
    const std::string object = route.str();
    const std::string op = replace ? "replace route" : "add route";
    const std::string dev = route.oif_name;
    int oif = dev.empty() ? route.oif : impl_->ifindex(dev, op + " " + object + " on");
    RoutePtr rt = build_route(route, oif, false, object, op);
    nl_msg* raw = nullptr;
    int r = rtnl_route_build_add_request(
        rt.get(), NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), &raw);
    MsgPtr msg(raw);
    if (r < 0) throw AdapterError(object, op, nl_geterror(r), r);
    impl_->must(msg.get(), object, op, [&](const Failure& f) -> std::string {
        if (f.err_no == EEXIST)
            return "a route to " + route.dst + " with metric " + std::to_string(route.metric) +
                   " already exists";
        return "";
    });
}

void Client::delete_route(const Route& route) {
    const std::string object = route.str();
    const std::string op = "delete route";
    const std::string dev = route.oif_name;
    int oif = dev.empty() ? route.oif : impl_->ifindex(dev, op + " " + object + " on");
    RoutePtr rt = build_route(route, oif, true, object, op);
    nl_msg* raw = nullptr;
    int r = rtnl_route_build_del_request(rt.get(), 0, &raw);
    MsgPtr msg(raw);
    if (r < 0) throw AdapterError(object, op, nl_geterror(r), r);
    impl_->must(msg.get(), object, op, [&](const Failure& f) -> std::string {
        if (f.err_no == ESRCH || f.err_no == ENOENT) return "no such route";
        return "";
    });
}

// ---- Probing ----------------------------------------------------------------------

bool Client::gateway_reachable(const std::string& link, const std::string& gateway,
                               std::chrono::milliseconds timeout, bool accept_neighbour) {
    const std::string op = "check gateway " + gateway + " via";
    auto gw = parse_ip(gateway);
    if (!gw) throw AdapterError(link, op, "not an IP address", -NLE_INVAL);
    int index = impl_->ifindex(link, op);
    detail::Pinger pinger(family_of(gw->family), link, index, gw->bytes, gateway);
    NlAddrPtr target = make_addr(*gw, gw->family == 6 ? 128 : 32);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int attempt = 0;; ++attempt) {
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        bool sent = pinger.send();
        auto until = std::min(deadline, now + std::chrono::milliseconds(250));
        if (sent && pinger.wait_reply(until)) {
            spdlog::debug("netlink: {} answered a ping via {} (attempt {})", gateway, link,
                          attempt + 1);
            return true;
        }
        if (!sent) std::this_thread::sleep_until(until);
        if (accept_neighbour) {
            nl_cache* c = nullptr;
            if (rtnl_neigh_alloc_cache(impl_->sock.get(), &c) == 0) {
                CachePtr cache(c);
                NeighPtr n(rtnl_neigh_get(cache.get(), index, target.get()));
                if (n && (rtnl_neigh_get_state(n.get()) & NUD_REACHABLE) != 0) {
                    spdlog::debug("netlink: {} is REACHABLE (neighbour) via {}", gateway, link);
                    return true;
                }
            }
        }
    }
    return false;
}

}  // namespace virtform::netlink
