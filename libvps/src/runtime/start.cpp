// Starting a VPS's init: parent and child sync over two pipes.
//
//   parent                          child (after clone3)
//   ------                          -----
//   idmapped root tree (if any)
//   clone3(namespaces, pidfd,       waits on `go`
//          CLONE_INTO_CGROUP on v2)
//   v1: add child to cgroups
//   uid_map/gid_map, numfile
//   before_run(pid): network
//   write `go`  ------------------> userns: become its root; unshare
//                                   cgroup ns, build the root,
//                                   pivot_root, hostname, seccomp, caps,
//   read `report` until EOF <------ exec init (report closes on exec) or
//                                   write {stage, index, errno} and exit
//
// The child is a clone of a multi-threaded process: it may only make
// syscalls on data prepared by the parent (see rootfs.hpp).
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sys/wait.h>

#include <ctime>

#include "caps/caps.hpp"
#include "ns/ns.hpp"
#include "rootfs/rootfs.hpp"
#include "runtime/join.hpp"
#include "seccomp/filter.hpp"
#include "vps/idmap.hpp"
#include "vps/runtime.hpp"
#include "vps/sys.hpp"

namespace vps::runtime {
namespace {

enum class Stage : int32_t {
    go = 1,
    ids,
    cgroup_ns,
    rootfs,
    hostname,
    session,
    stdio,
    caps,
    close_fds,
    seccomp,
    exec,
};

struct Report {
    Stage stage;
    int32_t index;
    int32_t err;
};

// Everything the child needs, built before clone3.
struct ChildSpec {
    std::vector<rootfs::Step> steps;
    std::string hostname;
    std::vector<std::string> argv_store;
    std::vector<std::string> env_store;
    std::vector<char*> argv;
    std::vector<char*> envp;
    caps::Prepared caps;
    seccomp::Program filter;
    bool userns = false;
    int console = -1;
    int go_fd = -1;
    int go_write_fd = -1;  // the parent's end, closed here at once
    int report_fd = -1;
};

[[noreturn]] void child_fail(const ChildSpec& s, Stage stage, int index) noexcept {
    Report r{stage, index, errno};
    (void)!::write(s.report_fd, &r, sizeof r);
    ::_exit(127);
}

[[noreturn]] void child_main(const ChildSpec& s) noexcept {
    reset_signals();
    // A vzd that dies before this child runs init takes it along: the
    // start is cut short, and the next vzd clears what it left.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Our copy of the parent's end would keep `go` from ever reading EOF.
    ::close(s.go_write_fd);
    char go = 0;
    if (::read(s.go_fd, &go, 1) != 1) ::_exit(127);  // parent gave up
    // The parent has written the id maps: become the VPS's root (until now
    // this process was the host's root, an unmapped id in its own namespace).
    if (s.userns && become_userns_root() < 0) child_fail(s, Stage::ids, 0);
    if (::unshare(CLONE_NEWCGROUP) < 0) child_fail(s, Stage::cgroup_ns, 0);
    int failed = rootfs::run_steps(s.steps.data(), s.steps.size());
    if (failed >= 0) child_fail(s, Stage::rootfs, failed);
    if (::sethostname(s.hostname.data(), s.hostname.size()) < 0) child_fail(s, Stage::hostname, 0);
    if (::setsid() < 0) child_fail(s, Stage::session, 0);
    // stdin is the VPS's own /dev/null; output goes to the console log.
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || ::dup2(devnull, 0) < 0) child_fail(s, Stage::stdio, 0);
    for (int fd = 1; fd < 3; ++fd)
        if (::dup2(s.console, fd) < 0) child_fail(s, Stage::stdio, fd);
    // The filter goes in while CAP_SYS_ADMIN is still held: without it (a
    // privileged VPS loses it) the kernel takes a filter only under
    // no_new_privs, which would break set-id programs inside.
    if (seccomp::load(s.filter) < 0) child_fail(s, Stage::seccomp, 0);
    if (caps::apply(s.caps) < 0) child_fail(s, Stage::caps, 0);
    // Nothing of vzd's may reach init: every other fd closes at exec.
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        child_fail(s, Stage::close_fds, 0);
    // Init outlives the request thread that cloned it, and vzd itself.
    ::prctl(PR_SET_PDEATHSIG, 0);
    ::execve(s.argv[0], s.argv.data(), s.envp.data());
    child_fail(s, Stage::exec, 0);
}

Result<void> prepare(ChildSpec& s, const plan::Plan& plan, const rootfs::HostMounts& host) {
    s.steps = rootfs::plan_steps(plan, host);
    s.hostname = plan.hostname;
    s.argv_store = plan.init_argv;
    s.env_store = plan.init_env;
    for (auto& a : s.argv_store) s.argv.push_back(a.data());
    s.argv.push_back(nullptr);
    for (auto& e : s.env_store) s.envp.push_back(e.data());
    s.envp.push_back(nullptr);
    s.userns = !plan.uid_map.empty();
    auto caps = caps::prepare(plan.caps_drop);
    if (!caps) return std::move(caps).error();
    s.caps = std::move(*caps);
    auto filter = seccomp::compile(plan.seccomp_deny);
    if (!filter) return std::move(filter).error();
    s.filter = std::move(*filter);
    return ok();
}

Error child_error(const ChildSpec& s, const Report& r) {
    errno = r.err;
    switch (r.stage) {
        case Stage::ids:
            return Error::sys("setresuid/setresgid", "root of the VPS's user namespace", r.err);
        case Stage::cgroup_ns:
            return Error::sys("unshare", "cgroup namespace", r.err);
        case Stage::rootfs:
            if (r.index >= 0 && static_cast<size_t>(r.index) < s.steps.size())
                return Error(Errc::system, s.steps[r.index].describe(), {}, r.err, {});
            return Error::sys("rootfs", {}, r.err);
        case Stage::hostname:
            return Error::sys("sethostname", s.hostname, r.err);
        case Stage::session:
            return Error::sys("setsid", {}, r.err);
        case Stage::stdio:
            return Error::sys("dup2", "console", r.err);
        case Stage::caps:
            return Error::sys("drop capabilities", {}, r.err);
        case Stage::close_fds:
            return Error::sys("close_range", {}, r.err);
        case Stage::seccomp:
            return Error::sys("load seccomp filter", {}, r.err);
        case Stage::exec:
            return Error::sys("exec", s.argv_store.empty() ? "" : s.argv_store[0], r.err);
        case Stage::go:
            break;
    }
    return Error::sys("start init", {}, r.err);
}

// numfile: set from outside, since raising a hard limit takes
// CAP_SYS_RESOURCE on the host, which a user-namespaced init lacks.
Result<void> set_nofile(pid_t pid, const plan::Plan& plan) {
    if (!plan.rlimit_nofile) return ok();
    struct rlimit rl {plan.rlimit_nofile->soft, plan.rlimit_nofile->hard};
    if (::prlimit(pid, RLIMIT_NOFILE, &rl, nullptr) < 0) return Error::sys("prlimit", "RLIMIT_NOFILE (numfile)");
    return ok();
}

// Wait for the child's verdict: EOF means exec succeeded.
Result<void> await_exec(const ChildSpec& s, FdRef report) {
    Report r{};
    ssize_t n;
    do {
        n = ::read(report.get(), &r, sizeof r);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return ok();
    if (n != static_cast<ssize_t>(sizeof r)) return Error::sys("read", "child report");
    return child_error(s, r);
}

}  // namespace

Result<Started> start(const plan::Plan& plan, cgroups::Group& group, const Console& console,
                      const Lxcfs& lxcfs, const BeforeRun& before_run) {
    // An idmapped root is made here, before clone: the child only moves it.
    Fd root_tree;
    if (plan.idmapped_root) {
        auto userns = idmap::make_userns(plan.uid_map, plan.gid_map);
        if (!userns) return std::move(userns).error();
        auto tree = idmap::mapped_tree(plan.private_dir, userns->ref());
        if (!tree) return std::move(tree).error();
        root_tree = std::move(*tree);
    }
    ChildSpec spec;
    if (auto r = prepare(spec, plan, {console.path, lxcfs.proc_dir, lxcfs.files, root_tree.get()}); !r)
        return std::move(r).error();
    auto go = sys::pipe();
    if (!go) return std::move(go).error();
    auto report = sys::pipe();
    if (!report) return std::move(report).error();
    spec.console = console.fd.get();
    spec.go_fd = go->first.get();
    spec.go_write_fd = go->second.get();
    spec.report_fd = report->second.get();

    const uint64_t flags = ns::kVpsCloneFlags | (spec.userns ? CLONE_NEWUSER : 0);
    auto cloned = ns::clone3(flags, group.clone_into_fd());
    if (!cloned) return std::move(cloned).error();
    if (cloned->pid == 0) child_main(spec);

    PidFd init(cloned->pid, Fd(cloned->pidfd));
    go->first.reset();
    report->second.reset();
    if (!group.clone_into_fd()) {
        if (auto r = group.add_process(init.pid()); !r) return std::move(r).error();
    }
    if (spec.userns) {
        if (auto r = idmap::write_maps(init.pid(), plan.uid_map, plan.gid_map); !r) return std::move(r).error();
    }
    if (auto r = set_nofile(init.pid(), plan); !r) return std::move(r).error();
    if (before_run) {
        if (auto r = before_run(init.pid()); !r) return std::move(r).error();
    }
    if (::write(go->second.get(), "g", 1) != 1) return Error::sys("write", "start pipe");
    go->second.reset();
    if (auto r = await_exec(spec, report->first.ref()); !r) return std::move(r).error();
    auto start_time = sys::process_start_time(init.pid());
    if (!start_time) return Error::sys("read", "/proc/" + std::to_string(init.pid()) + "/stat", ESRCH);
    return Started{std::move(init), *start_time};
}

void reset_signals() noexcept {
    // vzd blocks the signals it takes through a signalfd and ignores
    // SIGPIPE, and whoever started vzd may have left more ignored (a shell
    // starts background jobs with SIGINT and SIGQUIT ignored). Ignored
    // signals survive exec: without this, Ctrl-C would not reach a command
    // inside the VPS.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
}

int exit_status_of(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return 255;
}

}  // namespace vps::runtime
