// Starting, stopping and watching VPS inits; finding them again after a
// restart of vzd.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>

#include "console.hpp"
#include "daemon.hpp"
#include "vps/crash.hpp"
#include "vps/net.hpp"
#include "vps/runtime.hpp"
#include "vps/sys.hpp"

namespace vzd {

namespace sys = vps::sys;

namespace {

Result<vps::Fd> dup_fd(vps::FdRef fd) {
    int d = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
    if (d < 0) return Error::sys("fcntl", "F_DUPFD_CLOEXEC");
    return vps::Fd(d);
}

// The devices a VPS may open or create nodes of: the character devices its
// /dev binds from the host, the terminals and its own pseudo-terminals.
// Anything else (a host disk, /dev/mem, a node made with mknod, one in a
// devtmpfs a privileged VPS mounted) is refused by the cgroup.
const std::vector<cgroups::DeviceRule>& vps_devices() {
    static const std::vector<cgroups::DeviceRule> allow{
        {'c', 1, 3}, {'c', 1, 5}, {'c', 1, 7}, {'c', 1, 8}, {'c', 1, 9},  // null zero full random urandom
        {'c', 5, 0}, {'c', 5, 1}, {'c', 5, 2},                           // tty console ptmx
        {'c', 136, -1},                                                  // pseudo-terminals
    };
    return allow;
}



std::string how_ended(bool exited, int code) {
    return exited ? "exited with status " + std::to_string(code) : "killed by signal " + std::to_string(code);
}

}  // namespace

// Rollback for a start that failed after its cgroup was made.
void discard_group(cgroups::Group& g) {
    (void)g.kill_all();
    if (auto r = g.destroy(); !r) log("warning: " + r.error().message());
}

// The console of a VPS about to start. Its root owns it, as root owns
// /dev/console on a machine (getty and systemd chown and reopen it): in a
// user namespace that is the VPS's id range, group tty (5) inside.
Result<ConsolePty> console_for(const vps::plan::Plan& plan) {
    auto console = open_console();
    if (!console || plan.uid_map.empty()) return console;
    const uint32_t base = plan.uid_map.front().outside;
    if (::fchown(console->slave.get(), base, base + 5) < 0 || ::fchmod(console->slave.get(), 0620) < 0)
        return Error::sys("chown", console->slave_path + " (console of VPS " + std::to_string(plan.ctid) + ")");
    return console;
}

// The root of an unprivileged VPS is a host id with no rights on the host:
// every directory above its private area and root mount point must let
// others pass (o+x), or its init cannot even find its files.
Result<void> Daemon::check_reachable(const vps::plan::Plan& plan) const {
    if (plan.uid_map.empty()) return vps::ok();
    for (const std::string& path : {plan.private_dir, plan.root_dir}) {
        for (std::string dir = path; dir.size() > 1; dir = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1))) {
            struct stat st {};
            if (::stat(dir.c_str(), &st) < 0) return Error::sys("stat", dir);
            if (S_ISDIR(st.st_mode) && (st.st_mode & S_IXOTH) == 0)
                return Error::make(Errc::system,
                                   "VPS " + std::to_string(plan.ctid) + " is unprivileged and its root (host uid " +
                                       std::to_string(plan.uid_map[0].outside) + ") cannot pass through " + dir +
                                       " (mode " + std::to_string((st.st_mode >> 6) & 7) +
                                       std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
                                       "): allow search by others (chmod o+x " + dir + ")");
        }
    }
    return vps::ok();
}

bool Daemon::is_running(Vps& v) {
    std::lock_guard g(v.m);
    return v.running.has_value();
}

uint64_t Daemon::nproc(Vps& v) {
    std::lock_guard g(v.m);
    if (!v.running || !v.group) return 0;
    auto u = v.group->usage();
    if (u && u->pids_current) return *u->pids_current;
    auto procs = v.group->processes();
    return procs ? procs->size() : 0;
}

