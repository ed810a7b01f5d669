/* The kernel: code loading, keyrings, eBPF, perf, userfaultfd, sysrq, the
 * kernel's memory and symbols, the clock, reboot, swap, the hostname and
 * host-wide sysctls. */
#include "attack.h"

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/swap.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>


/* A syscall's outcome: EPERM/EACCES/ENOSYS are refusals; anything else,
 * success included, means the call reached the code behind it. */
static void kern_judge(const char *call, long rc, int err, const char *reached) {
    if (rc >= 0)
        escape_note("%s succeeded (%s)", call, reached);
    else if (err == EPERM || err == EACCES || err == ENOSYS)
        block_note("%s: %s", call, ename(err));
    else
        escape_note("%s got past the permission checks and failed later with %s (%s)", call,
                    ename(err), reached);
}

ATTACK(kern_module, "init_module, finit_module, delete_module") {
    (void)argc, (void)argv;
    static const char junk[64] = "\177ELF not a module";
    long rc = syscall(SYS_init_module, junk, sizeof junk, "");
    kern_judge("init_module", rc, errno, "a real module would be loaded into the host kernel");
    int fd = open("/bin/busybox", O_RDONLY | O_CLOEXEC);
    rc = syscall(SYS_finit_module, fd, "", 0);
    kern_judge("finit_module", rc, errno, "a real module would be loaded into the host kernel");
    if (fd >= 0) close(fd);
    rc = syscall(SYS_delete_module, "vzsec_no_such_module", O_NONBLOCK);
    kern_judge("delete_module", rc, errno, "host modules could be unloaded");
    return finish();
}

ATTACK(kern_kexec, "kexec_load and kexec_file_load (unload requests: harmless if they pass)") {
    (void)argc, (void)argv;
    long rc = syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL);
    kern_judge("kexec_load", rc, errno, "a new kernel could be staged for the host");
    rc = syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 1UL /* KEXEC_FILE_UNLOAD */);
    kern_judge("kexec_file_load", rc, errno, "a new kernel could be staged for the host");
    return finish();
}

ATTACK(kern_keyctl, "reach root's user keyring, shared with host root (keyctl, add_key)") {
    (void)argc, (void)argv;
    char desc[128];
    snprintf(desc, sizeof desc, "vzsec-key-%s", env_or("VZSEC_TOKEN", "x"));
    long id = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -4 /* USER_KEYRING */, 0);
    kern_judge("keyctl(GET_KEYRING_ID, @u)", id, errno, "uid 0's user keyring is the host root's");
    long key = syscall(SYS_add_key, "user", desc, "from-a-vps", 10, -4);
    kern_judge("add_key(user, @u)", key, errno, "a key landed in the host root's user keyring");
    if (key >= 0) syscall(SYS_keyctl, 9 /* UNLINK */, key, -4);
    long rk = syscall(SYS_request_key, "user", "vzsec-no-such-key", NULL, 0);
    if (rk < 0 && errno == ENOKEY)
        escape_note("request_key searched the keyrings (ENOKEY)");
    else
        kern_judge("request_key", rk, errno, "keyrings searched");
    return finish();
}

