// What a user must be able to trust, through the real CLI against the real
// libvirtd: a saved plan is refused once the host changed (naming what
// changed) and is private; two applies of one lab never run at once, and a
// lock left by a killed process blocks nothing; independent actions really run
// in parallel (and not with --parallelism 1); a failed action skips only what
// depends on it; an apply killed with -9 at any moment converges on the next
// one; status shows drift made outside virtform.
//
// Names are unique per process and test: lab vf-tr-<pid>-<n>, libvirt objects
// vftr-<pid>-<n>-..., bridges vftr<pid%100000>t<n>x<k>, subnets
// 10.19<k>.<pid%250>.0/24. TearDown removes them with virsh and ip even when a
// test fails, plus the lab's lock and applied-state files; libvirt's `default`
// network is compared after the whole binary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;
using ::testing::Not;

const int kPid = static_cast<int>(::getpid());

class DefaultNetworkUntouched : public ::testing::Environment {
public:
    void SetUp() override { before_ = virsh("net-dumpxml default").out + net_info("default", "Active"); }
    void TearDown() override {
        EXPECT_EQ(virsh("net-dumpxml default").out + net_info("default", "Active"), before_)
            << "the default network was changed";
    }

private:
    std::string before_;
};
[[maybe_unused]] const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new DefaultNetworkUntouched);

/// A CLI process running in the background; its output goes to files.
struct Spawned {
    pid_t pid = -1;
    fs::path out, err;
    Clock::time_point started;
};

