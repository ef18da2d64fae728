// virtform's command line: parses arguments, wires the adapters to the core,
// and is the only place that prints.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
    using namespace virtform::cli;
    CLI::App app{
        "virtform: declarative KVM labs. Describe networks (and VMs, bridges) in YAML;\n"
        "`plan` shows what would change on this host, `apply` makes it so, `destroy` removes\n"
        "everything the lab owns. Objects without the lab's mark are never touched.\n\n"
        "  virtform validate lab.yaml\n"
        "  virtform plan lab.yaml\n"
        "  virtform apply --auto-approve lab.yaml\n"
        "  virtform destroy --auto-approve lab.yaml\n",
        "virtform"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "virtform 0.1.0");

    GlobalOptions global;
    const char* env_uri = std::getenv("VIRTFORM_CONNECT");
    global.uri = env_uri != nullptr && *env_uri != '\0' ? env_uri : "qemu:///system";
    app.add_option("-c,--connect", global.uri,
                   "libvirt URI (default qemu:///system, or $VIRTFORM_CONNECT)");
    app.add_flag("-v,--verbose", global.verbosity, "more log output on stderr (-vv for debug)");
    app.add_flag("--no-color", global.no_color, "plain output even on a terminal");

    ManifestOptions manifests;
    auto add_manifest_options = [&](CLI::App* sub) {
        sub->add_option("-f,--file", manifests.paths, "manifest file or directory (repeatable)");
        sub->add_option("manifests", manifests.positional, "manifest files or directories");
    };

    auto* validate =
        app.add_subcommand("validate", "check manifests without connecting to libvirt");
    add_manifest_options(validate);

    PlanOptionsCli plan_opts;
    auto* plan = app.add_subcommand("plan", "show what apply would change");
    add_manifest_options(plan);
    plan->add_flag("--detailed-exitcode", plan_opts.detailed_exitcode,
                   "exit 0 when nothing would change, 2 when something would, 1 on error");
    plan->add_flag("--json", plan_opts.json, "print the plan as JSON (docs/json.md)");
    plan->add_option("-o,--out", plan_opts.out, "save the plan to FILE for `virtform apply FILE`");
    plan->add_option("--target", plan_opts.targets,
                     "plan only KIND.NAME and what it needs (repeatable)")
        ->allow_extra_args(false);

    ApplyOptionsCli apply_opts;
    auto* apply = app.add_subcommand(
        "apply", "change the host to match the manifests (or carry out a saved plan)");
    add_manifest_options(apply);
    apply->add_flag("--auto-approve", apply_opts.auto_approve, "do not ask for confirmation");
    apply->add_option("--parallelism", apply_opts.parallelism, "actions run at once (default 4)")
        ->check(CLI::Range(1, 64));
    apply
        ->add_option("--target", apply_opts.targets,
                     "apply only KIND.NAME and what it needs (repeatable)")
        ->allow_extra_args(false);
    apply->add_flag(
        "--allow-restart", apply_opts.allow_restart,
        "restart running VMs whose change needs it (otherwise it waits for their next boot)");
    apply->add_flag("--json", apply_opts.json, "print the plan and each action's outcome as JSON");
    apply->add_option(
        "--lock-timeout", apply_opts.lock_timeout,
        "seconds to wait for another apply/destroy of the lab (default: fail at once)");
    apply->add_flag("--force", apply_opts.force,
                    "delete bridges and networks that VMs or ports outside the lab still use");
    apply->add_flag("--no-rollback", apply_opts.no_rollback,
                    "experts: keep an address take-over even when the gateway stops answering");
    apply->add_flag("--wait-ip", apply_opts.wait_ip,
                    "wait until every running VM has an address; print them");
    apply
        ->add_option("--wait-timeout", apply_opts.wait_timeout,
                     "seconds --wait-ip waits (default 300)")
        ->check(CLI::Range(1, 86400));

    ApplyOptionsCli destroy_opts;
    auto* destroy = app.add_subcommand("destroy", "remove everything the lab owns");
    add_manifest_options(destroy);
    destroy->add_flag("--auto-approve", destroy_opts.auto_approve, "do not ask for confirmation");
    destroy->add_flag("--force", destroy_opts.force,
                      "delete bridges and networks that VMs or ports outside the lab still use");
    destroy->add_option(
        "--lock-timeout", destroy_opts.lock_timeout,
        "seconds to wait for another apply/destroy of the lab (default: fail at once)");
    destroy
        ->add_option("--parallelism", destroy_opts.parallelism, "actions run at once (default 4)")
        ->check(CLI::Range(1, 64));

    auto* status =
        app.add_subcommand("status", "list the lab's objects, their state, drift and addresses");
    add_manifest_options(status);

    bool doctor_json = false;
    auto* doctor =
        app.add_subcommand("doctor", "can this host run a lab, and how? (KVM, libvirt, QEMU, ...)");
    doctor->add_flag("--json", doctor_json, "print the checks as JSON");

    CLI11_PARSE(app, argc, argv);

    auto logger = spdlog::stderr_color_mt("virtform");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%^%l%$: %v");
    spdlog::set_level(global.verbosity >= 2   ? spdlog::level::debug
                      : global.verbosity == 1 ? spdlog::level::info
                                              : spdlog::level::warn);
    global.color =
        !global.no_color && isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
    manifests.paths.insert(manifests.paths.end(), manifests.positional.begin(),
                           manifests.positional.end());

    return run_guarded([&] {
        if (*validate) return cmd_validate(global, manifests);
        if (*plan) return cmd_plan(global, manifests, plan_opts);
        if (*apply) return cmd_apply(global, manifests, apply_opts);
        if (*destroy) return cmd_destroy(global, manifests, destroy_opts);
        if (*status) return cmd_status(global, manifests);
        if (*doctor) return cmd_doctor(global, doctor_json);
        return 1;
    });
}
