// The VPS root: a list of filesystem steps computed in the parent from the
// plan, then replayed by the child between clone and exec.
//
// The child of a multi-threaded daemon must not allocate (another thread
// may have held the allocator's lock at clone time), so every string the
// child needs is built here, in advance, and the child only makes syscalls.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "vps/plan.hpp"

namespace vps::rootfs {

enum class StepKind {
    mount,        // mount(source, target, fstype, flags, data)
    mkdir,        // mkdir(target, mode); EEXIST is fine
    touch,        // create an empty file to bind a device node over
    symlink,      // symlink(source, target); EEXIST is fine
    pivot_root,   // chdir(target), pivot_root(".", "."), detach the old root
    write,        // write data into the existing file target (a /proc/sys knob)
    move_mount,   // move the detached mount tree `fd` onto target
};

struct Step {
    StepKind kind;
    std::string source;
    std::string target;
    std::string fstype;
    unsigned long flags = 0;
    std::string data;
    mode_t mode = 0755;
    // A target this kernel does not have (ENOENT) is skipped: masks over
    // /proc files that only some kernels provide.
    bool optional = false;
    int fd = -1;  // move_mount: the tree (open_tree/mount_setattr in the parent)

    // "mount 'proc' on '/var/lib/vz/root/101/proc'" for errors.
    std::string describe() const;
};

// Everything from private propagation to pivot_root, in order.
// What the host adds to a VPS root beyond its plan.
struct HostMounts {
    // What /dev/console is bound from: the slave of the pty vzd holds.
    std::string console = "/dev/null";
    // lxcfs's proc directory and the files in it to bind over /proc.
    std::string lxcfs_proc;
    std::vector<std::string> lxcfs_files;
    // An idmapped copy of the private area (idmap::mapped_tree), mounted as
    // the root instead of a bind mount of plan.private_dir.
    int root_tree = -1;
};

std::vector<Step> plan_steps(const plan::Plan& plan, const HostMounts& host = {});

// Child side: run steps[0..n); on failure returns the index of the failed
// step and leaves errno set. Returns -1 on success. Allocation-free.
int run_steps(const Step* steps, size_t n) noexcept;

}  // namespace vps::rootfs
