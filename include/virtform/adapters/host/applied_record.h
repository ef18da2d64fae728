#pragma once
/// The drift record: the lab's owned objects' fingerprints right after the
/// last apply, kept under /var/lib/virtform/state/<lab>@<uri>.json. How a plan
/// tells drift. A cache, not the truth: when missing, drift is just not shown.
#include <map>
#include <optional>
#include <string>

#include "virtform/model.h"

namespace virtform::host {

std::string applied_record_path(const std::string& uri, const std::string& lab);

/// nullopt when there is no record or it cannot be read.
std::optional<std::map<std::string, std::string>> read_applied_record(const std::string& uri,
                                                                      const std::string& lab);

/// Records `live`'s objects owned by `lab`; removes the record when it owns
/// nothing. Failures are logged (drift is then not shown), never thrown.
void write_applied_record(const std::string& uri, const std::string& lab, const Live& live);

}  // namespace virtform::host
