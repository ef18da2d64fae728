// `plan --format markdown` and saved plans read back (`virtform show`): the
// Markdown is checked by parsing its table here and by rendering it to HTML
// with a real GFM renderer (cmark-gfm, scripts/setup.sh installs it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "virtform/manifest.h"
#include "virtform/plan.h"
#include "virtform/render.h"

namespace virtform {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Desired load(const std::string& text) {
    return load_manifests({{"lab.yaml", text}});
}

Live applied(const std::string& text) {
    Live live;
    for (auto [name, n] : load(text).networks) {
        n.owner = "demo";
        n.where = {};
        live.networks[name] = n;
    }
    return live;
}

const char* kLab = R"(lab: demo
networks:
  labnat:
    bridge: virbr10
    ipv4:
      address: 192.168.100.1/24
      dhcp:
        range: 192.168.100.100-192.168.100.200
        hosts: [{mac: "52:54:00:00:64:10", ip: 192.168.100.10, name: web1}]
  gone:
    mode: isolated
    bridge: vbgone
)";

/// A plan with an update (live and restart changes) and a create and a destroy.
Plan mixed_plan() {
    Live live = applied(kLab);
    std::string next = kLab;
    next.replace(next.find(".200"), 4, ".220");
    next.replace(next.find("virbr10"), 7, "virbr11");
    next.replace(next.find("  gone:\n    mode: isolated\n    bridge: vbgone\n"),
                 std::string("  gone:\n    mode: isolated\n    bridge: vbgone\n").size(),
                 "  fresh:\n    mode: isolated\n    bridge: vbfresh\n");
    return make_plan(load(next), live);
}

struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

std::vector<std::string> cells(const std::string& line) {
    // GFM: cells split at unescaped '|'; the outer pipes start and end the row.
    std::vector<std::string> out;
    std::string cur;
    for (std::size_t i = 1; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
            cur += line.substr(i, 2);
            ++i;
        } else if (line[i] == '|') {
            const auto b = cur.find_first_not_of(' '), e = cur.find_last_not_of(' ');
            out.push_back(b == std::string::npos ? "" : cur.substr(b, e - b + 1));
            cur.clear();
        } else {
            cur += line[i];
        }
    }
    return out;
}

/// The one table of the document (header, delimiter row, rows).
Table parse_table(const std::string& md) {
    Table t;
    std::istringstream in(md);
    std::string line;
    bool in_table = false;
    while (std::getline(in, line)) {
        if (!in_table) {
            if (line.rfind("| |", 0) == 0) {
                t.header = cells(line);
                std::getline(in, line);
                EXPECT_TRUE(std::regex_match(line, std::regex(R"((\|-+)+\|)"))) << line;
                in_table = true;
            }
            continue;
        }
        if (line.empty() || line[0] != '|') break;
        t.rows.push_back(cells(line));
        EXPECT_EQ(t.rows.back().size(), t.header.size()) << line;
    }
    return t;
}

/// The HTML of `md` as GitHub renders it (cmark-gfm with tables).
std::string to_html(const std::string& md) {
    char path[] = "/tmp/vf-md-XXXXXX";
    const int fd = ::mkstemp(path);
    EXPECT_GE(fd, 0);
    ::close(fd);
    std::ofstream(path) << md;
    const std::string cmd = std::string("cmark-gfm -e table --unsafe ") + path + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string html;
    char buf[4096];
    std::size_t n;
    while (p != nullptr && (n = ::fread(buf, 1, sizeof buf, p)) > 0) html.append(buf, n);
    const int status = p != nullptr ? ::pclose(p) : -1;
    ::unlink(path);
    EXPECT_EQ(status, 0) << "cmark-gfm is needed (scripts/setup.sh installs it): " << html;
    return html;
}

TEST(PlanMarkdown, SummaryTableAndFoldedChangesPerObject) {
    const Plan plan = mixed_plan();
    ASSERT_EQ(plan.actions.size(), 3u);
    const std::string md = render_plan_markdown(plan);
    EXPECT_THAT(md, HasSubstr("**Plan: 1 to add, 1 to change, 1 to destroy.**"));
    const Table t = parse_table(md);
    EXPECT_THAT(t.header, ::testing::ElementsAre("", "Object", "Action", "Class", "Reason"));
    ASSERT_EQ(t.rows.size(), plan.actions.size());
    std::map<std::string, std::vector<std::string>> by_object;
    for (const auto& r : t.rows) by_object[r[1]] = r;
    const auto& upd = by_object.at("<code>network.labnat</code>");
    EXPECT_EQ(upd[0], "`~`");
    EXPECT_EQ(upd[2], "update");
    EXPECT_EQ(upd[3], "restart");  // the bridge change is the strongest
    EXPECT_FALSE(upd[4].empty());
    EXPECT_EQ(by_object.at("<code>network.fresh</code>")[2], "create");
    EXPECT_EQ(by_object.at("<code>network.gone</code>")[0], "`-`");

    const std::string html = to_html(md);
    EXPECT_THAT(html, HasSubstr("<table>"));
    EXPECT_THAT(html, HasSubstr("<td><code>network.labnat</code></td>"));
    // One <details> per object with changes, its changes inside.
    std::size_t details = 0;
    for (auto at = html.find("<details>"); at != std::string::npos;
         at = html.find("<details>", at + 1))
        ++details;
    EXPECT_EQ(details, 2u) << html;  // labnat and fresh; a destroy lists none
    EXPECT_THAT(html,
                HasSubstr("ipv4.dhcp.range = &quot;192.168.100.100-192.168.100.200&quot; -&gt; "
                          "&quot;192.168.100.100-192.168.100.220&quot;  # live"));
}

