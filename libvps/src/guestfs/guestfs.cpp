// Reading and replacing files beneath a VPS root without ever leaving it.
//
// Every multi-component lookup is one openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) from the root fd. What follows a lookup only acts
// on the resulting directory fd with single, checked names (never "." or
// ".."), and without following a symlink: fstatat(AT_SYMLINK_NOFOLLOW),
// openat(O_CREAT | O_EXCL | O_NOFOLLOW), mkdirat, renameat. The VPS cannot
// move a directory we hold out of its own tree, so such an fd stays inside.
#include "vps/guestfs.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "vps/sys.hpp"

namespace vps::guestfs {
namespace {

// A checked relative path: its components, none empty, "." or "..".
struct RelPath {
    std::vector<std::string> parts;
    std::string parent() const {
        std::string out;
        for (size_t i = 0; i + 1 < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
        return out.empty() ? "." : out;
    }
    const std::string& name() const { return parts.back(); }
};

std::string strip_slashes(std::string_view rel) {
    while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
    return std::string(rel);
}

Result<RelPath> parse_rel(const Root& root, std::string_view rel) {
    RelPath p;
    p.parts = sys::split(strip_slashes(rel), '/');
    for (const auto& c : p.parts)
        if (c.empty() || c == "." || c == "..")
            return Error(Errc::bad_argument, "resolve", root.describe(rel), 0,
                         "not a plain relative path (empty, '.' or '..' component)");
    return p;
}

std::string why_open_failed(int err) {
    if (err == ELOOP)
        return std::string(std::strerror(err)) +
               " (a symlink loop, or a /proc magic link, which is refused)";
    if (err == EXDEV) return std::string(std::strerror(err)) + " (the path would leave the root)";
    return {};
}

// openat2 scoped to dir, which is treated as "/". EAGAIN means a rename or
// mount raced with a ".." lookup; the kernel asks us to try again.
Result<Fd> open_in_root(FdRef dir, const std::string& path, uint64_t flags, mode_t mode,
                        const std::string& what) {
    open_how how{};
    how.flags = flags | O_CLOEXEC;
    how.mode = mode;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
        long fd = ::syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof how);
        if (fd >= 0) return Fd(static_cast<int>(fd));
        int err = errno;
        if ((err == EAGAIN || err == EINTR) && attempt < 32) continue;
        if (err == ENOSYS)
            return Error(Errc::system, "openat2", what, err,
                         "the kernel has no openat2 (Linux 5.6+ needed); refusing to resolve "
                         "paths inside a VPS without it");
        return Error(Errc::system, "open", what, err, why_open_failed(err));
    }
}

const char* type_name(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symlink";
    return "not a regular file";
}

Error not_regular(const std::string& what, mode_t m) {
    return Error(Errc::system, "read", what, 0,
                 std::string("is ") + type_name(m) + ", not a regular file; refusing to read it");
}

}  // namespace

std::string Root::describe(std::string_view rel) const {
    return "/" + strip_slashes(rel) + " in VPS root " + host_path_;
}

Result<Root> open_root(const std::string& host_path) {
    auto fd = sys::open(host_path, O_PATH | O_DIRECTORY);
    if (!fd) return std::move(fd).error().with_context("VPS root");
    Root root(std::move(*fd), host_path);
    // Probe openat2 now, so a kernel without it fails before any file.
    auto probe = open_in_root(root.fd(), ".", O_PATH | O_DIRECTORY, 0, root.describe(""));
    if (!probe) return std::move(probe).error();
    return root;
}

Result<std::optional<std::string>> resolve(const Root& root, std::string_view rel) {
    const std::string what = root.describe(rel);
    auto p = parse_rel(root, rel);
    if (!p) return std::move(p).error();
    auto look = open_in_root(root.fd(), strip_slashes(rel), O_PATH, 0, what);
    if (!look) {
        if (look.error().err() == ENOENT) return std::optional<std::string>();
        return std::move(look).error();
    }
    // The kernel's name for what the fd reached, as the host sees it; the
    // root's own host path is the prefix to cut off.
    auto host = sys::read_link("/proc/self/fd/" + std::to_string(look->get()));
    if (!host) return std::move(host).error();
    auto base = sys::read_link("/proc/self/fd/" + std::to_string(root.fd().get()));
    if (!base) return std::move(base).error();
    if (*host == *base) return std::optional<std::string>("/");
    if (!host->starts_with(*base + "/"))
        return Error(Errc::system, "resolve", what, EXDEV, "the file is not below the VPS root");
    return std::optional<std::string>(host->substr(base->size()));
}

