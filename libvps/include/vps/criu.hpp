// Checkpoint and restore of a VPS's process tree with CRIU (criu(8)), run
// as a program. Only the command lines and the reading of CRIU's answers
// live here; vzd prepares what a restore needs (cgroup, console, network
// namespace, root) and places the VPS.
//
// What stays outside the images, handed to CRIU as "external" resources:
//   - the network namespace: vzd makes a new one with the VPS's addresses
//     and routes before the restore, so the host ends and addresses are
//     vzd's, as at start (established TCP connections need the same
//     addresses, which the VPS's config gives);
//   - the console: a pseudo-terminal of the host's devpts that vzd holds;
//     the restore gets a fresh one in its place;
//   - bind mounts from the host (/dev/null and friends, the console):
//     found again at the same host paths.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "vps/error.hpp"

namespace vps::criu {

// The key the VPS's network namespace goes by in the images.
inline constexpr const char* kNetKey = "vps-net";

// CRIU's name of a terminal: "tty[<rdev>:<dev>]", in hex.
std::string tty_key(dev_t rdev, dev_t dev);

struct DumpSpec {
    pid_t init = 0;
    std::string dir;           // where the images go
    uint64_t netns_inode = 0;  // the VPS's network namespace
    std::string tty_key;       // its console
};
std::vector<std::string> dump_argv(const DumpSpec& spec);

struct RestoreSpec {
    std::string dir;          // images
    std::string root;         // the VPS's root, mounted where CRIU can see it
    std::string cgroup_root;  // the VPS's cgroup, made beforehand (path from the hierarchy's root)
    std::string tty_key;      // as dumped
    int tty_fd = -1;          // the new console's slave, inherited by CRIU
    int netns_fd = -1;        // the new network namespace, inherited by CRIU
    std::string pidfile;      // where CRIU writes the host pid of init
};
std::vector<std::string> restore_argv(const RestoreSpec& spec);

// Whether CRIU can work on this host: `criu check`, with CRIU's own reason
// when it cannot (a missing binary, an old kernel, a kernel CRIU does not
// know yet).
Result<void> check();

// The lines of a CRIU log that say what went wrong ("Error (...)"), the
// last `max` of them joined by "; ", or "" when there are none.
std::string log_errors(const std::string& log_text, size_t max = 3);

}  // namespace vps::criu
