// Ctrl-C during apply, through the real CLI against the real libvirtd: the first
// SIGINT/SIGTERM lets the running action finish, starts nothing new, prints what
// was done and what was not, releases the lab lock and exits 128 + the signal; a
// second signal ends the process at once. Either way the next apply converges.
//
// The lab is eight isolated networks applied with --parallelism 1: each takes
// about a second here, so a signal sent when the first completes lands mid-apply.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "integration/testlib.h"

namespace virtform::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const int kPid = static_cast<int>(::getpid());
constexpr int kNetworks = 8;

/// The CLI started in the background, its output going to files.
class Background {
public:
    Background(const std::vector<std::string>& args, const std::filesystem::path& dir)
        : out_(dir / "bg.out"), err_(dir / "bg.err") {
        std::vector<std::string> argv{VIRTFORM_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargs;
        for (auto& a : argv) cargs.push_back(a.data());
        cargs.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ > 0) ::setpgid(pid_, pid_);  // no race with the first signal
        if (pid_ == 0) {
            ::setpgid(0, 0);  // its own group, as a shell job: signal() reaches the whole job
            const int in = ::open("/dev/null", O_RDONLY);
            const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (in < 0 || out < 0 || err < 0) ::_exit(126);
            ::dup2(in, STDIN_FILENO);
            ::dup2(out, STDOUT_FILENO);
            ::dup2(err, STDERR_FILENO);
            ::execv(cargs[0], cargs.data());
            ::_exit(127);
        }
    }
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;
    ~Background() {
        if (pid_ > 0 && !reaped_) {  // a failed test: do not leave it running
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    /// To the whole process group, as Ctrl-C at a terminal does (virtform and any helper
    /// program it runs).
    void signal(int sig) const { ::kill(-pid_, sig); }
    std::string out() const { return read_text(out_); }
    std::string err() const { return read_text(err_); }

    /// The raw wait status, or nullopt if it is still running after `timeout`.
    std::optional<int> wait(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (true) {
            int status = 0;
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                reaped_ = true;
                return status;
            }
            if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
            std::this_thread::sleep_for(20ms);
        }
    }

private:
    std::filesystem::path out_, err_;
    pid_t pid_ = -1;
    bool reaped_ = false;
};

class InterruptTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        n_ = ++counter;
        ASSERT_EQ(virsh("version >/dev/null").code, 0)
            << "libvirtd does not answer on " << connect_uri() << " (scripts/start-libvirtd.sh)";
        std::string text = "lab: " + lab() + "\nnetworks:\n";
        // Explicit bridges: libvirt's own virbrN choice races between networks started at once.
        for (int k = 1; k <= kNetworks; ++k)
            text += "  " + net(k) + ": {mode: isolated, bridge: " + bridge(k) + "}\n";
        manifest_ = dir_.write("lab.yaml", text).string();
    }

    void TearDown() override {
        const auto r = virtform({"destroy", "--auto-approve", "--lock-timeout", "30", manifest_});
        EXPECT_EQ(r.code, 0) << r.describe();
        for (const auto& name : libvirt_networks()) {
            if (name.rfind(prefix(), 0) == 0) remove_network(name);
        }
        for (const auto& name : libvirt_networks()) {
            EXPECT_NE(name.rfind(prefix(), 0), 0u) << "network left behind: " << name;
        }
        for (int k = 1; k <= kNetworks; ++k) {
            EXPECT_FALSE(link_exists(bridge(k))) << "bridge left behind: " << bridge(k);
            remove_link(bridge(k));
        }
    }

    std::string lab() const {
        return "vf-it-" + std::to_string(kPid) + "-int" + std::to_string(n_);
    }
    std::string prefix() const {
        return "vfit-" + std::to_string(kPid) + "-i" + std::to_string(n_) + "-";
    }
    std::string net(int k) const { return prefix() + std::to_string(k); }
    /// At most 15 characters: "vfit" + 5 + "i" + n + "x" + k.
    std::string bridge(int k) const {
        return "vfit" + std::to_string(kPid % 100000) + "i" + std::to_string(n_) + "x" +
               std::to_string(k);
    }

    /// Starts `apply` of the lab in the background and waits until its first action
    /// has completed (so the signal comes mid-apply).
    std::unique_ptr<Background> start_apply(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"apply", "--auto-approve", "--parallelism", "1"};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(manifest_);
        auto bg = std::make_unique<Background>(args, dir_.path());
        const bool begun = eventually(
            [&] { return network_exists(net(1)) && net_info(net(1), "Active") == "yes"; }, 60s);
        EXPECT_TRUE(begun) << "the first network never appeared\n" << bg->out() << bg->err();
        return bg;
    }

    /// The names of the lab's networks libvirt has now.
    std::set<std::string> present() const {
        std::set<std::string> out;
        for (const auto& name : libvirt_networks())
            if (name.rfind(prefix(), 0) == 0) out.insert(name);
        return out;
    }

    /// What a second run says: the lock is free at once and the lab converges.
    void expect_next_apply_converges() {
        const auto again = virtform({"apply", "--auto-approve", "--lock-timeout", "0", manifest_});
        EXPECT_EQ(again.code, 0) << again.describe();
        EXPECT_THAT(again.out, HasSubstr("Apply complete!"));
        EXPECT_EQ(present().size(), static_cast<std::size_t>(kNetworks));
        const auto plan = virtform({"plan", "--detailed-exitcode", manifest_});
        EXPECT_EQ(plan.code, 0) << plan.describe();
    }

    TempDir dir_;
    int n_ = 0;
    std::string manifest_;
};

