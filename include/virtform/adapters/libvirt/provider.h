#pragma once
/// The libvirt side of the host: reads networks (and, as kinds arrive, pools,
/// volumes and domains) and carries out plan actions on them.
#include <memory>
#include <string>

#include "virtform/exec.h"

namespace virtform::libvirt {

class LibvirtProvider : public Provider {
public:
    /// Connects to `uri` (e.g. qemu:///system). `lab` is the mark put on what
    /// it creates. Throws AdapterError naming the URI when libvirtd is not there.
    LibvirtProvider(const std::string& uri, std::string lab);
    ~LibvirtProvider() override;
    LibvirtProvider(const LibvirtProvider&) = delete;
    LibvirtProvider& operator=(const LibvirtProvider&) = delete;

    Live read() override;
    void apply(const Action& action) override;

    /// Reads only into `live` (the kinds libvirt knows), for a composite provider.
    void read_into(Live& live);

    /// Calls made to libvirtd so far (each one a round trip over the socket).
    long round_trips() const;
    const std::string& uri() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace virtform::libvirt
