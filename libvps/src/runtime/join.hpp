// Joining a running VPS from a single-threaded child of vzd, and becoming
// root of a VPS's user namespace.
#pragma once

#include <grp.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vps/fd.hpp"

namespace vps::runtime {

// setns into the namespaces `flags` of the VPS whose init is behind pidfd;
// with `userns`, its user namespace too, where the helper then becomes the
// VPS's root (the host's root is an unmapped id there, and files the
// kernel gives to the namespace's root, such as its IPC sysctls, refuse
// it). Returns -1 with errno set on failure.
// Become root (uid and gid 0, no supplementary groups) of the user
// namespace this process is in. Raw system calls, not glibc's wrappers:
// those make every thread of the process change ids with it, and in a
// child cloned (clone3) from multi-threaded vzd, glibc still counts vzd's
// threads as its own and waits forever for one that was starting or ending
// at the clone. The child has one thread; the kernel's per-thread call is
// the whole of it.
inline int become_userns_root() noexcept {
    if (::syscall(SYS_setresgid, 0, 0, 0) < 0 || ::syscall(SYS_setgroups, 0, nullptr) < 0 ||
        ::syscall(SYS_setresuid, 0, 0, 0) < 0)
        return -1;
    return 0;
}

inline int join_as_vps_root(FdRef pidfd, int flags, bool userns) noexcept {
    if (::setns(pidfd.get(), flags | (userns ? CLONE_NEWUSER : 0)) < 0) return -1;
    return userns ? become_userns_root() : 0;
}

}  // namespace vps::runtime
