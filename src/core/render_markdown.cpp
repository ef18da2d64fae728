// A plan as a code-review comment: a summary, a table of actions, the
// attribute changes folded per object. Everything from manifests and the host
// is escaped, so no name or value can break the table or inject markup.
#include <fmt/format.h>

#include <algorithm>

#include "virtform/diag.h"
#include "virtform/render.h"

namespace virtform {
namespace {

/// Text for a table cell or a paragraph: control characters escaped
/// (terminal_escape), HTML special characters as entities, and Markdown's
/// punctuation backslash-escaped (a `|` would end the cell).
std::string md_text(const std::string& raw) {
    const std::string text = terminal_escape(raw);
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '\\':
            case '`':
            case '*':
            case '_':
            case '[':
            case ']':
            case '|':
            case '~':
                out += '\\';
                out += c;
                break;
            default:
                out += c;
        }
    }
    return out;
}

/// Text inside HTML (<summary>, <code>): entities only.
std::string html_text(const std::string& raw) {
    return html_escape(terminal_escape(raw));
}

const char* sign_of(ActionType type) {
    switch (type) {
        case ActionType::create:
            return "+";
        case ActionType::update:
            return "~";
        case ActionType::replace:
            return "-/+";
        case ActionType::destroy:
            return "-";
    }
    return "?";
}

std::string value_text(const std::optional<std::string>& v, bool sensitive) {
    if (!v) return "(none)";
    if (sensitive) return "(sensitive)";
    return fmt::format("\"{}\"", terminal_escape(*v));
}

/// A fence longer than any run of backticks in `body`.
std::string fence_for(const std::string& body) {
    std::size_t longest = 0, run = 0;
    for (char c : body) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

constexpr std::size_t kMaxChangesPerObject = 100;

std::string changes_block(const Action& a) {
    std::string body;
    std::size_t shown = 0;
    for (const auto& c : a.changes) {
        if (shown == kMaxChangesPerObject) {
            body += fmt::format("# ... and {} more changes\n", a.changes.size() - shown);
            break;
        }
        ++shown;
        // diff syntax: + added, - removed, ! changed (a ~ would not be coloured).
        const char* sign = !c.before ? "+" : !c.after ? "-" : "!";
        std::string value;
        if (!c.before)
            value = value_text(c.after, c.sensitive);
        else
            value = value_text(c.before, c.sensitive) + " -> " + value_text(c.after, c.sensitive);
        std::string note;
        if (a.type != ActionType::create) {
            note = c.cls == ChangeClass::replace ? "  # forces replacement"
                                                 : fmt::format("  # {}", to_string(c.cls));
        }
        body += fmt::format("{} {} = {}{}\n", sign, terminal_escape(c.path), value, note);
    }
    const std::string fence = fence_for(body);
    return fence + "diff\n" + body + fence + "\n";
}

}  // namespace

std::string markdown_code(const std::string& text) {
    return "<code>" + html_text(text) + "</code>";
}

std::string render_plan_markdown(const Plan& plan, const MarkdownOptions& options) {
    std::string out = fmt::format("### virtform plan: lab `{}`\n\n", html_text(plan.lab));
    for (const auto& line : options.preamble) out += line + "\n";
    if (!options.preamble.empty()) out += "\n";
    out += fmt::format("**{}**\n\n", render_plan_summary(plan));
    for (const auto& w : plan.warnings) out += fmt::format("> **Warning:** {}\n>\n", md_text(w));
    if (!plan.warnings.empty()) {
        out.resize(out.size() - 2);  // the last ">\n"
        out += "\n";
    }
    if (!plan.drift.empty()) {
        out += "**Changed outside virtform since the last apply:**\n\n";
        for (const auto& d : plan.drift) out += fmt::format("- {}\n", md_text(d));
        out += "\n";
    }
    if (plan.empty()) return out;

    const std::size_t total = plan.actions.size();
    const std::size_t shown =
        options.max_actions == 0 ? total : std::min(total, options.max_actions);
    out += "| | Object | Action | Class | Reason |\n|---|---|---|---|---|\n";
    for (std::size_t i = 0; i < shown; ++i) {
        const auto& a = plan.actions[i];
        std::string reason = a.type == ActionType::create ? "" : a.reason;
        for (const auto& u : a.users)
            reason += fmt::format("{}used on the host by {}: apply refuses without --force",
                                  reason.empty() ? "" : "; ", u);
        std::string action = to_string(a.type);
        const auto pending = std::count_if(a.changes.begin(), a.changes.end(),
                                           [](const auto& c) { return is_pending_restart(c); });
        if (pending != 0) action += " (restart pending)";
        out += fmt::format("| `{}` | {} | {} | {} | {} |\n", sign_of(a.type),
                           markdown_code(a.id.str()), action, to_string(a.cls), md_text(reason));
    }
    out += "\n";
    for (std::size_t i = 0; i < shown; ++i) {
        const auto& a = plan.actions[i];
        if (a.changes.empty()) continue;
        out += fmt::format(
            "<details><summary><code>{}</code>: {} attribute "
            "change{}</summary>\n\n{}\n</details>\n\n",
            html_text(a.id.str()), a.changes.size(), a.changes.size() == 1 ? "" : "s",
            changes_block(a));
    }
    if (shown < total) {
        out += fmt::format("**... and {} more action{}** not shown here.", total - shown,
                           total - shown == 1 ? "" : "s");
        if (!options.full_plan_hint.empty()) out += " " + options.full_plan_hint;
        out += "\n";
    }
    return out;
}

}  // namespace virtform
