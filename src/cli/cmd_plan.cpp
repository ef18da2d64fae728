#include <fmt/format.h>

#include <iostream>

#include "common.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/diag.h"
#include "virtform/fingerprint.h"
#include "virtform/render.h"
#include "virtform/targets.h"

namespace virtform::cli {

int cmd_plan(const GlobalOptions& g, const ManifestOptions& m, const PlanOptionsCli& o) {
    const auto sources = manifest_sources(m);
    const Desired desired = load_manifests(sources);
    check_files(desired);
    auto provider = connect(g, desired);
    PlanOptions popts;
    popts.targets = parse_targets(o.targets);
    for (const auto& id : parse_targets(o.adopt, "--adopt")) popts.adopt.insert(id);
    popts.last_applied = host::read_applied_record(g.uri, desired.lab);
    const Live live = provider->read();
    const Plan plan = make_plan(desired, live, popts);
    if (o.json) {
        std::cout << plan_to_json(plan).dump(2) << "\n";
    } else {
        std::cout << render_plan_text(plan, TextStyle{g.color});
    }
    if (!o.out.empty()) {
        write_saved_plan(o.out, SavedPlan{g.uri, desired.lab, sources, o.targets,
                                          fingerprint(live, desired), plan_to_json(plan), o.adopt});
        if (!o.json) {
            std::cerr << fmt::format(
                "\nSaved the plan to {}. `virtform apply {}` carries out exactly "
                "this plan, and refuses if the host changes first.\n",
                o.out, o.out);
        }
    }
    print_stats(*provider);
    if (o.detailed_exitcode && !plan.empty()) return 2;
    return 0;
}

}  // namespace virtform::cli
