// exec and enter: run something inside a running VPS for a client. These
// do not take the operation lock (a long exec must not block stop); they
// copy what they need of the running VPS under its state lock instead.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.hpp"
#include "vps/runtime.hpp"
#include "vps/sys.hpp"

namespace vzd {

namespace sys = vps::sys;
using nlohmann::json;

namespace {

// A private copy of what a helper needs, valid even if the VPS stops
// meanwhile.
struct Snapshot {
    pid_t pid = 0;
    vps::Fd pidfd;
    std::unique_ptr<cgroups::Group> group;
    vps::plan::Plan plan;

    vps::runtime::Target target() { return {pid, pidfd.ref(), group.get(), &plan}; }
};

// Wait for the helper; if the client goes away first, kill the helper (and
// with it the command, through its parent-death signal).
int wait_helper(vps::PidFd& helper, vps::FdRef conn) {
    return wait_or_hangup(helper, conn, [&] { sys::pidfd_send_signal(helper.fd(), SIGKILL); });
}

}  // namespace

// Copy out a running VPS's init and cgroup, or fail with "not running".
static Result<Snapshot> snapshot(Vps& v, cgroups::Backend& backend) {
    std::lock_guard g(v.m);
    if (!v.running)
        return Error::make(Errc::not_running, "VPS " + std::to_string(v.ctid) + " is not running");
    int d = ::fcntl(v.running->pidfd.get(), F_DUPFD_CLOEXEC, 3);
    if (d < 0) return Error::sys("fcntl", "F_DUPFD_CLOEXEC");
    auto group = backend.open(std::to_string(v.ctid));
    if (!group) return std::move(group).error();
    return Snapshot{v.running->pid, vps::Fd(d), std::move(*group), v.plan};
}

Result<json> Daemon::op_exec(uint32_t ctid, const json& args, std::vector<vps::Fd>& fds,
                             vps::FdRef conn) {
    if (fds.size() != 3)
        return Error::make(Errc::protocol, "exec needs the caller's stdin, stdout and stderr");
    auto argv = strings_arg(args, "argv");
    if (!argv) return std::move(argv).error();
    if (argv->empty()) return Error::make(Errc::bad_argument, "exec: no command given");
    auto env = strings_arg(args, "env");
    if (!env) return std::move(env).error();
    auto snap = snapshot(*entry(ctid), *cgroups_);
    if (!snap) return std::move(snap).error();

    vps::runtime::ExecRequest req{*argv, *env, fds[0].ref(), fds[1].ref(), fds[2].ref()};
    auto helper = vps::runtime::spawn_exec(snap->target(), req);
    if (!helper) return std::move(helper).error();
    // Our copies of the client's stdio must go, or a reader of the
    // command's output would never see EOF.
    fds.clear();
    int status = wait_helper(*helper, conn);
    return json{{"exit_status", vps::runtime::exit_status_of(status)}};
}

Result<json> Daemon::op_enter(uint32_t ctid, const json& args, vps::FdRef conn) {
    auto env = strings_arg(args, "env");
    if (!env) return std::move(env).error();
    auto snap = snapshot(*entry(ctid), *cgroups_);
    if (!snap) return std::move(snap).error();
    auto entered = vps::runtime::spawn_enter(snap->target(), *env);
    if (!entered) return std::move(entered).error();
    vps::proto::Response resp;
    resp.result = json{{"ctid", ctid}};
    if (auto r = vps::proto::send_frame(conn, vps::proto::to_text(vps::proto::encode(resp)), {entered->master.get()}); !r)
        return std::move(r).error();
    entered->master.reset();
    int status = wait_helper(entered->helper, conn);
    return json{{"exit_status", vps::runtime::exit_status_of(status)}};
}

}  // namespace vzd
