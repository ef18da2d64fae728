#pragma once
/// Plan output: Terraform-style text and a documented, stable JSON form
/// (docs/json.md). Renderers return values; only the CLI prints.
#include <nlohmann/json.hpp>
#include <string>

#include "virtform/plan.h"

namespace virtform {

struct TextStyle {
    bool color = false;
};

std::string render_plan_text(const Plan& plan, const TextStyle& style = {});
/// "Plan: 1 to add, 0 to change, 2 to destroy." or "No changes. ..."
std::string render_plan_summary(const Plan& plan);
nlohmann::json plan_to_json(const Plan& plan);

}  // namespace virtform
