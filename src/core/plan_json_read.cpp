// plan_from_json: a saved plan's `plan` document back into a Plan, so that
// `virtform show` renders it with the very renderers `plan` uses.
#include <fmt/format.h>

#include "virtform/error.h"
#include "virtform/render.h"

namespace virtform {
namespace {

template <typename Enum, std::size_t N>
Enum enum_from(const std::string& text, const Enum (&values)[N], const char* what) {
    for (Enum v : values) {
        if (text == to_string(v)) return v;
    }
    throw Error(fmt::format("not a virtform plan: unknown {} '{}'", what, text));
}

constexpr Kind kKinds[] = {Kind::bridge, Kind::network, Kind::pool, Kind::volume, Kind::vm};
constexpr ActionType kTypes[] = {ActionType::create, ActionType::update, ActionType::replace,
                                 ActionType::destroy};
constexpr ChangeClass kClasses[] = {ChangeClass::live, ChangeClass::restart, ChangeClass::replace};

std::optional<std::string> optional_string(const nlohmann::json& v) {
    if (v.is_null()) return std::nullopt;
    return v.get<std::string>();
}

}  // namespace

Plan plan_from_json(const nlohmann::json& doc) {
    try {
        Plan plan;
        plan.lab = doc.at("lab").get<std::string>();
        plan.warnings = doc.at("warnings").get<std::vector<std::string>>();
        plan.drift = doc.at("drift").get<std::vector<std::string>>();
        std::map<std::string, std::size_t> index;
        for (const auto& a : doc.at("actions")) {
            Action action;
            action.id = {enum_from(a.at("kind").get<std::string>(), kKinds, "kind"),
                         a.at("name").get<std::string>()};
            action.type = enum_from(a.at("action").get<std::string>(), kTypes, "action");
            action.cls = enum_from(a.at("class").get<std::string>(), kClasses, "class");
            action.reason = a.at("reason").get<std::string>();
            action.users = a.at("users").get<std::vector<std::string>>();
            for (const auto& d : a.at("depends_on")) {
                const auto it = index.find(d.get<std::string>());
                if (it == index.end()) {
                    throw Error(fmt::format("not a virtform plan: {} depends on {}, not before it",
                                            action.id.str(), d.get<std::string>()));
                }
                action.depends_on.push_back(it->second);
            }
            for (const auto& c : a.at("changes")) {
                AttributeChange change;
                change.path = c.at("path").get<std::string>();
                change.before = optional_string(c.at("before"));
                change.after = optional_string(c.at("after"));
                change.cls = enum_from(c.at("class").get<std::string>(), kClasses, "class");
                change.reason = c.at("reason").get<std::string>();
                change.sensitive = c.at("sensitive").get<bool>();
                action.changes.push_back(std::move(change));
            }
            index[action.id.str()] = plan.actions.size();
            plan.actions.push_back(std::move(action));
        }
        return plan;
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("not a virtform plan: {}", e.what()));
    }
}

}  // namespace virtform
