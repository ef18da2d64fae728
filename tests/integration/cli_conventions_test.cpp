// The CLI behaves like the tools its users know (issue 10): flags anywhere
// and from VIRTFORM_*, libvirt's own default URI, one JSON document on stdout
// for every command, exit codes 0/1/2 with "did you mean", manifest discovery
// and stdin, durations, heartbeats, colour, hints, completions and man page.
// Most cases run against libvirt's test driver (test:///default: a fresh,
// private host per process); one drives the real libvirtd.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());
const std::string kBin = VIRTFORM_BINARY;

/// `sh -c` with the binary as $VF and the environment prefix `env`.
CommandResult vf_sh(const std::string& env, const std::string& args) {
    return sh(env + " " + kBin + " " + args);
}

/// Parses stdout as exactly one JSON document (nlohmann refuses trailing text).
nlohmann::json one_json(const CommandResult& r) {
    try {
        return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "stdout is not one JSON document: " << e.what() << "\n" << r.describe();
        return nullptr;
    }
}

class CliConventionsTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::filesystem::permissions(dir_.path(), std::filesystem::perms(0755));
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove("/var/lib/virtform/state/" + lab() + "@test____default.json", ec);
    }
    std::string lab() const { return "vf-it-" + std::to_string(kPid) + "-cli"; }
    std::string net_manifest(const std::string& name = "lab.yaml") const {
        return dir_
            .write(name, "lab: " + lab() +
                             "\nnetworks:\n  n1: {mode: nat, ipv4: {address: "
                             "10.251.7.1/24}}\n")
            .string();
    }
    TempDir dir_{"vf-cli"};
};

// 5: unknown subcommands and flags say "did you mean"; usage errors exit 1.
TEST_F(CliConventionsTest, UsageErrorsExitOneAndSuggest) {
    const auto typo = virtform({"plna"});
    EXPECT_EQ(typo.code, 1) << typo.describe();
    EXPECT_THAT(typo.err, HasSubstr("'plna' is not a virtform command. Did you mean 'plan'?"));
    // (`graph` was the example of a word too far from any command until it became one.)
    const auto far = virtform({"frobnicate"});
    EXPECT_EQ(far.code, 1) << far.describe();
    EXPECT_THAT(far.err, HasSubstr("'frobnicate' is not a virtform command"));
    EXPECT_THAT(far.err, Not(HasSubstr("Did you mean")));
    const auto flag = virtform({"plan", "--jsn", net_manifest()});
    EXPECT_EQ(flag.code, 1) << flag.describe();
    EXPECT_THAT(flag.err, HasSubstr("Did you mean '--json'?"));
    const auto none = virtform({});
    EXPECT_EQ(none.code, 1) << none.describe();
    const auto value = virtform({"apply", "--parallelism", "0", net_manifest()});
    EXPECT_EQ(value.code, 1) << value.describe();
}

// 3 and 7: global flags after the subcommand, from VIRTFORM_*, and the URI
// from libvirt's own default (LIBVIRT_DEFAULT_URI); the test driver plans.
TEST_F(CliConventionsTest, GlobalFlagsAnywhereAndLibvirtDefaultUri) {
    const auto file = net_manifest();
    const auto after = virtform({"plan", file, "--no-color", "-v", "--connect", "test:///default"});
    ASSERT_EQ(after.code, 0) << after.describe();
    EXPECT_THAT(after.out, HasSubstr("network.n1 will be created"));
    EXPECT_THAT(after.err, HasSubstr("libvirt URI: test:///default"));

    const auto env =
        vf_sh("LIBVIRT_DEFAULT_URI=test:///default VIRTFORM_CONNECT=", "plan -v " + file);
    ASSERT_EQ(env.code, 0) << env.describe();
    EXPECT_THAT(env.err, HasSubstr("libvirt URI: test:///default"));

    const auto vf_env = vf_sh("VIRTFORM_CONNECT=test:///default VIRTFORM_VERBOSE=1 VIRTFORM_JSON=1",
                              "status " + file);
    ASSERT_EQ(vf_env.code, 0) << vf_env.describe();
    const auto doc = one_json(vf_env);
    EXPECT_EQ(doc.value("uri", ""), "test:///default");
    EXPECT_THAT(vf_env.err, HasSubstr("info: "));
}

