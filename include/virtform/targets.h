#pragma once
/// `--target KIND.NAME` arguments, parsed into resource ids. Pure.
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform {

/// Throws Error naming the argument when one does not read KIND.NAME.
std::vector<ResourceId> parse_targets(const std::vector<std::string>& targets,
                                      const std::string& flag = "--target");

}  // namespace virtform
