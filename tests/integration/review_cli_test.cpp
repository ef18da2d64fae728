// The review commands through the real CLI against the real libvirtd:
// `show PLANFILE` (text, JSON, Markdown; the host check reported, not
// refused; no secret printed; no lock taken), `plan --format markdown`, and
// `fmt` (--check, --diff, atomic rewrite keeping the mode, a plan unchanged).
//
// Names: lab vfi12-rv-<pid>, networks vfi12rv<pid>n<k>, bridges vfrv<pid%100000>b<k>,
// subnets 10.214.<pid%250>.0/26 and .64/26. TearDown removes them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());

class ReviewCli : public ::testing::Test {
protected:
    std::string lab() const { return "vfi12-rv-" + std::to_string(kPid); }
    std::string net(int k) const {
        return "vfi12rv" + std::to_string(kPid) + "n" + std::to_string(k);
    }
    std::string bridge(int k) const {
        return "vfrv" + std::to_string(kPid % 100000) + "b" + std::to_string(k);
    }
    std::string manifest_text(int range_end) const {
        const std::string s = "10.214." + std::to_string(kPid % 250) + ".";
        return "# the review lab\nlab: " + lab() + "\nnetworks:\n  " + net(1) +
               ":\n    mode: isolated\n    bridge: " + bridge(1) +
               "\n    ipv4:\n      address: " + s + "1/26\n      dhcp: {range: " + s + "10-" + s +
               std::to_string(range_end) + "}\n  " + net(2) +
               ":\n    mode: isolated\n    bridge: " + bridge(2) + "\n    ipv4: {address: " + s +
               "65/26}\n";
    }
    void TearDown() override {
        for (int k : {1, 2}) remove_network(net(k));
        sh("rm -f /var/lib/virtform/state/" + lab() + "@*.json /run/virtform/locks/" + lab() +
           "@*.lock");
    }
    TempDir dir_{"vfi12-review"};
};

TEST_F(ReviewCli, ShowRendersASavedPlanAsPlanDidAndReportsAStaleHost) {
    const auto file = dir_.write("lab.yaml", manifest_text(20));
    const auto plan_file = (dir_.path() / "lab.plan").string();
    const auto plan = virtform({"plan", "--no-color", "-o", plan_file, file.string()});
    ASSERT_EQ(plan.code, 0) << plan.describe();

    const auto show = virtform({"show", "--no-color", plan_file});
    ASSERT_EQ(show.code, 0) << show.describe();
    EXPECT_THAT(show.out, HasSubstr(plan.out)) << "show does not print the plan as plan did";
    EXPECT_THAT(show.out, HasSubstr("lab:     " + lab()));
    EXPECT_THAT(show.out, HasSubstr("host changed since: no"));
    EXPECT_THAT(show.out, ::testing::ContainsRegex("made: +20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T"));

    const auto json = virtform({"show", "--json", plan_file});
    ASSERT_EQ(json.code, 0) << json.describe();
    const auto doc = nlohmann::json::parse(json.out);
    EXPECT_EQ(doc.at("lab"), lab());
    EXPECT_EQ(doc.at("host_changed"), false);
    const auto plan_json = virtform({"plan", "--json", file.string()});
    EXPECT_EQ(doc.at("plan"), nlohmann::json::parse(plan_json.out));

    // A network made by hand on the bridge the plan wants: the plan is stale.
    const auto xml = dir_.write("hand.xml", "<network><name>" + net(2) + "</name><bridge name='" +
                                                bridge(2) + "'/></network>");
    ASSERT_EQ(virsh("net-define " + xml.string()).code, 0);
    const auto stale = virtform({"show", "--json", plan_file});
    ASSERT_EQ(stale.code, 0) << "show reports a stale plan, it does not refuse it\n"
                             << stale.describe();
    const auto sdoc = nlohmann::json::parse(stale.out);
    EXPECT_EQ(sdoc.at("host_changed"), true);
    EXPECT_THAT(sdoc.at("changes").dump(), HasSubstr("network." + net(2) + " appeared"));
    const auto md = virtform({"show", "--format", "markdown", plan_file});
    EXPECT_THAT(md.out, HasSubstr("**The host has changed since this plan was made**"));
    EXPECT_THAT(md.out, HasSubstr("network." + net(2) + " appeared"));
    // ...and apply refuses it, as show said.
    EXPECT_EQ(virtform({"apply", plan_file}).code, 1);
}

