#include <fmt/format.h>

#include <iostream>

#include "common.h"
#include "virtform/adapters/host/doctor.h"

namespace virtform::cli {

int cmd_doctor(const GlobalOptions& g, bool json) {
    host::DoctorOptions options;
    options.connect_uri = g.uri;
    const auto checks = host::run_doctor(options);
    if (json) {
        auto doc = host::doctor_to_json(checks);
        doc["format_version"] = "1";
        std::cout << doc.dump(2) << "\n";
    } else
        std::cout << host::render_doctor_text(checks);
    return host::doctor_exit_code(checks);
}

}  // namespace virtform::cli
