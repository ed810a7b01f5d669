/* vzsec: the multi-call binary of the escape suite. See attack.h. */
#include "attack.h"

extern const struct vzsec_attack __start_vzsec_attacks[];
extern const struct vzsec_attack __stop_vzsec_attacks[];

const char *vzsec_name = "?";
struct stat vzsec_root;

static char escapes[4096];
static char blocks[4096];

static void append(char *buf, size_t size, const char *fmt, va_list ap) {
    size_t len = strlen(buf);
    if (len + 3 >= size) return;
    if (len > 0) {
        strcpy(buf + len, "; ");
        len += 2;
    }
    vsnprintf(buf + len, size - len, fmt, ap);
}

void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s: ", vzsec_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void escape_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    append(escapes, sizeof escapes, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    fprintf(stderr, "  %s: ESCAPE: ", vzsec_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void block_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    append(blocks, sizeof blocks, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    fprintf(stderr, "  %s: blocked: ", vzsec_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int verdict(const char *word, int code, const char *fmt, va_list ap) {
    char line[8192];
    vsnprintf(line, sizeof line, fmt, ap);
    for (char *p = line; *p; p++)
        if (*p == '\n') *p = ' ';
    fflush(stderr);
    printf("%s %s: %s\n", word, vzsec_name, line);
    fflush(stdout);
    return code;
}

int verdict_blocked(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = verdict("BLOCKED", 0, fmt, ap);
    va_end(ap);
    return r;
}

int verdict_escaped(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = verdict("ESCAPED", 1, fmt, ap);
    va_end(ap);
    return r;
}

int verdict_ready(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = verdict("READY", 0, fmt, ap);
    va_end(ap);
    return r;
}

int verdict_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = verdict("ERROR", 2, fmt, ap);
    va_end(ap);
    return r;
}

int finish(void) {
    if (escapes[0]) return verdict_escaped("%s", escapes);
    if (blocks[0]) return verdict_blocked("%s", blocks);
    return verdict_error("the attack recorded no result");
}

const char *ename(int err) {
    static char buf[8][32];
    static int slot;
    const char *n = strerrorname_np(err);
    if (n) return n;
    slot = (slot + 1) % 8;
    snprintf(buf[slot], sizeof buf[slot], "errno %d", err);
    return buf[slot];
}

const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int read_text(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t n = read(fd, buf, size - 1);
    int err = n < 0 ? errno : 0;
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    return err;
}

int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t n = write(fd, text, strlen(text));
    int err = n < 0 ? errno : 0;
    if (close(fd) < 0 && !err) err = errno;
    return err;
}

int same_inode(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int climb_to_top(int dirfd, struct stat *top) {
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return errno;
    struct stat cur;
    if (fstat(fd, &cur) < 0) {
        close(fd);
        return errno;
    }
    for (int i = 0; i < 4096; i++) {
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (up < 0) break;
        struct stat st;
        fstat(up, &st);
        close(fd);
        fd = up;
        if (same_inode(&st, &cur)) break;
        cur = st;
    }
    close(fd);
    *top = cur;
    return 0;
}

static char mknod_report[1024];

const char *mknod_why(void) { return mknod_report; }

int mknod_open(const char *name, mode_t type, dev_t dev, int flags, char *where, size_t wsize,
               int *last_err) {
    static const char *dirs[] = {"/dev", "/root", "/", "/run", "/tmp"};
    *last_err = 0;
    mknod_report[0] = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(where, wsize, "%s/%s", strcmp(dirs[i], "/") ? dirs[i] : "", name);
        unlink(where);
        size_t len = strlen(mknod_report);
        if (mknod(where, type | 0600, dev) < 0) {
            *last_err = errno;
            snprintf(mknod_report + len, sizeof mknod_report - len, "%smknod in %s %s", len ? ", " : "",
                     dirs[i], ename(errno));
            continue;
        }
        int fd = open(where, flags | O_CLOEXEC);
        if (fd >= 0) return fd;
        *last_err = errno;
        snprintf(mknod_report + len, sizeof mknod_report - len, "%smade in %s, open %s", len ? ", " : "",
                 dirs[i], ename(errno));
        unlink(where);
    }
    say("%u:%u: %s", major(dev), minor(dev), mknod_report);
    where[0] = 0;
    return -1;
}

int split_env(const char *var, const char *seps, char words[][256], int max) {
    const char *v = getenv(var);
    int n = 0;
    if (!v) return 0;
    while (*v && n < max) {
        size_t len = strcspn(v, seps);
        if (len > 0 && len < 256) {
            memcpy(words[n], v, len);
            words[n][len] = 0;
            n++;
        }
        v += len;
        if (*v) v++;
    }
    return n;
}

static void usage(void) {
    fprintf(stderr, "usage: vzsec NAME [ARGS...]\nattacks:\n");
    for (const struct vzsec_attack *a = __start_vzsec_attacks; a < __stop_vzsec_attacks; a++)
        fprintf(stderr, "  %-24s %s\n", a->name, a->what);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage();
        return 2;
    }
    if (strcmp(argv[1], "--list") == 0) {
        for (const struct vzsec_attack *a = __start_vzsec_attacks; a < __stop_vzsec_attacks; a++)
            printf("%s\n", a->name);
        return 0;
    }
    stat("/", &vzsec_root);
    for (const struct vzsec_attack *a = __start_vzsec_attacks; a < __stop_vzsec_attacks; a++) {
        if (strcmp(a->name, argv[1]) == 0) {
            vzsec_name = a->name;
            return a->run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "vzsec: no attack '%s'\n", argv[1]);
    usage();
    return 2;
}
