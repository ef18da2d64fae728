#pragma once
/// Plan output: Terraform-style text and a documented, stable JSON form
/// (docs/json.md). Renderers return values; only the CLI prints.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "virtform/plan.h"

namespace virtform {

struct TextStyle {
    bool color = false;
};

std::string render_plan_text(const Plan& plan, const TextStyle& style = {});
/// "Plan: 1 to add, 0 to change, 2 to destroy." or "No changes. ..."
std::string render_plan_summary(const Plan& plan);
nlohmann::json plan_to_json(const Plan& plan);
/// The inverse of plan_to_json, for a saved plan (`virtform show`): every field
/// the renderers use (not the objects' before/after). Values that were
/// sensitive stay "(sensitive)". Throws Error naming the field on a damaged document.
Plan plan_from_json(const nlohmann::json& doc);

/// A plan as a code-review comment (GitHub/GitLab flavoured Markdown).
struct MarkdownOptions {
    /// Lines above the summary (lab, URI, saved-plan details), as Markdown.
    std::vector<std::string> preamble;
    /// At most this many actions in the table and the folded changes; 0: all.
    std::size_t max_actions = 50;
    /// Where the whole plan is, said after "N more" when the cap cuts.
    std::string full_plan_hint;
};
/// The summary line, a table of actions (sign, object, action, class, reason),
/// each object's attribute changes folded in <details>, warnings and drift.
/// Sensitive values read "(sensitive)"; text from manifests and the host is
/// escaped for Markdown and HTML, so no value can break the table or inject markup.
std::string render_plan_markdown(const Plan& plan, const MarkdownOptions& options = {});
/// `text` as inline code in Markdown (<code>, HTML-escaped): safe for any text.
std::string markdown_code(const std::string& text);

}  // namespace virtform
