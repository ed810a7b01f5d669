// Applying a Plan to the kernel: start a VPS's init in fresh namespaces,
// and run commands inside a running VPS.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/backend.hpp"
#include "vps/error.hpp"
#include "vps/fd.hpp"
#include "vps/plan.hpp"

namespace vps::runtime {

struct Started {
    PidFd init;  // owned: killed and reaped if dropped before release()
    uint64_t start_time = 0;
};

// The console: init's stdout and stderr, bound on the VPS's /dev/console.
// path is what the bind mount uses ("/dev/pts/7" of a pty vzd holds, or
// "/dev/null"). init's stdin is the VPS's own /dev/null.
struct Console {
    FdRef fd;
    std::string path = "/dev/null";
};

// Files of a running lxcfs to bind over the VPS's /proc.
struct Lxcfs {
    std::string proc_dir;  // e.g. /var/lib/lxcfs/proc
    std::vector<std::string> files;
};

// Called with the pid of the new init while it still waits in its fresh
// namespaces, before anything of the VPS runs (vzd wires the network here).
using BeforeRun = std::function<Result<void>(pid_t)>;

// Clone the VPS's init into new pid, mount, uts, ipc, net and cgroup
// namespaces inside `group`, build its root and exec init. Returns once
// init has been exec'd (or with the step that failed, and no process left).
Result<Started> start(const plan::Plan& plan, cgroups::Group& group, const Console& console,
                      const Lxcfs& lxcfs = {}, const BeforeRun& before_run = {});

// A running VPS as seen from outside: its init and cgroup.
struct Target {
    pid_t init_pid = 0;
    FdRef init_pidfd;
    cgroups::Group* group = nullptr;
    const plan::Plan* plan = nullptr;
};

struct ExecRequest {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // added to the plan's init_env
    FdRef in, out, err;            // the caller's stdio
};

// Spawn argv inside the VPS with the given stdio. The returned process is
// an outside helper whose exit status is the command's (128+N if the
// command died of signal N); killing it kills the command.
Result<PidFd> spawn_exec(const Target& t, const ExecRequest& req);

struct Entered {
    PidFd helper;  // exits when the shell does
    Fd master;     // pty master inside the VPS's devpts
};
// Start an interactive login shell inside the VPS on a new pseudo-terminal
// of the VPS's own devpts instance.
Result<Entered> spawn_enter(const Target& t, const std::vector<std::string>& env);

// Set the hostname inside a running VPS's UTS namespace.
Result<void> set_hostname(const Target& t, const std::string& hostname);

// System V IPC objects held inside a running VPS's IPC namespace, read from
// /proc/sysvipc by a helper that joins that namespace.
struct IpcUsage {
    uint64_t shm_segments = 0;
    uint64_t shm_pages = 0;   // sum of segment sizes, in 4 KiB pages
    uint64_t semaphores = 0;  // sum of nsems over all sets
    uint64_t msg_queues = 0;
};
Result<IpcUsage> ipc_usage(const Target& t);

// Write IPC beancounters (names under /proc/sys, e.g. "kernel/shmmni")
// into a running VPS's IPC namespace: `vzctl set --numshm` applied live.
Result<void> set_ipc_sysctls(const Target& t, const std::vector<std::pair<std::string, std::string>>& sysctls);

// Undo the daemon's signal mask and ignored signals before exec.
void reset_signals() noexcept;

// Translate a wait status into a shell-style exit code.
int exit_status_of(int wait_status);

}  // namespace vps::runtime