// The VPS's cgroup with its limits, device rules and (unprivileged
// cgroup v2) delegation, ready for its init; removed again on failure.
Result<std::unique_ptr<cgroups::Group>> Daemon::prepare_group(const vps::plan::Plan& plan) {
    const uint32_t id = plan.ctid;
    auto group = cgroups_->create(std::to_string(id));
    if (!group) return std::move(group).error();
    if (auto r = (*group)->apply(limits_for(plan)); !r) {
        discard_group(**group);
        return std::move(r).error().with_context("apply limits");
    }
    if (auto r = (*group)->restrict_devices(vps_devices()); !r) {
        if (r.error().err() != ENOTSUP) {
            discard_group(**group);
            return std::move(r).error();
        }
        log("VPS " + std::to_string(id) + ": device access is not restricted by the cgroup: " + r.error().message());
    }
    if (plan.cgroup_view == vps::plan::CgroupView::delegated) {
        const uint32_t root_id = plan.uid_map.front().outside;
        if (auto r = (*group)->delegate(root_id, root_id); !r) {
            discard_group(**group);
            return std::move(r).error().with_context("delegate the cgroup to the VPS's root");
        }
    }
    return group;
}

Result<void> Daemon::start_locked(Vps& v) {
    const uint32_t id = v.ctid;
    vps::config::VpsConfig cfg;
    auto plan = load_plan(id, &cfg);
    if (!plan) return std::move(plan).error();
    if (is_running(v)) return Error::make(Errc::running, "VPS " + std::to_string(id) + " is already running");
    (void)sys::unlink(layout_.start_failure(id));  // what a failure of this start says replaces it
    if (!sys::is_dir(plan->private_dir))
        return Error::make(Errc::no_such_vps, "private area " + plan->private_dir + " does not exist");
    if (auto r = sys::mkdir_p(plan->root_dir); !r) return r;

    if (auto r = check_reachable(*plan); !r) return r;
    // Host ends a crashed run may have left, then what others hold now.
    clean_host_side(id, plan->net);
    if (auto r = check_network(id, plan->net, nullptr); !r) return r;
    if (auto r = write_identity(*plan, plan->hostname_configured); !r) return r;

    if (auto r = apply_disk_quota(*plan); !r) return r;
    auto group = prepare_group(*plan);
    if (!group) return std::move(group).error();
    vps::crash::at("start.group");
    auto console = console_for(*plan);
    auto hub = ConsoleHub::create();
    if (!console || !hub) {
        discard_group(**group);
        return (console ? std::move(hub).error() : std::move(console).error()).with_context("console");
    }
    (void)sys::write_file_atomic(layout_.console_log(id), "", 0600);  // a fresh log per start
    const vps::plan::Network& net = plan->net;
    std::vector<std::string> notes;
    auto wire = [&net, &notes](pid_t pid) {
        auto r = vps::net::setup(net, pid, &notes);
        if (r) vps::crash::at("start.wired");
        return r;
    };
    auto started = vps::runtime::start(*plan, **group, {console->slave.ref(), console->slave_path},
                                       lxcfs_mounts(), wire);
    console->slave.reset();  // init holds the only slave: its exit ends the console thread
    for (const auto& n : notes) log("VPS " + std::to_string(id) + ": " + n);
    if (!started) {
        discard_group(**group);
        clean_host_side(id, plan->net);
        // What init wrote if it ran at all; nothing holds the console now.
        serve_console(std::move(console->master), vps::Fd(), layout_.console_log(id), kConsoleLogBytes, *hub);
        return start_failed(layout_, id, std::move(started).error());
    }
    // Without a pidfd of its own the console thread takes init for gone at
    // the first hang-up; the start is abandoned then anyway.
    auto init_alive = dup_fd(started->init.fd());
    // A copy for systemd's fd store: the next vzd, after a restart or a
    // crash, serves the console on (see adopt_running).
    auto kept_master = dup_fd(console->master.ref());
    std::thread(serve_console, std::move(console->master), init_alive ? std::move(*init_alive) : vps::Fd(),
                layout_.console_log(id), kConsoleLogBytes, *hub)
        .detach();
    // From here on a failure kills init; the console thread then ends with
    // all init wrote in the log, which the error shows.
    auto abandon = [&](Error e) -> Result<void> {
        started->init = vps::PidFd();  // kills and reaps init
        discard_group(**group);
        clean_host_side(id, plan->net);
        (void)sys::unlink(layout_.state(id));
        (*hub)->wait_finished(std::chrono::seconds(5));
        return start_failed(layout_, id, std::move(e));
    };
    if (!init_alive) return abandon(std::move(init_alive).error());
    vps::crash::at("start.running");
    vps::storage::RunState state{id, started->init.pid(), started->start_time,
                                 static_cast<int64_t>(::time(nullptr)), std::to_string(id)};
    if (auto r = vps::storage::save_state(layout_.state(id), state); !r) return abandon(std::move(r).error());
    auto watch_fd = dup_fd(started->init.fd());
    if (!watch_fd) return abandon(std::move(watch_fd).error());
    {
        std::lock_guard g(v.m);
        pid_t pid = started->init.pid();
        v.running = RunningInit{pid, started->init.release(), state.start_time, state.started_at, true, *hub};
        v.group = std::move(*group);
        v.plan = std::move(*plan);
        v.cfg = std::move(cfg);
    }
    log("VPS " + std::to_string(id) + " started, init pid " + std::to_string(state.init_pid));
    if (kept_master) sd_notify("FDSTORE=1\nFDNAME=" + console_fd_name(id), kept_master->get());
    std::thread(&Daemon::watch, this, entry(id), std::move(*watch_fd)).detach();
    vps::crash::at("start.saved");
    return vps::ok();
}

