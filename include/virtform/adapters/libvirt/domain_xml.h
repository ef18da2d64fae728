#pragma once
/// libvirt domain XML <-> model::Vm, with pugixml. Pure functions: no
/// connection needed, so the mapping is tested on its own (and against
/// libvirtd's own rewriting of it in tests/integration/domain_xml_test.cpp).
#include <map>
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform::libvirt {

/// Where seed ISOs live unless the domain's mark names another path: a cdrom
/// whose file is in this directory is read back as Vm::seed_iso, not as a disk.
inline constexpr const char* kSeedDir = "/var/lib/virtform/seeds";

/// Identity libvirt assigned, carried over on a redefine so that a restart
/// does not churn the UUID or the generated MAC addresses.
struct DomainIdentity {
    std::string uuid;
    std::map<std::size_t, std::string> macs;  ///< by NIC index, for NICs without a desired MAC
};

/// Format of each volume a disk refers to, by "pool/name". A volume disk whose
/// volume is not listed gets the format its name suggests (".raw"/".img": raw,
/// else qcow2).
using VolumeFormats = std::map<std::string, DiskFormat>;

/// Domain definition XML carrying the lab's mark
///   <virtform:lab xmlns:virtform=URI keep="pool/vol,..." seed="DIGEST" seed-iso="PATH"
///                 disk-order="vda,sda,..." shutdown-timeout="60">LAB</virtform:lab>
/// (keep: volume disks with keep; disk-order: the manifest's order, since libvirt
/// groups disks by bus). `vm.accel` auto is written as qemu. With cloud_init and
/// seed_iso, the seed is an extra read-only SATA cdrom on the next free sdX.
std::string domain_to_xml(const Vm& vm, const std::string& lab, const DomainIdentity& keep = {},
                          const VolumeFormats& formats = {});

/// Parses libvirt's domain XML (normally the inactive definition) into a Vm
/// that compares equal, attribute by attribute, to the Vm it was made from:
/// machine read as its family ("q35"/"pc"), memory sizes in bytes, max_cpus /
/// max_memory left unset when equal to the current value, the seed cdrom in
/// seed_iso rather than in disks, owner/keep/seed_digest from the mark.
/// state/autostart are not in the XML: the caller fills them in.
/// Throws virtform::Error when the XML is not a domain definition.
Vm domain_from_xml(const std::string& xml);
DomainIdentity domain_identity_from_xml(const std::string& xml);

/// The restart-class attributes (see attributes.cpp) in which the running
/// domain (`active_xml`) differs from its definition (`inactive_xml`): what
/// waits for the next boot. Empty when they agree.
std::vector<std::string> pending_restart_attributes(const std::string& inactive_xml,
                                                    const std::string& active_xml);

/// The disks with their guest device names: as given, or the next free name
/// of their bus in order (vda.., sda.. for sata and scsi, hda..). What
/// domain_to_xml writes.
std::vector<Disk> assign_disk_targets(const std::vector<Disk>& disks);

/// Device elements for virDomainAttach/Detach/UpdateDeviceFlags. The disk
/// needs its target set (assign_disk_targets).
std::string nic_device_xml(const Nic& nic, const std::string& mac = {});
std::string disk_device_xml(const Disk& disk, const VolumeFormats& formats = {});

/// The device element (as XML) of the <interface> with this MAC, or of the
/// <disk> with this target dev, in a domain's XML; empty when there is none.
std::string find_nic_xml(const std::string& domain_xml, const std::string& mac);
std::string find_disk_xml(const std::string& domain_xml, const std::string& target);

}  // namespace virtform::libvirt
