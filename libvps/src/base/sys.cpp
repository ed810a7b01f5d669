#include "vps/sys.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace vps::sys {

Result<Fd> open(const std::string& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return Error::sys("open", path);
    return Fd(fd);
}

Result<Fd> openat(FdRef dir, const std::string& path, int flags, mode_t mode) {
    int fd = ::openat(dir.get(), path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return Error::sys("open", path);
    return Fd(fd);
}

Result<std::string> read_fd(FdRef fd, size_t max) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::sys("read");
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max) return Error::sys("read", {}, EFBIG);
    }
    return out;
}

Result<std::string> read_file(const std::string& path, size_t max) {
    auto fd = open(path, O_RDONLY | O_NOCTTY);
    if (!fd) return std::move(fd).error();
    auto data = read_fd(fd->ref(), max);
    if (!data) return Error::sys("read", path, std::move(data).error().err());
    return data;
}

Result<std::string> random_hex(size_t bytes) {
    std::string raw(bytes, '\0');
    for (size_t got = 0; got < bytes;) {
        ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::sys("getrandom");
        got += static_cast<size_t>(n);
    }
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

Result<std::string> read_link(const std::string& path) {
    std::string buf(256, '\0');
    for (;;) {
        ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
        if (n < 0) return Error::sys("readlink", path);
        if (static_cast<size_t>(n) < buf.size()) {
            buf.resize(static_cast<size_t>(n));
            return buf;
        }
        buf.resize(buf.size() * 2);
    }
}

Result<std::string> read_fileat(FdRef dir, const std::string& name, size_t max) {
    auto fd = openat(dir, name, O_RDONLY | O_NOCTTY);
    if (!fd) return std::move(fd).error();
    auto data = read_fd(fd->ref(), max);
    if (!data) return Error::sys("read", name, std::move(data).error().err());
    return data;
}

Result<void> write_all(FdRef fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd.get(), data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::sys("write");
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
}

Result<void> write_file(const std::string& path, std::string_view data) {
    auto fd = open(path, O_WRONLY | O_NOCTTY);
    if (!fd) return std::move(fd).error();
    // Kernel knobs take one write; a short or failed write is the answer.
    ssize_t n = ::write(fd->get(), data.data(), data.size());
    if (n < 0) return Error::sys("write", path);
    return ok();
}

Result<void> write_fileat(FdRef dir, const std::string& name, std::string_view data) {
    auto fd = openat(dir, name, O_WRONLY | O_NOCTTY);
    if (!fd) return std::move(fd).error();
    ssize_t n = ::write(fd->get(), data.data(), data.size());
    if (n < 0) return Error::sys("write", name);
    return ok();
}

namespace {
std::string dirname_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// Make a rename, creation or removal in path's directory durable.
void sync_parent(const std::string& path) {
    auto dir = open(dirname_of(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir) ::fsync(dir->get());
}
}  // namespace

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        auto fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
        if (!fd) return std::move(fd).error();
        if (auto r = write_all(fd->ref(), data); !r) {
            ::unlink(tmp.c_str());
            return Error::sys("write", tmp, r.error().err());
        }
        if (::fsync(fd->get()) < 0) {
            int e = errno;
            ::unlink(tmp.c_str());
            return Error::sys("fsync", tmp, e);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return Error::sys("rename", path, e);
    }
    sync_parent(path);
    return ok();
}

Result<void> unlink_durably(const std::string& path) {
    if (auto r = unlink(path); !r) return r;
    sync_parent(path);
    return ok();
}

Result<void> sync_filesystem(const std::string& path) {
    auto fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!fd) return std::move(fd).error();
    if (::syncfs(fd->get()) < 0) return Error::sys("syncfs", path);
    return ok();
}

Result<void> mkdir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return Error::sys("mkdir", path);
    return ok();
}

Result<void> mkdir_p(const std::string& path, mode_t mode) {
    if (path.empty()) return ok();
    for (size_t pos = 1; pos <= path.size(); ++pos) {
        if (pos == path.size() || path[pos] == '/') {
            std::string prefix = path.substr(0, pos);
            if (::mkdir(prefix.c_str(), mode) < 0 && errno != EEXIST)
                return Error::sys("mkdir", prefix);
        }
    }
    return ok();
}

Result<void> rmdir(const std::string& path) {
    if (::rmdir(path.c_str()) < 0) return Error::sys("rmdir", path);
    return ok();
}

Result<void> unlink(const std::string& path) {
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) return Error::sys("unlink", path);
    return ok();
}

namespace {
struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

// Remove the contents of dirfd (which it owns) recursively, staying on dev.
Result<void> remove_contents(int dirfd, dev_t dev, const std::string& where) {
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(dirfd));
    if (!dir) {
        ::close(dirfd);
        return Error::sys("opendir", where);
    }
    while (struct dirent* e = ::readdir(dir.get())) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
            return Error::sys("stat", where + "/" + name);
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) return Error::sys("remove", where + "/" + name, EXDEV);
            int sub = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) return Error::sys("open", where + "/" + name);
            if (auto r = remove_contents(sub, dev, where + "/" + name); !r) return r;
            if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) < 0)
                return Error::sys("rmdir", where + "/" + name);
        } else if (::unlinkat(dirfd, name.c_str(), 0) < 0) {
            return Error::sys("unlink", where + "/" + name);
        }
    }
    return ok();
}
}  // namespace

