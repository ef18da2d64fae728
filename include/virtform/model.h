#pragma once
/// Plain value types shared by the desired state (from manifests) and the live
/// state (from libvirt and netlink). Values are normalised when they are built
/// (canonical addresses, lower-case MACs, bytes for sizes), so equality here is
/// equality in meaning.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "virtform/diag.h"
#include "virtform/net_types.h"

namespace virtform {

/// The kinds of object a lab holds, in creation order: a kind may depend only
/// on kinds before it.
enum class Kind { bridge, network, pool, volume, vm };
const char* to_string(Kind kind);
/// Rank in creation order (deletes go the other way).
int creation_rank(Kind kind);

/// An object's identity across desired and live state: "network.labnat".
struct ResourceId {
    Kind kind = Kind::network;
    std::string name;

    std::string str() const;
    auto operator<=>(const ResourceId&) const = default;
};

// ---------------------------------------------------------------------------
// Networks (libvirt)

enum class NetworkMode { nat, route, isolated, open, bridge };
const char* to_string(NetworkMode mode);
std::optional<NetworkMode> network_mode_from_string(const std::string& text);

struct DhcpRange {
    IpAddress start;
    IpAddress end;
    auto operator<=>(const DhcpRange&) const = default;
};

struct DhcpHost {
    std::string mac;  ///< normalised; the key of the entry
    IpAddress ip;
    std::string name;  ///< optional host name handed out with the lease
    auto operator<=>(const DhcpHost&) const = default;
};

struct DnsHost {
    IpAddress ip;  ///< the key of the entry
    std::vector<std::string> names;
    auto operator<=>(const DnsHost&) const = default;
};

/// One address family's configuration of a network.
struct IpConfig {
    Cidr address;  ///< the host's (gateway's) address on the network, with prefix
    std::optional<DhcpRange> dhcp_range;
    std::vector<DhcpHost> hosts;  ///< sorted by MAC
    auto operator<=>(const IpConfig&) const = default;
};

/// Desired only: the object was made by `count:` from the object `template_name`
/// written at `where` (docs/manifest.md, "Templates and counts").
struct Expansion {
    std::string template_name;
    Location where;
    int index = 0;
};

struct Network {
    std::string name;
    NetworkMode mode = NetworkMode::nat;
    /// Linux bridge name. Optional except in bridge mode; unset means "libvirt picks".
    std::optional<std::string> bridge;
    std::optional<IpConfig> ipv4;
    std::optional<IpConfig> ipv6;
    std::vector<DnsHost> dns_hosts;  ///< sorted by address
    std::optional<std::string> domain;
    std::optional<int> mtu;  ///< unset means "libvirt's default"
    bool stp = true;
    bool autostart = true;
    bool active = true;

    /// Live only: the lab whose mark the object carries ("" when unmarked).
    /// Desired only: the lab host it lives on (`host:`); "" is the default host, `local`.
    std::string host;
    Location host_where;  ///< desired only: where `host:` was written
    std::string owner;
    /// Desired only: where the manifest declared it.
    Location where;
    std::optional<Expansion> expansion;
    /// Desired only: `adopt: true`, take an existing unmarked object of this
    /// name as the lab's (see PlanOptions::adopt).
    bool adopt = false;

    /// Canonical order of the lists, so equal networks compare equal.
    void normalize();
    bool operator==(const Network& other) const;
};

// ---------------------------------------------------------------------------
// Storage (libvirt directory pools and their volumes)

/// A directory pool. Ownership: a mark file `.virtform-lab` in the directory
/// (libvirt pools have no <metadata>).
struct Pool {
    std::string name;
    std::string path;
    bool autostart = true;
    bool active = true;
    /// Live only: bytes free in the pool (for doctor and status).
    std::uint64_t available = 0;