// 4: with --json, stdout is exactly one document with format_version, for
// every command and for errors; messages go to stderr.
TEST_F(CliConventionsTest, JsonIsOneDocumentForEveryCommand) {
    const auto file = net_manifest();
    const std::vector<std::vector<std::string>> commands = {
        {"validate", file},
        {"plan", file, "-o", (dir_.path() / "saved.plan").string()},
        {"show", (dir_.path() / "saved.plan").string()},
        {"fmt", "--check", file},
        {"apply", "--auto-approve", "--lock-timeout", "10s", file},
        {"graph", file},
        {"inventory", file},
        {"ssh-config", "--offline", file},
        {"hosts", "--file", (dir_.path() / "hosts").string(), file},  // destroy removes it
        {"destroy", "--auto-approve", file},
        {"status", file},
        {"doctor"},
        {"ssh", "-f", file, "vm1"},  // an error, as one document
        {"plan", (dir_.path() / "missing.yaml").string()},
    };
    for (auto args : commands) {
        args.push_back("--json");
        args.push_back("-c");
        args.push_back("test:///default");
        const auto r = virtform(args);
        SCOPED_TRACE(args[0]);
        const auto doc = one_json(r);
        ASSERT_TRUE(doc.is_object()) << r.describe();
        EXPECT_EQ(doc.value("format_version", ""), "1") << r.describe();
    }
    const auto bad = virtform(
        {"plan", "--json", "-c", "test:///default", (dir_.path() / "missing.yaml").string()});
    EXPECT_EQ(bad.code, 1);
    EXPECT_FALSE(one_json(bad).value("ok", true));
    const auto saved = virtform(
        {"plan", "--json", "-c", "test:///default", "-o", (dir_.path() / "p2").string(), file});
    EXPECT_THAT(saved.out, Not(HasSubstr("Saved the plan")));
    const auto apply =
        virtform({"apply", "--json", "--auto-approve", "-c", "test:///default", file});
    EXPECT_THAT(apply.err, HasSubstr("network.n1: Creating..."));
    EXPECT_EQ(one_json(apply)["summary"]["done"], 1) << apply.describe();
}

// 6: manifest discovery in the current directory, and -f - (stdin).
TEST_F(CliConventionsTest, DiscoversManifestsAndReadsStdin) {
    net_manifest("lab.yaml");
    dir_.write("notes.yml", "just: data\n");
    const auto found = sh("cd " + dir_.path().string() + " && " + kBin + " validate");
    ASSERT_EQ(found.code, 0) << found.describe();
    EXPECT_THAT(found.out, HasSubstr("lab '" + lab() + "'"));

    dir_.write("other.yaml", "lab: another\nnetworks: {}\n");
    const auto several = sh("cd " + dir_.path().string() + " && " + kBin + " validate");
    EXPECT_EQ(several.code, 1) << several.describe();
    EXPECT_THAT(several.err, HasSubstr("several labs"));

    TempDir empty("vf-cli-empty");
    const auto none = sh("cd " + empty.path().string() + " && " + kBin + " validate");
    EXPECT_EQ(none.code, 1) << none.describe();
    EXPECT_THAT(none.err, HasSubstr("no manifest given"));

    const std::string text = read_text(dir_.path() / "lab.yaml");
    const auto in = virtform({"validate", "-f", "-"}, &text);
    ASSERT_EQ(in.code, 0) << in.describe();
    EXPECT_THAT(in.out, HasSubstr("lab '" + lab() + "'"));
}

// 8 (durations): ms/s/m/h, bare seconds, negative refused.
TEST_F(CliConventionsTest, DurationsTakeUnitsAndRefuseNegative) {
    const auto file = net_manifest();
    for (const std::string ok : {"10s", "5m", "1h", "250ms", "3"}) {
        const auto r = virtform(
            {"apply", "--auto-approve", "-c", "test:///default", "--lock-timeout", ok, file});
        EXPECT_EQ(r.code, 0) << ok << "\n" << r.describe();
    }
    for (const std::string bad : {"-1", "5x", "1d"}) {
        const auto r = virtform(
            {"apply", "--auto-approve", "-c", "test:///default", "--lock-timeout=" + bad, file});
        EXPECT_EQ(r.code, 1) << bad << "\n" << r.describe();
        EXPECT_THAT(r.err, HasSubstr("not a duration")) << bad;
    }
    const auto zero =
        virtform({"apply", "--wait-ip", "--wait-timeout", "0", "-c", "test:///default", file});
    EXPECT_EQ(zero.code, 1);
    EXPECT_THAT(zero.err, HasSubstr("between 1s and 24h"));
}