Result<void> Daemon::take_over(Vps& v, pid_t pid, std::unique_ptr<cgroups::Group> group, vps::plan::Plan plan,
                               vps::config::VpsConfig cfg, ConsolePty console, std::shared_ptr<ConsoleHub> hub) {
    const uint32_t id = v.ctid;
    auto start_time = sys::process_start_time(pid);
    auto pidfd = sys::pidfd_open(pid);
    auto init_alive = pidfd ? dup_fd(pidfd->ref()) : Result<vps::Fd>(pidfd.error());
    auto watch_fd = pidfd ? dup_fd(pidfd->ref()) : Result<vps::Fd>(pidfd.error());
    vps::storage::RunState state{id, pid, start_time.value_or(0), static_cast<int64_t>(::time(nullptr)),
                                 std::to_string(id)};
    Result<void> saved = start_time && init_alive && watch_fd
                             ? vps::storage::save_state(layout_.state(id), state)
                             : Result<void>(Error(Errc::system, "take over", "pid " + std::to_string(pid), ESRCH,
                                                  "the restored init is gone"));
    if (!saved) {
        discard_group(*group);
        clean_host_side(id, plan.net);
        return std::move(saved).error();
    }
    console.slave.reset();  // the restored init holds its own
    auto kept_master = dup_fd(console.master.ref());
    std::thread(serve_console, std::move(console.master), std::move(*init_alive), layout_.console_log(id),
                kConsoleLogBytes, hub)
        .detach();
    {
        std::lock_guard g(v.m);
        v.running = RunningInit{pid, std::move(*pidfd), state.start_time, state.started_at, false, hub};
        v.group = std::move(group);
        v.plan = std::move(plan);
        v.cfg = std::move(cfg);
    }
    if (kept_master) sd_notify("FDSTORE=1\nFDNAME=" + console_fd_name(id), kept_master->get());
    std::thread(&Daemon::watch, this, entry(id), std::move(*watch_fd)).detach();
    return vps::ok();
}

// The console master the previous vzd left in systemd's fd store, if any:
// served on as at start, so the log goes on and `vzctl console` attaches.
void Daemon::adopt_console(Vps& v) {
    auto it = stored_fds_.find(console_fd_name(v.ctid));
    if (it == stored_fds_.end()) return;
    vps::Fd master = std::move(it->second);
    stored_fds_.erase(it);
    auto hub = ConsoleHub::create();
    std::lock_guard g(v.m);
    auto init_alive = v.running ? dup_fd(v.running->pidfd.ref()) : Result<vps::Fd>(Error::sys("dup", {}, EBADF));
    if (!hub || !init_alive) {
        log("warning: VPS " + std::to_string(v.ctid) + ": its console is not served after the restart: " +
            (hub ? init_alive.error() : hub.error()).message());
        return;
    }
    v.running->console = *hub;
    std::thread(serve_console, std::move(master), std::move(*init_alive), layout_.console_log(v.ctid),
                kConsoleLogBytes, *hub)
        .detach();
}

