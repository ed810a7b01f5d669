// Joining a running VPS from a forked, single-threaded helper of vzd.
#pragma once

#include <grp.h>
#include <sched.h>
#include <unistd.h>

#include "vps/fd.hpp"

namespace vps::runtime {

// setns into the namespaces `flags` of the VPS whose init is behind pidfd;
// with `userns`, its user namespace too, where the helper then becomes the
// VPS's root (the host's root is an unmapped id there, and files the
// kernel gives to the namespace's root, such as its IPC sysctls, refuse
// it). Returns -1 with errno set on failure.
inline int join_as_vps_root(FdRef pidfd, int flags, bool userns) noexcept {
    if (::setns(pidfd.get(), flags | (userns ? CLONE_NEWUSER : 0)) < 0) return -1;
    if (!userns) return 0;
    if (::setresgid(0, 0, 0) < 0 || ::setgroups(0, nullptr) < 0 || ::setresuid(0, 0, 0) < 0) return -1;
    return 0;
}

}  // namespace vps::runtime
