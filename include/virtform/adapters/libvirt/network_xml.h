#pragma once
/// libvirt network XML <-> model::Network, with pugixml. Pure functions: no
/// connection needed, so the mapping is tested on its own.
#include <string>

#include "virtform/model.h"

namespace virtform::libvirt {

/// The XML namespace of virtform's ownership mark in <metadata>.
inline constexpr const char* kMetadataUri = "https://virtform.dev/xmlns/lab/1";
inline constexpr const char* kMetadataPrefix = "virtform";

/// Identity libvirt assigned, carried over on a redefine so that a restart
/// does not churn the UUID or the bridge's MAC.
struct NetworkIdentity {
    std::string uuid;
    std::string mac;
};

/// Network definition XML carrying the lab's mark.
std::string network_to_xml(const Network& network, const std::string& lab,
                           const NetworkIdentity& identity = {});

/// Parses libvirt's XML (inactive definition); owner comes from the mark.
/// Throws virtform::Error when the XML is not a network definition.
Network network_from_xml(const std::string& xml);
NetworkIdentity network_identity_from_xml(const std::string& xml);

/// Positions of the first IPv4 and IPv6 <ip> elements (-1 when absent): the
/// parentIndex virNetworkUpdate needs to address the right subnet.
struct IpElementIndexes {
    int ipv4 = -1;
    int ipv6 = -1;
};
IpElementIndexes ip_element_indexes(const std::string& xml);

/// Elements for virNetworkUpdate sections.
std::string dhcp_host_xml(const DhcpHost& host);
std::string dhcp_range_xml(const DhcpRange& range);
std::string dns_host_xml(const DnsHost& host);

/// Reads the owner mark from any libvirt object's XML root (<network>, <domain>).
std::string owner_from_metadata(const std::string& xml);
/// `xml` (a libvirt object's definition) with the lab's mark added to its
/// <metadata>, everything else as it was: how an unmarked object is adopted.
/// Throws Error when it already carries a mark.
std::string with_mark(const std::string& xml, const std::string& lab);

}  // namespace virtform::libvirt
