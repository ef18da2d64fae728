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
        if (action.type == ActionType::destroy) {
            live.networks.erase(action.id.name);
            return;
        }
        Network n = std::get<Network>(*action.after);
        n.owner = lab_;
        n.where = {};
        live.networks[n.name] = n;
    }

    std::vector<std::string> calls() const {
        std::lock_guard lock(mu_);
        return calls_;
    }

private:
    std::string lab_;
    mutable std::mutex mu_;
    std::vector<std::string> calls_;
};

}  // namespace virtform::testing