ATTACK(kern_bpf, "bpf(): create a map, load a socket filter program") {
    (void)argc, (void)argv;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
    kern_judge("bpf(MAP_CREATE)", fd, errno, "eBPF map created");
    if (fd >= 0) close((int)fd);
    struct bpf_insn prog[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    a.insn_cnt = 2;
    a.insns = (uintptr_t)prog;
    a.license = (uintptr_t) "GPL";
    fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    kern_judge("bpf(PROG_LOAD)", fd, errno, "eBPF program loaded into the host kernel");
    if (fd >= 0) close((int)fd);
    return finish();
}

ATTACK(kern_perf, "perf_event_open: system-wide on CPU 0, and on itself") {
    (void)argc, (void)argv;
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.size = sizeof pa;
    pa.type = PERF_TYPE_SOFTWARE;
    pa.config = PERF_COUNT_SW_CPU_CLOCK;
    pa.disabled = 1;
    long fd = syscall(SYS_perf_event_open, &pa, -1, 0, -1, 0);
    kern_judge("perf_event_open(all processes, cpu 0)", fd, errno, "host-wide profiling");
    if (fd >= 0) close((int)fd);
    pa.exclude_kernel = 1;
    fd = syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
    kern_judge("perf_event_open(self)", fd, errno, "the perf subsystem is reachable");
    if (fd >= 0) close((int)fd);
    return finish();
}

ATTACK(kern_userfaultfd, "userfaultfd(2) and /dev/userfaultfd (a kernel race-widening primitive)") {
    (void)argc, (void)argv;
    long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        struct uffdio_api api = {.api = UFFD_API};
        int ok = ioctl((int)fd, UFFDIO_API, &api) == 0;
        escape_note("userfaultfd() returned an fd%s", ok ? " and UFFDIO_API succeeded" : "");
        close((int)fd);
    } else {
        kern_judge("userfaultfd()", fd, errno, "");
    }
    /* /dev/userfaultfd (Linux 6.1+): a misc device, minor in /proc/misc. */
    char misc[4096];
    unsigned minor_nr = 0;
    if (read_text("/proc/misc", misc, sizeof misc) == 0) {
        char *p = strstr(misc, " userfaultfd");
        while (p && p > misc && p[-1] != '\n') p--;
        if (p) minor_nr = (unsigned)atoi(p);
    }
    if (minor_nr) {
        char where[300];
        int err;
        int dfd = mknod_open("vzsec-uffd", S_IFCHR, makedev(10, minor_nr), O_RDWR, where, sizeof where, &err);
        if (dfd >= 0) {
            long ufd = ioctl(dfd, _IO(0xAA, 0x00) /* USERFAULTFD_IOC_NEW */, O_CLOEXEC);
            if (ufd >= 0) {
                escape_note("made /dev/userfaultfd with mknod and got a userfaultfd from it");
                close((int)ufd);
            } else {
                block_note("/dev/userfaultfd ioctl: %s", ename(errno));
            }
            close(dfd);
            unlink(where);
        } else {
            block_note("/dev/userfaultfd (10:%u): %s", minor_nr, mknod_why());
        }
    }
    return finish();
}

ATTACK(kern_sysrq, "write /proc/sysrq-trigger (a console loglevel key: harmless, visible)") {
    (void)argc, (void)argv;
    char before[64], after[64];
    if (read_text("/proc/sys/kernel/printk", before, sizeof before) != 0) before[0] = '4';
    int level = before[0] - '0';
    char key[2] = {(char)('0' + (level > 1 ? level - 1 : level + 1)), 0};
    struct stat st;
    if (stat("/proc/sysrq-trigger", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
        return verdict_blocked("/proc/sysrq-trigger is masked by /dev/null");
    int err = write_text("/proc/sysrq-trigger", key);
    if (err) return verdict_blocked("write '%s' to /proc/sysrq-trigger: %s", key, ename(err));
    read_text("/proc/sys/kernel/printk", after, sizeof after);
    before[strcspn(before, "\t \n")] = 0;
    after[strcspn(after, "\t \n")] = 0;
    return verdict_escaped("/proc/sysrq-trigger accepted key '%s' (the host's console loglevel %s -> %s); "
                           "'b' would reboot the host, 'c' crash it",
                           key, before, after);
}

ATTACK(kern_kcore, "read /proc/kcore (the kernel's memory)") {
    (void)argc, (void)argv;
    int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return verdict_blocked("open /proc/kcore: %s", ename(errno));
    unsigned char buf[64];
    ssize_t got = read(fd, buf, sizeof buf);
    close(fd);
    if (got <= 0) return verdict_blocked("/proc/kcore opened, read: %s", got < 0 ? ename(errno) : "EOF");
    return verdict_escaped("read %zd bytes of /proc/kcore (ELF header %s)", got,
                           memcmp(buf, "\177ELF", 4) == 0 ? "present" : "absent");
}

ATTACK(kern_kallsyms, "read kernel addresses from /proc/kallsyms (KASLR)") {
    (void)argc, (void)argv;
    FILE *f = fopen("/proc/kallsyms", "re");
    if (!f) return verdict_blocked("open /proc/kallsyms: %s", ename(errno));
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f) && lines < 2000) {
        lines++;
        unsigned long long addr = strtoull(line, NULL, 16);
        if (addr != 0) {
            fclose(f);
            line[strcspn(line, "\n")] = 0;
            return verdict_escaped("kernel symbol addresses are visible: '%s'", line);
        }
    }
    fclose(f);
    return verdict_blocked("/proc/kallsyms shows %d symbols, every address 0 (no CAP_SYSLOG)", lines);
}

ATTACK(kern_clock, "set the host clock: clock_settime, settimeofday, adjtimex, clock_adjtime") {
    (void)argc, (void)argv;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long rc = clock_settime(CLOCK_REALTIME, &now);
    kern_judge("clock_settime(REALTIME, now)", rc, errno, "the host clock can be set");
    struct timeval tv;
    gettimeofday(&tv, NULL);
    rc = settimeofday(&tv, NULL);
    kern_judge("settimeofday(now)", rc, errno, "the host clock can be set");
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    adjtimex(&tx); /* read-only: allowed */
    long freq = tx.freq;
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_FREQUENCY;
    tx.freq = freq; /* the same frequency: no change if it passes */
    rc = adjtimex(&tx);
    kern_judge("adjtimex(ADJ_FREQUENCY)", rc, errno, "the host clock can be steered");
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_FREQUENCY;
    tx.freq = freq;
    rc = syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx);
    kern_judge("clock_adjtime(ADJ_FREQUENCY)", rc, errno, "the host clock can be steered");
    return finish();
}

