/* Resources: a fork bomb, a memory hog, a disk filler, an inode filler. Each
 * runs for a bounded time and cleans up after itself; the runner watches
 * the host's responsiveness and the VPS's cgroup meanwhile. */
#include "attack.h"

#include <signal.h>
#include <sys/mman.h>
#include <time.h>


/* Counters shared between the attack and its children. */
struct res_shared {
    volatile long count;
    volatile int last_err;
};

static struct res_shared *res_map(void) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

ATTACK(res_forkbomb, "fork bomb: every process forks until it cannot, for SECONDS") {
    int secs = argc > 1 ? atoi(argv[1]) : 20;
    long ceiling = argc > 2 ? atol(argv[2]) : 20000;
    struct res_shared *sh = res_map();
    if (!sh) return verdict_error("mmap: %s", ename(errno));
    pid_t leader = fork();
    if (leader < 0) return verdict_error("fork: %s", ename(errno));
    if (leader == 0) {
        setpgid(0, 0);
        time_t end = time(NULL) + secs;
        while (time(NULL) < end && sh->count < ceiling) {
            pid_t p = fork();
            if (p == 0) continue; /* the child bombs too */
            if (p > 0) {
                __sync_fetch_and_add(&sh->count, 1);
            } else {
                sh->last_err = errno;
                usleep(50000);
            }
        }
        pause();
        _exit(0);
    }
    setpgid(leader, leader);
    sleep((unsigned)secs + 1);
    long made = sh->count;
    int err = sh->last_err;
    kill(-leader, SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
    }
    if (made >= ceiling)
        return verdict_escaped("forked %ld processes in %d s without hitting any limit", made, secs);
    if (err)
        return verdict_blocked("fork() failed with %s after %ld processes; pressure held for %d s", ename(err),
                               made, secs);
    return verdict_error("made %ld processes in %d s without an error nor the ceiling (too slow?)", made, secs);
}

ATTACK(res_memhog, "allocate and touch memory until stopped (MAX_MB cap)") {
    long max_mb = argc > 1 ? atol(argv[1]) : 1024;
    struct res_shared *sh = res_map();
    if (!sh) return verdict_error("mmap: %s", ename(errno));
    pid_t p = fork();
    if (p < 0) return verdict_error("fork: %s", ename(errno));
    if (p == 0) {
        while (sh->count < max_mb) {
            char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) {
                sh->last_err = errno;
                _exit(3);
            }
            memset(m, 0x5a, 1 << 20);
            sh->count++;
        }
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    long mb = sh->count;
    if (WIFSIGNALED(st))
        return verdict_blocked("the hog was killed by signal %d (%s) after touching %ld MiB", WTERMSIG(st),
                               WTERMSIG(st) == SIGKILL ? "OOM killer" : strsignal(WTERMSIG(st)), mb);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
        return verdict_blocked("mmap failed with %s after %ld MiB", ename(sh->last_err), mb);
    return verdict_escaped("touched %ld MiB (the cap of this attack) without being stopped", mb);
}

ATTACK(res_diskfill, "write a file until the disk quota stops it (MAX_MB cap)") {
    const char *path = argc > 1 ? argv[1] : "/root/vzsec-fill";
    long max_mb = argc > 2 ? atol(argv[2]) : 1024;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return verdict_error("create %s: %s", path, ename(errno));
    static char block[1 << 20];
    memset(block, 0x33, sizeof block);
    long mb = 0;
    int err = 0;
    off_t bytes = 0;
    while (mb < max_mb) {
        ssize_t w = write(fd, block, sizeof block);
        if (w < 0) {
            err = errno;
            break;
        }
        bytes += w;
        if (w < (ssize_t)sizeof block) continue;
        mb++;
        if (mb % 16 == 0 && fsync(fd) < 0) {
            err = errno;
            break;
        }
    }
    if (!err && fsync(fd) < 0) err = errno;
    close(fd);
    unlink(path);
    if (err == EDQUOT) return verdict_blocked("EDQUOT after %lld KiB", (long long)(bytes / 1024));
    if (err == ENOSPC)
        return verdict_escaped("filled the host filesystem: ENOSPC after %lld KiB", (long long)(bytes / 1024));
    if (err) return verdict_blocked("%s after %lld KiB", ename(err), (long long)(bytes / 1024));
    return verdict_escaped("wrote %ld MiB (the cap of this attack) without hitting a quota", mb);
}

ATTACK(res_inodefill, "create empty files until the inode quota stops it (MAX cap)") {
    const char *dir = argc > 1 ? argv[1] : "/root/vzsec-inodes";
    long max = argc > 2 ? atol(argv[2]) : 100000;
    mkdir(dir, 0755);
    long made = 0;
    int err = 0;
    char path[512];
    while (made < max) {
        snprintf(path, sizeof path, "%s/f%ld", dir, made);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            err = errno;
            break;
        }
        close(fd);
        made++;
    }
    for (long i = 0; i < made; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        unlink(path);
    }
    rmdir(dir);
    if (err == EDQUOT) return verdict_blocked("EDQUOT after %ld files", made);
    if (err == ENOSPC) return verdict_escaped("ran the host filesystem out of inodes (ENOSPC) after %ld files", made);
    if (err) return verdict_blocked("%s after %ld files", ename(err), made);
    return verdict_escaped("created %ld files (the cap of this attack) without hitting a quota", made);
}
