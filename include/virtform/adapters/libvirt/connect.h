#pragma once
#include <string>

namespace virtform::libvirt {

/// `uri` itself, or when empty the URI libvirt picks by its own rules
/// (LIBVIRT_DEFAULT_URI, uri_default in libvirt.conf, the running daemons),
/// as libvirt reports it (virConnectGetURI). Throws AdapterError when libvirt
/// cannot be reached.
std::string resolve_uri(const std::string& uri);

/// The host a libvirt URI reaches when it is not the one virtform runs on:
/// its host part ("qemu+tcp://10.0.0.2/system" -> "10.0.0.2", also
/// "qemu://localhost/system", which goes over TLS), or the transport when a
/// remote transport has no host ("qemu+ssh:///system" -> "ssh"). "" for a
/// local URI (no host; no transport or "+unix"). Pure string work.
std::string remote_host_of(const std::string& uri);

}  // namespace virtform::libvirt
