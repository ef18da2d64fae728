#include <fmt/format.h>

#include <future>
#include <iostream>
#include <optional>

#include "common.h"
#include "multi_host.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/adapters/libvirt/connect.h"
#include "virtform/diag.h"
#include "virtform/fingerprint.h"
#include "virtform/render.h"
#include "virtform/targets.h"

namespace virtform::cli {

int cmd_plan(const GlobalOptions& g, const ManifestOptions& m, const PlanOptionsCli& o) {
    // What libvirt shows of this host does not depend on the manifests: it is
    // read in a thread while they load (on 2 cores, libvirtd answers while the
    // YAML is parsed). Not for another host: connecting there may take long,
    // and a manifest error must not wait for it. Nothing is touched either way.
    std::future<libvirt::HostSnapshot> early;
    if (libvirt::remote_host_of(g.uri).empty()) {
        early = std::async(std::launch::async,
                           [uri = g.uri] { return libvirt::HostSnapshot(uri, false); });
    }
    const auto sources = manifest_sources(m);
    const Desired desired = load_manifests(sources, manifest_vars(m));
    std::optional<libvirt::HostSnapshot> snapshot;
    if (!desired.hosts.empty()) {
        // The local host's part: a failed early read is its failure alone there.
        if (early.valid()) {
            try {
                snapshot.emplace(early.get());
            } catch (const std::exception&) {
                // Read again (and fail, naming the host) in its own thread.
            }
        }
        return plan_hosts(g, desired, o, std::move(snapshot));
    }
    check_files(desired, g.uri);
    if (early.valid()) snapshot.emplace(early.get());
    auto provider = connect(g, desired, false, false, std::move(snapshot));
    PlanOptions popts;
    popts.targets = parse_targets(o.targets);
    for (const auto& id : parse_targets(o.adopt, "--adopt")) popts.adopt.insert(id);
    popts.last_applied = host::read_applied_record(g.uri, desired.lab);
    const Live live = provider->read();
    const Plan plan = make_plan(desired, live, popts);
    const OutputFormat format = output_format(o.format, o.json);
    if (format == OutputFormat::json) {
        std::cout << plan_to_json(plan).dump(2) << "\n";
    } else if (format == OutputFormat::markdown) {
        MarkdownOptions md;
        md.max_actions = o.max_actions;
        md.preamble.push_back("Host: " + markdown_code(g.uri));
        md.full_plan_hint = o.out.empty()
                                ? "Run `virtform plan --format markdown --max-actions 0` for all."
                                : "The whole plan: " +
                                      markdown_code(
                                          "virtform show --format markdown "
                                          "--max-actions 0 " +
                                          o.out) +
                                      ".";
        std::cout << render_plan_markdown(plan, md);
    } else {
        std::cout << render_plan_text(plan, TextStyle{g.color});
    }
    if (!o.out.empty()) {
        write_saved_plan(o.out, SavedPlan{g.uri, desired.lab, sources, desired.variables, o.targets,
                                          fingerprint(live, desired), plan_to_json(plan),
                                          utc_now_iso8601(), o.adopt});
        if (format == OutputFormat::text) {
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
