#include "virtform/adapters/libvirt/address_wait.h"

#include <thread>

namespace virtform::libvirt {

std::vector<std::string> wait_for_addresses(const AddressLookup& lookup,
                                            std::vector<std::string> vms,
                                            std::chrono::milliseconds timeout,
                                            const AddressFound& on_found,
                                            std::chrono::milliseconds poll,
                                            const std::function<bool()>& stop) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + timeout;
    while (!vms.empty()) {
        std::erase_if(vms, [&](const std::string& name) {
            const auto addrs = lookup(name);
            if (addrs.empty()) return false;
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            on_found(name, addrs, secs);
            return true;
        });
        if (vms.empty()) break;
        if (std::chrono::steady_clock::now() > deadline || (stop && stop())) return vms;
        std::this_thread::sleep_for(poll);
    }
    return vms;
}

}  // namespace virtform::libvirt