Result<void> remove_tree(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT) return ok();
        return Error::sys("stat", path);
    }
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Error::sys("open", path);
    if (auto r = remove_contents(fd, st.st_dev, path); !r) return r;
    return rmdir(path);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
    std::unique_ptr<DIR, DirCloser> dir(::opendir(path.c_str()));
    if (!dir) return Error::sys("opendir", path);
    std::vector<std::string> out;
    while (struct dirent* e = ::readdir(dir.get())) {
        std::string name = e->d_name;
        if (name != "." && name != "..") out.push_back(std::move(name));
    }
    return out;
}

Result<FdPair> pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return Error::sys("pipe2");
    return FdPair{Fd(fds[0]), Fd(fds[1])};
}

Result<FdPair> socketpair(int type) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0) return Error::sys("socketpair");
    return FdPair{Fd(fds[0]), Fd(fds[1])};
}

namespace {
Result<sockaddr_un> unix_address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        return Error::sys("socket", path, ENAMETOOLONG);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

Result<Fd> stream_socket() {
    int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return Error::sys("socket");
    return Fd(s);
}
}  // namespace

Result<Fd> unix_connect(const std::string& path) {
    auto addr = unix_address(path);
    if (!addr) return std::move(addr).error();
    auto fd = stream_socket();
    if (!fd) return fd;
    if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) < 0)
        return Error::sys("connect", path);
    return fd;
}

Result<Fd> unix_listen(const std::string& path, int backlog) {
    auto addr = unix_address(path);
    if (!addr) return std::move(addr).error();
    auto fd = stream_socket();
    if (!fd) return fd;
    if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) < 0)
        return Error::sys("bind", path);
    if (::listen(fd->get(), backlog) < 0) return Error::sys("listen", path);
    return fd;
}

Result<Fd> pidfd_open(pid_t pid) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return Error::sys("pidfd_open", std::to_string(pid));
    return Fd(fd);
}

int pidfd_send_signal(FdRef pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0));
}

std::optional<uint64_t> process_start_time(pid_t pid) {
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) return std::nullopt;
    // The command name (field 2) may hold spaces and parentheses: skip to
    // the last ')'.
    auto close = stat->rfind(')');
    if (close == std::string::npos) return std::nullopt;
    auto fields = split(std::string_view(*stat).substr(close + 2), ' ');
    // fields[0] is field 3 (state); starttime is field 22.
    if (fields.size() < 20) return std::nullopt;
    return std::stoull(fields[19]);
}

namespace {

// Appends what fd has now; false at its end.
bool drain_into(int fd, std::string& into, size_t max) {
    char buf[8192];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return false;
    into.append(buf, static_cast<size_t>(n));
    if (into.size() > max) into.erase(0, into.size() - max);
    return true;
}

}  // namespace

Result<Output> run_capture(const std::vector<std::string>& argv, size_t max, const std::string& stdin_path) {
    auto in = open(stdin_path, O_RDONLY | O_CLOEXEC);
    if (!in) return std::move(in).error();
    auto outpipe = pipe();
    if (!outpipe) return std::move(outpipe).error();
    auto errpipe = pipe();
    if (!errpipe) return std::move(errpipe).error();
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork", argv[0]);
    if (pid == 0) {
        ::dup2(in->get(), 0);
        ::dup2(outpipe->second.get(), 1);
        ::dup2(errpipe->second.get(), 2);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    outpipe->second.reset();
    errpipe->second.reset();
    Output o;
    pollfd fds[2] = {{outpipe->first.get(), POLLIN, 0}, {errpipe->first.get(), POLLIN, 0}};
    std::string* into[2] = {&o.out, &o.err};
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i)
            if (fds[i].fd >= 0 && fds[i].revents && !drain_into(fds[i].fd, *into[i], max)) fds[i].fd = -1;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    o.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (o.status == 127 && o.err.empty()) return Error::sys("exec", argv[0], ENOENT);
    return o;
}

std::string describe_exit(const Output& o) {
    std::string tail = trim(o.err);
    if (tail.size() > 400) tail = "..." + tail.substr(tail.size() - 400);
    std::string why = o.status < 128 ? "exited with status " + std::to_string(o.status)
                                     : "killed by signal " + std::to_string(o.status - 128);
    if (!tail.empty()) why += ": " + tail;
    return why;
}

Result<void> run(const std::vector<std::string>& argv) {
    auto o = run_capture(argv);
    if (!o) return std::move(o).error();
    if (o->status == 0) return ok();
    return Error(Errc::system, argv[0], {}, 0, describe_exit(*o));
}

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::strchr(" \t\r\n", s[b])) ++b;
    while (e > b && std::strchr(" \t\r\n", s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            out.emplace_back(s.substr(start));
            return out;
        }
        out.emplace_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

}  // namespace vps::sys
