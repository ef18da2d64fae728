#pragma once
/// `virtform export`: live objects (a network, VM, pool or bridge made by hand
/// or by virt-manager) written as a manifest in the format of docs/manifest.md.
/// Pure: it takes what the adapters read and returns text.
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform {

/// Something of an object the manifest does not say. `object` is "vm.web1";
/// `detail` says what was left out and why.
struct LeftOut {
    std::string object;
    std::string detail;
};

struct ExportResult {
    /// The manifest (YAML, written with yaml-cpp's emitter; what was left out
    /// is listed in comments at the top).
    std::string yaml;
    std::vector<ResourceId> exported;  ///< objects the manifest declares
    std::vector<LeftOut> left_out;     ///< whole objects or parts of them
};

/// Writes `objects` (read from the host into `live`) as a manifest of lab
/// `lab`, then checks it: each object must load on its own (an object the
/// loader refuses, e.g. a name it does not accept, is left out whole, with the
/// loader's reason), and planning the manifest against `live` with every
/// exported object adopted must show no change; each change it does show is
/// reported as left out ("disk[1]: the host has ..., the manifest ..."). A
/// VM's disk on a pool volume is left out (virtform's volumes belong to the
/// VM that made them; give the image as `file:` by hand); `extra` (what the adapter saw in the XML
/// and the model does not hold, e.g. an <rng> device) is added to left_out as it is.
ExportResult export_manifest(const std::string& lab, const std::vector<Resource>& objects,
                             const Live& live, std::vector<LeftOut> extra = {});

}  // namespace virtform
