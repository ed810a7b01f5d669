// Entering a running VPS: a helper forked from vzd joins the VPS's cgroup
// and namespaces, then forks the command (joining a pid namespace applies
// to children only). The command gets the VPS's capability bounding set and
// seccomp filter, the caller's stdio and nothing else of vzd's: its cwd and
// root are the VPS's, every other fd is closed.
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "caps/caps.hpp"
#include "ns/ns.hpp"
#include "runtime/join.hpp"
#include "seccomp/filter.hpp"
#include "vps/proto.hpp"
#include "vps/runtime.hpp"
#include "vps/sys.hpp"

extern char** environ;

namespace vps::runtime {
namespace {

struct Confinement {
    caps::Prepared caps;
    seccomp::Program filter;
    std::optional<plan::Rlimit> nofile;
};

Result<Confinement> confinement(const plan::Plan& plan) {
    auto c = caps::prepare(plan.caps_drop);
    if (!c) return std::move(c).error();
    auto f = seccomp::compile(plan.seccomp_deny);
    if (!f) return std::move(f).error();
    return Confinement{std::move(*c), std::move(*f), plan.rlimit_nofile};
}

void say(int fd, const std::string& msg) { (void)!::write(fd, msg.data(), msg.size()); }

// In the helper: join the VPS. On failure tell the caller's stderr and exit.
void join_vps(const Target& t, int errfd) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (auto r = t.group->add_process_near(::getpid(), t.init_pid); !r) {
        say(errfd, "vzd: " + r.error().message() + "\n");
        ::_exit(126);
    }
    if (join_as_vps_root(t.init_pidfd, ns::kJoinFlags, !t.plan->uid_map.empty()) < 0) {
        say(errfd, std::string("vzd: join the VPS's namespaces: ") + std::strerror(errno) + "\n");
        ::_exit(126);
    }
}

std::vector<std::string> merged_env(const plan::Plan& plan, const std::vector<std::string>& extra) {
    std::vector<std::string> env = plan.init_env;
    for (const auto& e : extra) {
        auto eq = e.find('=');
        if (eq == std::string::npos) continue;
        std::string key = e.substr(0, eq + 1);
        std::erase_if(env, [&](const std::string& x) { return x.rfind(key, 0) == 0; });
        env.push_back(e);
    }
    return env;
}

// In the command process, inside the VPS: confine and exec.
[[noreturn]] void exec_confined(const Confinement& c, const std::vector<std::string>& argv,
                                const std::vector<std::string>& env, int errfd) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    reset_signals();
    if (::chdir("/") < 0) ::_exit(126);
    if (c.nofile) {
        struct rlimit rl {c.nofile->soft, c.nofile->hard};
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (caps::apply(c.caps) < 0) {
        say(errfd, std::string("vzd: drop capabilities: ") + std::strerror(errno) + "\n");
        ::_exit(126);
    }
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    // A command entered from the host gains nothing from set-user-ID files
    // or file capabilities inside the VPS.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) ::_exit(126);
    if (seccomp::load(c.filter) < 0) {
        say(2, std::string("vzd: load seccomp filter: ") + std::strerror(errno) + "\n");
        ::_exit(126);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    // execvp searches the PATH of `environ`: make it the VPS's.
    environ = envp.data();
    ::execvp(args[0], args.data());
    int e = errno;
    say(2, "vzctl exec: " + argv[0] + ": " + std::strerror(e) + "\n");
    ::_exit(e == ENOENT ? 127 : 126);
}

// In the helper: run the command as a child and exit with its status.
[[noreturn]] void helper_wait(pid_t child) {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    ::_exit(exit_status_of(status));
}

Result<PidFd> fork_helper() {
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork");
    if (pid == 0) return PidFd();
    auto fd = sys::pidfd_open(pid);
    if (!fd) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return std::move(fd).error();
    }
    return PidFd(pid, std::move(*fd));
}

// The pty master travels from the helper to vzd like any fd between vzctl
// and vzd: as SCM_RIGHTS on a frame of the control protocol.
Result<void> send_fd(int sock, int fd) { return proto::send_frame(FdRef(sock), "pty", {fd}); }

Result<Fd> recv_fd(int sock) {
    auto frame = proto::recv_frame(FdRef(sock), 30000);
    if (!frame || frame->fds.size() != 1)
        return Error::make(Errc::system, "enter: the helper could not open a pseudo-terminal");
    return std::move(frame->fds.front());
}

// In the helper, inside the VPS: a new pty of the VPS's devpts instance.
int open_pty_master(std::string& slave) {
    int m = ::open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -1;
    int unlock = 0;
    unsigned int n = 0;
    if (::ioctl(m, TIOCSPTLCK, &unlock) < 0 || ::ioctl(m, TIOCGPTN, &n) < 0) {
        ::close(m);
        return -1;
    }
    slave = "/dev/pts/" + std::to_string(n);
    return m;
}

[[noreturn]] void shell_on_pty(const Confinement& c, const std::string& slave,
                               const std::vector<std::string>& env) {
    ::setsid();
    int s = ::open(slave.c_str(), O_RDWR);
    if (s < 0) ::_exit(126);
    ::ioctl(s, TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd) ::dup2(s, fd);
    const char* shell = ::access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    exec_confined(c, {shell, "-l"}, env, 2);
}

}  // namespace