Spawned spawn(const std::vector<std::string>& args, const fs::path& dir, const std::string& tag) {
    Spawned s;
    s.out = dir / (tag + ".out");
    s.err = dir / (tag + ".err");
    std::vector<std::string> argv = args;
    argv.insert(argv.begin(), VIRTFORM_BINARY);
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    s.started = Clock::now();
    s.pid = ::fork();
    if (s.pid < 0) throw std::runtime_error("fork failed");
    if (s.pid == 0) {
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(s.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int err = ::open(s.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0) ::_exit(126);
        ::dup2(in, STDIN_FILENO);
        ::dup2(out, STDOUT_FILENO);
        ::dup2(err, STDERR_FILENO);
        ::execv(cargs[0], cargs.data());
        ::_exit(127);
    }
    return s;
}

/// Waits for the process (blocking when `block`); nullopt while it runs.
std::optional<CommandResult> reap(const Spawned& s, bool block = true) {
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(s.pid, &status, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return std::nullopt;
    if (r < 0) throw std::runtime_error("waitpid failed");
    CommandResult result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = read_text(s.out);
    result.err = read_text(s.err);
    return result;
}

struct Interval {
    std::string address;
    double start = 0, finish = 0;
};

/// The [started_at, finished_at] of every done action in `apply --json` output.
std::vector<Interval> intervals(const nlohmann::json& doc) {
    std::vector<Interval> out;
    for (const auto& r : doc.at("results")) {
        if (r.at("outcome") != "done") continue;
        out.push_back({r.at("address"), r.at("started_at").get<double>(), r.at("finished_at").get<double>()});
    }
    std::sort(out.begin(), out.end(), [](const Interval& a, const Interval& b) { return a.start < b.start; });
    return out;
}

/// Pairs of actions whose execution intervals overlap.
int overlapping_pairs(const std::vector<Interval>& v) {
    int n = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        for (std::size_t j = i + 1; j < v.size(); ++j) {
            if (v[i].start < v[j].finish && v[j].start < v[i].finish) ++n;
        }
    }
    return n;
}

class TrustTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        n_ = ++counter;
        ASSERT_EQ(virsh("version >/dev/null").code, 0)
            << "libvirtd does not answer on " << connect_uri() << " (scripts/start-libvirtd.sh)";
        root_ = cat("/var/lib/virtform/test-pools/", lab());
    }

    void TearDown() override {
        for (const auto& name : list("list --all --name")) {
            if (name.rfind(prefix(), 0) != 0) continue;
            virsh("destroy " + name + " >/dev/null 2>&1");
            virsh("undefine --nvram " + name + " >/dev/null 2>&1");
        }
        for (const auto& name : list("pool-list --all --name")) {
            if (name.rfind(prefix(), 0) != 0) continue;
            virsh("pool-destroy " + name + " >/dev/null 2>&1");
            virsh("pool-undefine " + name + " >/dev/null 2>&1");
        }
        for (const auto& name : libvirt_networks()) {
            if (name.rfind(prefix(), 0) == 0) remove_network(name);
        }
        for (const auto& link : links_) remove_link(link);
        std::error_code ec;
        fs::remove_all(root_, ec);
        fs::remove("/var/lib/virtform/test-pools", ec);  // only when empty
        for (const auto& dir : {"/run/virtform/locks", "/var/lib/virtform/state"}) {
            for (const auto& e : fs::directory_iterator(dir, ec)) {
                if (e.path().filename().string().rfind(lab() + "@", 0) == 0) fs::remove(e.path(), ec);
            }
        }
        for (const auto& name : libvirt_networks()) {
            EXPECT_NE(name.rfind(prefix(), 0), 0u) << "network left behind: " << name;
        }
        for (const auto& name : list("list --all --name")) {
            EXPECT_NE(name.rfind(prefix(), 0), 0u) << "VM left behind: " << name;
        }
        for (const auto& name : list("pool-list --all --name")) {
            EXPECT_NE(name.rfind(prefix(), 0), 0u) << "pool left behind: " << name;
        }
        EXPECT_EQ(sh("ls /sys/class/net | grep '^" + link_prefix() + "' || true").out, "")
            << "interfaces left behind";
    }

    static std::vector<std::string> list(const std::string& virsh_args) {
        std::vector<std::string> out;
        std::istringstream in(virsh(virsh_args).out);
        for (std::string line; std::getline(in, line);) {
            line = trim(line);
            if (!line.empty()) out.push_back(line);
        }
        return out;
    }

    template <class... T>
    static std::string cat(const T&... parts) {
        std::ostringstream out;
        (out << ... << parts);
        return out.str();
    }

    std::string lab() const { return cat("vf-tr-", kPid, "-", n_); }
    std::string prefix() const { return cat("vftr-", kPid, "-", n_, "-"); }
    std::string net(int k) const { return prefix() + std::to_string(k); }
    std::string link_prefix() const { return cat("vftr", kPid % 100000, "t", n_, "x"); }
    std::string bridge(int k) const { return link_prefix() + std::to_string(k); }
    /// "10.A.B" for network k (1..9).
    std::string subnet(int k) const { return cat("10.", 189 + k, ".", kPid % 250); }

    /// An isolated or NAT network k with its own bridge and subnet (YAML, indented for `networks:`).
    std::string network_yaml(int k, const std::string& mode = "isolated") const {
        return cat("  ", net(k), ":\n    mode: ", mode, "\n    bridge: ", bridge(k), "\n    ipv4: {address: ",
                   subnet(k), ".1/24}\n");
    }
    std::string networks_yaml(int from, int to) const {
        std::string out = "networks:\n";
        for (int k = from; k <= to; ++k) out += network_yaml(k);
        return out;
    }
    std::string manifest(const std::string& body, const std::string& name = "lab.yaml") {
        return dir_.write(name, "lab: " + lab() + "\n" + body).string();
    }

    /// A pool under /var/lib/virtform/test-pools and `vms` stopped VMs, each
    /// with a qcow2 volume and a NIC on network 1 (never started: a file
    /// stands in for the kernel).
    std::string pool_and_vms_yaml(int vms) {
        fs::create_directories(root_);
        ::chmod(root_.c_str(), 0755);
        write_text(root_ + "/vmlinuz", "not a kernel: these VMs are never started\n");
        std::string out = cat("pools:\n  ", prefix(), "pool: {path: ", root_, "/pool}\nvms:\n");
        for (int i = 1; i <= vms; ++i) {
            out += cat("  ", prefix(), "vm", i, ":\n    cpus: 1\n    memory: 128MiB\n    accel: qemu\n",
                       "    kernel: ", root_, "/vmlinuz\n    disks:\n      - {name: root, pool: ", prefix(),
                       "pool, size: 32MiB}\n    nics: [{network: ", net(1), "}]\n    state: stopped\n");
        }
        return out;
    }

    void own_link(const std::string& name) { links_.push_back(name); }

    TempDir dir_;
    int n_ = 0;
    std::string root_;
    std::vector<std::string> links_;
};

