// cgroups against the running kernel: create a group beneath our own
// cgroups, limit it, put a child in, read it back, kill and remove it.
// Needs root; runs only with VZ_REAL_CGROUP_TEST=1 and is reported as
// skipped otherwise. It writes nothing outside "<own>/vz-cgtest-<pid>" in
// each hierarchy and moves only its own child, deeper into our cgroups.
#include <doctest/doctest.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cgroups/backend.hpp"
#include "vps/fd.hpp"
#include "vps/sys.hpp"

using namespace cgroups;

namespace {

// The error text of a failed Result, "" for success: doctest may print a
// *_MESSAGE argument even when the check passes (-s).
template <class R>
std::string why(const R& r) {
    return r ? std::string() : r.error().message();
}

constexpr uint64_t MiB = 1u << 20;

bool real_enabled() {
    const char* v = std::getenv("VZ_REAL_CGROUP_TEST");
    return v && std::string(v) == "1";
}

// The group directories, from describe(): "memory:/a/b, pids:/c/d" (v1) or
// "/a/b" (v2).
std::vector<std::string> group_dirs(const std::string& describe) {
    std::vector<std::string> out;
    for (auto part : vps::sys::split(describe, ',')) {
        part = vps::sys::trim(part);
        auto colon = part.find(":/");
        out.push_back(colon == std::string::npos ? part : part.substr(colon + 1));
    }
    return out;
}

std::string parent_of(const std::string& p) { return p.substr(0, p.rfind('/')); }

vps::PidFd spawn_sleeper() {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (;;) ::pause();
    }
    auto fd = vps::sys::pidfd_open(pid);
    return vps::PidFd(pid, fd ? std::move(fd).value() : vps::Fd());
}

// A child born inside the group through clone3(CLONE_INTO_CGROUP).
vps::PidFd clone_sleeper_into(vps::FdRef cgroup) {
    clone_args args{};
    args.exit_signal = SIGCHLD;
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup.get());
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    REQUIRE_MESSAGE(pid >= 0, "clone3: " << std::strerror(errno));
    if (pid == 0) {
        for (;;) ::pause();
    }
    auto fd = vps::sys::pidfd_open(static_cast<pid_t>(pid));
    return vps::PidFd(static_cast<pid_t>(pid), fd ? std::move(fd).value() : vps::Fd());
}