Result<PidFd> spawn_exec(const Target& t, const ExecRequest& req) {
    if (req.argv.empty()) return Error::make(Errc::bad_argument, "exec: no command given");
    auto conf = confinement(*t.plan);
    if (!conf) return std::move(conf).error();
    const auto env = merged_env(*t.plan, req.env);
    auto helper = fork_helper();
    if (!helper) return helper;
    if (helper->valid()) return helper;
    // Helper process from here on.
    join_vps(t, req.err.get());
    if (::dup2(req.in.get(), 0) < 0 || ::dup2(req.out.get(), 1) < 0 || ::dup2(req.err.get(), 2) < 0)
        ::_exit(126);
    pid_t child = ::fork();
    if (child < 0) ::_exit(126);
    if (child == 0) {
        ::setsid();
        exec_confined(*conf, req.argv, env, 2);
    }
    helper_wait(child);
}

Result<Entered> spawn_enter(const Target& t, const std::vector<std::string>& env_extra) {
    auto conf = confinement(*t.plan);
    if (!conf) return std::move(conf).error();
    const auto env = merged_env(*t.plan, env_extra);
    auto chan = sys::socketpair(SOCK_STREAM);
    if (!chan) return std::move(chan).error();
    auto helper = fork_helper();
    if (!helper) return std::move(helper).error();
    if (helper->valid()) {
        chan->second.reset();
        auto master = recv_fd(chan->first.get());
        if (!master) return std::move(master).error();
        return Entered{std::move(*helper), std::move(*master)};
    }
    // Helper process from here on.
    chan->first.reset();
    int devnull = ::open("/dev/null", O_RDWR);
    join_vps(t, devnull);
    std::string slave;
    int master = open_pty_master(slave);
    if (master < 0) ::_exit(126);
    if (!send_fd(chan->second.get(), master)) ::_exit(126);
    ::close(master);
    pid_t child = ::fork();
    if (child < 0) ::_exit(126);
    if (child == 0) shell_on_pty(*conf, slave, env);
    helper_wait(child);
}

Result<void> set_hostname(const Target& t, const std::string& hostname) {
    auto helper = fork_helper();
    if (!helper) return std::move(helper).error();
    if (!helper->valid()) {
        if (::setns(t.init_pidfd.get(), CLONE_NEWUTS) < 0) ::_exit(1);
        ::_exit(::sethostname(hostname.data(), hostname.size()) < 0 ? 2 : 0);
    }
    int status = helper->wait();
    if (exit_status_of(status) != 0)
        return Error::make(Errc::system, "could not set hostname '" + hostname + "' in the VPS");
    return ok();
}

}  // namespace vps::runtime
