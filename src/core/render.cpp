#include "virtform/render.h"

#include <fmt/format.h>

#include <algorithm>

#include "virtform/diag.h"

namespace virtform {
namespace {

constexpr const char* kSensitive = "(sensitive)";

struct Palette {
    const char* green = "";
    const char* yellow = "";
    const char* red = "";
    const char* bold = "";
    const char* reset = "";
};

Palette palette(const TextStyle& style) {
    if (!style.color) return {};
    return {"\033[32m", "\033[33m", "\033[31m", "\033[1m", "\033[0m"};
}

std::string quoted(const std::optional<std::string>& v, bool sensitive) {
    if (!v) return "(none)";
    if (sensitive) return kSensitive;
    return fmt::format("\"{}\"", terminal_escape(*v));
}

std::size_t pending_restarts(const Action& a) {
    return static_cast<std::size_t>(std::count_if(a.changes.begin(), a.changes.end(),
                                                  [](const auto& c) { return is_pending_restart(c); }));
}

/// The `count:` expansion that made the action's desired object, if any.
const Expansion* expansion_of(const Action& a) {
    if (!a.after) return nullptr;
    if (const auto* vm = std::get_if<Vm>(&*a.after); vm != nullptr && vm->expansion)
        return &*vm->expansion;
    if (const auto* net = std::get_if<Network>(&*a.after); net != nullptr && net->expansion)
        return &*net->expansion;
    return nullptr;
}

std::string headline(const Action& a) {
    // Names and values come from manifests and the host: escaped, so that no
    // escape sequence in them reaches the terminal (terminal_escape).
    const std::string id = terminal_escape(a.id.str());
    if (a.adopt) {
        if (a.changes.empty()) return fmt::format("# {} will be adopted", id);
        return fmt::format("# {} will be adopted and updated ({})", id,
                           a.cls == ChangeClass::restart ? "requires a restart" : "live");
    }
    if (a.type == ActionType::update) {
        if (const std::size_t n = pending_restarts(a); n != 0) {
            return fmt::format("# {} will be updated: restart pending ({} change{})", id,
                               n, n == 1 ? "" : "s");
        }
    }
    switch (a.type) {
        case ActionType::create:
            return fmt::format("# {} will be created", id);
        case ActionType::destroy:
            return fmt::format("# {} will be destroyed", id);
        case ActionType::replace:
            return fmt::format("# {} must be replaced", id);
        case ActionType::update:
            if (a.cls == ChangeClass::restart) {
                return fmt::format("# {} will be updated and requires a restart", id);
            }
            return fmt::format("# {} will be updated in place (live)", id);
    }
    return {};
}

}  // namespace

std::string render_plan_summary(const Plan& plan) {
    if (plan.empty()) return "No changes. The lab matches the manifests.";
    if (const int adopt = plan.to_adopt(); adopt != 0) {
        return fmt::format("Plan: {} to adopt, {} to add, {} to change, {} to destroy.", adopt,
                           plan.to_add(), plan.to_change(), plan.to_destroy());
    }
    return fmt::format("Plan: {} to add, {} to change, {} to destroy.", plan.to_add(),
                       plan.to_change(), plan.to_destroy());
}

std::string render_plan_text(const Plan& plan, const TextStyle& style) {
    const Palette p = palette(style);
    std::string out;
    for (const auto& w : plan.warnings)
        out += fmt::format("{}Warning:{} {}\n", p.yellow, p.reset, terminal_escape(w));
    if (!plan.warnings.empty()) out += "\n";
    if (!plan.drift.empty()) {
        out += fmt::format("{}Objects have changed outside virtform since the last apply:{}\n",
                           p.bold, p.reset);
        for (const auto& d : plan.drift)
            out += fmt::format("  {}~{} {}\n", p.yellow, p.reset, terminal_escape(d));
        out += "The plan below shows what now differs from the manifests.\n\n";
    }
    if (plan.empty()) return out + render_plan_summary(plan) + "\n";
    out += fmt::format("virtform will perform the following actions on lab '{}':\n",
                      terminal_escape(plan.lab));
    for (const auto& a : plan.actions) {
        out += "\n";
        out += fmt::format("  {}{}{}\n", p.bold, headline(a), p.reset);
        if (const Expansion* e = expansion_of(a)) {
            out += fmt::format("  # (index {} of count '{}' at {})\n", e->index,
                               terminal_escape(e->template_name), terminal_escape(e->where.str()));
        }
        if (!a.reason.empty() && a.type != ActionType::create) {
            out += fmt::format("  # ({}: {})\n",
                               a.type == ActionType::destroy  ? "why"
                               : a.adopt && a.changes.empty() ? "adopt"
                                                              : to_string(a.cls),
                               terminal_escape(a.reason));
        }
        for (const auto& u : a.users) {
            out += fmt::format("  # {}used on the host by {}{}: apply refuses without --force\n",
                               p.red, terminal_escape(u), p.reset);
        }
        const char* colour = a.type == ActionType::create    ? p.green
                             : a.type == ActionType::destroy ? p.red
                                                             : p.yellow;
        const char* sign = a.adopt                         ? "<="
                           : a.type == ActionType::create  ? "+"
                           : a.type == ActionType::destroy ? "-"
                           : a.type == ActionType::replace ? "-/+"
                                                           : "~";
        const std::string kind = to_string(a.id.kind);
        const std::string name = terminal_escape(a.id.name);
        if (a.type == ActionType::destroy || (a.adopt && a.changes.empty())) {
            out += fmt::format("{}{:>3} {} \"{}\"{}\n", colour, sign, kind, name, p.reset);
            continue;
        }
        out += fmt::format("{}{:>3} {} \"{}\"{} {{\n", colour, sign, kind, name, p.reset);
        std::size_t width = 0;
        for (const auto& c : a.changes) width = std::max(width, terminal_escape(c.path).size());
        for (const auto& c : a.changes) {
            const char* csign = !c.before ? "+" : !c.after ? "-" : "~";
            const char* ccol = !c.before ? p.green : !c.after ? p.red : p.yellow;
            std::string value;
            if (!c.before)
                value = quoted(c.after, c.sensitive);
            else if (!c.after)
                value = quoted(c.before, c.sensitive) + " -> (none)";
            else
                value = quoted(c.before, c.sensitive) + " -> " + quoted(c.after, c.sensitive);
            std::string note;
            if (a.type != ActionType::create) {
                note = c.cls == ChangeClass::replace ? "  # forces replacement"
                                                     : fmt::format("  # {}", to_string(c.cls));
            }
            out += fmt::format("      {}{}{} {:<{}} = {}{}\n", ccol, csign, p.reset,
                               terminal_escape(c.path), width,
                               value, note);
        }
        out += "    }\n";
    }
    // Appended piecewise: GCC 12 at -O2 misreports `"\n" + std::string` (-Wrestrict).
    out += '\n';
    out += render_plan_summary(plan);
    out += '\n';
    return out;
}

nlohmann::json plan_to_json(const Plan& plan) {
    using nlohmann::json;
    json actions = json::array();
    for (const auto& a : plan.actions) {
        json changes = json::array();
        for (const auto& c : a.changes) {
            auto value = [&](const std::optional<std::string>& v) -> json {
                if (!v) return nullptr;
                return c.sensitive ? json(kSensitive) : json(*v);
            };
            changes.push_back({{"path", c.path},
                               {"before", value(c.before)},
                               {"after", value(c.after)},
                               {"class", to_string(c.cls)},
                               {"reason", c.reason},
                               {"sensitive", c.sensitive},
                               {"scope", is_running_change(c) ? "running" : "definition"}});
        }
        json deps = json::array();
        for (std::size_t d : a.depends_on) deps.push_back(plan.actions[d].id.str());
        json expansion = nullptr;  // made by `count:`: from which object, where, which index
        if (const Expansion* e = expansion_of(a)) {
            expansion = {
                {"template", e->template_name}, {"at", e->where.str()}, {"index", e->index}};
        }
        actions.push_back({{"address", a.id.str()},
                           {"kind", to_string(a.id.kind)},
                           {"name", a.id.name},
                           {"action", a.adopt ? "adopt" : to_string(a.type)},
                           {"class", to_string(a.cls)},
                           {"reason", a.reason},
                           {"depends_on", deps},
                           {"restart_pending", pending_restarts(a)},
                           {"users", a.users},
                           {"expanded_from", expansion},
                           {"changes", changes}});
    }
    return {{"format_version", "1"},
            {"lab", plan.lab},
            {"warnings", plan.warnings},
            {"drift", plan.drift},
            {"actions", actions},
            {"summary",
             {{"add", plan.to_add()},
              {"change", plan.to_change()},
              {"destroy", plan.to_destroy()},
              {"adopt", plan.to_adopt()}}}};
}

}  // namespace virtform
