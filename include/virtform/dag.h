#pragma once
/// A generic directed acyclic graph: nodes are indexes with labels, an edge
/// a -> b means "a before b". Knows nothing of VMs or networks.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "virtform/error.h"

namespace virtform {

class CycleError : public Error {
public:
    explicit CycleError(std::vector<std::string> cycle);
    /// The labels along the cycle, first repeated at the end: a -> b -> a.
    const std::vector<std::string>& cycle() const { return cycle_; }

private:
    std::vector<std::string> cycle_;
};

class Dag {
public:
    std::size_t add_node(std::string label);
    /// `before` must come before `after`. Duplicate edges are ignored.
    void add_edge(std::size_t before, std::size_t after);

    std::size_t size() const { return labels_.size(); }
    const std::string& label(std::size_t node) const { return labels_[node]; }
    const std::vector<std::size_t>& successors(std::size_t node) const { return out_[node]; }
    const std::vector<std::size_t>& predecessors(std::size_t node) const { return in_[node]; }

    /// A topological order; among ready nodes the one `less` orders first
    /// (default: lowest index), so the order is deterministic. Throws CycleError.
    std::vector<std::size_t> topological_order(
        const std::function<bool(std::size_t, std::size_t)>& less = {}) const;

    /// Every node reachable from `node` (not including it).
    std::vector<std::size_t> descendants(std::size_t node) const;

private:
    std::vector<std::string> find_cycle() const;

    std::vector<std::string> labels_;
    std::vector<std::vector<std::size_t>> out_;
    std::vector<std::vector<std::size_t>> in_;
};

}  // namespace virtform