// ---------------------------------------------------------------------------
// Saved plans

TEST_F(TrustTest, StalePlanIsRefusedNamingTheChangeThenAFreshOneAppliesOnce) {
    const std::string v1 = networks_yaml(1, 1) + cat("  ", net(2), ":\n    mode: nat\n    bridge: ", bridge(2),
                                                     "\n    ipv4:\n      address: ", subnet(2),
                                                     ".1/24\n      dhcp: {range: ", subnet(2), ".100-", subnet(2),
                                                     ".110}\n");
    const auto file = manifest(v1);
    const auto first = virtform({"apply", "--auto-approve", file});
    ASSERT_EQ(first.code, 0) << first.describe();

    // v2 widens the DHCP range (a live change); plan it to a file.
    std::string v2 = v1;
    v2.replace(v2.find(".110}"), 5, ".120}");
    manifest(v2);
    const auto plan_file = (dir_.path() / "lab.plan").string();
    const auto plan = virtform({"plan", "-o", plan_file, file});
    ASSERT_EQ(plan.code, 0) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("Plan: 0 to add, 1 to change, 0 to destroy."));

    // Out of band: network 1 loses its autostart.
    ASSERT_EQ(virsh("net-autostart --disable " + net(1)).code, 0);
    const auto xml1 = virsh("net-dumpxml --inactive " + net(1)).out;
    const auto xml2 = virsh("net-dumpxml " + net(2)).out;
    const auto stale = virtform({"apply", plan_file});
    EXPECT_EQ(stale.code, 1) << stale.describe();
    EXPECT_THAT(stale.err, HasSubstr("stale"));
    EXPECT_THAT(stale.err, HasSubstr("network." + net(1) + " changed"));
    EXPECT_THAT(stale.err, Not(HasSubstr("network." + net(2))));
    // Nothing was changed by it: the range is the old one, autostart still off.
    EXPECT_EQ(virsh("net-dumpxml --inactive " + net(1)).out, xml1);
    EXPECT_EQ(virsh("net-dumpxml " + net(2)).out, xml2);
    EXPECT_THAT(xml2, HasSubstr("end='" + subnet(2) + ".110'"));
    EXPECT_EQ(net_info(net(1), "Autostart"), "no");

    // A fresh plan (now also turning autostart back on) applies...
    const auto replan = virtform({"plan", "-o", plan_file, file});
    ASSERT_EQ(replan.code, 0) << replan.describe();
    EXPECT_THAT(replan.out, HasSubstr("Plan: 0 to add, 2 to change, 0 to destroy."));
    const auto apply = virtform({"apply", plan_file});
    ASSERT_EQ(apply.code, 0) << apply.describe();
    EXPECT_THAT(apply.out, HasSubstr("Apply complete! Resources: 0 added, 2 changed, 0 destroyed."));
    EXPECT_THAT(virsh("net-dumpxml " + net(2)).out, HasSubstr("end='" + subnet(2) + ".120'"));
    EXPECT_EQ(net_info(net(1), "Autostart"), "yes");

    // ...exactly once: the host it was made against is gone.
    const auto again = virtform({"apply", plan_file});
    EXPECT_EQ(again.code, 1) << again.describe();
    EXPECT_THAT(again.err, HasSubstr("stale"));
    EXPECT_THAT(again.err, HasSubstr("network." + net(1) + " changed"));
    EXPECT_THAT(again.err, HasSubstr("network." + net(2) + " changed"));

    EXPECT_EQ(virtform({"destroy", "--auto-approve", file}).code, 0);
}

