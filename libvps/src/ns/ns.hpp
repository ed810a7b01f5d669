// Namespaces: clone3 into a new set of them, and join those of a running
// VPS through its init's pidfd.
#pragma once

#include <sched.h>

#include <cstdint>
#include <optional>

#include "vps/error.hpp"
#include "vps/fd.hpp"

namespace vps::ns {

// Every namespace a VPS gets at clone time. The cgroup namespace is
// unshared by the child after it was placed in its cgroup, so that the
// namespace is rooted there on v1 as well (CLONE_INTO_CGROUP is v2 only).
inline constexpr uint64_t kVpsCloneFlags =
    CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;

// Namespaces a process entering a running VPS joins.
inline constexpr int kJoinFlags =
    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP;

struct Cloned {
    pid_t pid = 0;  // 0 in the child
    int pidfd = -1; // parent only
};

// clone3 with a pidfd and, when cgroup_fd is given, CLONE_INTO_CGROUP.
// Returns in both parent (pid > 0) and child (pid == 0), like fork().
Result<Cloned> clone3(uint64_t flags, std::optional<FdRef> cgroup_fd);

// Join the namespaces of the process behind pidfd (setns with a pidfd,
// Linux 5.8). The pid namespace applies to children created afterwards.
Result<void> join(FdRef pidfd, int flags);

}  // namespace vps::ns
