// vps::disk against a real filesystem with project quotas. Needs root and
// runs only when VZ_DISK_TEST_DIR names a directory on ext4 (or XFS)
// mounted with prjquota; skipped otherwise. The test guest has one:
//
//   tests/guest/run -- tests/guest/disk-check build-disk
//
// Everything happens in a fresh "vz-disk-<pid>-*" directory beneath it,
// with project ids derived from the pid; the limits are cleared and the
// directories removed afterwards. The only mount (a bind mount, to check the
// walk stops at mount points) is made in a child's own mount namespace.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "disk/disk_internal.hpp"
#include "vps/disk.hpp"
#include "vps/fd.hpp"
#include "vps/sys.hpp"

using namespace vps;
using namespace vps::disk;

namespace {

constexpr const char* kWhy =
    "needs VZ_DISK_TEST_DIR=<directory on a filesystem mounted with prjquota>";

std::string test_dir() {
    const char* d = std::getenv("VZ_DISK_TEST_DIR");
    return d ? d : "";
}

bool real_enabled() { return !test_dir().empty(); }

template <class R>
std::string why(const R& r) {
    return r ? std::string() : r.error().message();
}

// A fresh directory under VZ_DISK_TEST_DIR and a project id of its own;
// the project's limits are cleared and the directory removed at the end.
struct Sandbox {
    std::string path;
    uint32_t project;
    explicit Sandbox(const std::string& name, uint32_t n)
        : path(test_dir() + "/vz-disk-" + std::to_string(::getpid()) + "-" + name),
          project(100000 + static_cast<uint32_t>(::getpid()) % 100000 * 4 + n) {
        (void)sys::remove_tree(path);
        REQUIRE(sys::mkdir(path, 0755).ok());
    }
    ~Sandbox() {
        (void)set_limits(test_dir(), project, {});
        (void)sys::remove_tree(path);
    }
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;
};

// Root ignores quota hard limits while CAP_SYS_RESOURCE is effective (the
// kernel's ignore_hardlimit()), so the EDQUOT checks run without it. Only
// the effective set changes, so the destructor can raise it again.
class WithoutSysResource {
public:
    WithoutSysResource() {
        REQUIRE(::syscall(SYS_capget, &header_, saved_) == 0);
        __user_cap_data_struct lowered[2];
        std::memcpy(lowered, saved_, sizeof lowered);
        lowered[CAP_SYS_RESOURCE / 32].effective &= ~(1u << (CAP_SYS_RESOURCE % 32));
        REQUIRE(::syscall(SYS_capset, &header_, lowered) == 0);
    }
    ~WithoutSysResource() { (void)::syscall(SYS_capset, &header_, saved_); }
    WithoutSysResource(const WithoutSysResource&) = delete;
    WithoutSysResource& operator=(const WithoutSysResource&) = delete;

private:
    __user_cap_header_struct header_{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct saved_[2]{};
};

// The project id of a directory or regular file; -1 when it cannot be read.
int64_t project_of(const std::string& path) {
    auto fd = sys::open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (!fd) return -1;
    fsxattr fa{};
    if (::ioctl(fd->get(), FS_IOC_FSGETXATTR, &fa) < 0) return -1;
    return fa.fsx_projid;
}

bool inherits(const std::string& dir) {
    auto fd = sys::open(dir, O_RDONLY | O_DIRECTORY);
    fsxattr fa{};
    return fd && ::ioctl(fd->get(), FS_IOC_FSGETXATTR, &fa) == 0 &&
           (fa.fsx_xflags & FS_XFLAG_PROJINHERIT) != 0;
}

// What the quota charges for these inodes: their allocated blocks,
// including blocks reserved for delayed allocation (st_blocks counts them).
uint64_t charged_bytes(const std::vector<std::string>& paths) {
    uint64_t sum = 0;
    for (const auto& p : paths) {
        struct stat st {};
        REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, p);
        sum += static_cast<uint64_t>(st.st_blocks) * 512;
    }
    return sum;
}

void write_bytes(const std::string& path, size_t n) {
    auto fd = sys::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE_MESSAGE(fd.ok(), why(fd));
    REQUIRE(sys::write_all(fd->ref(), std::string(n, 'x')).ok());
}

struct Stop {
    uint64_t done = 0;  // bytes written or files created
    int err = 0;        // the errno that stopped us, 0 if we hit our own cap
};

// Append 64 KiB at a time until a write fails or max bytes are written.
Stop fill_file(const std::string& path, uint64_t max) {
    auto fd = sys::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE_MESSAGE(fd.ok(), why(fd));
    const std::string chunk(64 * 1024, 'q');
    Stop s;
    while (s.done < max) {
        ssize_t n = ::write(fd->get(), chunk.data(), chunk.size());
        if (n < 0) {
            s.err = errno;
            break;
        }
        s.done += static_cast<uint64_t>(n);
    }
    return s;
}

// Create empty files until open fails or max files exist.
Stop create_files(const std::string& dir, uint64_t max) {
    Stop s;
    while (s.done < max) {
        std::string p = dir + "/f" + std::to_string(s.done);
        int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            s.err = errno;
            break;
        }
        ::close(fd);
        ++s.done;
    }
    return s;
}

