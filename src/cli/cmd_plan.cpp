#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <future>
#include <iostream>
#include <map>
#include <optional>

#include "common.h"
#include "multi_host.h"
#include "thread_elsewhere.h"
#include "virtform/adapters/host/applied_record.h"
#include "virtform/adapters/libvirt/connect.h"
#include "virtform/diag.h"
#include "virtform/fingerprint.h"
#include "virtform/render.h"
#include "virtform/targets.h"

namespace virtform::cli {

namespace {

/// What `plan` reads of this host while the manifests load (it does not
/// depend on them): libvirt's objects, read in a thread, which also resolves
/// the URI (libvirt's default needs a connection, which the read then uses).
/// Another host is only connected to: reading it may take long, and is left
/// to the provider. A failure is kept for the caller, who reports a manifest
/// error first.
struct HostRead {
    std::optional<libvirt::HostSnapshot> libvirt;
    std::exception_ptr error;
};

HostRead read_libvirt(const std::string& uri, std::promise<std::string>& resolved) {
    HostRead r;
    bool told = false;
    try {
        const std::string chosen = libvirt::resolve_uri(uri);
        resolved.set_value(chosen);
        told = true;
        spdlog::info("libvirt URI: {}", chosen);
        if (libvirt::remote_host_of(chosen).empty()) r.libvirt.emplace(chosen, false);
    } catch (...) {
        r.error = std::current_exception();
        if (!told) resolved.set_value("");
    }
    return r;
}

}  // namespace

int cmd_plan(const GlobalOptions& global, const ManifestOptions& m, const PlanOptionsCli& o) {
    // libvirt is read in a thread while this one loads the manifests, then
    // reads netlink and the files the plan needs: on 2 cores, the YAML is
    // parsed while libvirtd answers. Nothing is touched.
    const auto sources = manifest_sources(m);
    const auto vars = manifest_vars(m);
    std::promise<std::string> resolved;
    std::future<std::string> uri = resolved.get_future();
    // On another CPU: the read is the longest part of a plan (thread_elsewhere.h).
    ThreadElsewhere<HostRead> reading(
        [&resolved, u = global.uri] { return read_libvirt(u, resolved); });
    const Desired desired = load_manifests(sources, vars);  // a manifest error first
    GlobalOptions g = global;
    g.uri = uri.get();
    EarlyRead early;
    if (!g.uri.empty() && libvirt::remote_host_of(g.uri).empty()) {
        try {
            early.netlink.emplace();
        } catch (const std::exception&) {
            // Read again by the provider, which fails there as it always has.
        }
    }
    // What the plan needs besides the host, while libvirtd still answers.
    std::optional<std::map<std::string, std::string>> last_applied;
    if (desired.hosts.empty() && !g.uri.empty()) {
        check_files(desired, g.uri);
        last_applied = host::read_applied_record(g.uri, desired.lab);
    }
    HostRead host = reading.get();
    early.libvirt = std::move(host.libvirt);
    if (!desired.hosts.empty()) {
        // The local host's part: a failed read is its failure alone there
        // (read again, and failing naming the host, in its own thread).
        if (g.uri.empty()) g.uri = libvirt::resolve_uri("");  // all hosts' parts need it
        return plan_hosts(g, desired, o, std::move(early));
    }
    if (host.error) std::rethrow_exception(host.error);
    auto provider = connect(g, desired, false, false, std::move(early));
    PlanOptions popts;
    popts.targets = parse_targets(o.targets);
    for (const auto& id : parse_targets(o.adopt, "--adopt")) popts.adopt.insert(id);
    popts.last_applied = std::move(last_applied);
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
