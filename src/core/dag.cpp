#include "virtform/dag.h"

#include <algorithm>
#include <queue>

namespace virtform {
namespace {
std::string join_cycle(const std::vector<std::string>& cycle) {
    std::string out;
    for (const auto& label : cycle) {
        if (!out.empty()) out += " -> ";
        out += label;
    }
    return out;
}
}  // namespace

CycleError::CycleError(std::vector<std::string> cycle)
    : Error("dependency cycle: " + join_cycle(cycle)), cycle_(std::move(cycle)) {}

std::size_t Dag::add_node(std::string label) {
    labels_.push_back(std::move(label));
    out_.emplace_back();
    in_.emplace_back();
    return labels_.size() - 1;
}

void Dag::add_edge(std::size_t before, std::size_t after) {
    auto& out = out_[before];
    if (std::find(out.begin(), out.end(), after) != out.end()) return;
    out.push_back(after);
    in_[after].push_back(before);
}

std::vector<std::size_t> Dag::topological_order(
    const std::function<bool(std::size_t, std::size_t)>& less) const {
    auto cmp = [&](std::size_t a, std::size_t b) { return less ? less(b, a) : b < a; };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(cmp)> ready(cmp);
    std::vector<std::size_t> pending(size());
    for (std::size_t n = 0; n < size(); ++n) {
        pending[n] = in_[n].size();
        if (pending[n] == 0) ready.push(n);
    }
    std::vector<std::size_t> order;
    order.reserve(size());
    while (!ready.empty()) {
        const std::size_t n = ready.top();
        ready.pop();
        order.push_back(n);
        for (std::size_t m : out_[n]) {
            if (--pending[m] == 0) ready.push(m);
        }
    }
    if (order.size() != size()) throw CycleError(find_cycle());
    return order;
}

std::vector<std::size_t> Dag::descendants(std::size_t node) const {
    std::vector<bool> seen(size(), false);
    std::vector<std::size_t> stack{node}, out;
    while (!stack.empty()) {
        const std::size_t n = stack.back();
        stack.pop_back();
        for (std::size_t m : out_[n]) {
            if (!seen[m]) {
                seen[m] = true;
                out.push_back(m);
                stack.push_back(m);
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> Dag::find_cycle() const {
    // Depth-first search with colours; the first back edge closes a cycle.
    enum Colour { white, grey, black };
    std::vector<Colour> colour(size(), white);
    std::vector<std::size_t> path;
    std::vector<std::string> cycle;
    std::function<bool(std::size_t)> visit = [&](std::size_t n) {
        colour[n] = grey;
        path.push_back(n);
        for (std::size_t m : out_[n]) {
            if (colour[m] == grey) {
                auto it = std::find(path.begin(), path.end(), m);
                for (; it != path.end(); ++it) cycle.push_back(labels_[*it]);
                cycle.push_back(labels_[m]);
                return true;
            }
            if (colour[m] == white && visit(m)) return true;
        }
        path.pop_back();
        colour[n] = black;
        return false;
    };
    for (std::size_t n = 0; n < size(); ++n) {
        if (colour[n] == white && visit(n)) break;
    }
    return cycle;
}

}  // namespace virtform
