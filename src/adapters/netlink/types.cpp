#include "virtform/adapters/netlink/types.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace virtform::netlink {

bool Address::link_local() const {
    if (scope == 253) return true;  // RT_SCOPE_LINK
    if (family == 6) {
        in6_addr a{};
        if (inet_pton(AF_INET6, address.c_str(), &a) != 1) return false;
        return a.s6_addr[0] == 0xfe && (a.s6_addr[1] & 0xc0) == 0x80;  // fe80::/10
    }
    return address.starts_with("169.254.");
}

std::string protocol_name(int protocol) {
    switch (protocol) {
        case 0:
            return "unspec";
        case 1:
            return "redirect";
        case 2:
            return "kernel";
        case 3:
            return "boot";
        case 4:
            return "static";
        case 9:
            return "ra";
        case 16:
            return "dhcp";
        default:
            return std::to_string(protocol);
    }
}

std::string Route::str() const {
    std::string s = dst;
    if (!gateway.empty()) s += " via " + gateway;
    if (!oif_name.empty()) {
        s += " dev " + oif_name;
    } else if (oif != 0) {
        s += " dev #" + std::to_string(oif);
    }
    if (table != 254) s += " table " + std::to_string(table);
    s += " proto " + protocol_name(protocol);
    if (!prefsrc.empty()) s += " src " + prefsrc;
    s += " metric " + std::to_string(metric);
    return s;
}

}  // namespace virtform::netlink
