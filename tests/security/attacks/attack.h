/* Shared helpers of the escape suite's attacks (tests/security/attacks/).
 *
 * Every attack is a function registered with ATTACK(name, what) and lives in
 * one multi-call static binary, vzsec, run as root inside a VPS:
 *
 *     vzsec NAME [ARGS...]
 *
 * It prints exactly one verdict line on stdout and exits with:
 *   0  "BLOCKED NAME: how it failed"       the attack did not get through
 *   1  "ESCAPED NAME: what it achieved"    it did
 *   0  "READY NAME: what it set up"        a staged attack: the runner acts on
 *                                          the host and judges by what changed
 *   2  "ERROR NAME: why"                   it could not run (inconclusive)
 * Details of each step go to stderr. The runner on the host may turn a
 * BLOCKED or READY into an escape when it finds the host changed.
 *
 * Facts about the host the runner passes in the environment (an attacker
 * could learn or guess most of them; the attacks only use them to aim and
 * to recognise success):
 *   VZSEC_TOKEN        a random word unique to this run
 *   VZSEC_MARKERS      host paths that must stay unreachable, ':'-separated
 *   VZSEC_HOST_PIDS    pids of host processes (vzd, a sentinel), ' '-separated
 *   VZSEC_HOST_COMMS   their command names, ' '-separated
 *   VZSEC_SECRET, VZSEC_SECRET_PID, VZSEC_SECRET_ADDR
 *                      a string held in a host process's memory and where
 *   VZSEC_DISK_SENTINEL, VZSEC_DISK_WRITE
 *                      a host file on the storage disk and a file name to
 *                      create there, both relative to the disk's root
 *   VZSEC_PRIVATE_HOST the VPS's private area as a host path
 *   VZSEC_ABSTRACT     an abstract Unix socket name the host listens on
 */
#ifndef VZSEC_ATTACK_H
#define VZSEC_ATTACK_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct vzsec_attack {
    const char *name;
    const char *what;
    int (*run)(int argc, char **argv);
};

/* Registration through a named section: the linker provides
 * __start_vzsec_attacks and __stop_vzsec_attacks around it. */
#define ATTACK(id, descr)                                                        \
    static int id##_run(int argc, char **argv);                                  \
    static const struct vzsec_attack id##_def                                    \
        __attribute__((used, section("vzsec_attacks"), aligned(sizeof(void *)))) = \
            {#id, descr, id##_run};                                              \
    static int id##_run(int argc, char **argv)

extern const char *vzsec_name;

/* Evidence collected while an attack runs; finish() turns it into the
 * verdict line. One escape note is enough to make the attack ESCAPED. */
void escape_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void block_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int finish(void);
int verdict_blocked(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int verdict_escaped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int verdict_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int verdict_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* errno as its name ("EPERM"), or the number. */
const char *ename(int err);
/* Environment variable or a default. */
const char *env_or(const char *name, const char *fallback);

/* Small file helpers; they return 0 or an errno value. */
int read_text(const char *path, char *buf, size_t size);
int write_text(const char *path, const char *text);
int same_inode(const struct stat *a, const struct stat *b);
/* The VPS's own "/", taken once at start. */
extern struct stat vzsec_root;
/* Climb ".." from a directory fd until it stops moving; fills *top. */
int climb_to_top(int dirfd, struct stat *top);
/* mknod NAME (S_IFBLK/S_IFCHR) in the first of several directories where
 * both mknod and open work; returns an fd opened with FLAGS or -1 and
 * explains every failure on stderr. *where receives the node's path (the
 * caller unlinks it). */
int mknod_open(const char *name, mode_t type, dev_t dev, int flags, char *where, size_t wsize,
               int *last_err);
/* What mknod_open tried where, after a failure ("mknod in /dev EPERM, ..."). */
const char *mknod_why(void);
/* Split VAR's value at any of SEPS into at most MAX words. */
int split_env(const char *var, const char *seps, char words[][256], int max);

#endif
