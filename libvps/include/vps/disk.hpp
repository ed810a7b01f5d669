// Disk beancounters: diskspace and diskinodes of a VPS's private area are
// enforced with filesystem project quotas (ext4 mounted with prjquota, XFS
// with prjquota/pquota), one project id per VPS; iolimit needs the whole
// disk under the storage area for cgroup io.max.
//
// Order matters when a private area is created: assign_project() on the
// still-empty directory before the template is unpacked, then set_limits().
// New files inherit the project from their directory (PROJINHERIT), which is
// the only way symlinks, device nodes, FIFOs and sockets get tagged: they
// cannot be opened for the tagging ioctl, so assign_project() over an
// existing tree leaves those in project 0.
#pragma once

#include <cstdint>
#include <string>

#include "vps/error.hpp"

namespace vps::disk {

// Limits as quotactl(2) takes them: space in 1 KiB blocks (QIF_DQBLKSIZE),
// inodes as a count. 0 means unlimited. Past the soft limit the kernel
// starts its grace timer; the hard limit fails the write with EDQUOT.
struct QuotaLimits {
    uint64_t space_soft_kb = 0;
    uint64_t space_hard_kb = 0;
    uint64_t inodes_soft = 0;
    uint64_t inodes_hard = 0;

    bool operator==(const QuotaLimits&) const = default;
};

struct QuotaUsage {
    uint64_t space_used_bytes = 0;  // includes space reserved for delayed allocation
    uint64_t inodes_used = 0;
    QuotaLimits limits;
};

// The mount that holds a path, from /proc/self/mountinfo.
struct MountInfo {
    uint64_t mount_id = 0;
    unsigned major = 0;  // st_dev of the filesystem
    unsigned minor = 0;
    std::string root;         // the directory of the filesystem mounted here
    std::string mount_point;  // as this process sees it
    std::string fstype;       // "ext4", "overlay", "9p"
    std::string source;       // "/dev/vda1", "overlay", "hostroot"
    std::string super_options;
};

// 1 KiB quota blocks needed to hold bytes (rounded up, so a limit given in
// bytes is never tightened), and the bytes in kb blocks (saturating).
constexpr uint64_t bytes_to_kb(uint64_t bytes) { return bytes / 1024 + (bytes % 1024 != 0); }
constexpr uint64_t kb_to_bytes(uint64_t kb) {
    return kb > UINT64_MAX / 1024 ? UINT64_MAX : kb * 1024;
}

// The mount holding path (path itself if it is a mount point).
Result<MountInfo> mount_of(const std::string& path);

// Whether the filesystem holding path both accounts and enforces project
// quotas. false, not an error, when it cannot (no quota support, quotas off,
// mounted without prjquota): diskspace then goes unenforced and the caller
// says so, naming mount_of(path).
Result<bool> project_quota_enabled(const std::string& path);

// Tag dir and every directory and regular file beneath it with project_id;
// directories also get PROJINHERIT so files created later are tagged too.
// Never follows symlinks and never leaves the mount dir is on (nested mounts
// and bind mounts are skipped whole). Symlinks and special files are left
// as they are (see the top of this file). Tag before setting limits:
// re-tagging a file is charged to the new project and may fail with EDQUOT.
// The project belongs to the inode, so a file also linked from outside the
// tree is tagged too; once tagged, rename(2) and link(2) into the tree from
// another project fail with EXDEV, so moves between areas become copies.
Result<void> assign_project(const std::string& dir, uint32_t project_id);

// Set the project's limits on the filesystem holding path (needs
// CAP_SYS_ADMIN). Project 0 is refused: every untagged file is in it.
Result<void> set_limits(const std::string& path, uint32_t project_id, const QuotaLimits& limits);

// The project's usage and limits on the filesystem holding path.
Result<QuotaUsage> usage(const std::string& path, uint32_t project_id);

// "MAJ:MIN" of the whole disk the filesystem holding path lives on, as cgroup
// io.max wants it: the parent disk of a partition; a device-mapper or md
// device itself. Errc::system when the filesystem has no block device
// (tmpfs, overlay, 9p).
Result<std::string> backing_disk(const std::string& path);

}  // namespace vps::disk
