// Tagging a tree with a project id (FS_IOC_FSSETXATTR, the ioctl behind
// `chattr -p ID +P`).
//
// The walk is openat-relative from the top directory's fd: no path is
// resolved twice, so a VPS renaming things in its private area while we
// walk cannot redirect us outside it. Every entry is first opened O_PATH |
// O_NOFOLLOW, which never follows a symlink and never runs a device's open;
// its type and mount are read from that fd, and only then is a directory or
// regular file opened for real.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <memory>

#include "disk/disk_internal.hpp"
#include "vps/fd.hpp"
#include "vps/sys.hpp"

namespace vps::disk {
namespace {

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

// What every entry is compared with: the mount the walk started on.
struct Walk {
    uint32_t project = 0;
    std::optional<uint64_t> mount_id;  // STATX_MNT_ID (Linux 5.8)
    dev_t dev = 0;                     // when there is no mount id
};

Result<struct statx> statx_fd(FdRef fd, const std::string& where) {
    struct statx stx {};
    if (::statx(fd.get(), "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MNT_ID,
                &stx) < 0)
        return Error::sys("statx", where);
    return stx;
}

// Whether stx is on the mount the walk started on. A nested mount, or a
// bind mount of the same filesystem, belongs to someone else.
bool same_mount(const Walk& w, const struct statx& stx) {
    if (w.mount_id && (stx.stx_mask & STATX_MNT_ID)) return stx.stx_mnt_id == *w.mount_id;
    return ::makedev(stx.stx_dev_major, stx.stx_dev_minor) == w.dev;
}

// Set the project (and PROJINHERIT on directories) unless already set, so a
// second run over a tagged tree writes nothing. Files do not get
// PROJINHERIT: it means nothing on them and ext4 drops it.
Result<void> tag(FdRef fd, uint32_t project, bool is_dir, const std::string& where) {
    struct fsxattr fa {};
    if (::ioctl(fd.get(), FS_IOC_FSGETXATTR, &fa) < 0)
        return Error::sys("ioctl FS_IOC_FSGETXATTR", where);
    uint32_t flags = is_dir ? fa.fsx_xflags | FS_XFLAG_PROJINHERIT : fa.fsx_xflags;
    if (fa.fsx_projid == project && fa.fsx_xflags == flags) return ok();
    fa.fsx_projid = project;
    fa.fsx_xflags = flags;
    if (::ioctl(fd.get(), FS_IOC_FSSETXATTR, &fa) < 0)
        return Error::sys("ioctl FS_IOC_FSSETXATTR", where);
    return ok();
}

// A regular file's O_PATH fd cannot take an ioctl. Reopening it through
// /proc/self/fd gives the same inode without resolving its name again
// (openat has no AT_EMPTY_PATH). O_NONBLOCK: never wait for a lease holder.
Result<Fd> reopen_file(FdRef opath, const std::string& where) {
    std::string proc = "/proc/self/fd/" + std::to_string(opath.get());
    int fd = ::open(proc.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return Error::sys("open", where + " (via " + proc + ")");
    return Fd(fd);
}

Result<void> walk_dir(Fd dir, const Walk& w, const std::string& where);

// One directory entry. Entries removed while we walk are not an error.
Result<void> visit(FdRef parent, const std::string& name, const Walk& w, const std::string& where) {
    int raw = ::openat(parent.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (raw < 0) return errno == ENOENT ? ok() : Result<void>(Error::sys("open", where));
    Fd entry(raw);
    auto stx = statx_fd(entry.ref(), where);
    if (!stx) return std::move(stx).error();
    if (!same_mount(w, *stx)) return ok();
    if (S_ISDIR(stx->stx_mode)) {
        auto dir = sys::openat(entry.ref(), ".", O_RDONLY | O_DIRECTORY);
        if (!dir) return Error::sys("open", where, dir.error().err());
        return walk_dir(std::move(*dir), w, where);
    }
    if (S_ISREG(stx->stx_mode)) {
        auto file = reopen_file(entry.ref(), where);
        if (!file) return std::move(file).error();
        return tag(file->ref(), w.project, false, where);
    }
    // Symlinks, devices, FIFOs, sockets: no fd to take the ioctl.
    return ok();
}

// Tag dir, then everything in it. Holds one fd per level of the tree.
Result<void> walk_dir(Fd dir, const Walk& w, const std::string& where) {
    if (auto r = tag(dir.ref(), w.project, true, where); !r) return r;
    int raw = dir.release();
    std::unique_ptr<DIR, DirCloser> stream(::fdopendir(raw));
    if (!stream) {
        int err = errno;
        ::close(raw);
        return Error::sys("opendir", where, err);
    }
    FdRef fd(::dirfd(stream.get()));
    for (;;) {
        errno = 0;
        struct dirent* e = ::readdir(stream.get());
        if (!e) break;
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        if (auto r = visit(fd, name, w, where + "/" + name); !r) return r;
    }
    if (errno != 0) return Error::sys("readdir", where);
    return ok();
}

}  // namespace

Result<void> assign_project(const std::string& dir, uint32_t project_id) {
    auto top = sys::open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!top) return std::move(top).error();
    auto stx = statx_fd(top->ref(), dir);
    if (!stx) return std::move(stx).error();
    Walk w;
    w.project = project_id;
    if (stx->stx_mask & STATX_MNT_ID) w.mount_id = stx->stx_mnt_id;
    w.dev = ::makedev(stx->stx_dev_major, stx->stx_dev_minor);
    auto r = walk_dir(std::move(*top), w, dir);
    if (!r) return std::move(r).error().with_context("project " + std::to_string(project_id));
    return ok();
}

}  // namespace vps::disk