TEST(PlanMarkdown, NoChangesIsOneLine) {
    const Plan plan = make_plan(load(kLab), applied(kLab));
    const std::string md = render_plan_markdown(plan);
    EXPECT_THAT(md, HasSubstr("**No changes. The lab matches the manifests.**"));
    EXPECT_THAT(md, Not(HasSubstr("| |")));
}

TEST(PlanMarkdown, WarningsAndDriftAreShown) {
    Plan plan = mixed_plan();
    plan.warnings.push_back("VMs run under TCG");
    plan.drift.push_back("network.labnat");
    const std::string html = to_html(render_plan_markdown(plan));
    EXPECT_THAT(html, HasSubstr("<blockquote>"));
    EXPECT_THAT(html, HasSubstr("VMs run under TCG"));
    EXPECT_THAT(html, HasSubstr("Changed outside virtform since the last apply"));
    EXPECT_THAT(html, HasSubstr("<li>network.labnat</li>"));
}

TEST(PlanMarkdown, HostileTextCannotBreakTheTableOrInjectMarkup) {
    Plan plan = mixed_plan();
    auto it = std::find_if(plan.actions.begin(), plan.actions.end(),
                           [](const Action& x) { return x.type == ActionType::update; });
    ASSERT_NE(it, plan.actions.end());
    Action& a = *it;
    ASSERT_FALSE(a.changes.empty());
    a.reason = "a | b <script>alert(1)</script> ``` *x* [l](http://e)";
    a.changes[0].after = "v```\n<img src=x onerror=alert(1)>|";
    plan.warnings.push_back("<b>bold</b> | pipe");
    const std::string md = render_plan_markdown(plan);
    const Table t = parse_table(md);
    ASSERT_EQ(t.rows.size(), 3u);
    for (const auto& r : t.rows) EXPECT_EQ(r.size(), 5u);
    const std::string html = to_html(md);
    EXPECT_THAT(html, Not(HasSubstr("<script>")));
    EXPECT_THAT(html, Not(HasSubstr("<img")));
    EXPECT_THAT(html, Not(HasSubstr("<b>bold")));
    EXPECT_THAT(html, Not(HasSubstr("<a href")));
    EXPECT_THAT(html, HasSubstr("&lt;script&gt;"));
    std::size_t details = 0;
    for (auto at = html.find("</details>"); at != std::string::npos;
         at = html.find("</details>", at + 1))
        ++details;
    EXPECT_EQ(details, 2u) << "a value's backticks closed the code block early\n" << html;
}

TEST(PlanMarkdown, SensitiveValuesStayHidden) {
    const std::string secret = "hunter2-pa55";
    const std::string manifest = std::string(R"(lab: demo
pools:
  p: {path: /var/lib/virtform/pools/demo-md}
vms:
  web:
    disks: [{name: d, pool: p, size: 1GiB}]
    cloud_init:
      user_data: "#cloud-config\npassword: )") +
                                 secret + "\\n\"\n";
    const Plan plan = make_plan(load(manifest), Live{});
    const std::string md = render_plan_markdown(plan);
    EXPECT_THAT(md, HasSubstr("(sensitive)"));
    EXPECT_THAT(md, Not(HasSubstr(secret)));
    // Read back from a saved plan's JSON, it is still hidden.
    const std::string again = render_plan_markdown(plan_from_json(plan_to_json(plan)));
    EXPECT_EQ(again, md);
}

TEST(PlanMarkdown, LongPlansAreCappedWithNMoreAndWhereTheRestIs) {
    std::string manifest = "lab: demo\nnetworks:\n";
    for (int i = 0; i < 30; ++i)
        manifest += "  n" + std::to_string(i) + ": {mode: isolated, bridge: vbn" +
                    std::to_string(i) + "}\n";
    const Plan plan = make_plan(load(manifest), Live{});
    MarkdownOptions o;
    o.max_actions = 10;
    o.full_plan_hint = "See the plan artifact.";
    const std::string md = render_plan_markdown(plan, o);
    EXPECT_EQ(parse_table(md).rows.size(), 10u);
    EXPECT_THAT(md,
                HasSubstr("**... and 20 more actions** not shown here. See the plan artifact."));
    EXPECT_THAT(md, HasSubstr("**Plan: 30 to add, 0 to change, 0 to destroy.**"));
    o.max_actions = 0;
    EXPECT_EQ(parse_table(render_plan_markdown(plan, o)).rows.size(), 30u);
}

TEST(PlanJson, ASavedPlanReadsBackToTheSameTextAndJson) {
    for (const Plan& plan :
         {mixed_plan(), make_plan(load(kLab), Live{}), make_plan(load(kLab), applied(kLab))}) {
        const Plan back = plan_from_json(plan_to_json(plan));
        EXPECT_EQ(plan_to_json(back), plan_to_json(plan));
        EXPECT_EQ(render_plan_text(back), render_plan_text(plan));
        EXPECT_EQ(render_plan_markdown(back), render_plan_markdown(plan));
    }
}

TEST(PlanJson, ADamagedPlanIsAnErrorNamingWhat) {
    auto doc = plan_to_json(mixed_plan());
    doc["actions"][0]["action"] = "explode";
    EXPECT_THROW(
        {
            try {
                plan_from_json(doc);
            } catch (const Error& e) {
                EXPECT_THAT(e.what(), HasSubstr("unknown action 'explode'"));
                throw;
            }
        },
        Error);
    doc = plan_to_json(mixed_plan());
    doc.erase("actions");
    EXPECT_THROW(plan_from_json(doc), Error);
}

}  // namespace
}  // namespace virtform