TEST_F(ReviewCli, ShowPrintsNoSecretAndReadsAPlanOthersCanRead) {
    const std::string secret = "s3cret-" + std::to_string(kPid);
    std::string text = manifest_text(20);
    text += "pools:\n  p: {path: /var/lib/virtform/pools/" + lab() + "}\nvms:\n  " + lab() +
            "-vm:\n    disks: [{name: d, pool: p, size: 32MiB}]\n    state: stopped\n"
            "    cloud_init: {user_data: \"#cloud-config\\npassword: " +
            secret + "\\n\"}\n";
    const auto file = dir_.write("lab.yaml", text);
    const auto plan_file = (dir_.path() / "lab.plan").string();
    ASSERT_EQ(virtform({"plan", "-o", plan_file, file.string()}).code, 0);
    ::chmod(plan_file.c_str(), 0644);  // e.g. kept as a CI artifact
    for (const char* format : {"text", "json", "markdown"}) {
        const auto r = virtform({"show", "--format", format, plan_file});
        EXPECT_EQ(r.code, 0) << r.describe();
        EXPECT_THAT(r.out + r.err, Not(HasSubstr(secret))) << format;
        EXPECT_THAT(r.out, HasSubstr("(sensitive)")) << format;
    }
    EXPECT_EQ(virtform({"show", file.string()}).code, 1) << "a manifest is not a saved plan";
}

TEST_F(ReviewCli, ShowNeverConnectsToTheUriInThePlanFile) {
    const auto file = dir_.write("lab.yaml", manifest_text(20));
    const auto plan_file = (dir_.path() / "lab.plan").string();
    ASSERT_EQ(virtform({"plan", "-o", plan_file, file.string()}).code, 0);
    // Someone edits the artifact: libvirt's ext transport would run a program.
    const auto marker = dir_.path() / "ran";
    const auto evil = dir_.write("evil.sh", "#!/bin/sh\ntouch " + marker.string() + "\n");
    ::chmod(evil.c_str(), 0755);
    auto doc = nlohmann::json::parse(read_text(plan_file));
    doc["uri"] = "qemu+ext:///system?command=" + evil.string();
    write_text(plan_file, doc.dump());
    const auto r = virtform({"show", "--json", plan_file});
    ASSERT_EQ(r.code, 0) << r.describe();
    EXPECT_FALSE(fs::exists(marker)) << "show connected to the URI written in the plan file";
    const auto shown = nlohmann::json::parse(r.out);
    EXPECT_TRUE(shown.at("host_changed").is_null());
    EXPECT_THAT(shown.at("check_error").get<std::string>(), HasSubstr("connects only to your own"));
    const auto text = virtform({"show", plan_file});
    EXPECT_THAT(text.out, HasSubstr("host changed since: not checked"));
    EXPECT_THAT(text.out, HasSubstr("Plan: 2 to add"));
}