TEST_F(TrustTest, StalePlanIsRefusedWhenAnUnmarkedNetworkAppearsOnItsBridge) {
    const auto file = manifest(networks_yaml(1, 1));
    const auto plan_file = (dir_.path() / "lab.plan").string();
    ASSERT_EQ(virtform({"plan", "-o", plan_file, file}).code, 0);
    // Someone defines by hand, inactive, a network elsewhere on the host: it
    // concerns no object of the plan, which therefore stays good.
    const auto other = dir_.write("other.xml", cat("<network><name>", net(8), "</name><bridge name='",
                                                   bridge(8), "'/></network>"));
    ASSERT_EQ(virsh("net-define " + other.string()).code, 0);
    const auto fine = virtform({"apply", plan_file});
    ASSERT_EQ(fine.code, 0) << "an unrelated network made the plan stale\n" << fine.describe();
    ASSERT_EQ(virtform({"destroy", "--auto-approve", file}).code, 0);
    EXPECT_TRUE(network_exists(net(8))) << "destroy removed a network it does not own";

    // One on the bridge the manifest wants does make the plan stale.
    ASSERT_EQ(virtform({"plan", "-o", plan_file, file}).code, 0);
    const auto xml = dir_.write("hand.xml", cat("<network><name>", net(9), "</name><bridge name='", bridge(1),
                                                "'/></network>"));
    ASSERT_EQ(virsh("net-define " + xml.string()).code, 0);
    const auto stale = virtform({"apply", plan_file});
    EXPECT_EQ(stale.code, 1) << stale.describe();
    EXPECT_THAT(stale.err, HasSubstr("network." + net(9) + " appeared"));
    EXPECT_THAT(stale.err, Not(HasSubstr(net(8))));
    EXPECT_FALSE(network_exists(net(1))) << "the stale plan created the network";
    EXPECT_EQ(net_info(net(9), "Active"), "no");
}

