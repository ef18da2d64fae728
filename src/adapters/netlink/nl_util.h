#pragma once
/// Helpers shared by the netlink adapter's sources. Internal: includes libnl.
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "virtform/c_ptr.h"

namespace virtform::netlink::detail {

using CachePtr = std::unique_ptr<nl_cache, Free<nl_cache_free>>;
using LinkPtr = std::unique_ptr<rtnl_link, Free<rtnl_link_put>>;
using MsgPtr = std::unique_ptr<nl_msg, Free<nlmsg_free>>;
using NlAddrPtr = std::unique_ptr<nl_addr, Free<nl_addr_put>>;

/// Why a request failed: the kernel's errno (0 when libnl failed before the kernel
/// answered), libnl's code (negative NLE_*) and the extended ack message, if any.
struct Failure {
    int err_no = 0;
    int nlerr = 0;
    std::string extack;
};

/// Words for a failure: clear ones for the common errnos, strerror otherwise.
std::string describe(const Failure& f);
/// Throws AdapterError(object, operation, detail or describe(f), f.nlerr).
[[noreturn]] void raise(const std::string& object, const std::string& operation, const Failure& f,
                        const std::string& detail = "");

struct IpText {
    int family = 4;
    std::array<std::uint8_t, 16> bytes{};
    std::string str() const;
};
std::optional<IpText> parse_ip(const std::string& text);
/// "a.b.c.d/n" or "x::y/n"; without "/n" the full-length prefix.
std::optional<std::pair<IpText, int>> parse_cidr(const std::string& text);
std::string addr_text(nl_addr* a);
NlAddrPtr make_addr(const IpText& ip, int prefix);

}  // namespace virtform::netlink::detail