TEST_F(ReviewCli, PlanFormatMarkdownRendersToATable) {
    const auto file = dir_.write("lab.yaml", manifest_text(20));
    const auto r = virtform({"plan", "--format", "markdown", file.string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    const auto md = dir_.write("plan.md", r.out);
    // --unsafe: keep the inline HTML GitHub and GitLab allow (<code>, <details>).
    const auto html = sh("cmark-gfm -e table --unsafe " + md.string());
    ASSERT_EQ(html.code, 0) << html.describe();
    EXPECT_THAT(html.out, HasSubstr("<td><code>network." + net(1) + "</code></td>"));
    EXPECT_THAT(html.out, HasSubstr("<strong>Plan: 2 to add, 0 to change, 0 to destroy.</strong>"));
    EXPECT_EQ(virtform({"plan", "--json", "--format", "markdown", file.string()}).code, 1);
}

TEST_F(ReviewCli, FmtChecksDiffsAndRewritesAtomicallyKeepingModeAndPlan) {
    std::string messy = manifest_text(20);
    // Keys out of order and four-space indentation.
    std::string shuffled = "networks:\n";
    for (std::size_t at = messy.find("networks:\n") + 10; at < messy.size();) {
        const auto nl = messy.find('\n', at);
        shuffled += "  " + messy.substr(at, nl - at + 1);
        at = nl + 1;
    }
    shuffled += "# the review lab\nlab: " + lab() + "\n";
    const auto file = dir_.write("lab.yaml", shuffled);
    ::chmod(file.c_str(), 0640);
    const auto before_plan = virtform({"plan", "--json", file.string()});
    ASSERT_EQ(before_plan.code, 0) << before_plan.describe();

    const auto check = virtform({"fmt", "--check", file.string()});
    EXPECT_EQ(check.code, 1) << check.describe();
    EXPECT_EQ(trim(check.out), file.string());
    EXPECT_EQ(read_text(file), shuffled) << "--check changed the file";
    const auto diff = virtform({"fmt", "--check", "--diff", file.string()});
    EXPECT_EQ(diff.code, 1);
    EXPECT_THAT(diff.out,
                HasSubstr("--- a/" + file.string() + "\n+++ b/" + file.string() + "\n@@ "));
    EXPECT_THAT(diff.out, HasSubstr("\n-networks:\n-    " + net(1) + ":\n"));
    EXPECT_THAT(diff.out, HasSubstr("\n lab: " + lab() + "\n+networks:\n+  " + net(1) + ":\n"));

    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    const ino_t inode = st.st_ino;
    const auto rewrite = virtform({"fmt", file.string()});
    ASSERT_EQ(rewrite.code, 0) << rewrite.describe();
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u) << "fmt changed the file's mode";
    EXPECT_NE(st.st_ino, inode) << "not replaced by a rename (atomically)";
    const std::string formatted = read_text(file);
    EXPECT_EQ(formatted.rfind("# the review lab\nlab: " + lab() + "\nnetworks:\n  " + net(1), 0),
              0u)
        << formatted;
    EXPECT_EQ(virtform({"fmt", "--check", file.string()}).code, 0) << "not idempotent";
    const auto after_plan = virtform({"plan", "--json", file.string()});
    EXPECT_EQ(nlohmann::json::parse(after_plan.out), nlohmann::json::parse(before_plan.out));
    for (const auto& e : fs::directory_iterator(dir_.path()))
        EXPECT_THAT(e.path().filename().string(), Not(HasSubstr("tmp"))) << "a temp file was left";

    const std::string bad = "lab: x\nnetworks: {a: [\n";
    const auto broken = dir_.write("broken.yaml", bad);
    const auto r = virtform({"fmt", broken.string(), file.string()});
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.err, HasSubstr(broken.string() + ":"));
    EXPECT_EQ(read_text(broken), bad);
}

TEST_F(ReviewCli, StatusJsonSaysWhatAMonitorAlertsOn) {
    std::string text = manifest_text(20);
    const auto file = dir_.write("lab.yaml", text);
    ASSERT_EQ(virtform({"apply", "--auto-approve", file.string()}).code, 0);
    auto status = [&] {
        const auto r = virtform({"status", "--json", file.string()});
        EXPECT_EQ(r.code, 0) << r.describe();
        return nlohmann::json::parse(r.out);
    };
    auto doc = status();
    EXPECT_EQ(doc.at("in_sync"), true) << doc.dump(1);
    for (const char* k : {"drifted", "out_of_sync", "restart_pending", "unreachable"})
        EXPECT_TRUE(doc.at("alerts").at(k).empty()) << k;

    // A change by hand, and a VM the manifest wants running that is not there.
    ASSERT_EQ(virsh("net-autostart --disable " + net(1)).code, 0);
    text += "vms:\n  " + lab() + "-vm:\n    memory: 64MiB\n    state: running\n";
    dir_.write("lab.yaml", text);
    doc = status();
    EXPECT_EQ(doc.at("in_sync"), false);
    const auto& alerts = doc.at("alerts");
    EXPECT_EQ(alerts.at("drifted"), nlohmann::json::array({"network." + net(1)})) << alerts.dump();
    EXPECT_THAT(alerts.at("out_of_sync").dump(), HasSubstr("network." + net(1)));
    EXPECT_THAT(alerts.at("out_of_sync").dump(), HasSubstr("vm." + lab() + "-vm"));
    EXPECT_EQ(alerts.at("unreachable"), nlohmann::json::array({"vm." + lab() + "-vm"}));
    EXPECT_TRUE(alerts.at("restart_pending").empty());
    text.resize(text.find("vms:"));
    dir_.write("lab.yaml", text);
    EXPECT_EQ(virtform({"destroy", "--auto-approve", file.string()}).code, 0);
}

}  // namespace
}  // namespace virtform::testing