ATTACK(kern_reboot, "reboot(RESTART): must not reboot the host (at most the VPS)") {
    (void)argc, (void)argv;
    say("calling reboot(LINUX_REBOOT_CMD_RESTART)");
    fflush(stderr);
    sync();
    long rc = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART, NULL);
    int err = errno;
    if (rc < 0) return verdict_blocked("reboot(RESTART): %s", ename(err));
    /* In a pid namespace the kernel kills the namespace's init instead; we
     * would be killed with it and never get here. */
    return verdict_ready("reboot(RESTART) returned 0; the runner checks the host and the VPS");
}

ATTACK(kern_swap, "swapon a prepared swap file; swapoff a non-swap device") {
    (void)argc, (void)argv;
    const char *path = "/root/vzsec.swap";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return verdict_error("create %s: %s", path, ename(errno));
    static unsigned char page[4096];
    memset(page, 0, sizeof page);
    for (int i = 0; i < 256; i++)
        if (write(fd, page, sizeof page) != (ssize_t)sizeof page) break;
    uint32_t hdr[3] = {1, 255, 0}; /* version, last_page, nr_badpages */
    memcpy(page + 1024, hdr, sizeof hdr);
    memcpy(page + 4096 - 10, "SWAPSPACE2", 10);
    pwrite(fd, page, sizeof page, 0);
    fsync(fd);
    close(fd);
    long rc = swapon(path, 0);
    int err = errno;
    if (rc == 0) swapoff(path);
    kern_judge("swapon(swap file)", rc, err, "the host would swap to a VPS file");
    rc = swapoff("/root");
    kern_judge("swapoff(/root)", rc, errno, "host swap areas could be turned off");
    unlink(path);
    return finish();
}

ATTACK(kern_hostname, "sethostname, setdomainname, /proc/sys/kernel/hostname") {
    (void)argc, (void)argv;
    char name[64];
    snprintf(name, sizeof name, "vzsec-%s", env_or("VZSEC_TOKEN", "x"));
    int e1 = sethostname(name, strlen(name)) < 0 ? errno : 0;
    int e2 = setdomainname(name, strlen(name)) < 0 ? errno : 0;
    int e3 = write_text("/proc/sys/kernel/hostname", name);
    /* Left changed: the runner checks the host's names, then restores ours. */
    return verdict_ready("sethostname(%s): %s, setdomainname: %s, /proc/sys/kernel/hostname: %s", name,
                         e1 ? ename(e1) : "ok", e2 ? ename(e2) : "ok", e3 ? ename(e3) : "ok");
}

/* Write a sysctl through /proc/sys, then a /proc/sys remounted rw, then a
 * fresh proc mount. Returns 0 and fills *how, or the last errno. */
static int kern_sysctl_write(const char *name, const char *value, const char **how) {
    char path[300];
    snprintf(path, sizeof path, "/proc/sys/%s", name);
    int err = write_text(path, value);
    *how = "/proc/sys";
    if (!err) return 0;
    say("write %s: %s", path, ename(err));
    if (mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND, NULL) == 0) {
        err = write_text(path, value);
        *how = "/proc/sys remounted rw";
        if (!err) return 0;
    }
    const char *fresh = "/run/vzsec-proc";
    mkdir(fresh, 0555);
    if (mount("proc", fresh, "proc", 0, NULL) == 0) {
        snprintf(path, sizeof path, "%s/sys/%s", fresh, name);
        int e2 = write_text(path, value);
        umount2(fresh, MNT_DETACH);
        *how = "a fresh proc mount";
        if (!e2) return 0;
        say("write %s: %s", path, ename(e2));
    }
    return err;
}

static void kern_sysctl_try(const char *name, const char *value, const char *impact) {
    char before[256] = "", after[256] = "", path[300];
    const char *how;
    snprintf(path, sizeof path, "/proc/sys/%s", name);
    read_text(path, before, sizeof before);
    before[strcspn(before, "\n")] = 0;
    int err = kern_sysctl_write(name, value, &how);
    if (err) {
        block_note("%s: %s", name, ename(err));
        return;
    }
    read_text(path, after, sizeof after);
    after[strcspn(after, "\n")] = 0;
    escape_note("wrote %s via %s: '%s' -> '%s' (%s)", name, how, before, after, impact);
}