// In a child with its own mount namespace, bind-mount `bound` onto
// top/mnt and tag top. Exit status 0 when assign_project succeeded.
int assign_with_bind_mount(const std::string& top, const std::string& bound, uint32_t project) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) < 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
            ::mount(bound.c_str(), (top + "/mnt").c_str(), nullptr, MS_BIND, nullptr) < 0) {
            std::fprintf(stderr, "bind mount: %s\n", std::strerror(errno));
            ::_exit(2);
        }
        auto r = assign_project(top, project);
        if (!r) std::fprintf(stderr, "%s\n", r.error().message().c_str());
        ::_exit(r ? 0 : 1);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("disk real: project quotas are on and the disk is found" *
          doctest::skip(!real_enabled()) * doctest::description(kWhy)) {
    const std::string dir = test_dir();
    auto mount = mount_of(dir);
    REQUIRE_MESSAGE(mount.ok(), why(mount));
    MESSAGE(dir << " is " << mount->fstype << " from " << mount->source << " at "
                << mount->mount_point << " (" << mount->super_options << ")");
    auto on = project_quota_enabled(dir);
    REQUIRE_MESSAGE(on.ok(), why(on));
    REQUIRE_MESSAGE(*on, dir << " has no enforced project quotas (mount with prjquota)");

    auto disk = backing_disk(dir);
    REQUIRE_MESSAGE(disk.ok(), why(disk));
    MESSAGE("backing disk " << *disk);
    CHECK_FALSE(sys::exists("/sys/dev/block/" + *disk + "/partition"));
    // The filesystem's device is that disk or one of its partitions.
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    std::string own = std::to_string(::major(st.st_dev)) + ":" + std::to_string(::minor(st.st_dev));
    auto parent = sys::read_file("/sys/dev/block/" + own + "/../dev");
    CHECK((own == *disk || (parent && sys::trim(*parent) == *disk)));
}

TEST_CASE("disk real: assign_project tags the tree, not symlinks, FIFOs or mounts" *
          doctest::skip(!real_enabled()) * doctest::description(kWhy)) {
    Sandbox top("tree", 0);
    Sandbox outside("outside", 1);
    REQUIRE(sys::mkdir(top.path + "/a").ok());
    REQUIRE(sys::mkdir(top.path + "/mnt").ok());
    write_bytes(top.path + "/a/f1", 8192);
    REQUIRE(::symlink(outside.path.c_str(), (top.path + "/escape").c_str()) == 0);
    REQUIRE(::mkfifo((top.path + "/a/fifo").c_str(), 0600) == 0);

    int status = assign_with_bind_mount(top.path, outside.path, top.project);
    REQUIRE_MESSAGE(status == 0, "assign_project in a child exited " << status);

    CHECK(project_of(top.path) == top.project);
    CHECK(project_of(top.path + "/a") == top.project);
    CHECK(project_of(top.path + "/a/f1") == top.project);
    CHECK(inherits(top.path));
    CHECK(inherits(top.path + "/a"));
    // Reached through the symlink and the bind mount: untouched. The
    // directory the mount covered was hidden from the walk.
    CHECK(project_of(outside.path) == 0);
    CHECK(project_of(top.path + "/mnt") == 0);
    // Tagged: top, a, a/f1. Not: the symlink, the FIFO, mnt.
    auto u = usage(top.path, top.project);
    REQUIRE_MESSAGE(u.ok(), why(u));
    CHECK(u->inodes_used == 3);
    CHECK(u->space_used_bytes == charged_bytes({top.path, top.path + "/a", top.path + "/a/f1"}));
    // New files inherit the project from their directory.
    write_bytes(top.path + "/a/new", 100);
    CHECK(project_of(top.path + "/a/new") == top.project);
    auto after = usage(top.path, top.project);
    REQUIRE(after.ok());
    CHECK(after->inodes_used == 4);
}

