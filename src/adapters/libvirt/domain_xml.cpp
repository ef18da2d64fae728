#include "virtform/adapters/libvirt/domain_xml.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <pugixml.hpp>
#include <set>
#include <sstream>

#include "virtform/adapters/libvirt/network_xml.h"
#include "virtform/error.h"
#include "virtform/plan.h"
#include "xml_util.h"

namespace virtform::libvirt {
namespace {

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if (c == sep) {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

/// Device name prefix per bus: vda, sda (sata and scsi share it), hda.
const char* target_prefix(DiskBus bus) {
    switch (bus) {
        case DiskBus::virtio:
            return "vd";
        case DiskBus::sata:
        case DiskBus::scsi:
            return "sd";
        case DiskBus::ide:
            return "hd";
    }
    return "vd";
}

/// The first name libvirt's numbering (vda..vdz, vdaa..) leaves free.
std::string next_free_target(const char* prefix, const std::set<std::string>& used) {
    for (std::size_t i = 0;; ++i) {
        std::string dev = disk_target_name(prefix, i);
        if (used.count(dev) == 0) return dev;
    }
}

}  // namespace

std::vector<Disk> assign_disk_targets(const std::vector<Disk>& disks) {
    std::vector<Disk> out = disks;
    std::set<std::string> used;
    for (const auto& d : out) {
        if (!d.target.empty()) used.insert(d.target);
    }
    for (auto& d : out) {
        if (d.target.empty()) {
            d.target = next_free_target(target_prefix(d.bus), used);
            used.insert(d.target);
        }
    }
    return out;
}

namespace {

DiskFormat guess_format(const std::string& name) {
    const auto ext = std::filesystem::path(name).extension().string();
    return ext == ".raw" || ext == ".img" || ext == ".iso" ? DiskFormat::raw : DiskFormat::qcow2;
}

DiskFormat volume_format(const Disk& d, const VolumeFormats& formats) {
    auto it = formats.find(d.pool + "/" + d.volume);
    return it != formats.end() ? it->second : guess_format(d.volume);
}

void append_disk(pugi::xml_node devices, const Disk& d, const VolumeFormats& formats) {
    auto disk = devices.append_child("disk");
    auto driver = pugi::xml_node();
    switch (d.type) {
        case Disk::Type::volume: {
            disk.append_attribute("type") = "volume";
            disk.append_attribute("device") = "disk";
            driver = disk.append_child("driver");
            driver.append_attribute("name") = "qemu";
            driver.append_attribute("type") = to_string(volume_format(d, formats));
            auto source = disk.append_child("source");
            source.append_attribute("pool") = d.pool.c_str();
            source.append_attribute("volume") = d.volume.c_str();
            break;
        }
        case Disk::Type::cdrom:
        case Disk::Type::file: {
            const bool cdrom = d.type == Disk::Type::cdrom;
            disk.append_attribute("type") = "file";
            disk.append_attribute("device") = cdrom ? "cdrom" : "disk";
            driver = disk.append_child("driver");
            driver.append_attribute("name") = "qemu";
            driver.append_attribute("type") = cdrom ? "raw" : to_string(guess_format(d.path));
            if (!d.path.empty())
                disk.append_child("source").append_attribute("file") = d.path.c_str();
            break;
        }
    }
    auto target = disk.append_child("target");
    target.append_attribute("dev") = d.target.c_str();
    target.append_attribute("bus") = to_string(d.bus);
    if (d.type == Disk::Type::cdrom) disk.append_child("readonly");
}

void append_nic(pugi::xml_node devices, const Nic& n, const std::string& mac) {
    auto iface = devices.append_child("interface");
    const bool network = n.type == Nic::Type::network;
    iface.append_attribute("type") = network ? "network" : "bridge";
    if (!mac.empty()) iface.append_child("mac").append_attribute("address") = mac.c_str();
    iface.append_child("source").append_attribute(network ? "network" : "bridge") =
        n.source.c_str();
    iface.append_child("model").append_attribute("type") = n.model.c_str();
}

pugi::xml_node find_mark(pugi::xml_node domain) {
    for (auto child : domain.child("metadata").children()) {
        for (auto attr : child.attributes()) {
            if (std::strncmp(attr.name(), "xmlns", 5) == 0 &&
                std::strcmp(attr.value(), kMetadataUri) == 0) {
                return child;
            }
        }
    }
    return {};
}

std::uint64_t kib(std::uint64_t bytes) {
    return (bytes + 1023) / 1024;
}

std::uint64_t memory_bytes(pugi::xml_node node) {
    const std::uint64_t value = node.text().as_ullong();
    std::string unit = node.attribute("unit").as_string("KiB");
    std::transform(unit.begin(), unit.end(), unit.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (unit == "b" || unit == "bytes") return value;
    if (unit == "k" || unit == "kib") return value << 10;
    if (unit == "kb") return value * 1000;
    if (unit == "m" || unit == "mib") return value << 20;
    if (unit == "mb") return value * 1000 * 1000;
    if (unit == "g" || unit == "gib") return value << 30;
    if (unit == "gb") return value * 1000 * 1000 * 1000;
    if (unit == "t" || unit == "tib") return value << 40;
    return value << 10;
}

std::string machine_family(const std::string& machine) {
    if (machine == "q35" || machine.rfind("pc-q35-", 0) == 0) return "q35";
    if (machine == "pc" || machine.rfind("pc-i440fx-", 0) == 0) return "pc";
    return machine;
}

DiskBus bus_from(const std::string& bus) {
    if (bus == "sata") return DiskBus::sata;
    if (bus == "scsi") return DiskBus::scsi;
    if (bus == "ide") return DiskBus::ide;
    return DiskBus::virtio;
}

bool in_seed_dir(const std::string& path) {
    const auto parent = std::filesystem::path(path).parent_path().lexically_normal();
    return parent == std::filesystem::path(kSeedDir).lexically_normal();
}

}  // namespace

std::string disk_device_xml(const Disk& disk, const VolumeFormats& formats) {
    pugi::xml_document doc;
    append_disk(doc, disk, formats);
    return node_to_string(doc.first_child());
}

std::string nic_device_xml(const Nic& nic, const std::string& mac) {
    pugi::xml_document doc;
    append_nic(doc, nic, mac.empty() ? nic.mac.value_or("") : mac);
    return node_to_string(doc.first_child());
}

std::string domain_to_xml(const Vm& vm, const std::string& lab, const DomainIdentity& keep,
                          const VolumeFormats& formats) {
    pugi::xml_document doc;
    auto dom = doc.append_child("domain");
    dom.append_attribute("type") = vm.accel == Accel::kvm ? "kvm" : "qemu";
    dom.append_child("name").text() = vm.name.c_str();
    if (!keep.uuid.empty()) dom.append_child("uuid").text() = keep.uuid.c_str();

    const auto disks = assign_disk_targets(vm.disks);
    auto mark =
        dom.append_child("metadata").append_child(fmt::format("{}:lab", kMetadataPrefix).c_str());
    mark.append_attribute(fmt::format("xmlns:{}", kMetadataPrefix).c_str()) = kMetadataUri;
    std::vector<std::string> kept;
    for (const auto& d : disks) {
        if (d.type == Disk::Type::volume && d.keep) kept.push_back(d.pool + "/" + d.volume);
    }
    if (!kept.empty())
        mark.append_attribute("keep") = fmt::format("{}", fmt::join(kept, ",")).c_str();
    // libvirt groups disks by bus; the manifest's order is kept here.
    std::vector<std::string> order;
    for (const auto& d : disks) order.push_back(d.target);
    if (!order.empty())
        mark.append_attribute("disk-order") = fmt::format("{}", fmt::join(order, ",")).c_str();
    if (!vm.seed_digest.empty()) mark.append_attribute("seed") = vm.seed_digest.c_str();
    if (vm.cloud_init && vm.seed_iso) mark.append_attribute("seed-iso") = vm.seed_iso->c_str();
    mark.append_attribute("shutdown-timeout") = vm.shutdown_timeout;
    mark.text() = lab.c_str();

    auto memory = dom.append_child("memory");
    memory.append_attribute("unit") = "KiB";
    memory.text() = kib(vm.max_memory.value_or(vm.memory));
    auto current = dom.append_child("currentMemory");
    current.append_attribute("unit") = "KiB";
    current.text() = kib(vm.memory);
    auto vcpu = dom.append_child("vcpu");
    vcpu.append_attribute("current") = vm.cpus;
    vcpu.text() = vm.max_cpus.value_or(vm.cpus);

    auto os = dom.append_child("os");
    if (vm.firmware == Firmware::uefi) os.append_attribute("firmware") = "efi";
    auto type = os.append_child("type");
    type.append_attribute("arch") = "x86_64";
    if (vm.machine) type.append_attribute("machine") = vm.machine->c_str();
    type.text() = "hvm";
    if (vm.kernel) os.append_child("kernel").text() = vm.kernel->c_str();
    if (vm.initrd) os.append_child("initrd").text() = vm.initrd->c_str();
    if (vm.cmdline) os.append_child("cmdline").text() = vm.cmdline->c_str();
    for (const auto& b : vm.boot) os.append_child("boot").append_attribute("dev") = b.c_str();

    // ACPI: the power button is how a graceful shutdown reaches the guest.
    auto features = dom.append_child("features");
    features.append_child("acpi");
    features.append_child("apic");
    if (vm.cpu_mode) dom.append_child("cpu").append_attribute("mode") = vm.cpu_mode->c_str();

    auto devices = dom.append_child("devices");
    std::set<std::string> used;
    for (const auto& d : disks) {
        append_disk(devices, d, formats);
        used.insert(d.target);
    }
    if (vm.cloud_init && vm.seed_iso) {
        Disk seed;
        seed.type = Disk::Type::cdrom;
        seed.path = *vm.seed_iso;
        seed.bus = DiskBus::sata;
        seed.target = next_free_target("sd", used);
        append_disk(devices, seed, formats);
    }
    for (std::size_t i = 0; i < vm.nics.size(); ++i) {
        std::string mac = vm.nics[i].mac.value_or("");
        if (mac.empty()) {
            auto it = keep.macs.find(i);
            if (it != keep.macs.end()) mac = it->second;
        }
        append_nic(devices, vm.nics[i], mac);
    }
    const char* console_type = vm.console_file ? "file" : "pty";
    for (const char* element : {"serial", "console"}) {
        auto node = devices.append_child(element);
        node.append_attribute("type") = console_type;
        if (vm.console_file) {
            node.append_child("source").append_attribute("path") = vm.console_file->c_str();
        }
        auto target = node.append_child("target");
        if (std::strcmp(element, "console") == 0) target.append_attribute("type") = "serial";
        target.append_attribute("port") = 0;
    }
    if (vm.graphics != Graphics::none) {
        auto graphics = devices.append_child("graphics");
        graphics.append_attribute("type") = to_string(vm.graphics);
        graphics.append_attribute("autoport") = "yes";
        auto listen = graphics.append_child("listen");
        listen.append_attribute("type") = "address";
        listen.append_attribute("address") = "127.0.0.1";
    }
    // The balloon: live memory changes between currentMemory and memory.
    devices.append_child("memballoon").append_attribute("model") = "virtio";
    if (vm.machine && machine_family(*vm.machine) == "q35") {
        // PCIe has no hot-plug slots on the root bus: leave empty root ports
        // for NICs and disks attached while the VM runs.
        std::size_t ports = vm.nics.size() + 2 /* balloon, usb */ + 4 /* spare */;
        for (const auto& d : disks) {
            if (d.bus == DiskBus::virtio) ++ports;
        }
        auto root = devices.append_child("controller");
        root.append_attribute("type") = "pci";
        root.append_attribute("index") = 0;
        root.append_attribute("model") = "pcie-root";
        for (std::size_t i = 0; i < ports; ++i) {
            auto ctl = devices.append_child("controller");
            ctl.append_attribute("type") = "pci";
            ctl.append_attribute("model") = "pcie-root-port";
        }
    }
    return doc_to_string(doc);
}

Vm domain_from_xml(const std::string& xml) {
    auto doc = parse_xml(xml, "domain");
    auto dom = doc.child("domain");
    Vm vm;
    vm.name = dom.child("name").text().as_string();
    vm.accel =
        std::strcmp(dom.attribute("type").as_string(), "kvm") == 0 ? Accel::kvm : Accel::qemu;

    std::set<std::string> keep;
    std::string seed_path;
    std::vector<std::string> disk_order;
    if (auto mark = find_mark(dom)) {
        vm.owner = mark.text().as_string();
        for (auto& k : split(mark.attribute("keep").as_string(), ',')) keep.insert(k);
        vm.seed_digest = mark.attribute("seed").as_string();
        seed_path = mark.attribute("seed-iso").as_string();
        vm.shutdown_timeout = mark.attribute("shutdown-timeout").as_int(vm.shutdown_timeout);
        disk_order = split(mark.attribute("disk-order").as_string(), ',');
    }

    const std::uint64_t current = memory_bytes(dom.child("currentMemory"));
    const std::uint64_t max = memory_bytes(dom.child("memory"));
    vm.memory = dom.child("currentMemory") ? current : max;
    if (max != vm.memory) vm.max_memory = max;
    auto vcpu = dom.child("vcpu");
    const int max_cpus = vcpu.text().as_int(1);
    vm.cpus = vcpu.attribute("current").as_int(max_cpus);
    if (max_cpus != vm.cpus) vm.max_cpus = max_cpus;

    auto os = dom.child("os");
    if (auto machine = os.child("type").attribute("machine")) {
        vm.machine = machine_family(machine.as_string());
    }
    const bool efi = std::strcmp(os.attribute("firmware").as_string(), "efi") == 0 ||
                     std::strcmp(os.child("loader").attribute("type").as_string(), "pflash") == 0;
    vm.firmware = efi ? Firmware::uefi : Firmware::bios;
    if (auto k = os.child("kernel")) vm.kernel = k.text().as_string();
    if (auto i = os.child("initrd")) vm.initrd = i.text().as_string();
    if (auto c = os.child("cmdline")) vm.cmdline = c.text().as_string();
    for (auto b : os.children("boot")) vm.boot.emplace_back(b.attribute("dev").as_string());
    if (auto cpu = dom.child("cpu")) vm.cpu_mode = cpu.attribute("mode").as_string("custom");

    auto devices = dom.child("devices");
    for (auto d : devices.children("disk")) {
        Disk disk;
        const std::string type = d.attribute("type").as_string();
        const std::string device = d.attribute("device").as_string("disk");
        auto source = d.child("source");
        disk.bus = bus_from(d.child("target").attribute("bus").as_string());
        disk.target = d.child("target").attribute("dev").as_string();
        if (type == "volume") {
            disk.type = Disk::Type::volume;
            disk.pool = source.attribute("pool").as_string();
            disk.volume = source.attribute("volume").as_string();
            disk.name = disk.volume;
            disk.keep = keep.count(disk.pool + "/" + disk.volume) != 0;
        } else {
            disk.type = device == "cdrom" ? Disk::Type::cdrom : Disk::Type::file;
            disk.path = source.attribute(type == "block" ? "dev" : "file").as_string();
            disk.name = std::filesystem::path(disk.path).stem().string();
            if (disk.type == Disk::Type::cdrom && !disk.path.empty() && !vm.seed_iso &&
                (disk.path == seed_path || in_seed_dir(disk.path))) {
                vm.seed_iso = disk.path;
                continue;
            }
        }
        vm.disks.push_back(std::move(disk));
    }
    if (!disk_order.empty()) {
        // Back to the order they were defined in; disks the mark does not list
        // (attached later) follow in document order.
        auto rank = [&](const Disk& d) {
            auto it = std::find(disk_order.begin(), disk_order.end(), d.target);
            return it == disk_order.end() ? disk_order.size()
                                          : static_cast<std::size_t>(it - disk_order.begin());
        };
        std::stable_sort(vm.disks.begin(), vm.disks.end(),
                         [&](const Disk& a, const Disk& b) { return rank(a) < rank(b); });
    }
    for (auto i : devices.children("interface")) {
        Nic nic;
        const std::string type = i.attribute("type").as_string();
        nic.type = type == "bridge" ? Nic::Type::bridge : Nic::Type::network;
        nic.source =
            i.child("source").attribute(type == "bridge" ? "bridge" : "network").as_string();
        if (auto mac = i.child("mac").attribute("address")) {
            nic.mac = normalize_mac(mac.as_string()).value_or(mac.as_string());
        }
        nic.model = i.child("model").attribute("type").as_string("");
        vm.nics.push_back(std::move(nic));
    }
    if (auto g = devices.child("graphics")) {
        const std::string type = g.attribute("type").as_string();
        vm.graphics = type == "spice" ? Graphics::spice : Graphics::vnc;
    }
    auto serial = devices.child("serial");
    if (std::strcmp(serial.attribute("type").as_string(), "file") == 0) {
        vm.console_file = serial.child("source").attribute("path").as_string();
    }
    return vm;
}

DomainIdentity domain_identity_from_xml(const std::string& xml) {
    auto doc = parse_xml(xml, "domain");
    auto dom = doc.child("domain");
    DomainIdentity id;
    id.uuid = dom.child("uuid").text().as_string();
    std::size_t i = 0;
    for (auto iface : dom.child("devices").children("interface")) {
        if (auto mac = iface.child("mac").attribute("address")) id.macs[i] = mac.as_string();
        ++i;
    }
    return id;
}

std::vector<std::string> pending_restart_attributes(const std::string& inactive_xml,
                                                    const std::string& active_xml) {
    Vm defined = domain_from_xml(inactive_xml);
    defined.running = std::make_shared<const Vm>(domain_from_xml(active_xml));
    return restart_pending_paths(defined);
}

std::string find_nic_xml(const std::string& domain_xml, const std::string& mac) {
    auto doc = parse_xml(domain_xml, "domain");
    const auto want = normalize_mac(mac).value_or(mac);
    for (auto iface : doc.child("domain").child("devices").children("interface")) {
        const std::string have = iface.child("mac").attribute("address").as_string();
        if (normalize_mac(have).value_or(have) == want) return node_to_string(iface);
    }
    return {};
}

std::string find_disk_xml(const std::string& domain_xml, const std::string& target) {
    auto doc = parse_xml(domain_xml, "domain");
    for (auto disk : doc.child("domain").child("devices").children("disk")) {
        if (target == disk.child("target").attribute("dev").as_string())
            return node_to_string(disk);
    }
    return {};
}

}  // namespace virtform::libvirt
