#pragma once
/// The JSON document of an apply or destroy: the plan, each action's outcome
/// and timing, what verification found (docs/json.md).
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "virtform/exec.h"
#include "virtform/plan.h"

namespace virtform {

/// `t0` is when execution started: action times are offsets from it
/// (null when the action never ran).
nlohmann::json results_to_json(const Plan& plan, const ExecResult& result,
                               const std::vector<std::string>& problems,
                               std::chrono::steady_clock::time_point t0 = {});

}  // namespace virtform