TEST_CASE("disk real: diskspace and diskinodes limits stop writes with EDQUOT" *
          doctest::skip(!real_enabled()) * doctest::description(kWhy)) {
    constexpr uint64_t kSpaceKb = 1024;
    constexpr uint64_t kInodes = 10;
    Sandbox box("limits", 2);
    auto tagged = assign_project(box.path, box.project);
    REQUIRE_MESSAGE(tagged.ok(), why(tagged));
    const QuotaLimits limits{0, kSpaceKb, 0, kInodes};
    auto set = set_limits(box.path, box.project, limits);
    REQUIRE_MESSAGE(set.ok(), why(set));
    auto before = usage(box.path, box.project);
    REQUIRE_MESSAGE(before.ok(), why(before));
    CHECK(before->limits == limits);
    CHECK(before->inodes_used == 1);  // the directory itself

    Stop space, files;
    {
        WithoutSysResource unprivileged;
        space = fill_file(box.path + "/big", 4 * kb_to_bytes(kSpaceKb));
        files = create_files(box.path, 100);
    }
    MESSAGE("wrote " << space.done << " bytes, then " << std::string(std::strerror(space.err))
                     << "; created " << files.done << " files, then "
                     << std::string(std::strerror(files.err)));
    CHECK(space.err == EDQUOT);
    CHECK(space.done <= kb_to_bytes(kSpaceKb));
    CHECK(files.err == EDQUOT);
    CHECK(files.done == kInodes - 2);  // the directory and big come first

    auto u = usage(box.path, box.project);
    REQUIRE_MESSAGE(u.ok(), why(u));
    MESSAGE("usage " << u->space_used_bytes << " bytes, " << u->inodes_used << " inodes");
    CHECK(u->limits == limits);
    CHECK(u->inodes_used == kInodes);
    CHECK(u->space_used_bytes <= kb_to_bytes(kSpaceKb));
    CHECK(u->space_used_bytes > kb_to_bytes(kSpaceKb) - 64 * 1024);
    std::vector<std::string> all{box.path, box.path + "/big"};
    for (uint64_t i = 0; i < files.done; ++i) all.push_back(box.path + "/f" + std::to_string(i));
    CHECK(u->space_used_bytes == charged_bytes(all));
    // The pre-5.14 path (quotactl on the block device) reads the same.
    if_dqblk dq{};
    auto by_dev = detail::project_quotactl(box.path, Q_GETQUOTA, "Q_GETQUOTA", box.project, &dq,
                                           detail::QuotactlVia::device);
    REQUIRE_MESSAGE(by_dev.ok(), why(by_dev));
    CHECK(dq.dqb_curspace == u->space_used_bytes);
    CHECK(dq.dqb_curinodes == u->inodes_used);
    CHECK(detail::from_dqblk(dq).limits == limits);

    // Lifting the limits lets the same writer go on.
    REQUIRE(set_limits(box.path, box.project, {}).ok());
    WithoutSysResource unprivileged;
    int fd = ::open((box.path + "/more").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK_MESSAGE(fd >= 0, std::string(std::strerror(errno)));
    if (fd >= 0) ::close(fd);
}