ATTACK(sysctl_core_pattern, "write kernel.core_pattern (a '|prog' value runs prog as host root)") {
    (void)argc, (void)argv;
    char v[128];
    snprintf(v, sizeof v, "vzsec-core-%s", env_or("VZSEC_TOKEN", "x"));
    kern_sysctl_try("kernel/core_pattern", v, "host-wide; a pipe value is code execution on the host");
    return finish();
}

ATTACK(sysctl_modprobe, "write kernel.modprobe (the host runs it as root on module requests)") {
    (void)argc, (void)argv;
    char v[128];
    snprintf(v, sizeof v, "/vzsec-modprobe-%s", env_or("VZSEC_TOKEN", "x"));
    kern_sysctl_try("kernel/modprobe", v, "host-wide; the kernel runs this path as root");
    return finish();
}

ATTACK(sysctl_drop_caches, "write vm.drop_caches (drops the whole host's page cache)") {
    (void)argc, (void)argv;
    const char *how;
    int err = kern_sysctl_write("vm/drop_caches", "1", &how);
    if (err) return verdict_blocked("vm/drop_caches: %s", ename(err));
    return verdict_escaped("wrote 1 to vm/drop_caches via %s: the host's whole page cache was dropped", how);
}

ATTACK(sysctl_host_wide, "write other host-wide sysctls (randomize_va_space, swappiness, sysrq)") {
    (void)argc, (void)argv;
    char cur[64];
    read_text("/proc/sys/kernel/randomize_va_space", cur, sizeof cur);
    kern_sysctl_try("kernel/randomize_va_space", cur[0] == '1' ? "0" : "1", "host ASLR weakened");
    read_text("/proc/sys/vm/swappiness", cur, sizeof cur);
    char v[16];
    snprintf(v, sizeof v, "%d", (atoi(cur) + 7) % 100);
    kern_sysctl_try("vm/swappiness", v, "host-wide memory policy");
    read_text("/proc/sys/kernel/sysrq", cur, sizeof cur);
    kern_sysctl_try("kernel/sysrq", atoi(cur) == 1 ? "0" : "1", "the host's magic SysRq mask");
    return finish();
}

ATTACK(sysctl_netns, "write net.ipv4 sysctls: allowed in the VPS's netns, must not reach the host's") {
    (void)argc, (void)argv;
    const char *how;
    int e1 = kern_sysctl_write("net/ipv4/ip_forward", "1", &how);
    int e2 = kern_sysctl_write("net/ipv4/conf/all/rp_filter", "0", &how);
    int e3 = kern_sysctl_write("net/ipv4/conf/all/accept_local", "1", &how);
    return verdict_ready("ip_forward=1: %s, conf/all/rp_filter=0: %s, conf/all/accept_local=1: %s "
                         "(inside the VPS's own network namespace)",
                         e1 ? ename(e1) : "ok", e2 ? ename(e2) : "ok", e3 ? ename(e3) : "ok");
}

ATTACK(kern_binfmt_misc, "register a binfmt_misc interpreter (host-wide: the host would run it as root)") {
    (void)argc, (void)argv;
    const char *tok = env_or("VZSEC_TOKEN", "x");
    static const char *mnts[] = {"/run/vzsec-binfmt", "/proc/sys/fs/binfmt_misc"};
    const char *mnt = NULL;
    for (int i = 0; i < 2 && !mnt; i++) {
        mkdir(mnts[i], 0755);
        if (mount("binfmt_misc", mnts[i], "binfmt_misc", 0, NULL) == 0)
            mnt = mnts[i];
        else
            block_note("mount binfmt_misc on %s: %s", mnts[i], ename(errno));
    }
    if (!mnt) return finish();
    /* Files named *.vzsec-TOKEN would run a program that does not exist:
     * the registration is the proof, nothing can match it by accident. */
    char rule[256], path[300];
    snprintf(rule, sizeof rule, ":vzsec-%s:E::vzsec-%s::/vzsec-no-such-interpreter:", tok, tok);
    snprintf(path, sizeof path, "%s/register", mnt);
    int err = write_text(path, rule);
    if (err)
        escape_note("mounted the host's binfmt_misc on %s (register: %s)", mnt, ename(err));
    else
        escape_note("registered binfmt_misc entry vzsec-%s through %s: host-wide, an interpreter the "
                    "host kernel would run as root",
                    tok, mnt);
    /* Left mounted: binfmt_misc drops its entries when its last mount goes,
     * and the runner looks for the entry from the host. */
    return finish();
}