    /// Desired only: the lab host it lives on (`host:`); "" is the default host, `local`.
    std::string host;
    Location host_where;  ///< desired only: where `host:` was written
    std::string owner;
    Location where;
    bool adopt = false;  ///< desired only: `adopt: true`
    bool operator==(const Pool& o) const {
        return name == o.name && path == o.path && autostart == o.autostart && active == o.active;
    }
};

enum class DiskFormat { qcow2, raw };
const char* to_string(DiskFormat format);

/// A disk image in a pool. Desired volumes come from VM disks; the volume of
/// disk `root` of VM `web1` is `web1-root.qcow2`. Identity: "pool/name".
struct Volume {
    std::string pool;
    std::string name;
    std::uint64_t capacity = 0;  ///< bytes
    DiskFormat format = DiskFormat::qcow2;
    /// Linked clone of this image (qcow2 backing file). Creation-time only.
    std::optional<std::string> backing;
    /// Desired only: copy this local image into the volume when creating it.
    std::optional<std::string> import_from;
    /// The VM whose disk this is.
    std::string vm;
    /// Survives the deletion of its VM (or of the disk from the manifest).
    bool keep = false;
    /// Desired only, creation-time: the `backing`/`import` image may itself
    /// name a backing file (or an external data file) that QEMU will read.
    /// Refused unless the manifest says `allow_backing_chain: true`.
    bool allow_backing_chain = false;

    /// Desired only: the lab host it lives on (`host:`); "" is the default host, `local`.
    std::string host;
    Location host_where;  ///< desired only: where `host:` was written
    std::string owner;
    Location where;
    std::string id_name() const { return pool + "/" + name; }
    bool operator==(const Volume& o) const {
        return pool == o.pool && name == o.name && capacity == o.capacity && format == o.format &&
               backing == o.backing && vm == o.vm && keep == o.keep;
    }
};

// ---------------------------------------------------------------------------
// Virtual machines (libvirt domains)

enum class Accel { auto_, kvm, qemu };
const char* to_string(Accel accel);
enum class Firmware { bios, uefi };
const char* to_string(Firmware firmware);
enum class Graphics { none, vnc, spice };
const char* to_string(Graphics graphics);
enum class VmState { running, stopped };
const char* to_string(VmState state);
enum class DiskBus { virtio, sata, scsi, ide };
const char* to_string(DiskBus bus);
/// The guest device name of the `index`-th disk (from 0) with `prefix` ("vd"),
/// as libvirt numbers them (virIndexToDiskName): vda..vdz, vdaa..vdzz, vdaaa...
std::string disk_target_name(const std::string& prefix, std::size_t index);

struct Disk {
    enum class Type { volume, cdrom, file };
    Type type = Type::volume;
    std::string name;    ///< manifest name ("root"); for cdrom/file: derived from the path
    std::string pool;    ///< volume disks
    std::string volume;  ///< volume disks: the volume's name in the pool
    std::string path;    ///< cdrom/file disks: the image path; volume disks: filled from live
    DiskBus bus = DiskBus::virtio;
    std::string target;  ///< guest device (vda, sda, hdc), assigned in order per bus
    bool keep = false;
    bool operator==(const Disk& o) const {
        return type == o.type && pool == o.pool && volume == o.volume &&
               (type == Type::volume || path == o.path) && bus == o.bus && target == o.target;
    }
};

struct Nic {
    enum class Type { network, bridge };
    Type type = Type::network;
    std::string source;              ///< libvirt network name or host bridge name
    std::optional<std::string> mac;  ///< unset: libvirt generates one (then it is kept)
    std::string model = "virtio";
    bool operator==(const Nic& o) const {
        return type == o.type && source == o.source && mac == o.mac && model == o.model;
    }
};

struct CloudInit {
    std::string user_data;  ///< sensitive
    std::string meta_data;
    std::string network_config;
    std::vector<std::string> ssh_authorized_keys;
    bool operator==(const CloudInit&) const = default;
};

/// How people and tools reach a VM over SSH (`ssh:` in the manifest).
/// Desired only: never part of the domain, never planned.
struct SshAccess {
    std::optional<std::string> user;           ///< unset: cloud-init's user, else ssh's default
    std::optional<std::string> identity_file;  ///< absolute path of a private key
    int port = 22;
    bool operator==(const SshAccess&) const = default;
};

struct Vm {
    std::string name;
    int cpus = 1;
    std::optional<int> max_cpus;              ///< hot-plug head-room; unset: = cpus
    std::uint64_t memory = 512ULL << 20;      ///< bytes, current (balloon)
    std::optional<std::uint64_t> max_memory;  ///< unset: = memory
    /// Desired: as written (auto resolves with Live::kvm_usable). Live: kvm or qemu.
    Accel accel = Accel::auto_;
    std::optional<std::string> machine;   ///< "q35" or "pc"; unset: libvirt's default
    std::optional<std::string> cpu_mode;  ///< host-passthrough, host-model, maximum; unset: default
    Firmware firmware = Firmware::bios;
    std::vector<Disk> disks;
    std::vector<std::string> boot;  ///< "hd", "cdrom", "network"
    std::optional<std::string> kernel;
    std::optional<std::string> initrd;
    std::optional<std::string> cmdline;
    std::vector<Nic> nics;
    Graphics graphics = Graphics::none;
    std::optional<std::string> console_file;  ///< serial console to a file; unset: pty
    std::optional<CloudInit> cloud_init;
    /// Desired: the seed ISO path virtform builds for cloud_init; live: the
    /// cdrom it found holding a seed.
    std::optional<std::string> seed_iso;
    /// Desired only: digest of the seed's content, so a changed user_data shows
    /// as a change without printing it.
    std::string seed_digest;
    VmState state = VmState::running;
    bool autostart = false;
    int shutdown_timeout = 60;  ///< seconds of graceful shutdown before a forced stop
    /// Desired only: Ansible groups of the VM (`virtform inventory`). Not planned.
    std::vector<std::string> groups;
    /// Desired only: how to reach it over SSH (inventory, ssh-config, ssh). Not planned.
    SshAccess ssh;
    /// Live only: the running VM still runs an older definition (a restart-class
    /// change was applied without a restart); it takes effect at the next boot.
    bool restart_pending = false;
    /// Live only, for a running VM: the domain as it runs (libvirt's live XML:
    /// vCPUs online, balloon size, attached NICs and disks, ...). It can differ
    /// from the definition above: a restart-class change not booted into yet, a
    /// live change made by hand (virsh setmem --live) or one that failed.
    /// Null when the VM does not run. Not part of operator==.
    std::shared_ptr<const Vm> running;

