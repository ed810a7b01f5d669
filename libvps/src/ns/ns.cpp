#include "ns/ns.hpp"

#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vps::ns {

Result<Cloned> clone3(uint64_t flags, std::optional<FdRef> cgroup_fd) {
    int pidfd = -1;
    struct clone_args args;
    std::memset(&args, 0, sizeof args);
    args.flags = flags | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup_fd->get());
    }
    long r = ::syscall(SYS_clone3, &args, sizeof args);
    if (r < 0) return Error::sys("clone3");
    if (r == 0) return Cloned{0, -1};
    return Cloned{static_cast<pid_t>(r), pidfd};
}

Result<void> join(FdRef pidfd, int flags) {
    if (::setns(pidfd.get(), flags) < 0) return Error::sys("setns");
    return ok();
}

}  // namespace vps::ns
