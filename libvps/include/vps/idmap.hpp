// User namespace id maps and idmapped mounts (mount_setattr with
// MOUNT_ATTR_IDMAP, Linux 5.12): how an unprivileged VPS's files, stored
// with the ids seen inside (root = 0), appear to it as its own.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "vps/error.hpp"
#include "vps/fd.hpp"
#include "vps/plan.hpp"

namespace vps::idmap {

// Write uid_map and gid_map of the user namespace of process `pid` (from
// outside, as the host's root, so setgroups stays allowed inside).
Result<void> write_maps(pid_t pid, const std::vector<plan::IdMap>& uid_map, const std::vector<plan::IdMap>& gid_map);

// An fd of a fresh user namespace with these maps, held by nothing else:
// what an idmapped mount takes its mapping from. A short-lived child makes
// it and exits.
Result<Fd> make_userns(const std::vector<plan::IdMap>& uid_map, const std::vector<plan::IdMap>& gid_map);

// A detached, recursive copy of the mount tree at `dir`, idmapped through
// `userns` and without device nodes, ready for move_mount(2). Errors with
// EINVAL, EPERM or EOPNOTSUPP mean the file system cannot be idmapped.
Result<Fd> mapped_tree(const std::string& dir, FdRef userns);

// Whether `dir`'s file system takes idmapped mounts on this kernel; the
// reason when it does not.
struct Support {
    bool ok = false;
    std::string reason;
};
Support probe(const std::string& dir, const std::vector<plan::IdMap>& map);

}  // namespace vps::idmap
