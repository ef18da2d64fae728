#pragma once
/// ICMP echo out of one device: the "is the gateway still there" probe of the
/// address take-over. Internal to the netlink adapter.
#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace virtform::netlink::detail {

class Pinger {
  public:
    /// `family` is AF_INET or AF_INET6; `target` holds 4 or 16 bytes. Sends out of
    /// `device` only (SO_BINDTODEVICE). Throws AdapterError when the socket fails.
    Pinger(int family, const std::string& device, int ifindex,
           const std::array<std::uint8_t, 16>& target, const std::string& target_text);
    ~Pinger();
    Pinger(const Pinger&) = delete;
    Pinger& operator=(const Pinger&) = delete;

    /// Sends one echo request; false when the kernel refused it (e.g. no route yet).
    bool send();
    /// Waits for an echo reply from the target until `until`; true when one came.
    bool wait_reply(std::chrono::steady_clock::time_point until);

  private:
    int family_;
    int fd_ = -1;
    int ifindex_;
    std::array<std::uint8_t, 16> target_;
    std::uint16_t id_;
    std::uint16_t seq_ = 0;
};

}  // namespace virtform::netlink::detail
