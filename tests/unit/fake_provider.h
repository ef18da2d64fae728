#pragma once
// An in-memory host for planner and executor tests: apply() changes `live`
// the way the real adapters change libvirt, and a hook can fail or slow an
// action.
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "virtform/exec.h"

namespace virtform::testing {

class FakeProvider : public Provider {
public:
    explicit FakeProvider(std::string lab) : lab_(std::move(lab)) {}

    Live live;
    /// Runs before each action; throw to fail it.
    std::function<void(const Action&)> before_apply;

    Live read() override {
        std::lock_guard lock(mu_);
        return live;
    }

    void apply(const Action& action) override {
        if (before_apply) before_apply(action);
        std::lock_guard lock(mu_);
        calls_.push_back(std::string(to_string(action.type)) + " " + action.id.str());
        const std::string& name = action.id.name;
        switch (action.id.kind) {
            case Kind::network:
                store(live.networks, name, action);
                break;
            case Kind::pool:
                store(live.pools, name, action);
                break;
            case Kind::volume:
                store(live.volumes, name, action);
                break;
            case Kind::vm:
                store(live.vms, name, action);
                break;
            case Kind::bridge:
                store(live.bridges, name, action);
                break;
        }
    }

    std::vector<std::string> calls() const {
        std::lock_guard lock(mu_);
        return calls_;
    }

private:
    template <class T>
    void store(std::map<std::string, T>& objects, const std::string& name, const Action& action) {
        if (action.type == ActionType::destroy) {
            objects.erase(name);
            return;
        }
        T object = std::get<T>(*action.after);
        if constexpr (requires { object.owner; }) object.owner = lab_;
        object.where = {};
        objects[name] = object;
    }

    std::string lab_;
    mutable std::mutex mu_;
    std::vector<std::string> calls_;
};

}  // namespace virtform::testing
