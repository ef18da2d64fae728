// virtform's command line: parses arguments, wires the adapters to the core,
// and is the only place that prints.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "common.h"
#include "help_gen.h"
#include "version.h"
#include "virtform/adapters/libvirt/connect.h"
#include "virtform/diag.h"

namespace {

using namespace virtform::cli;

std::vector<std::string> visible_commands(const CLI::App& app) {
    std::vector<std::string> names;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        if (!sub->get_group().empty()) names.push_back(sub->get_name());
    }
    return names;
}

std::vector<std::string> option_names(const CLI::App& app) {
    std::vector<std::string> names;
    for (const auto* opt : app.get_options()) {
        for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
        for (const auto& s : opt->get_snames()) names.push_back("-" + s);
    }
    return names;
}

/// A usage error, said the way a user can act on: the unknown command or
/// flag with a "did you mean", then where help is. Always exit 1.
int usage_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
    const auto commands = visible_commands(app);
    std::vector<std::string> all_commands;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        all_commands.push_back(sub->get_name());
    }
    // The command word: the first argument that is neither an option nor the
    // value of a global option that takes one.
    std::string word;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") break;
        if (a.rfind('-', 0) == 0) {
            if ((a == "-c" || a == "--connect" || a == "--heartbeat-interval") && i + 1 < argc) ++i;
            continue;
        }
        word = a;
        break;
    }
    if (!word.empty() &&
        std::find(all_commands.begin(), all_commands.end(), word) == all_commands.end()) {
        const std::string guess = virtform::closest_match(word, commands);
        std::cerr << fmt::format("error: '{}' is not a virtform command.", word);
        if (!guess.empty()) std::cerr << fmt::format(" Did you mean '{}'?", guess);
        std::cerr << fmt::format("\nCommands: {}. See 'virtform --help'.\n",
                                 fmt::join(commands, ", "));
        return 1;
    }
    const CLI::App* sub = nullptr;
    if (!word.empty()) sub = app.get_subcommand(word);
    std::vector<std::string> known = option_names(app);
    if (sub != nullptr) {
        const auto more = option_names(*sub);
        known.insert(known.end(), more.begin(), more.end());
    }
    bool said = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") break;
        if (a.rfind('-', 0) != 0 || a == "-") continue;
        a = a.substr(0, a.find('='));
        if (a.rfind("--", 0) != 0 && a.size() > 2) a = a.substr(0, 2);  // -vv, -cURI
        if (std::find(known.begin(), known.end(), a) != known.end()) continue;
        const std::string guess = virtform::closest_match(a, known);
        std::cerr << fmt::format("error: unknown option '{}'", a);
        if (sub != nullptr) std::cerr << fmt::format(" for 'virtform {}'", word);
        std::cerr << (guess.empty() ? std::string(".") : fmt::format(". Did you mean '{}'?", guess))
                  << "\n";
        said = true;
    }
    if (!said) std::cerr << "error: " << e.what() << "\n";
    std::cerr << fmt::format("See 'virtform {}--help'.\n", sub != nullptr ? word + " " : "");
    return 1;
}

