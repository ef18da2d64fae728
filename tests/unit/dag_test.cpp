#include "virtform/dag.h"

#include <gtest/gtest.h>

namespace virtform {
namespace {

TEST(Dag, TopologicalOrderRespectsEdgesAndTieBreak) {
    Dag dag;
    auto a = dag.add_node("a"), b = dag.add_node("b"), c = dag.add_node("c"), d = dag.add_node("d");
    dag.add_edge(c, a);  // c before a
    dag.add_edge(d, b);
    const auto order = dag.topological_order();
    EXPECT_EQ(order, (std::vector<std::size_t>{c, a, d, b}));
    // With a reverse tie-break the constraints still hold.
    const auto rev = dag.topological_order([](std::size_t x, std::size_t y) { return x > y; });
    EXPECT_EQ(rev, (std::vector<std::size_t>{d, c, b, a}));
}

TEST(Dag, CycleIsNamed) {
    Dag dag;
    auto a = dag.add_node("vm.web"), b = dag.add_node("network.lan"),
         c = dag.add_node("bridge.br0");
    dag.add_node("pool.p");
    dag.add_edge(a, b);
    dag.add_edge(b, c);
    dag.add_edge(c, a);
    try {
        dag.topological_order();
        FAIL() << "expected a CycleError";
    } catch (const CycleError& e) {
        EXPECT_EQ(e.cycle().front(), e.cycle().back());
        EXPECT_EQ(e.cycle().size(), 4u);
        EXPECT_NE(std::string(e.what()).find("vm.web -> network.lan -> bridge.br0 -> vm.web"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Dag, Descendants) {
    Dag dag;
    auto a = dag.add_node("a"), b = dag.add_node("b"), c = dag.add_node("c"), d = dag.add_node("d");
    dag.add_edge(a, b);
    dag.add_edge(b, c);
    dag.add_edge(a, b);  // duplicate ignored
    EXPECT_EQ(dag.descendants(a), (std::vector<std::size_t>{b, c}));
    EXPECT_TRUE(dag.descendants(d).empty());
    EXPECT_EQ(dag.successors(a).size(), 1u);
}

}  // namespace
}  // namespace virtform