TEST_F(InterruptTest, SigintFinishesTheRunningActionStartsNothingNewAndExits130) {
    auto bg = start_apply();
    bg->signal(SIGINT);
    const auto status = bg->wait(120s);
    ASSERT_TRUE(status.has_value()) << "apply did not stop after SIGINT\n" << bg->out();
    const std::string out = bg->out();
    ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status) << "\n" << out;
    EXPECT_EQ(WEXITSTATUS(*status), 130) << out << bg->err();
    EXPECT_THAT(bg->err(), HasSubstr("interrupted: no new action starts"));
    EXPECT_THAT(out, HasSubstr("Apply interrupted."));
    EXPECT_THAT(out, HasSubstr("Run apply again to finish"));

    // Every action is accounted for: completed ones exist, the rest never started.
    std::set<std::string> completed, not_started;
    const std::regex done_line("network\\.(" + prefix() + "[0-9]+): Creation complete");
    const std::regex not_started_line("  not started create network\\.(" + prefix() +
                                      "[0-9]+): interrupted \\(SIGINT\\) before its turn");
    const std::string progress = bg->err();  // progress lines go to stderr
    for (std::sregex_iterator it(progress.begin(), progress.end(), done_line), end; it != end; ++it)
        completed.insert((*it)[1]);
    for (std::sregex_iterator it(out.begin(), out.end(), not_started_line), end; it != end; ++it)
        not_started.insert((*it)[1]);
    EXPECT_GE(completed.size(), 1u) << out;
    EXPECT_GE(not_started.size(), 1u) << out;
    EXPECT_EQ(completed.size() + not_started.size(), static_cast<std::size_t>(kNetworks)) << out;
    EXPECT_THAT(out, HasSubstr("Resources: " + std::to_string(completed.size()) +
                               " added, 0 changed, 0 destroyed; 0 failed, 0 skipped, " +
                               std::to_string(not_started.size()) + " not started."));
    // The host agrees, and the action running at the signal was not cut short.
    EXPECT_EQ(present(), completed);
    for (const auto& name : completed) EXPECT_EQ(net_info(name, "Active"), "yes") << name;

    expect_next_apply_converges();
}