// 10: colour decided once: TTY, NO_COLOR non-empty, TERM=dumb, --no-color,
// for the plan and the log lines alike.
TEST_F(CliConventionsTest, ColourDecidedOnce) {
    const auto file = net_manifest();
    auto on_tty = [&](const std::string& env, const std::string& args) {
        return sh(env + " script -qec '" + kBin + " -c test:///default plan -v " + args + " " +
                  file + "' /dev/null");
    };
    const std::string esc = "\x1b[";
    EXPECT_THAT(on_tty("TERM=xterm", "").out, HasSubstr(esc));
    EXPECT_THAT(on_tty("TERM=xterm NO_COLOR=", "").out, HasSubstr(esc))
        << "an empty NO_COLOR counts as unset";
    for (const auto& [env, args] :
         std::vector<std::pair<std::string, std::string>>{{"TERM=dumb", ""},
                                                          {"TERM=xterm NO_COLOR=1", ""},
                                                          {"TERM=xterm", "--no-color"},
                                                          {"TERM=xterm VIRTFORM_NO_COLOR=1", ""}}) {
        const auto r = on_tty(env, args);
        EXPECT_THAT(r.out, HasSubstr("info: connecting")) << env << args;
        EXPECT_THAT(r.out, Not(HasSubstr(esc))) << env << " " << args;
    }
}

// 11: permission and connection errors say what to run.
TEST_F(CliConventionsTest, HintsOnPermissionAndConnectionErrors) {
    const auto file = net_manifest();
    const std::string nobody = "setpriv --reuid=nobody --regid=nogroup --clear-groups ";
    const auto plan = sh(nobody + kBin + " -c qemu:///system plan " + file);
    EXPECT_EQ(plan.code, 1) << plan.describe();
    EXPECT_THAT(plan.err, HasSubstr("join the `libvirt` group"));
    const auto apply = sh(nobody + kBin + " -c test:///default apply --auto-approve " + file);
    EXPECT_EQ(apply.code, 1) << apply.describe();
    EXPECT_THAT(apply.err, HasSubstr("Permission denied"));
    EXPECT_THAT(apply.err, HasSubstr("run it as root"));
    const auto down = virtform({"plan", "-c", "qemu:///system?socket=/nonexistent/vf.sock", file});
    EXPECT_EQ(down.code, 1) << down.describe();
    EXPECT_THAT(down.err, HasSubstr("systemctl start libvirtd"));
}

// plan reads libvirt in a thread while the manifests load: a manifest error
// still comes first and alone, whether the daemon answers or not, and a valid
// manifest still gets the connection's error and its hint.
TEST_F(CliConventionsTest, PlanReportsManifestErrorsBeforeAnUnreachableDaemon) {
    const auto bad = dir_.write("bad.yaml", "lab: " + lab() + "\nnetworks:\n  n1: {mode: nat, bogus: 1}\n")
                         .string();
    for (const std::string uri : {"qemu:///system?socket=/nonexistent/vf.sock", "qemu:///system"}) {
        const auto plan = virtform({"plan", "-c", uri, bad});
        EXPECT_EQ(plan.code, 1) << plan.describe();
        EXPECT_THAT(plan.err, HasSubstr("bad.yaml:3:")) << uri;
        EXPECT_THAT(plan.err, HasSubstr("bogus")) << uri;
        EXPECT_THAT(plan.err, Not(HasSubstr("connect"))) << uri;
        EXPECT_EQ(plan.out, "") << uri;
    }
    const auto down = virtform({"plan", "-c", "qemu:///system?socket=/nonexistent/vf.sock",
                                net_manifest()});
    EXPECT_EQ(down.code, 1) << down.describe();
    EXPECT_THAT(down.err, HasSubstr("connect to libvirt at qemu:///system?socket=/nonexistent"));
    EXPECT_THAT(down.err, HasSubstr("systemctl start libvirtd"));
}

