#pragma once
#include <string>

namespace virtform::libvirt {

/// `uri` itself, or when empty the URI libvirt picks by its own rules
/// (LIBVIRT_DEFAULT_URI, uri_default in libvirt.conf, the running daemons),
/// as libvirt reports it (virConnectGetURI). Throws AdapterError when libvirt
/// cannot be reached.
std::string resolve_uri(const std::string& uri);

}  // namespace virtform::libvirt