TEST_F(InterruptTest, SigtermWithJsonReportsNotStartedAndExits143) {
    auto bg = start_apply({"--json"});
    bg->signal(SIGTERM);
    const auto status = bg->wait(120s);
    ASSERT_TRUE(status.has_value()) << "apply did not stop after SIGTERM";
    ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
    EXPECT_EQ(WEXITSTATUS(*status), 143) << bg->out() << bg->err();
    const auto doc = nlohmann::json::parse(bg->out());
    EXPECT_EQ(doc.at("ok"), false);
    const int not_started = doc.at("summary").at("not_started");
    const int done = doc.at("summary").at("done");
    EXPECT_GE(not_started, 1);
    EXPECT_GE(done, 1);
    EXPECT_EQ(done + not_started, kNetworks);
    int listed = 0;
    for (const auto& r : doc.at("results")) {
        if (r.at("outcome") == "not_started") {
            ++listed;
            EXPECT_TRUE(r.at("started_at").is_null()) << r.dump();
        }
    }
    EXPECT_EQ(listed, not_started);
    EXPECT_EQ(present().size(), static_cast<std::size_t>(done));

    expect_next_apply_converges();
}

TEST_F(InterruptTest, SecondSignalStopsAtOnce) {
    // The action running at the signals must outlast them, whatever the host's
    // speed: stopping a VM whose guest has no OS waits out its shutdown_timeout
    // (nothing answers ACPI), so the second signal surely lands mid-action.
    const std::string vm = prefix() + "vm";
    auto lab_with_vm = [&](const char* state) {
        std::string text = "lab: " + lab() + "\nnetworks:\n  " + net(1) +
                           ": {mode: isolated, bridge: " + bridge(1) + "}\nvms:\n  " + vm +
                           ":\n    memory: 64MiB\n    accel: qemu\n    shutdown_timeout: 60\n"
                           "    state: " +
                           state + "\n    nics: [{network: " + net(1) + "}]\n";
        manifest_ = dir_.write("lab.yaml", text).string();
    };
    struct VmCleanup {
        std::string name;
        ~VmCleanup() {
            virsh("destroy " + name + " >/dev/null 2>&1; undefine " + name + " >/dev/null 2>&1");
        }
    } cleanup{vm};
    lab_with_vm("running");
    auto r = virtform({"apply", "--auto-approve", manifest_});
    ASSERT_EQ(r.code, 0) << r.describe();

    lab_with_vm("stopped");
    auto bg = std::make_unique<Background>(
        std::vector<std::string>{"apply", "--auto-approve", manifest_}, dir_.path());
    ASSERT_TRUE(
        eventually([&] { return bg->err().find("Modifying...") != std::string::npos; }, 60s))
        << bg->out() << bg->err();
    bg->signal(SIGINT);
    ASSERT_TRUE(
        eventually([&] { return bg->err().find("interrupted:") != std::string::npos; }, 10s));
    bg->signal(SIGINT);
    const auto status = bg->wait(30s);
    ASSERT_TRUE(status.has_value()) << "apply did not stop after a second SIGINT";
    ASSERT_TRUE(WIFSIGNALED(*status)) << "exit " << WEXITSTATUS(*status) << "\n" << bg->out();
    EXPECT_EQ(WTERMSIG(*status), SIGINT);
    EXPECT_THAT(bg->err(), HasSubstr("interrupted again: stopping at once"));
    EXPECT_THAT(bg->out(), ::testing::Not(HasSubstr("Apply interrupted.")));
    // Killed mid-action: the kernel dropped the lock and the next apply finishes
    // the job (the stop, forced after the VM's shutdown_timeout: 5s here).
    lab_with_vm("stopped");
    {
        std::string text = read_text(manifest_);
        const auto at = text.find("shutdown_timeout: 60");
        text.replace(at, 20, "shutdown_timeout: 5");
        manifest_ = dir_.write("lab.yaml", text).string();
    }
    const auto again = virtform({"apply", "--auto-approve", "--lock-timeout", "0", manifest_});
    EXPECT_EQ(again.code, 0) << again.describe();
    EXPECT_EQ(virsh("domstate " + vm).out.find("shut off") != std::string::npos, true)
        << virsh("domstate " + vm).out;
    const auto plan = virtform({"plan", "--detailed-exitcode", manifest_});
    EXPECT_EQ(plan.code, 0) << plan.describe();
}

}  // namespace
}  // namespace virtform::testing