TEST_F(TrustTest, SavedPlanIsPrivateAndItsPlanPartHoldsNoSecret) {
    const std::string secret = cat("s3cret-", kPid, "-pa55");
    std::string body = networks_yaml(1, 1) + pool_and_vms_yaml(1);
    body += cat("    cloud_init:\n      user_data: \"#cloud-config\\npassword: ", secret, "\\n\"\n");
    const auto file = manifest(body);
    const auto plan_file = (dir_.path() / "lab.plan").string();
    const auto plan = virtform({"plan", "-o", plan_file, file});
    ASSERT_EQ(plan.code, 0) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("(sensitive)"));
    EXPECT_THAT(plan.out, Not(HasSubstr(secret)));

    struct stat st {};
    ASSERT_EQ(::stat(plan_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << "a saved plan embeds the manifests: it must be private";
    EXPECT_FALSE(fs::exists(plan_file + ".tmp"));

    const auto doc = nlohmann::json::parse(read_text(plan_file));
    EXPECT_THAT(doc.at("plan").dump(), Not(HasSubstr(secret)));
    EXPECT_THAT(doc.at("plan").dump(), HasSubstr("(sensitive)"));
    EXPECT_THAT(doc.at("fingerprint").dump(), Not(HasSubstr(secret)));
    // The manifests are embedded on purpose (apply replays exactly them).
    EXPECT_THAT(doc.at("manifests").dump(), HasSubstr(secret));

    // Re-saving over an existing, looser file keeps it private too.
    ::chmod(plan_file.c_str(), 0644);
    ASSERT_EQ(virtform({"plan", "-o", plan_file, file}).code, 0);
    ASSERT_EQ(::stat(plan_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// ---------------------------------------------------------------------------
// The lab lock

/// When a CLI process was seen working: its first progress line and its final line.
struct Window {
    std::optional<double> first, last;  // seconds since the test's t0
};

TEST_F(TrustTest, ConcurrentAppliesOfOneLabAreSerialised) {
    const auto file = manifest(networks_yaml(1, 4));

    // Without --lock-timeout: one of two applies started together is refused, naming the holder.
    auto a = spawn({"apply", "--auto-approve", "--parallelism", "1", file}, dir_.path(), "a");
    auto b = spawn({"apply", "--auto-approve", "--parallelism", "1", file}, dir_.path(), "b");
    const auto ra = *reap(a), rb = *reap(b);
    ASSERT_EQ(std::min(ra.code, rb.code), 0) << ra.describe() << rb.describe();
    ASSERT_EQ(std::max(ra.code, rb.code), 1)
        << "both applies ran to the end: the lock did not keep them apart\n" << ra.describe() << rb.describe();
    const auto& loser = ra.code == 1 ? ra : rb;
    const pid_t winner = ra.code == 0 ? a.pid : b.pid;
    EXPECT_THAT(loser.err, HasSubstr("is busy"));
    EXPECT_THAT(loser.err, HasSubstr(cat("pid ", winner, ", virtform apply")));
    EXPECT_THAT(loser.err, HasSubstr("--lock-timeout"));
    EXPECT_THAT(loser.err, Not(HasSubstr("Creating...")));
    ASSERT_EQ(virtform({"plan", "--detailed-exitcode", file}).code, 0);
    ASSERT_EQ(virtform({"destroy", "--auto-approve", file}).code, 0);

    // With --lock-timeout both finish, one after the other: two manifests of
    // the same lab, so that each has work (the second prunes the first's networks).
    const auto other = manifest(networks_yaml(5, 8), "other.yaml");
    const auto t0 = Clock::now();
    a = spawn({"apply", "--auto-approve", "--lock-timeout", "120", file}, dir_.path(), "a2");
    b = spawn({"apply", "--auto-approve", "--lock-timeout", "120", other}, dir_.path(), "b2");
    std::map<char, Window> win;
    std::map<char, CommandResult> res;
    static const std::regex progress(R"(\] (network|pool|volume|vm)\.\S+: (Creating|Destroying|Modifying)\.\.\.)");
    while (res.size() < 2) {
        const double now = std::chrono::duration<double>(Clock::now() - t0).count();
        for (auto [tag, proc] : {std::pair<char, Spawned*>{'a', &a}, {'b', &b}}) {
            if (res.count(tag) != 0) continue;
            const auto text = read_text(proc->err);  // progress lines are on stderr
            if (!win[tag].first && std::regex_search(text, progress)) win[tag].first = now;
            if (auto r = reap(*proc, false)) {
                res[tag] = *r;
                win[tag].last = now;
            }
        }
        ASSERT_LT(now, 300) << "the applies did not finish";
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(res['a'].code, 0) << res['a'].describe();
    ASSERT_EQ(res['b'].code, 0) << res['b'].describe();
    ASSERT_TRUE(win['a'].first && win['b'].first) << res['a'].describe() << res['b'].describe();
    const char first = *win['a'].first < *win['b'].first ? 'a' : 'b';
    const char second = first == 'a' ? 'b' : 'a';
    EXPECT_LE(*win[first].last, *win[second].first)
        << "execution windows overlap: " << first << " [" << *win[first].first << ", " << *win[first].last
        << "], " << second << " [" << *win[second].first << ", " << *win[second].last << "]";
    // And the second planned from what the first left: it destroyed all of it.
    const int from = first == 'a' ? 1 : 5;
    for (int k = from; k < from + 4; ++k) {
        EXPECT_THAT(res[second].err, HasSubstr("network." + net(k) + ": Destruction complete"));
    }
    const auto survivor = first == 'a' ? other : file;
    EXPECT_EQ(virtform({"plan", "--detailed-exitcode", survivor}).code, 0);

    // A holder killed with -9 leaves no lock behind: the kernel drops the flock.
    ASSERT_EQ(virtform({"destroy", "--auto-approve", survivor}).code, 0);
    const auto eight = manifest(networks_yaml(1, 8), "eight.yaml");  // long enough to be caught holding
    auto killed = spawn({"apply", "--auto-approve", "--parallelism", "1", eight}, dir_.path(), "killed");
    const auto lock_file = "/run/virtform/locks/" + lab() + "@qemu____system.lock";
    ASSERT_TRUE(eventually([&] { return read_text(lock_file).find(cat("pid ", killed.pid, ",")) != std::string::npos; },
                           std::chrono::seconds(30)))
        << "the apply never took the lock";
    ::kill(killed.pid, SIGKILL);
    const auto k = *reap(killed);
    EXPECT_EQ(k.code, 128 + SIGKILL);
    const auto next = virtform({"apply", "--auto-approve", eight});
    EXPECT_EQ(next.code, 0) << next.describe();
    EXPECT_THAT(next.err, Not(HasSubstr("busy")));
    EXPECT_EQ(virtform({"destroy", "--auto-approve", eight}).code, 0);
}

// ---------------------------------------------------------------------------
// Parallel execution

TEST_F(TrustTest, IndependentActionsOverlapInParallelAndNeverWithParallelismOne) {
    const auto file = manifest(networks_yaml(1, 6));
    const auto parallel = virtform({"apply", "--auto-approve", "--json", "--parallelism", "4", file});
    ASSERT_EQ(parallel.code, 0) << parallel.describe();
    const auto doc = nlohmann::json::parse(parallel.out);
    EXPECT_TRUE(doc.at("ok").get<bool>());
    EXPECT_EQ(doc.at("summary").at("done"), 6);
    const auto p4 = intervals(doc);
    ASSERT_EQ(p4.size(), 6u);
    for (const auto& i : p4) EXPECT_LE(i.start, i.finish) << i.address;
    EXPECT_GE(overlapping_pairs(p4), 1) << "--parallelism 4: no two independent actions ran at once";

    ASSERT_EQ(virtform({"destroy", "--auto-approve", file}).code, 0);
    const auto serial = virtform({"apply", "--auto-approve", "--json", "--parallelism", "1", file});
    ASSERT_EQ(serial.code, 0) << serial.describe();
    const auto p1 = intervals(nlohmann::json::parse(serial.out));
    ASSERT_EQ(p1.size(), 6u);
    EXPECT_EQ(overlapping_pairs(p1), 0);
    for (std::size_t i = 1; i < p1.size(); ++i) {
        EXPECT_GE(p1[i].start, p1[i - 1].finish) << p1[i - 1].address << " then " << p1[i].address;
    }
    EXPECT_EQ(virtform({"destroy", "--auto-approve", file}).code, 0);
}

// ---------------------------------------------------------------------------
// Failure isolation

TEST_F(TrustTest, AFailedNetworkSkipsOnlyTheRunningVmOnItAndTheNextApplyConverges) {
    // The obstacle: a host bridge of the test's own with a route to network 1's
    // subnet, so that libvirt refuses to start network 1. The plan refuses a
    // subnet held by an interface address or a route it sees (issue 9); a
    // route marked "proto kernel" without the address reads as an address's
    // own route and passes, libvirt's /proc/net/route check does not.
    const auto obstacle = bridge(8);
    own_link(obstacle);
    ASSERT_EQ(sh("ip link add " + obstacle + " type bridge && ip link set " + obstacle + " up && ip route add " +
                 subnet(1) + ".0/24 dev " + obstacle + " proto kernel")
                  .code,
              0);
    // vm1 is defined and stopped: its define does not need network 1 (libvirt
    // defines a domain whatever its network's state), so it is done. vm2 runs:
    // its start needs the network, so it is skipped. vm2 has no kernel and no
    // disk (once started, SeaBIOS finds nothing to boot and waits: cheap under
    // TCG) and no graceful shutdown to wait for at destroy.
    std::string body = networks_yaml(1, 2) + pool_and_vms_yaml(1);
    body += cat("  ", prefix(), "vm2:\n    cpus: 1\n    memory: 64MiB\n    accel: qemu\n    shutdown_timeout: 0\n",
                "    nics: [{network: ", net(1), "}]\n    state: running\n");
    // The pool and volume do not depend on network 1; only vm2 does.
    const auto file = manifest(body);
    const auto first = virtform({"apply", "--auto-approve", "--json", file});
    EXPECT_EQ(first.code, 1) << first.describe();
    const auto doc = nlohmann::json::parse(first.out);
    EXPECT_FALSE(doc.at("ok").get<bool>());
    std::map<std::string, std::string> outcome, message;
    for (const auto& r : doc.at("results")) {
        outcome[r.at("address")] = r.at("outcome");
        message[r.at("address")] = r.at("message");
    }
    const auto vm = "vm." + prefix() + "vm2";
    EXPECT_EQ(outcome["network." + net(1)], "failed");
    EXPECT_THAT(message["network." + net(1)], HasSubstr(net(1)));
    EXPECT_EQ(outcome[vm], "skipped");
    EXPECT_THAT(message[vm], HasSubstr("network." + net(1) + ", which failed"));
    EXPECT_EQ(outcome["vm." + prefix() + "vm1"], "done");
    EXPECT_EQ(outcome["network." + net(2)], "done");
    EXPECT_EQ(outcome["pool." + prefix() + "pool"], "done");
    EXPECT_EQ(outcome["volume." + prefix() + "pool/" + prefix() + "vm1-root.qcow2"], "done");
    EXPECT_EQ(doc.at("summary").at("done"), 4);
    EXPECT_EQ(doc.at("summary").at("failed"), 1);
    EXPECT_EQ(doc.at("summary").at("skipped"), 1);
    EXPECT_EQ(net_info(net(2), "Active"), "yes");
    EXPECT_NE(virsh("dominfo " + prefix() + "vm2 >/dev/null 2>&1").code, 0) << "the skipped VM was defined";
    EXPECT_EQ(virsh("dominfo " + prefix() + "vm1 >/dev/null 2>&1").code, 0) << "the stopped VM was not defined";

    // The text form says the same.
    const auto text = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(text.code, 1) << text.describe();
    EXPECT_THAT(text.out, HasSubstr("Apply incomplete."));
    EXPECT_THAT(text.out, HasSubstr("1 failed, 1 skipped"));
    EXPECT_THAT(text.out, HasSubstr("skipped create " + vm));

    // The obstacle gone, the next apply finishes the job.
    remove_link(obstacle);
    const auto second = virtform({"apply", "--auto-approve", file});
    EXPECT_EQ(second.code, 0) << second.describe();
    EXPECT_EQ(virtform({"plan", "--detailed-exitcode", file}).code, 0);
    EXPECT_EQ(net_info(net(1), "Active"), "yes");
    EXPECT_THAT(virsh("domstate " + prefix() + "vm2").out, HasSubstr("running"));
    EXPECT_EQ(virtform({"destroy", "--auto-approve", file}).code, 0);
}

// ---------------------------------------------------------------------------
// Crashes

TEST_F(TrustTest, AnApplyKilledAtAnyMomentConvergesOnTheNextOne) {
    // An unmarked network beside the lab: must come through untouched.
    const auto canary = dir_.write("canary.xml", cat("<network><name>", net(9), "</name><bridge name='", bridge(9),
                                                     "'/><ip address='", subnet(9),
                                                     ".1' netmask='255.255.255.0'/></network>"));
    ASSERT_EQ(virsh("net-define " + canary.string()).code, 0);
    const auto canary_before = virsh("net-dumpxml " + net(9)).out + net_info(net(9), "Autostart");
    const auto default_before = virsh("net-dumpxml default").out;

    const auto file = manifest(networks_yaml(1, 8) + pool_and_vms_yaml(2));
    std::random_device rd;
    const unsigned seed = rd();
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> delay(50, 600);
    for (int round = 0; round < 4; ++round) {
        const int ms = delay(rng);
        SCOPED_TRACE(cat("round ", round, ": kill -9 after ", ms, " ms (seed ", seed, ")"));
        auto p = spawn({"apply", "--auto-approve", file}, dir_.path(), cat("kill", round));
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        ::kill(p.pid, SIGKILL);
        const auto killed = *reap(p);
        std::cout << "[ kill -9 ] after " << ms << " ms: "
                  << std::count(killed.out.begin(), killed.out.end(), '\n') << " lines of output, "
                  << (killed.code == 128 + SIGKILL ? "killed" : "had already exited") << "\n";
        // No pause: libvirtd may still be finishing the killed client's
        // in-flight define; the next apply takes such an object over (see the
        // test below).
        const auto again = virtform({"apply", "--auto-approve", file});
        EXPECT_EQ(again.code, 0) << again.describe();
        const auto plan = virtform({"plan", "--detailed-exitcode", file});
        EXPECT_EQ(plan.code, 0) << plan.describe();
        EXPECT_EQ(virsh("net-dumpxml " + net(9)).out + net_info(net(9), "Autostart"), canary_before);
        EXPECT_EQ(virsh("net-dumpxml default").out, default_before);
        // Start the next round cold.
        const auto destroy = virtform({"destroy", "--auto-approve", file});
        ASSERT_EQ(destroy.code, 0) << destroy.describe();
        ASSERT_FALSE(network_exists(net(1)));
    }
}

// Known bug (reported): an apply started right after another was killed with
// -9 can plan before libvirtd has finished the killed client's in-flight
// define, then fail with "network '...' already exists". Measured: 3 of 10
// immediate re-applies after a kill 400-500 ms into an 8-network apply; 0 of
// 10 with a 1 s pause. Enable when a create adopts an object that carries the
// lab's mark (or the provider re-reads on "already exists").
TEST_F(TrustTest, AnApplyRightAfterAKillDoesNotTripOnTheKilledOnesInFlightCalls) {
    const auto file = manifest(networks_yaml(1, 8));
    for (int round = 0; round < 10; ++round) {
        const int ms = 400 + 10 * round;
        SCOPED_TRACE(cat("round ", round, ": kill -9 after ", ms, " ms, re-apply at once"));
        auto p = spawn({"apply", "--auto-approve", file}, dir_.path(), cat("kill", round));
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        ::kill(p.pid, SIGKILL);
        reap(p);
        const auto again = virtform({"apply", "--auto-approve", file});
        EXPECT_EQ(again.code, 0) << again.describe();
        EXPECT_THAT(again.out, Not(HasSubstr("already exists")));
        ASSERT_EQ(virtform({"destroy", "--auto-approve", file}).code, 0);
    }
}

// ---------------------------------------------------------------------------
// Drift

TEST_F(TrustTest, StatusShowsDriftAndPlanShowsTheChange) {
    const auto file = manifest(networks_yaml(1, 2));
    ASSERT_EQ(virtform({"apply", "--auto-approve", file}).code, 0);
    const auto clean = virtform({"status", file});
    ASSERT_EQ(clean.code, 0) << clean.describe();
    const std::regex row1("network\\." + net(1) + "\\s+active\\s+yes\\s+in sync");
    EXPECT_TRUE(std::regex_search(clean.out, row1)) << clean.out;

    ASSERT_EQ(virsh("net-autostart --disable " + net(1)).code, 0);
    const auto status = virtform({"status", file});
    ASSERT_EQ(status.code, 0) << status.describe();
    std::string line1, line2;
    std::istringstream in(status.out);
    for (std::string line; std::getline(in, line);) {
        if (line.find("network." + net(1) + " ") != std::string::npos) line1 = line;
        if (line.find("network." + net(2) + " ") != std::string::npos) line2 = line;
    }
    EXPECT_THAT(line1, HasSubstr(" no ")) << status.out;  // the AUTOSTART column
    EXPECT_THAT(line1, Not(HasSubstr("in sync"))) << status.out;
    EXPECT_THAT(line1, HasSubstr("change")) << status.out;
    EXPECT_THAT(line2, HasSubstr("in sync")) << status.out;

    const auto plan = virtform({"plan", "--detailed-exitcode", file});
    EXPECT_EQ(plan.code, 2) << plan.describe();
    EXPECT_THAT(plan.out, HasSubstr("network." + net(1)));
    EXPECT_THAT(plan.out, HasSubstr("autostart = \"false\" -> \"true\""));
    EXPECT_THAT(plan.out, Not(HasSubstr("network." + net(2) + " will")));
    EXPECT_EQ(virtform({"destroy", "--auto-approve", file}).code, 0);
}

}  // namespace
}  // namespace virtform::testing
