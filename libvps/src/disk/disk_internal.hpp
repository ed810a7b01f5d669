// The pure parts of vps::disk, apart so the unit tests can feed them text
// and fake trees instead of the running kernel's.
#pragma once

#include <sys/quota.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vps/disk.hpp"
#include "vps/error.hpp"

namespace vps::disk::detail {

// /proc/self/mountinfo, one entry per line (proc(5)). Lines that do not
// have the fields proc(5) promises are skipped: the kernel writes this file,
// and a line we cannot read is a mount we could not match anyway.
std::vector<MountInfo> parse_mountinfo(std::string_view text);

// Undo the kernel's octal escapes ("\040" for a space) in a mountinfo field.
std::string unescape_mountinfo(std::string_view field);

// The mount holding a path: the entry with mount_id when statx gave one
// (STATX_MNT_ID), else the longest mount point that is a prefix of the
// canonical path and has the path's device; the later entry wins a tie, as
// a mount stacked on another hides it. nullopt when none matches.
std::optional<MountInfo> find_mount(const std::vector<MountInfo>& mounts,
                                    std::optional<uint64_t> mount_id, unsigned major,
                                    unsigned minor, std::string_view canonical_path);

// The whole disk for block device MAJ:MIN under sysfs_root ("/sys"): the
// device itself, or its parent when it is a partition.
Result<std::string> whole_disk(const std::string& sysfs_root, unsigned major, unsigned minor);

// if_dqblk <-> our types. Space limits travel in QIF_DQBLKSIZE (1 KiB)
// blocks, current space in bytes.
if_dqblk to_dqblk(const QuotaLimits& limits);
QuotaUsage from_dqblk(const if_dqblk& dq);

// One quotactl command (Q_GETQUOTA ...) on PRJQUOTA for the filesystem
// holding path. automatic: quotactl_fd(2), or quotactl(2) on the mount's
// block device on kernels without it; device: always the latter, so tests
// can reach the compat path on a new kernel.
enum class QuotactlVia { automatic, device };
Result<void> project_quotactl(const std::string& path, int cmd, const char* name, uint32_t id,
                              void* addr, QuotactlVia via = QuotactlVia::automatic);

// Both project quota accounting and enforcement, from fs_quota_statv's
// qs_flags.
bool project_quota_flags_on(uint32_t qs_flags);

// Why a set of limits cannot be applied, or "" when it can.
std::string limits_problem(const QuotaLimits& limits);

}  // namespace vps::disk::detail
