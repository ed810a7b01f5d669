// Shifted ownership: the files of an unprivileged VPS belong, on the host,
// to the ids its user namespace maps them to (inside uid 0 = id_base). Done
// once, when the private area is made, for file systems where an idmapped
// mount is not used.
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "vps/storage.hpp"

namespace vps::storage {
namespace {

// nftw's callback takes no context: one shift at a time.
std::mutex g_shift_m;
uint32_t g_base = 0;
int g_errno = 0;
std::string g_failed;

int shift_one(const char* path, const struct stat* st, int type, struct FTW*) {
    if (type == FTW_NS || type == FTW_DNR) {
        g_errno = EACCES;
        g_failed = path;
        return 1;
    }
    const uid_t uid = st->st_uid + g_base;
    const gid_t gid = st->st_gid + g_base;
    if (::lchown(path, uid, gid) < 0) {
        g_errno = errno;
        g_failed = path;
        return 1;
    }
    // chown clears set-user-ID and set-group-ID bits of files; put them back.
    if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) && !S_ISDIR(st->st_mode)) {
        if (::chmod(path, st->st_mode & 07777) < 0) {
            g_errno = errno;
            g_failed = path;
            return 1;
        }
    }
    return 0;
}

}  // namespace

Result<void> shift_ids(const std::string& dir, uint32_t base) {
    if (base == 0) return ok();
    std::lock_guard g(g_shift_m);
    g_base = base;
    g_errno = 0;
    g_failed.clear();
    // FTW_PHYS: symlinks are changed themselves, never followed; FTW_MOUNT:
    // never onto another file system.
    int r = ::nftw(dir.c_str(), shift_one, 64, FTW_PHYS | FTW_MOUNT);
    if (r < 0) return Error::sys("walk", dir);
    if (r > 0) return Error::sys("shift ownership of", g_failed, g_errno);
    return ok();
}

}  // namespace vps::storage