Result<std::optional<std::string>> read_file(const Root& root, std::string_view rel, size_t max) {
    const std::string what = root.describe(rel);
    auto p = parse_rel(root, rel);
    if (!p) return std::move(p).error();
    const std::string path = strip_slashes(rel);

    // Look first through O_PATH, which opens nothing: a device's open
    // handler never runs for a file we then refuse.
    auto look = open_in_root(root.fd(), path, O_PATH, 0, what);
    if (!look) {
        if (look.error().err() == ENOENT) return std::optional<std::string>();
        return std::move(look).error();
    }
    struct stat first {};
    if (::fstat(look->get(), &first) < 0) return Error::sys("stat", what);
    if (!S_ISREG(first.st_mode)) return not_regular(what, first.st_mode);
    if (static_cast<unsigned long long>(first.st_size) > max)
        return Error(Errc::system, "read", what, EFBIG,
                     "larger than " + std::to_string(max) + " bytes");

    // The VPS may swap the file between the two lookups: O_NONBLOCK and
    // O_NOCTTY keep a FIFO or tty from blocking or attaching, and the
    // second fstat must find the same regular file.
    auto fd = open_in_root(root.fd(), path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, what);
    if (!fd) {
        if (fd.error().err() == ENOENT) return std::optional<std::string>();
        return std::move(fd).error();
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) < 0) return Error::sys("stat", what);
    if (!S_ISREG(st.st_mode)) return not_regular(what, st.st_mode);
    if (st.st_dev != first.st_dev || st.st_ino != first.st_ino)
        return Error(Errc::busy, "read", what, 0, "changed while it was being opened");

    auto data = sys::read_fd(fd->ref(), max);
    if (!data) {
        int err = data.error().err();
        return Error(Errc::system, "read", what, err,
                     err == EFBIG ? "larger than " + std::to_string(max) + " bytes" : "");
    }
    return std::optional<std::string>(std::move(*data));
}

namespace {

// The parent directory of a file being written, open for *at calls.
Result<Fd> open_dir_in_root(const Root& root, const std::string& rel, const std::string& what) {
    return open_in_root(root.fd(), rel, O_RDONLY | O_DIRECTORY, 0, what);
}

// rel's parent, created (one level only) when missing: mode 0755, owned
// like its own parent, so a user-namespaced VPS gets its shifted ids.
Result<Fd> open_or_make_parent(const Root& root, const RelPath& p, const std::string& what) {
    auto dir = open_dir_in_root(root, p.parent(), what);
    if (dir || dir.error().err() != ENOENT || p.parts.size() < 2) return dir;

    RelPath up{std::vector<std::string>(p.parts.begin(), p.parts.end() - 1)};
    const std::string& dname = up.name();
    auto grand = open_dir_in_root(root, up.parent(), what);
    if (!grand) return std::move(grand).error();
    struct stat gst {};
    if (::fstat(grand->get(), &gst) < 0) return Error::sys("stat", what);

    bool made = ::mkdirat(grand->get(), dname.c_str(), 0755) == 0;
    if (!made && errno != EEXIST) return Error::sys("mkdir", root.describe(p.parent()));
    auto sub = sys::openat(grand->ref(), dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!sub) return Error::sys("open", root.describe(p.parent()), sub.error().err());
    if (made) {
        if (::fchown(sub->get(), gst.st_uid, gst.st_gid) < 0)
            return Error::sys("chown", root.describe(p.parent()));
        if (::fchmod(sub->get(), 0755) < 0) return Error::sys("chmod", root.describe(p.parent()));
    }
    return sub;
}

struct Ownership {
    uid_t uid;
    gid_t gid;
    mode_t mode;
};

// Keep a regular file's owner and mode; anything else (nothing there, a
// symlink the VPS planted, a FIFO) gets the directory's owner and mode.
// Set-id bits are never carried over to a file vzd wrote.
Result<Ownership> ownership_for(FdRef dir, const std::string& name, mode_t mode,
                                const std::string& what) {
    struct stat dst {};
    if (::fstat(dir.get(), &dst) < 0) return Error::sys("stat", what);
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISREG(st.st_mode))
            return Ownership{st.st_uid, st.st_gid, static_cast<mode_t>(st.st_mode & 01777)};
        if (S_ISDIR(st.st_mode))
            return Error(Errc::system, "write", what, EISDIR, "is a directory");
    } else if (errno != ENOENT) {
        return Error::sys("stat", what);
    }
    return Ownership{dst.st_uid, dst.st_gid, static_cast<mode_t>(mode & 01777)};
}

