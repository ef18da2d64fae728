// In-process benchmark of the pure pipeline on a large manifest:
//
//   plan_bench FILE...      # e.g. bench/make_big_lab.py 10000 > lab.yaml
//
// reads the files, loads them (validation included), plans against an empty
// host (what `plan` does for a lab that does not exist yet, without a
// connection) and renders the plan as text and JSON. Prints the seconds of each
// phase and the plan's summary on one line, for bench/bench_loader.sh.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "virtform/manifest.h"
#include "virtform/plan.h"
#include "virtform/render.h"

int main(int argc, char** argv) {
    using Clock = std::chrono::steady_clock;
    auto seconds = [](Clock::time_point a, Clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    };
    std::vector<std::string> paths(argv + 1, argv + argc);
    if (paths.empty()) {
        std::fprintf(stderr, "usage: plan_bench FILE...\n");
        return 2;
    }
    try {
        const auto t0 = Clock::now();
        virtform::Diagnostics diags;
        const auto sources = virtform::read_manifest_sources(paths, diags);
        diags.throw_if_any();
        const auto t1 = Clock::now();
        const virtform::Desired desired = virtform::load_manifests(sources);
        const auto t2 = Clock::now();
        const virtform::Plan plan = virtform::make_plan(desired, virtform::Live{});
        const auto t3 = Clock::now();
        const std::string text = virtform::render_plan_text(plan);
        const std::string json = virtform::plan_to_json(plan).dump(2);
        const auto t4 = Clock::now();
        std::printf("read %.3f load %.3f plan %.3f render %.3f total %.3f actions %zu bytes %zu\n",
                    seconds(t0, t1), seconds(t1, t2), seconds(t2, t3), seconds(t3, t4),
                    seconds(t0, t4), plan.actions.size(), text.size() + json.size());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