// 12: completions and man page from the one CLI definition; --version.
TEST_F(CliConventionsTest, CompletionManPageAndVersion) {
    const auto version = virtform({"--version"});
    EXPECT_EQ(version.code, 0);
    EXPECT_TRUE(std::regex_search(version.out, std::regex(R"(^virtform \d+\.\d+\.\d+)")))
        << version.out;
    if (std::filesystem::exists(std::string(VIRTFORM_SOURCE_DIR) + "/.git")) {
        EXPECT_THAT(version.out, HasSubstr("(git "));
    }
    const auto bash = virtform({"completion", "bash"});
    ASSERT_EQ(bash.code, 0);
    dir_.write("c.bash", bash.out);
    EXPECT_EQ(sh("bash -n " + (dir_.path() / "c.bash").string()).code, 0);
    // Completing "virtform pl" in bash offers plan.
    const auto offered =
        sh("bash -c 'source " + (dir_.path() / "c.bash").string() +
           "; COMP_WORDS=(virtform pl); COMP_CWORD=1; _virtform; echo ${COMPREPLY[@]}'");
    EXPECT_EQ(trim(offered.out), "plan") << offered.describe();
    const auto opts =
        sh("bash -c 'source " + (dir_.path() / "c.bash").string() +
           "; COMP_WORDS=(virtform apply --wait-); COMP_CWORD=2; _virtform; echo ${COMPREPLY[@]}'");
    EXPECT_THAT(opts.out, HasSubstr("--wait-ip"));
    EXPECT_THAT(opts.out, HasSubstr("--wait-timeout"));
    for (const std::string shell : {"zsh", "fish"}) {
        const auto r = virtform({"completion", shell});
        EXPECT_EQ(r.code, 0);
        for (const std::string cmd : {"validate", "plan", "apply", "destroy", "status", "doctor"}) {
            EXPECT_THAT(r.out, HasSubstr(cmd)) << shell;
        }
        EXPECT_THAT(r.out, HasSubstr("detailed-exitcode")) << shell;
    }
    const auto man = virtform({"man"});
    EXPECT_THAT(man.out, HasSubstr(".TH VIRTFORM 1"));
    EXPECT_THAT(man.out, HasSubstr(".SS destroy"));
    dir_.write("virtform.1", man.out);
    const auto rendered =
        sh("MANWIDTH=100 man -l " + (dir_.path() / "virtform.1").string() + " 2>&1 | col -b");
    EXPECT_THAT(rendered.out, HasSubstr("--lock-timeout")) << rendered.describe();
}

// 2 and 13: the README's example is its own lab; docs exist and stay inside the repository.
TEST_F(CliConventionsTest, DocsAreTrue) {
    const std::string src = VIRTFORM_SOURCE_DIR;
    const std::string readme = read_text(src + "/README.md");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(readme, m, std::regex(R"(\nlab: ([a-z0-9-]+))")));
    for (const auto& f : {"/manifests/nat-lab.yaml", "/manifests/bridge-lab.yaml"}) {
        EXPECT_EQ(read_text(src + f).find("lab: " + m[1].str() + "\n"), std::string::npos)
            << f << " uses the README example's lab name " << m[1].str();
    }
    EXPECT_TRUE(std::filesystem::exists(src + "/docs/topologies.md"));
    EXPECT_EQ(read_text(src + "/docs/architecture.md").find("/work/"), std::string::npos);
    const std::string json = read_text(src + "/docs/json.md");
    for (const std::string cmd :
         {"validate", "plan", "apply", "destroy", "status", "show", "fmt", "doctor"}) {
        EXPECT_NE(json.find("virtform " + cmd), std::string::npos) << cmd;
    }
    EXPECT_NE(read_text(src + "/docs/manifest.md").find("e1000"), std::string::npos)
        << "docs/manifest.md lists the NIC models";
}