/// Colour is decided once, here, for the plan renderer (stdout) and the log
/// sink (stderr) alike: never with --no-color, a non-empty NO_COLOR
/// (https://no-color.org: an empty one does not count) or TERM=dumb; else on
/// whichever stream is a terminal.
struct ColorChoice {
    bool out = false;
    bool err = false;
};
ColorChoice decide_color(bool no_color) {
    const char* nc = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    const bool allowed = !no_color && !(nc != nullptr && *nc != '\0') &&
                         !(term != nullptr && std::string(term) == "dumb");
    return {allowed && isatty(STDOUT_FILENO) != 0, allowed && isatty(STDERR_FILENO) != 0};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "virtform: declarative KVM labs. Describe networks (and VMs, bridges) in YAML;\n"
        "`plan` shows what would change on this host, `apply` makes it so, `destroy` removes\n"
        "everything the lab owns. Objects without the lab's mark are never touched.\n"
        "Without manifest arguments, the *.yaml/*.yml files of the current directory that\n"
        "hold a top-level `lab:` key are used.\n\n"
        "  virtform validate lab.yaml\n"
        "  virtform plan lab.yaml\n"
        "  virtform apply --auto-approve lab.yaml\n"
        "  virtform destroy --auto-approve lab.yaml\n",
        "virtform"};
    app.require_subcommand(1);
    // Global options are accepted after the subcommand too: a subcommand
    // passes what it does not know up to here.
    app.fallthrough();
    app.set_version_flag("--version", VIRTFORM_VERSION_STRING);
    app.footer(
        "Global options may also follow the command (virtform plan -v --no-color). Each reads\n"
        "VIRTFORM_<NAME> from the environment (VIRTFORM_CONNECT, VIRTFORM_VERBOSE,\n"
        "VIRTFORM_NO_COLOR, VIRTFORM_JSON). Exit status: 0 success, 1 error (fmt --check: files\n"
        "to format), 2 changes present (plan --detailed-exitcode), 130/143 interrupted\n"
        "(docs/cli.md). Durations: 30 (seconds), 250ms, 10s, 5m, 1h.");

    GlobalOptions global;
    bool json = false;
    std::string heartbeat = "10s";
    app.add_option("-c,--connect", global.uri,
                   "libvirt URI (default: libvirt's own: LIBVIRT_DEFAULT_URI, uri_default in "
                   "libvirt.conf, else qemu:///system as root)")
        ->envname("VIRTFORM_CONNECT");
    app.add_flag("-v,--verbose", global.verbosity, "more log output on stderr (-vv for debug)")
        ->envname("VIRTFORM_VERBOSE");
    app.add_flag("--no-color", global.no_color, "plain output even on a terminal")
        ->envname("VIRTFORM_NO_COLOR");
    app.add_flag("--json", json,
                 "print one JSON document on stdout (docs/json.md); messages go to stderr")
        ->envname("VIRTFORM_JSON");
    app.add_option("--heartbeat-interval", heartbeat,
                   "how often a long action says it is still running (default 10s)")
        ->envname("VIRTFORM_HEARTBEAT_INTERVAL")
        ->group("");

    ManifestOptions manifests;
    auto add_manifest_options = [&](CLI::App* sub) {
        sub->add_option("-f,--file", manifests.paths,
                        "manifest file or directory (repeatable; - reads standard input)");
        sub->add_option("--var", manifests.vars,
                        "NAME=VALUE for ${NAME} in the manifests (repeatable; wins over the "
                        "environment)")
            ->allow_extra_args(false);
        sub->add_option("manifests", manifests.positional,
                        "manifest files or directories (default: the labs' *.yaml here)");
    };

    auto* validate =
        app.add_subcommand("validate", "check manifests without connecting to libvirt");
    add_manifest_options(validate);

    PlanOptionsCli plan_opts;
    auto* plan = app.add_subcommand("plan", "show what apply would change");
    add_manifest_options(plan);
    plan->add_flag("--detailed-exitcode", plan_opts.detailed_exitcode,
                   "exit 0 when nothing would change, 2 when something would, 1 on error");
    plan->add_option("-o,--out", plan_opts.out, "save the plan to FILE for `virtform apply FILE`");
    plan->add_option("--format", plan_opts.format,
                     "text (default), json (as --json) or markdown (a review comment)")
        ->check(CLI::IsMember({"text", "json", "markdown"}));
    plan->add_option("--max-actions", plan_opts.max_actions,
                     "markdown: list at most N actions, then \"N more\" (default 50; 0: all)");
    plan->add_option("--adopt", plan_opts.adopt,
                     "show adopting the unmarked object KIND.NAME as the lab's (repeatable)")
        ->allow_extra_args(false);
    plan->add_option("--target", plan_opts.targets,
                     "plan only KIND.NAME and what it needs (repeatable)")
        ->allow_extra_args(false);

    ApplyOptionsCli apply_opts;
    std::string apply_lock_timeout = "0", apply_wait_timeout = "300";
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
    apply
        ->add_option("--adopt", apply_opts.adopt,
                     "make the existing unmarked object KIND.NAME the lab's, after showing the "
                     "diff (repeatable; see docs/export.md)")
        ->allow_extra_args(false);
    apply->add_flag(
        "--allow-restart", apply_opts.allow_restart,
        "restart running VMs whose change needs it (otherwise it waits for their next boot)");
    apply->add_option("--lock-timeout", apply_lock_timeout,
                      "how long to wait for another apply/destroy of the lab, e.g. 10s, 5m "
                      "(default 0: fail at once)");
    apply->add_flag("--force", apply_opts.force,
                    "delete bridges and networks that VMs or ports outside the lab still use");
    apply->add_flag("--no-rollback", apply_opts.no_rollback,
                    "experts: keep an address take-over even when the gateway stops answering");
    apply->add_flag("--wait-ip", apply_opts.wait_ip,
                    "wait until every running VM has an address; print them");
    apply->add_option("--wait-timeout", apply_wait_timeout,
                      "how long --wait-ip waits, e.g. 90s, 5m (default 5m; at most 24h)");

    ApplyOptionsCli destroy_opts;
    destroy_opts.destroy = true;
    std::string destroy_lock_timeout = "0";
    auto* destroy = app.add_subcommand("destroy", "remove everything the lab owns");
    add_manifest_options(destroy);
    destroy->add_flag("--auto-approve", destroy_opts.auto_approve, "do not ask for confirmation");
    destroy->add_flag("--force", destroy_opts.force,
                      "delete bridges and networks that VMs or ports outside the lab still use");
    destroy->add_option("--lock-timeout", destroy_lock_timeout,
                        "how long to wait for another apply/destroy of the lab, e.g. 10s, 5m "
                        "(default 0: fail at once)");
    destroy
        ->add_option("--parallelism", destroy_opts.parallelism, "actions run at once (default 4)")
        ->check(CLI::Range(1, 64));

    auto* status =
        app.add_subcommand("status", "list the lab's objects, their state, drift and addresses");
    add_manifest_options(status);

    ShowOptionsCli show_opts;
    auto* show = app.add_subcommand(
        "show", "print a saved plan, and whether the host changed since it was made");
    show->add_option("planfile", show_opts.plan_file, "a plan saved by `virtform plan -o FILE`")
        ->required();
    show->add_option("--format", show_opts.format, "text (default), json (as --json) or markdown")
        ->check(CLI::IsMember({"text", "json", "markdown"}));
    show->add_option("--max-actions", show_opts.max_actions,
                     "markdown: list at most N actions, then \"N more\" (default 50; 0: all)");

    FmtOptionsCli fmt_opts;
    auto* fmt_cmd = app.add_subcommand(
        "fmt", "rewrite manifests in the canonical layout (key order, indentation)");
    fmt_cmd->add_flag("--check", fmt_opts.check,
                      "change nothing; list the files that would change and exit 1 if any");
    fmt_cmd->add_flag("--diff", fmt_opts.diff, "print each change as a unified diff");
    fmt_cmd->add_option("files", fmt_opts.paths,
                        "manifest files or directories, - for standard input (default: the "
                        "labs' *.yaml here)");
    SnapshotOptionsCli snapshot_opts;
    auto* snapshot = app.add_subcommand(
        "snapshot", "whole-lab snapshots: create, list, revert, delete (every VM at once)");
    snapshot->require_subcommand(1);
    snapshot->fallthrough();
    const std::vector<std::pair<const char*, const char*>> snapshot_actions = {
        {"create", "snapshot every VM of the lab (and record its networks) as NAME"},
        {"list", "list the lab's snapshots"},
        {"revert", "put every VM and network of the lab back as snapshot NAME has them"},
        {"delete", "delete snapshot NAME of every VM of the lab"}};
    for (const auto& [action, help] : snapshot_actions) {
        auto* sub = snapshot->add_subcommand(action, help);
        sub->fallthrough();
        if (std::string(action) != "list")
            sub->add_option("name", snapshot_opts.name, "the snapshot's name")->required();
        add_manifest_options(sub);
        sub->callback([&snapshot_opts, a = std::string(action)] { snapshot_opts.action = a; });
    }

    ExportOptionsCli export_opts;
    auto* export_cmd = app.add_subcommand(
        "export", "write a manifest for objects made by hand (virsh, virt-manager)");
    export_cmd->add_option("objects", export_opts.objects, "KIND.NAME of each object (vm.web1)");
    export_cmd->add_flag("--all-unowned", export_opts.all_unowned,
                         "every VM, network, pool and bridge without a virtform mark");
    export_cmd->add_option("-o,--out", export_opts.out, "write the manifest to FILE");
    export_cmd->add_option("--lab", export_opts.lab,
                           "the lab the manifest declares (default "
                           "'exported')");

    auto* doctor =
        app.add_subcommand("doctor", "can this host run a lab, and how? (KVM, libvirt, QEMU, ...)");

    auto* schema = app.add_subcommand(
        "schema", "print the manifest's JSON Schema (for editors; docs/virtform.schema.json)");
    // Only -f for commands whose positional argument is a VM.
    auto add_file_option = [&](CLI::App* sub) {
        // One value per -f: the VM name that follows is not a manifest.
        sub->add_option("-f,--file", manifests.paths,
                        "manifest file or directory (repeatable; default: the lab's *.yaml here)")
            ->allow_extra_args(false);
    };

    GraphOptions graph_opts;
    auto* graph = app.add_subcommand(
        "graph", "draw the lab's topology: uplink, bridges, networks, VMs and their NICs");
    add_manifest_options(graph);
    graph->add_option("--format", graph_opts.format, "dot (default), mermaid, svg or html")
        ->check(CLI::IsMember({"dot", "mermaid", "svg", "html"}));
    graph->add_flag("--offline", graph_opts.offline,
                    "draw from the manifests alone, without connecting to the host");
    graph->add_option("-o,--out", graph_opts.out, "write to FILE instead of standard output");

    AccessOptions inventory_opts;
    auto* inventory =
        app.add_subcommand("inventory", "print an Ansible YAML inventory of the lab's VMs");
    add_manifest_options(inventory);
    inventory->add_flag("--offline", inventory_opts.offline,
                        "addresses from the manifests' DHCP host entries only");
    inventory->add_option("-o,--out", inventory_opts.out,
                          "write to FILE instead of standard output");

    AccessOptions ssh_config_opts;
    auto* ssh_config = app.add_subcommand("ssh-config", "print Host blocks for `ssh -F FILE VM`");
    add_manifest_options(ssh_config);
    ssh_config->add_flag("--offline", ssh_config_opts.offline,
                         "addresses from the manifests' DHCP host entries only");
    ssh_config->add_option("-o,--out", ssh_config_opts.out,
                           "write to FILE instead of standard output");

    HostsOptions hosts_opts;
    auto* hosts = app.add_subcommand(
        "hosts", "write the lab's VMs into a marked block of /etc/hosts (destroy removes it)");
    // --file names the hosts file here; the manifests are positional.
    hosts->add_option("manifests", manifests.positional,
                      "manifest files or directories (default: the lab's *.yaml here)");
    hosts->add_option("--file", hosts_opts.file, "the hosts file (default /etc/hosts)");
    hosts->add_flag("--remove", hosts_opts.remove, "remove the lab's block instead");
    hosts->add_flag("--offline", hosts_opts.offline,
                    "addresses from the manifests' DHCP host entries only");

    SshOptions ssh_opts;
    auto* ssh = app.add_subcommand(
        "ssh", "ssh into a VM at its discovered address (virtform ssh VM [-- CMD...])");
    add_file_option(ssh);
    ssh->add_option("vm", ssh_opts.vm, "the VM")->required();
    ssh->add_option("command", ssh_opts.command, "command to run there (after --)");
    ssh->add_flag("--dry-run", ssh_opts.dry_run,
                  "print the ssh command line instead of running it");

    std::string console_vm;
    auto* console = app.add_subcommand(
        "console", "attach to a VM's serial console (Ctrl-] leaves); follows a console file");
    add_file_option(console);
    console->add_option("vm", console_vm, "the VM")->required();

    for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
        sub->footer(
            "Global options work here too: -c/--connect URI, -v, --no-color, --json (see "
            "virtform --help).");
    }

    // Generated from this very definition; the build installs their output.
    std::string shell;
    auto* completion = app.add_subcommand("completion", "print a shell completion script");
    completion->group("");
    completion->add_option("shell", shell, "bash, zsh or fish")
        ->required()
        ->check(CLI::IsMember({"bash", "zsh", "fish"}));
    auto* man = app.add_subcommand("man", "print the man page (roff)");
    man->group("");

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return usage_error(app, e, argc, argv);
    }

    if (*completion) {
        std::cout << completion_script(app, shell);
        return 0;
    }
    if (*man) {
        std::cout << man_page(app, VIRTFORM_VERSION);
        return 0;
    }

    const ColorChoice color = decide_color(global.no_color);
    global.color = color.out;
    auto logger = spdlog::stderr_color_mt(
        "virtform", color.err ? spdlog::color_mode::always : spdlog::color_mode::never);
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%^%l%$: %v");
    spdlog::set_level(global.verbosity >= 2   ? spdlog::level::debug
                      : global.verbosity == 1 ? spdlog::level::info
                                              : spdlog::level::warn);

    plan_opts.json = apply_opts.json = destroy_opts.json = show_opts.json = fmt_opts.json = json;
    return run_guarded(
        [&] {
            global.heartbeat = parse_duration(heartbeat, "--heartbeat-interval");
            apply_opts.lock_timeout = parse_duration(apply_lock_timeout, "--lock-timeout");
            destroy_opts.lock_timeout = parse_duration(destroy_lock_timeout, "--lock-timeout");
            apply_opts.wait_timeout = parse_duration(apply_wait_timeout, "--wait-timeout");
            constexpr auto day = std::chrono::hours(24);
            if (apply_opts.lock_timeout > day || destroy_opts.lock_timeout > day) {
                throw virtform::Error("--lock-timeout: at most 24h");
            }
            if (apply_opts.wait_timeout < std::chrono::seconds(1) ||
                apply_opts.wait_timeout > day) {
                throw virtform::Error(
                    fmt::format("--wait-timeout '{}': between 1s and 24h", apply_wait_timeout));
            }
            if (*validate) return cmd_validate(global, manifests, json);
            if (*schema) return cmd_schema();
            if (*fmt_cmd) return cmd_fmt(fmt_opts);
            // Checks the plan against the user's own URI (never one read from the file).
            if (*show) return cmd_show(global, show_opts);
            if (*doctor) {
                if (global.uri.empty()) {
                    try {
                        global.uri = virtform::libvirt::resolve_uri("");
                    } catch (const virtform::Error&) {
                        global.uri = "qemu:///system";  // the doctor reports what fails there
                    }
                }
                return cmd_doctor(global, json);
            }
            // Resolves the URI itself, while the manifests load.
            if (*plan) return cmd_plan(global, manifests, plan_opts);
            // The lock and the drift record are keyed by the URI libvirt chose.
            if (global.uri.empty()) global.uri = virtform::libvirt::resolve_uri("");
            spdlog::info("libvirt URI: {}", global.uri);
            if (*apply) return cmd_apply(global, manifests, apply_opts);
            if (*destroy) return cmd_destroy(global, manifests, destroy_opts);
            if (*status) return cmd_status(global, manifests, json);
            if (*graph) return cmd_graph(global, manifests, graph_opts, json);
            if (*inventory) return cmd_inventory(global, manifests, inventory_opts, json);
            if (*ssh_config) return cmd_ssh_config(global, manifests, ssh_config_opts, json);
            if (*hosts) return cmd_hosts(global, manifests, hosts_opts, json);
            if (*ssh || *console) {
                if (json) throw virtform::Error("--json: not for an interactive command");
                return *ssh ? cmd_ssh(global, manifests, ssh_opts)
                            : cmd_console(global, manifests, console_vm);
            }
            if (*export_cmd) return cmd_export(global, export_opts, json);
            if (*snapshot) return cmd_snapshot(global, manifests, snapshot_opts, json);
            return 1;
        },
        json);
}