void Daemon::watch(std::shared_ptr<Vps> v, vps::Fd pidfd) {
    pollfd p{pidfd.get(), POLLIN, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    on_init_exit(*v);
}

void Daemon::on_init_exit(Vps& v) {
    std::unique_lock g(v.m);
    if (!v.running) return;
    std::string how = "exited";
    if (v.running->is_child) {
        siginfo_t info{};
        if (::waitid(static_cast<idtype_t>(P_PIDFD), v.running->pidfd.get(), &info, WEXITED) == 0)
            how = how_ended(info.si_code == CLD_EXITED, info.si_status);
    }
    if (v.group) {
        (void)v.group->kill_all();
        if (auto r = v.group->destroy(); !r) log("warning: VPS " + std::to_string(v.ctid) + ": " + r.error().message());
    }
    vps::crash::at("stop.exited");
    clean_host_side(v.ctid, v.plan.net);
    (void)sys::unlink(layout_.state(v.ctid));
    v.running.reset();
    v.group.reset();
    log("VPS " + std::to_string(v.ctid) + " stopped (init " + how + ")");
    sd_notify("FDSTOREREMOVE=1\nFDNAME=" + console_fd_name(v.ctid));
    // An init that fails on its own (a broken /sbin/init, a boot script
    // that gives up) leaves its reason and console for `vzctl status`.
    // Start does not wait to see it: that would slow every start.
    if (v.op_name != "stop" && v.op_name != "restart" && v.op_name != "chkpnt" && how != "exited with status 0" && how != "exited")
        (void)start_failed(layout_, v.ctid, Error::make(Errc::system, "init " + how + " while no stop was asked"));
    g.unlock();
    v.changed.notify_all();
}

Result<void> Daemon::stop_locked(Vps& v, bool fast) {
    std::unique_lock g(v.m);
    if (!v.running) return Error::make(Errc::not_running, "VPS " + std::to_string(v.ctid) + " is not running");
    auto stopped = [&] { return !v.running.has_value(); };
    if (!fast && v.plan.stop_signal > 0) {
        sys::pidfd_send_signal(v.running->pidfd.ref(), v.plan.stop_signal);
        vps::crash::at("stop.signalled");
        v.changed.wait_for(g, std::chrono::seconds(cfg_.stop_timeout), stopped);
        if (stopped()) return vps::ok();
        log("VPS " + std::to_string(v.ctid) + " did not stop within " +
            std::to_string(cfg_.stop_timeout) + " s; killing it");
    }
    // SIGKILL to a pid namespace's init takes the whole namespace down.
    sys::pidfd_send_signal(v.running->pidfd.ref(), SIGKILL);
    if (v.group) (void)v.group->kill_all();
    v.changed.wait_for(g, std::chrono::seconds(30), stopped);
    if (!stopped()) return Error::make(Errc::system, "VPS " + std::to_string(v.ctid) + " did not die after SIGKILL");
    return vps::ok();
}

// After a restart: a VPS whose recorded init is still the same process is
// running and gets watched again; anything a dead VPS left is cleaned up.
void Daemon::adopt_running() {
    auto ctids = layout_.list_ctids();
    if (!ctids) return;
    for (uint32_t id : *ctids) {
        auto state = vps::storage::load_state(layout_.state(id));
        if (!state) continue;
        auto now = sys::process_start_time(state->init_pid);
        auto pidfd = now && *now == state->start_time ? sys::pidfd_open(state->init_pid)
                                                      : Result<vps::Fd>(Error::sys("pidfd_open", {}, ESRCH));
        auto group = cgroups_->open(std::to_string(id));
        if (pidfd) {
            // Never drop a live VPS: a config that no longer parses or a
            // cgroup we cannot open only limits what we can do with it.
            vps::config::VpsConfig cfg;
            auto plan = load_plan(id, &cfg);
            if (!plan) log("warning: VPS " + std::to_string(id) + ": " + plan.error().message());
            if (!group) log("warning: VPS " + std::to_string(id) + ": " + group.error().message());
            auto v = entry(id);
            auto watch_fd = dup_fd(pidfd->ref());
            {
                std::lock_guard g(v->m);
                v->running = RunningInit{state->init_pid, std::move(*pidfd), state->start_time,
                                         state->started_at, false, nullptr};
                if (group) v->group = std::move(*group);
                if (plan) {
                    v->plan = std::move(*plan);
                    v->cfg = std::move(cfg);
                }
            }
            log("VPS " + std::to_string(id) + " is running (init pid " +
                std::to_string(state->init_pid) + "): adopted");
            adopt_console(*v);
            if (watch_fd) std::thread(&Daemon::watch, this, v, std::move(*watch_fd)).detach();
            continue;
        }
        log("VPS " + std::to_string(id) + ": recorded init is gone; cleaning up");
        if (group) discard_group(**group);
        if (auto plan = load_plan(id)) clean_host_side(id, plan->net);
        (void)sys::unlink(layout_.state(id));
    }
}

}  // namespace vzd