// 4 (--wait-ip, restart note), 9 (heartbeats, "Destroy complete!") on the
// real libvirtd: a NAT network and a VM with no OS (it runs, never gets an address).
TEST_F(CliConventionsTest, RealLabJsonWaitIpNotesHeartbeatsAndDestroy) {
    const std::string net = "vfit-" + std::to_string(kPid) + "-cc";
    const std::string vm = lab() + "-vm";
    const std::string subnet =
        "10.2" + std::to_string(10 + kPid % 40) + "." + std::to_string(kPid % 250);
    auto write = [&](const std::string& model, const std::string& state) {
        return dir_
            .write(
                "real.yaml",
                "lab: " + lab() + "\nnetworks:\n  " + net +
                    ": {mode: nat, ipv4: {address: " + subnet + ".1/24}}\nvms:\n  " + vm +
                    ":\n    cpus: 1\n    memory: 64MiB\n    accel: qemu\n    shutdown_timeout: 2\n"
                    "    nics: [{network: " +
                    net + ", model: " + model + "}]\n    state: " + state + "\n")
            .string();
    };
    struct Cleanup {
        std::string vm, net, lab;
        ~Cleanup() {
            virsh("destroy " + vm + " >/dev/null 2>&1");
            virsh("undefine " + vm + " >/dev/null 2>&1");
            virsh("net-destroy " + net + " >/dev/null 2>&1");
            virsh("net-undefine " + net + " >/dev/null 2>&1");
            std::error_code ec;
            for (const auto& e :
                 std::filesystem::directory_iterator("/var/lib/virtform/state", ec)) {
                if (e.path().filename().string().rfind(lab + "@", 0) == 0)
                    std::filesystem::remove(e.path(), ec);
            }
        }
    } cleanup{vm, net, lab()};
    const std::string uri = std::string(" -c ") + connect_uri() + " ";

    auto file = write("virtio", "running");
    const auto waited =
        vf_sh("VIRTFORM_HEARTBEAT_INTERVAL=200ms",
              uri + "apply --json --auto-approve --wait-ip --wait-timeout 2s " + file);
    EXPECT_EQ(waited.code, 1) << waited.describe();  // no address: the VM has no OS
    auto doc = one_json(waited);
    EXPECT_EQ(doc.value("format_version", ""), "1");
    EXPECT_EQ(doc["addresses_missing"], nlohmann::json::array({vm})) << waited.describe();
    EXPECT_THAT(waited.err, HasSubstr("Waiting up to 2s"));
    // Every action that ran longer than the interval said so.
    for (const auto& r : doc["results"]) {
        if (r["seconds"].get<double>() >= 0.3) {
            EXPECT_THAT(waited.err, HasSubstr(r["address"].get<std::string>() +
                                              ": Still creating... [200ms elapsed]"));
        }
    }

    file = write("e1000", "running");  // a changed NIC: restart class; VM keeps running
    const auto noted = virtform({"-c", connect_uri(), "apply", "--json", "--auto-approve", file});
    EXPECT_EQ(noted.code, 0) << noted.describe();
    EXPECT_EQ(one_json(noted).value("format_version", ""), "1");
    EXPECT_THAT(noted.err, HasSubstr("note:"));

    const auto status = virtform({"status", "--json", "-c", connect_uri(), file});
    const auto st = one_json(status);
    EXPECT_EQ(st.value("lab", ""), lab()) << status.describe();

    file = write("e1000", "stopped");  // no OS answers ACPI: stopping takes shutdown_timeout (2s)
    const auto stop =
        vf_sh("VIRTFORM_HEARTBEAT_INTERVAL=500ms", uri + "apply --auto-approve " + file);
    EXPECT_EQ(stop.code, 0) << stop.describe();
    EXPECT_THAT(stop.err, HasSubstr("vm." + vm + ": Still modifying... [500ms elapsed]"));
    EXPECT_THAT(stop.err, HasSubstr("vm." + vm + ": Still modifying... [1s elapsed]"));
    EXPECT_THAT(stop.out, HasSubstr("Apply complete!"));
    EXPECT_THAT(stop.out, Not(HasSubstr("Modifying...")));  // progress is on stderr

    const auto destroy = virtform({"destroy", "--auto-approve", "-c", connect_uri(), file});
    EXPECT_EQ(destroy.code, 0) << destroy.describe();
    EXPECT_THAT(destroy.out, HasSubstr("Destroy complete! Resources: 2 destroyed."));
    EXPECT_THAT(destroy.out, Not(HasSubstr("Apply complete")));
}

}  // namespace
}  // namespace virtform::testing
