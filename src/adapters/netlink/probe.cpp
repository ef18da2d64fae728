#include "probe.h"

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "virtform/error.h"

namespace virtform::netlink::detail {
namespace {

std::uint16_t inet_checksum(const std::uint8_t* data, std::size_t len) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < len; i += 2) {
        sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    }
    if (len % 2 != 0) sum += static_cast<std::uint32_t>(data[len - 1] << 8);
    while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

}  // namespace

Pinger::Pinger(int family, const std::string& device, int ifindex,
               const std::array<std::uint8_t, 16>& target, const std::string& target_text)
    : family_(family),
      ifindex_(ifindex),
      target_(target),
      id_(static_cast<std::uint16_t>(getpid() ^ 0x5646)) {
    const std::string op = "ping gateway " + target_text + " via";
    fd_ = socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
                 family == AF_INET ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6});
    if (fd_ < 0) throw AdapterError(device, op, std::strerror(errno), errno);
    if (setsockopt(fd_, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(),
                   static_cast<socklen_t>(device.size())) != 0) {
        int e = errno;
        close(fd_);
        throw AdapterError(device, op, std::string("SO_BINDTODEVICE: ") + std::strerror(e), e);
    }
    if (family == AF_INET6) {
        icmp6_filter filter{};
        ICMP6_FILTER_SETBLOCKALL(&filter);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
        setsockopt(fd_, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter));
    }
}

Pinger::~Pinger() {
    if (fd_ >= 0) close(fd_);
}

bool Pinger::send() {
    std::array<std::uint8_t, 64> packet{};
    packet[0] = family_ == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    packet[4] = static_cast<std::uint8_t>(id_ >> 8);
    packet[5] = static_cast<std::uint8_t>(id_ & 0xff);
    ++seq_;
    packet[6] = static_cast<std::uint8_t>(seq_ >> 8);
    packet[7] = static_cast<std::uint8_t>(seq_ & 0xff);
    std::memcpy(packet.data() + 8, "virtform take-over probe", 24);
    ssize_t sent = 0;
    if (family_ == AF_INET) {
        std::uint16_t sum = inet_checksum(packet.data(), packet.size());
        packet[2] = static_cast<std::uint8_t>(sum >> 8);
        packet[3] = static_cast<std::uint8_t>(sum & 0xff);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        std::memcpy(&to.sin_addr, target_.data(), 4);
        sent = sendto(fd_, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
                      sizeof(to));
    } else {
        // The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets.
        sockaddr_in6 to{};
        to.sin6_family = AF_INET6;
        std::memcpy(&to.sin6_addr, target_.data(), 16);
        to.sin6_scope_id = static_cast<std::uint32_t>(ifindex_);
        sent = sendto(fd_, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
                      sizeof(to));
    }
    return sent == static_cast<ssize_t>(packet.size());
}

bool Pinger::wait_reply(std::chrono::steady_clock::time_point until) {
    for (;;) {
        auto now = std::chrono::steady_clock::now();
        if (now >= until) return false;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
        pollfd pfd{fd_, POLLIN, 0};
        int r = poll(&pfd, 1, static_cast<int>(left) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        std::array<std::uint8_t, 1500> buf{};
        sockaddr_storage from{};
        socklen_t fromlen = sizeof(from);
        ssize_t n =
            recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fromlen);
        if (n <= 0) continue;
        const std::uint8_t* icmp = buf.data();
        std::size_t len = static_cast<std::size_t>(n);
        if (family_ == AF_INET) {
            // Raw IPv4 sockets deliver the IP header too.
            std::size_t ihl = static_cast<std::size_t>(buf[0] & 0x0f) * 4;
            if (len < ihl + 8) continue;
            if (std::memcmp(buf.data() + 12, target_.data(), 4) != 0) continue;
            icmp += ihl;
            if (icmp[0] != ICMP_ECHOREPLY) continue;
        } else {
            if (len < 8) continue;
            const auto* src = reinterpret_cast<const sockaddr_in6*>(&from);
            if (std::memcmp(&src->sin6_addr, target_.data(), 16) != 0) continue;
            if (icmp[0] != ICMP6_ECHO_REPLY) continue;
        }
        std::uint16_t id = static_cast<std::uint16_t>(icmp[4] << 8 | icmp[5]);
        if (id == id_) return true;
    }
}

}  // namespace virtform::netlink::detail
