#include <iostream>

#include "commands.h"
#include "virtform/manifest.h"

namespace virtform::cli {

// The schema is one JSON document: stdout holds it with or without --json.
int cmd_schema() {
    std::cout << manifest_json_schema();
    return 0;
}

}  // namespace virtform::cli