bool is_cgroup2(const std::string& path) {
    struct statfs st {};
    return ::statfs(path.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

// memory line of /proc/<pid>/cgroup (v1), or the 0:: line (v2).
std::string cgroup_of(pid_t pid, bool v1) {
    auto text = vps::sys::read_file("/proc/" + std::to_string(pid) + "/cgroup");
    REQUIRE(text);
    for (const auto& line : vps::sys::split(*text, '\n')) {
        auto want = v1 ? std::string(":memory:") : std::string("0::");
        auto at = line.find(want);
        if (at != std::string::npos && (v1 || at == 0)) return line.substr(at + want.size());
    }
    return {};
}

void check_limits_read_back(Group& g, bool v1) {
    Limits l;
    l.memory_max = 256 * MiB;
    l.swap_max = 64 * MiB;
    l.pids_max = 64;
    l.cpu_weight = 50;
    l.cpu_quota_us = 50000;
    l.cpuset_cpus = "0";
    l.memory_high = 192 * MiB;
    auto r = g.apply(l);
    REQUIRE_MESSAGE(r, why(r));
    auto u = g.usage();
    REQUIRE_MESSAGE(u, why(u));
    CHECK(u->memory_max == 256 * MiB);
    CHECK(u->swap_max == 64 * MiB);
    CHECK(u->pids_max == 64u);
    CHECK(u->cpu_weight == 50u);
    CHECK(u->cpu_quota_us == 50000u);
    CHECK(u->cpu_period_us == 100000u);
    MESSAGE("limits applied and read back (" << (v1 ? "v1" : "v2") << ")");

    // Raise past the current memsw, then lower below it: v1 needs opposite
    // write orders for the two.
    Limits up;
    up.memory_max = 1024 * MiB;
    r = g.apply(up);
    REQUIRE_MESSAGE(r, why(r));
    CHECK(g.usage()->memory_max == 1024 * MiB);
    CHECK(g.usage()->swap_max == 64 * MiB);
    Limits down;
    down.memory_max = 128 * MiB;
    down.swap_max = 0;
    r = g.apply(down);
    REQUIRE_MESSAGE(r, why(r));
    CHECK(g.usage()->memory_max == 128 * MiB);
    CHECK(g.usage()->swap_max == 0u);

    Limits unl;
    unl.memory_max = kUnlimited;
    unl.swap_max = kUnlimited;
    unl.pids_max = kUnlimited;
    unl.cpu_quota_us = kUnlimited;
    unl.cpuset_cpus = "";
    r = g.apply(unl);
    REQUIRE_MESSAGE(r, why(r));
    auto back = g.usage();
    REQUIRE(back);
    CHECK(back->memory_max == kUnlimited);
    CHECK(back->swap_max == kUnlimited);
    CHECK(back->pids_max == kUnlimited);
    CHECK(back->cpu_quota_us == kUnlimited);
    // The kernel's refusal comes back naming the file and the group.
    Limits bad;
    bad.cpuset_cpus = "999";
    r = g.apply(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().err() != 0);  // ERANGE: no such cpu
    CHECK(r.error().path().find("cpuset.cpus") != std::string::npos);
    MESSAGE("bad cpuset: " << r.error().message());

    r = g.apply(l);  // limited again for the child
    REQUIRE_MESSAGE(r, why(r));
}

}  // namespace

TEST_CASE("cgroups real kernel: group lifecycle" * doctest::skip(!real_enabled())) {
    Options o;
    o.base = "vz-cgtest-" + std::to_string(::getpid());
    auto b = open_backend(o);
    REQUIRE_MESSAGE(b, why(b));
    const bool v1 = (*b)->name() == "v1";
    MESSAGE("backend " << (*b)->describe());

    auto g = (*b)->create("g");
    REQUIRE_MESSAGE(g, why(g));
    auto dirs = group_dirs((*g)->describe());
    // Whatever happens below, leave nothing behind.
    vps::ScopeExit cleanup([&] {
        (void)(*g)->kill_all();
        (void)(*g)->destroy(2000);
        for (const auto& d : dirs) (void)vps::sys::rmdir(parent_of(d));
    });
    check_limits_read_back(**g, v1);

    auto child = spawn_sleeper();
    auto added = (*g)->add_process(child.pid());
    REQUIRE_MESSAGE(added, why(added));
    auto u = (*g)->usage();
    REQUIRE(u);
    CHECK(u->pids_current == 1u);
    CHECK(u->memory_current.has_value());
    auto procs = (*g)->processes();
    REQUIRE(procs);
    CHECK(*procs == std::vector<pid_t>{child.pid()});
    auto where = cgroup_of(child.pid(), v1);
    CHECK(where.size() > o.base.size() + 2);
    CHECK(where.substr(where.size() - o.base.size() - 2) == o.base + "/g");
    MESSAGE("child " << child.pid() << " is in " << where);

    // A populated group cannot go: destroy times out with the kernel's EBUSY.
    auto busy = (*g)->destroy(50);
    REQUIRE_FALSE(busy);
    CHECK(busy.error().err() == EBUSY);
    MESSAGE("destroy while populated: " << busy.error().message());

    auto killed = (*g)->kill_all();
    REQUIRE_MESSAGE(killed, why(killed));
    int status = child.wait();
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);

    auto gone = (*g)->destroy(2000);
    REQUIRE_MESSAGE(gone, why(gone));
    for (const auto& d : dirs) CHECK_FALSE(vps::sys::exists(d));
    CHECK_FALSE((*b)->exists("g"));
    CHECK((*g)->destroy(100));  // again: already gone is success

    for (const auto& d : dirs) {
        auto r = vps::sys::rmdir(parent_of(d));
        CHECK_MESSAGE(r, why(r));
        CHECK_FALSE(vps::sys::exists(parent_of(d)));
    }
    cleanup.dismiss();
}

// On the hybrid host the unified mount carries no controller we use, but
// it is a real cgroup2: enough to check the v2 group mechanics (O_PATH fd
// for CLONE_INTO_CGROUP, cgroup.kill, destroy). Our v2 cgroup there is the
// root, so nothing is enabled and no root file is written (enable() only
// writes controllers the root offers and lacks, and it offers only hugetlb).
TEST_CASE("cgroups real kernel: v2 mechanics on the unified mount" *
          doctest::skip(!real_enabled() || !is_cgroup2("/sys/fs/cgroup/unified"))) {
    Options o;
    o.mode = Mode::v2;
    o.root = "/sys/fs/cgroup/unified";
    o.base = "vz-cgtest-" + std::to_string(::getpid());
    auto b = open_backend(o);
    REQUIRE_MESSAGE(b, why(b));
    MESSAGE("backend " << (*b)->describe() << ", controllers " << (*b)->controllers().size());
    auto g = (*b)->create("g");
    REQUIRE_MESSAGE(g, why(g));
    const std::string dir = (*g)->describe();
    vps::ScopeExit cleanup([&] {
        (void)(*g)->kill_all();
        (void)(*g)->destroy(2000);
        (void)vps::sys::rmdir(parent_of(dir));
    });
    auto fd = (*g)->clone_into_fd();
    REQUIRE(fd);
    auto child = clone_sleeper_into(*fd);
    auto procs = (*g)->processes();
    REQUIRE_MESSAGE(procs, why(procs));
    CHECK(*procs == std::vector<pid_t>{child.pid()});
    CHECK(cgroup_of(child.pid(), false) == "/" + o.base + "/g");
    auto u = (*g)->usage();
    REQUIRE_MESSAGE(u, why(u));
    CHECK(u->cpu_usage_us.has_value());  // cpu.stat is a core file

    auto killed = (*g)->kill_all();
    REQUIRE_MESSAGE(killed, why(killed));
    int status = child.wait();
    CHECK(WIFSIGNALED(status));
    auto gone = (*g)->destroy(2000);
    REQUIRE_MESSAGE(gone, why(gone));
    CHECK_FALSE(vps::sys::exists(dir));
    auto base = vps::sys::rmdir(parent_of(dir));
    CHECK_MESSAGE(base, why(base));
    cleanup.dismiss();
}