    /// Desired only: the lab host it lives on (`host:`); "" is the default host, `local`.
    std::string host;
    Location host_where;  ///< desired only: where `host:` was written
    std::string owner;
    Location where;
    std::optional<Expansion> expansion;  ///< desired only: made by `count:`
    bool adopt = false;                  ///< desired only: `adopt: true`
    bool operator==(const Vm& o) const;
};

// ---------------------------------------------------------------------------
// Linux bridges (netlink)

/// A Linux bridge virtform manages. Ownership: the interface alias
/// (IFLA_IFALIAS) reads "virtform:<lab>".
struct Bridge {
    std::string name;
    std::vector<std::string> ports;  ///< sorted; libvirt's taps (vnetN) are never listed
    bool stp = false;
    /// STP timers in centiseconds (the kernel's unit); unset: kernel defaults.
    std::optional<std::uint32_t> forward_delay_cs;
    std::optional<std::uint32_t> hello_time_cs;
    std::optional<std::uint32_t> max_age_cs;
    std::optional<std::uint16_t> priority;
    std::optional<int> mtu;          ///< unset: the kernel's choice
    std::optional<std::string> mac;  ///< unset: the kernel's choice
    std::vector<Cidr> addresses;     ///< sorted; computed when take_over is set and this is empty
    bool up = true;
    std::optional<bool> vlan_filtering;
    /// Desired: the port whose addresses and routes move onto the bridge.
    /// Live: set by the planner when that port is enslaved and holds no address.
    std::optional<std::string> take_over;

