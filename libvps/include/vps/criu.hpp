// Checkpoint and restore of a VPS's process tree with CRIU (criu(8)), run
// as a program. Only the command lines and the reading of CRIU's answers
// live here; vzd prepares what a restore needs (cgroup, console, network
// namespace, root) and places the VPS.
//
// The VPS's network namespace is in the images: its interfaces,
// addresses, routes and firewall rules, and the sockets in it. CRIU makes
// it again inside the VPS's restored user namespace (an unprivileged VPS's
// root keeps its rights over it), makes each veth pair again with the host
// end named as vzd names it, and vzd then wires those host ends as at
// start. What stays outside the images, handed to CRIU as "external":
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

// CRIU's name of a terminal: "tty[<rdev>:<dev>]", in hex.
std::string tty_key(dev_t rdev, dev_t dev);

struct DumpSpec {
    pid_t init = 0;
    std::string dir;      // where the images go
    std::string tty_key;  // its console
    // A pre-dump copies the memory while the VPS runs on (criu pre-dump);
    // the dump after it then writes only the pages dirtied since.
    bool pre_dump = false;
    // The images of the previous pre-dump, relative to dir ("../1"): memory
    // is tracked (--track-mem) and only what changed since is written.
    std::string parent;
};
std::vector<std::string> dump_argv(const DumpSpec& spec);

struct RestoreSpec {
    std::string dir;          // images
    std::string root;         // the VPS's root, mounted where CRIU can see it
    std::string cgroup_root;  // the VPS's cgroup, made beforehand (path from the hierarchy's root)
    std::string tty_key;      // as dumped
    int tty_fd = -1;          // the new console's slave, inherited by CRIU
    std::string pidfile;      // where CRIU writes the host pid of init
    // veth pairs: the name inside and the host end's name.
    std::vector<std::pair<std::string, std::string>> veths;
};
std::vector<std::string> restore_argv(const RestoreSpec& spec);

// Whether CRIU can work on this host: `criu check`, with CRIU's own reason
// when it cannot (a missing binary, an old kernel, a kernel CRIU does not
// know yet). A pass is remembered for the life of the process.
Result<void> check();

// The lines of a CRIU log that say what went wrong ("Error (...)"), the
// last `max` of them joined by "; ", or "" when there are none.
std::string log_errors(const std::string& log_text, size_t max = 3);

}  // namespace vps::criu
