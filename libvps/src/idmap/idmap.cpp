#include "vps/idmap.hpp"

#include <fcntl.h>
#include <signal.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "ns/ns.hpp"
#include "vps/sys.hpp"

namespace vps::idmap {
namespace {

std::string map_text(const std::vector<plan::IdMap>& map) {
    std::string out;
    for (const auto& m : map)
        out += std::to_string(m.inside) + " " + std::to_string(m.outside) + " " + std::to_string(m.count) + "\n";
    return out;
}

// Waits for the map-holding child on every path out of make_userns.
// Ends and reaps the child that holds a user namespace open, on every path.
struct Reaper {
    pid_t pid;
    ~Reaper() {
        ::kill(pid, SIGKILL);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
};

}  // namespace

Result<void> write_maps(pid_t pid, const std::vector<plan::IdMap>& uid_map, const std::vector<plan::IdMap>& gid_map) {
    const std::string proc = "/proc/" + std::to_string(pid);
    for (auto [file, map] : {std::pair{"/uid_map", &uid_map}, std::pair{"/gid_map", &gid_map}}) {
        const std::string path = proc + file;
        Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) return Error::sys("open", path);
        const std::string text = map_text(*map);
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
            return Error::sys("write", path + " (" + text.substr(0, text.size() - 1) + ")");
    }
    return ok();
}

Result<Fd> make_userns(const std::vector<plan::IdMap>& uid_map, const std::vector<plan::IdMap>& gid_map) {
    auto cloned = ns::clone3(CLONE_NEWUSER, std::nullopt);
    if (!cloned) return std::move(cloned).error();
    if (cloned->pid == 0) {
        // Only syscalls here (a clone of a multi-threaded process): live
        // until the parent, done with the namespace, kills this child.
        // Not a wait for EOF on a pipe: a clone made at the same time by
        // another thread of vzd inherits the pipe's write end, and the two
        // children then wait for each other for ever.
        for (;;) ::pause();
    }
    Reaper reaper{cloned->pid};
    Fd pidfd(cloned->pidfd);
    if (auto r = write_maps(cloned->pid, uid_map, gid_map); !r) return std::move(r).error();
    const std::string path = "/proc/" + std::to_string(cloned->pid) + "/ns/user";
    Fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return Error::sys("open", path);
    return ns;
}

Result<Fd> mapped_tree(const std::string& dir, FdRef userns) {
    Fd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, dir.c_str(),
                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
    if (!tree) return Error::sys("open_tree", dir);
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NODEV;
    attr.userns_fd = static_cast<uint64_t>(userns.get());
    // A clone of a shared mount (systemd makes / shared) joins its peer
    // group: mounts the VPS made on the copy would appear on the host.
    attr.propagation = MS_PRIVATE;
    if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
        return Error::sys("idmap mount of", dir);
    return tree;
}

Support probe(const std::string& dir, const std::vector<plan::IdMap>& map) {
    auto ns = make_userns(map, map);
    if (!ns) return {false, ns.error().message()};
    auto tree = mapped_tree(dir, ns->ref());
    if (!tree) return {false, tree.error().message()};
    return {true, {}};
}

}  // namespace vps::idmap
