// Project quota limits and usage through quotactl(2) with PRJQUOTA.
//
// quotactl_fd(2) (Linux 5.14) addresses the filesystem by any open file on
// it, which works in every mount namespace. Older kernels only have
// quotactl(2), which wants the block device node: we take it from
// mountinfo, which fails when the node is not where the mount says (another
// namespace) or there is none. That path goes once our baseline is 5.14.
#include <fcntl.h>
#include <linux/dqblk_xfs.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "disk/disk_internal.hpp"
#include "vps/fd.hpp"
#include "vps/sys.hpp"

#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443  // the same on every architecture
#endif

namespace vps::disk {
namespace detail {

if_dqblk to_dqblk(const QuotaLimits& limits) {
    if_dqblk dq{};
    dq.dqb_bsoftlimit = limits.space_soft_kb;
    dq.dqb_bhardlimit = limits.space_hard_kb;
    dq.dqb_isoftlimit = limits.inodes_soft;
    dq.dqb_ihardlimit = limits.inodes_hard;
    dq.dqb_valid = QIF_LIMITS;
    return dq;
}

QuotaUsage from_dqblk(const if_dqblk& dq) {
    QuotaUsage u;
    u.space_used_bytes = dq.dqb_curspace;
    u.inodes_used = dq.dqb_curinodes;
    u.limits.space_soft_kb = dq.dqb_bsoftlimit;
    u.limits.space_hard_kb = dq.dqb_bhardlimit;
    u.limits.inodes_soft = dq.dqb_isoftlimit;
    u.limits.inodes_hard = dq.dqb_ihardlimit;
    return u;
}

bool project_quota_flags_on(uint32_t qs_flags) {
    const uint32_t both = FS_QUOTA_PDQ_ACCT | FS_QUOTA_PDQ_ENFD;
    return (qs_flags & both) == both;
}

std::string limits_problem(const QuotaLimits& l) {
    // The kernel takes a soft limit above the hard one, but it could never
    // matter, so it is a typo.
    if (l.space_hard_kb != 0 && l.space_soft_kb > l.space_hard_kb)
        return "diskspace soft limit " + std::to_string(l.space_soft_kb) +
               "K is above the hard limit " + std::to_string(l.space_hard_kb) + "K";
    if (l.inodes_hard != 0 && l.inodes_soft > l.inodes_hard)
        return "diskinodes soft limit " + std::to_string(l.inodes_soft) +
               " is above the hard limit " + std::to_string(l.inodes_hard);
    return {};
}

}  // namespace detail

namespace {

// Whether the kernel has quotactl_fd at all: with a bad fd it says EBADF,
// a kernel without the call says ENOSYS. Needed because quotactl_fd also
// says ENOSYS for a filesystem without quota support.
bool have_quotactl_fd() {
    return ::syscall(SYS_quotactl_fd, -1, QCMD(Q_SYNC, PRJQUOTA), 0, nullptr) < 0 && errno == EBADF;
}

// quotactl(2) on the block device holding path (kernels before 5.14).
Result<void> quotactl_by_device(const std::string& path, int cmd, const char* name, uint32_t id,
                                void* addr) {
    auto m = mount_of(path);
    if (!m) return std::move(m).error();
    struct stat st {};
    if (m->source.empty() || m->source[0] != '/' || ::stat(m->source.c_str(), &st) < 0 ||
        !S_ISBLK(st.st_mode))
        return Error::sys(std::string("quotactl ") + name, m->source + " (for " + path + ")",
                          ENOTBLK);
    if (::quotactl(QCMD(cmd, PRJQUOTA), m->source.c_str(), static_cast<int>(id),
                   static_cast<caddr_t>(addr)) < 0)
        return Error::sys(std::string("quotactl ") + name, m->source + " (for " + path + ")");
    return ok();
}

}  // namespace

namespace detail {

Result<void> project_quotactl(const std::string& path, int cmd, const char* name, uint32_t id,
                              void* addr, QuotactlVia via) {
    if (via == QuotactlVia::device) return quotactl_by_device(path, cmd, name, id, addr);
    auto fd = sys::open(path, O_PATH);
    if (!fd) return std::move(fd).error();
    if (::syscall(SYS_quotactl_fd, fd->get(), QCMD(cmd, PRJQUOTA), id, addr) == 0) return ok();
    int err = errno;
    if (err != ENOSYS || have_quotactl_fd())
        return Error::sys(std::string("quotactl_fd ") + name, path, err);
    return quotactl_by_device(path, cmd, name, id, addr);
}

}  // namespace detail

Result<bool> project_quota_enabled(const std::string& path) {
    fs_quota_statv st{};
    st.qs_version = FS_QSTATV_VERSION1;
    auto r = detail::project_quotactl(path, Q_XGETQSTATV, "Q_XGETQSTATV", 0, &st);
    if (!r) {
        switch (r.error().err()) {
            case ENOSYS:   // no quota support, or no quota of any type turned on
            case ESRCH:    // quotas off
            case EINVAL:   // the filesystem has no project quota type
            case ENOTBLK:  // pre-5.14 fallback: no block device to ask
            case EOPNOTSUPP:
                return false;
            default:
                return std::move(r).error();
        }
    }
    return detail::project_quota_flags_on(st.qs_flags);
}

Result<void> set_limits(const std::string& path, uint32_t project_id, const QuotaLimits& limits) {
    if (project_id == 0)
        return Error::make(Errc::bad_value,
                           "project 0 holds every untagged file and cannot be limited");
    if (auto why = detail::limits_problem(limits); !why.empty())
        return Error::make(Errc::bad_value, why);
    if_dqblk dq = detail::to_dqblk(limits);
    auto r = detail::project_quotactl(path, Q_SETQUOTA, "Q_SETQUOTA", project_id, &dq);
    if (!r) return std::move(r).error().with_context("project " + std::to_string(project_id));
    return ok();
}

Result<QuotaUsage> usage(const std::string& path, uint32_t project_id) {
    if_dqblk dq{};
    auto r = detail::project_quotactl(path, Q_GETQUOTA, "Q_GETQUOTA", project_id, &dq);
    if (!r) return std::move(r).error().with_context("project " + std::to_string(project_id));
    return detail::from_dqblk(dq);
}

}  // namespace vps::disk