    /// Desired only: the lab host it lives on (`host:`); "" is the default host, `local`.
    std::string host;
    Location host_where;  ///< desired only: where `host:` was written
    std::string owner;
    Location where;
    bool adopt = false;  ///< desired only: `adopt: true`
    void normalize();
    bool operator==(const Bridge&) const;
};

/// A network interface on the host, as far as planning needs it.
struct HostInterface {
    std::string name;
    std::string kind;             ///< "bridge", "veth", "tun", "dummy", "" for a NIC
    std::string master;           ///< the bridge it is a port of, "" when none
    std::vector<Cidr> addresses;  ///< global addresses
};

/// A route of the host's main table, as far as planning needs it.
struct HostRoute {
    Cidr destination;
    std::string device;   ///< output interface
    std::string gateway;  ///< "" for a directly connected route
};

/// Any object a plan can act on. Grows with the kinds.
using Resource = std::variant<Bridge, Network, Pool, Volume, Vm>;
ResourceId id_of(const Resource& resource);

/// A host of `hosts:` (docs/manifest.md, "Hosts"): a libvirt URI by name.
struct LabHost {
    std::string name;
    std::string uri;
    Location where;
};

/// The reserved name of the default host (the --connect URI).
inline constexpr const char* kLocalHost = "local";

/// What the manifests ask for.
struct Desired {
    std::string lab;
    std::vector<std::string> files;  ///< the manifest files it was loaded from
    std::map<std::string, Bridge> bridges;
    std::map<std::string, Network> networks;
    std::map<std::string, Pool> pools;
    std::map<std::string, Volume> volumes;  ///< by "pool/name"
    std::map<std::string, Vm> vms;
    /// `${VAR}` values that came from --var or the environment (saved plans keep them).
    std::map<std::string, std::string> variables;
    /// `hosts:`, by name; never `local` (the default host). Empty: one host.
    std::map<std::string, LabHost> hosts;
};

/// What a directory named by a desired pool holds now. The planner refuses to
/// claim a directory another lab marked or that holds files of nobody's.
struct PoolDir {
    bool exists = false;
    std::string mark;          ///< the lab named by its `.virtform-lab`, "" when none
    bool holds_files = false;  ///< entries other than the mark
    std::string problem;       ///< e.g. "is a symbolic link"; "" when it can be a pool
};

/// What the host has: everything visible, owned by this lab or not.
struct Live {
    /// Every Linux bridge on the host, marked or not (filled by the netlink reader).
    std::map<std::string, Bridge> bridges;
    /// Every interface, by name (filled by the netlink reader).
    std::map<std::string, HostInterface> interfaces;
    /// The ports each marked bridge was given by its lab at its last create or
    /// update (the bridge provider's record), by bridge name; a port of the
    /// bridge that is not listed was enslaved by someone else. A bridge without
    /// a record (made by an older virtform) is absent.
    std::map<std::string, std::vector<std::string>> declared_ports;
    /// Main-table routes other than the default route and the kernel's own
    /// routes of interface addresses (filled by the netlink reader).
    std::vector<HostRoute> routes;
    std::map<std::string, Network> networks;
    /// Network interfaces present on the host (for bridge-mode networks over
    /// host bridges the manifest does not declare).
    std::set<std::string> host_interfaces;
    std::map<std::string, Pool> pools;
    std::map<std::string, Volume> volumes;  ///< by "pool/name", in every pool virtform can see
    std::map<std::string, Vm> vms;
    /// The directories the caller asked about (desired pools' paths), by path.
    std::map<std::string, PoolDir> pool_dirs;
    /// Whether KVM acceleration works on this host (accel: auto resolves with it).
    bool kvm_usable = false;
    /// Why KVM is not usable, in the doctor's words (its probe's detail); empty
    /// when it is, or when nobody asked.
    std::string kvm_detail;
};

}  // namespace virtform
