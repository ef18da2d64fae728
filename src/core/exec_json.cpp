#include "virtform/exec_json.h"

#include "virtform/render.h"

namespace virtform {

nlohmann::json results_to_json(const Plan& plan, const ExecResult& result,
                               const std::vector<std::string>& problems,
                               std::chrono::steady_clock::time_point t0) {
    nlohmann::json actions = nlohmann::json::array();
    auto offset = [&](std::chrono::steady_clock::time_point t) -> nlohmann::json {
        if (t == std::chrono::steady_clock::time_point{}) return nullptr;
        return std::chrono::duration<double>(t - t0).count();
    };
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        const auto& r = result.results[i];
        actions.push_back(
            {{"address", plan.actions[i].id.str()},
             {"action", to_string(plan.actions[i].type)},
             {"class", to_string(plan.actions[i].cls)},
             {"outcome", to_string(r.outcome)},
             {"started_at", offset(r.started)},
             {"finished_at", offset(r.finished)},
             {"seconds",
              r.outcome == Outcome::done || r.outcome == Outcome::failed ? r.seconds() : 0.0},
             {"message", r.message}});
    }
    return {{"format_version", "1"},
            {"lab", plan.lab},
            {"plan", plan_to_json(plan)},
            {"results", actions},
            {"verify_problems", problems},
            {"summary",
             {{"done", result.count(Outcome::done)},
              {"failed", result.count(Outcome::failed)},
              {"skipped", result.count(Outcome::skipped)},
              {"not_started", result.count(Outcome::not_started)}}},
            {"ok", result.ok() && problems.empty()}};
}

}  // namespace virtform