std::string random_tmp_name() {
    static constexpr char kChars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[6] = {};
    if (::getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof rnd)) {
        // Only before the pool is seeded. Uniqueness is all the name needs
        // (O_EXCL checks it), not secrecy: a clock tick will do.
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        auto seed = static_cast<unsigned long>(ts.tv_nsec) ^ static_cast<unsigned long>(::getpid());
        for (auto& b : rnd) b = static_cast<unsigned char>(seed >>= 5);
    }
    std::string name = ".vzd-";
    for (unsigned char b : rnd) name += kChars[b % (sizeof kChars - 1)];
    return name;
}

struct TmpFile {
    Fd fd;
    std::string name;
};

Result<TmpFile> create_tmp(FdRef dir, const std::string& what) {
    for (int attempt = 0; attempt < 16; ++attempt) {
        std::string name = random_tmp_name();
        int fd = ::openat(dir.get(), name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
        if (fd >= 0) return TmpFile{Fd(fd), std::move(name)};
        if (errno != EEXIST) return Error::sys("create temporary for", what);
    }
    return Error::sys("create temporary for", what, EEXIST);
}

Result<void> fill_tmp(const TmpFile& tmp, std::string_view content, const Ownership& own,
                      const std::string& what) {
    if (auto w = sys::write_all(tmp.fd.ref(), content); !w)
        return Error::sys("write", what, w.error().err());
    struct stat st {};
    if (::fstat(tmp.fd.get(), &st) < 0) return Error::sys("stat", what);
    // chown only when it changes something, so an unprivileged vzd (tests)
    // can write files it owns; chown clears set-id bits, so chmod after.
    if ((st.st_uid != own.uid || st.st_gid != own.gid) &&
        ::fchown(tmp.fd.get(), own.uid, own.gid) < 0)
        return Error::sys("chown", what);
    if (::fchmod(tmp.fd.get(), own.mode) < 0) return Error::sys("chmod", what);
    if (::fsync(tmp.fd.get()) < 0) return Error::sys("fsync", what);
    return ok();
}

}  // namespace

Result<void> write_file(const Root& root, std::string_view rel, std::string_view content,
                        mode_t mode) {
    const std::string what = root.describe(rel);
    auto p = parse_rel(root, rel);
    if (!p) return std::move(p).error();
    auto dir = open_or_make_parent(root, *p, what);
    if (!dir) return std::move(dir).error();
    auto own = ownership_for(dir->ref(), p->name(), mode, what);
    if (!own) return std::move(own).error();

    auto tmp = create_tmp(dir->ref(), what);
    if (!tmp) return std::move(tmp).error();
    ScopeExit remove_tmp([&] { ::unlinkat(dir->get(), tmp->name.c_str(), 0); });
    if (auto r = fill_tmp(*tmp, content, *own, what); !r) return r;
    // renameat replaces whatever is at the name (a symlink included)
    // without following it.
    if (::renameat(dir->get(), tmp->name.c_str(), dir->get(), p->name().c_str()) < 0)
        return Error::sys("rename", what);
    remove_tmp.dismiss();
    if (::fsync(dir->get()) < 0) return Error::sys("fsync directory of", what);
    return ok();
}

}  // namespace vps::guestfs
