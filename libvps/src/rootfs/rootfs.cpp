#include "rootfs/rootfs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace vps::rootfs {
namespace {

constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;
// MOVE_MOUNT_F_EMPTY_PATH of <linux/mount.h>, which clashes with <sys/mount.h>.
constexpr unsigned kMoveMountEmptyPath = 0x00000004;

Step mount_step(std::string source, std::string target, std::string fstype, unsigned long flags,
                std::string data = {}) {
    return Step{StepKind::mount, std::move(source), std::move(target), std::move(fstype), flags,
                std::move(data), 0};
}

Step dir_step(std::string target, mode_t mode) {
    return Step{StepKind::mkdir, {}, std::move(target), {}, 0, {}, mode};
}

// The character devices a VPS may use; bound from the host's /dev so the
// same code works once the VPS has its own user namespace (where mknod is
// refused).
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};

void add_dev(std::vector<Step>& steps, const std::string& root, const std::string& console) {
    const std::string dev = root + "/dev";
    steps.push_back(dir_step(dev, 0755));
    steps.push_back(mount_step("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k"));
    for (const char* name : kDevices) {
        steps.push_back(Step{StepKind::touch, {}, dev + "/" + name, {}, 0, {}, 0666});
        steps.push_back(mount_step(std::string("/dev/") + name, dev + "/" + name, {}, MS_BIND));
    }
    steps.push_back(Step{StepKind::touch, {}, dev + "/console", {}, 0, {}, 0600});
    steps.push_back(mount_step(console, dev + "/console", {}, MS_BIND));
    steps.push_back(dir_step(dev + "/pts", 0755));
    steps.push_back(mount_step("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                               "newinstance,ptmxmode=0666,mode=0620,gid=5"));
    steps.push_back(Step{StepKind::symlink, "pts/ptmx", dev + "/ptmx", {}, 0, {}, 0});
    steps.push_back(dir_step(dev + "/shm", 01777));
    steps.push_back(mount_step("shm", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV,
                               "mode=1777,size=65536k"));
    steps.push_back(dir_step(dev + "/mqueue", 0755));
    steps.push_back(Step{StepKind::symlink, "/proc/self/fd", dev + "/fd", {}, 0, {}, 0});
    steps.push_back(Step{StepKind::symlink, "/proc/self/fd/0", dev + "/stdin", {}, 0, {}, 0});
    steps.push_back(Step{StepKind::symlink, "/proc/self/fd/1", dev + "/stdout", {}, 0, {}, 0});
    steps.push_back(Step{StepKind::symlink, "/proc/self/fd/2", dev + "/stderr", {}, 0, {}, 0});
}

// /proc files that show or act on the whole host: a VPS sees /dev/null
// there (as runc, crun and LXC mask them). kcore and kmsg need capabilities
// a VPS lacks anyway; masked all the same, for privileged VPSes.
constexpr const char* kMaskedProcFiles[] = {"kcore",       "kmsg",          "keys",      "latency_stats",
                                            "timer_list",  "timer_stats",   "sched_debug", "sysrq-trigger",
                                            "kallsyms",    "config.gz"};
constexpr const char* kMaskedProcDirs[] = {"acpi", "asound", "scsi", "irq", "bus", "fs", "driver"};
// Host-wide sysctls; what a VPS may tune of its own (net/ in its network
// namespace) stays writable. IPC beancounters are written before this.
constexpr const char* kReadOnlySysctlDirs[] = {"kernel", "vm", "fs", "dev", "debug", "abi", "user", "crypto"};

void add_proc_masks(std::vector<Step>& steps, const std::string& root) {
    const std::string proc = root + "/proc";
    for (const char* f : kMaskedProcFiles) {
        Step s = mount_step("/dev/null", proc + "/" + f, {}, MS_BIND);
        s.optional = true;
        steps.push_back(std::move(s));
    }
    for (const char* d : kMaskedProcDirs) {
        Step s = mount_step("tmpfs", proc + "/" + d, "tmpfs", MS_RDONLY | kNoSuidDevExec, "size=0,mode=555");
        s.optional = true;
        steps.push_back(std::move(s));
    }
    for (const char* d : kReadOnlySysctlDirs) {
        const std::string dir = proc + "/sys/" + d;
        Step bind = mount_step(dir, dir, {}, MS_BIND | MS_REC);
        bind.optional = true;
        steps.push_back(std::move(bind));
        Step ro = mount_step({}, dir, {}, MS_BIND | MS_REMOUNT | MS_RDONLY | kNoSuidDevExec);
        ro.optional = true;
        steps.push_back(std::move(ro));
    }
}

}  // namespace

std::string Step::describe() const {
    switch (kind) {
        case StepKind::mount:
            return "mount '" + (fstype.empty() ? source : fstype) + "' on '" + target + "'";
        case StepKind::mkdir:
            return "mkdir '" + target + "'";
        case StepKind::touch:
            return "create '" + target + "'";
        case StepKind::symlink:
            return "symlink '" + target + "' -> '" + source + "'";
        case StepKind::pivot_root:
            return "pivot_root to '" + target + "'";
        case StepKind::write:
            return "write '" + target + " = " + data + "'";
        case StepKind::move_mount:
            return "mount '" + source + "' on '" + target + "'";
    }
    return "rootfs step";
}

std::vector<Step> plan_steps(const plan::Plan& plan, const HostMounts& host) {
    const std::string& root = plan.root_dir;
    std::vector<Step> steps;
    // Nothing we mount may propagate back to the host's mount namespace.
    steps.push_back(mount_step({}, "/", {}, MS_REC | MS_PRIVATE));
    if (host.root_tree >= 0) {
        Step tree{StepKind::move_mount, plan.private_dir + " (idmapped)", root, {}, 0, {}, 0};
        tree.fd = host.root_tree;
        steps.push_back(std::move(tree));
        // The tree came from the host's namespace: keep nothing of it shared.
        steps.push_back(mount_step({}, root, {}, MS_REC | MS_PRIVATE));
    } else {
        steps.push_back(mount_step(plan.private_dir, root, {}, MS_BIND | MS_REC));
    }
    // No device node on the VPS's own files works (one made with mknod in
    // a privileged VPS included); its devices are the bind mounts in /dev.
    steps.push_back(mount_step({}, root, {}, MS_BIND | MS_REMOUNT | MS_NODEV));
    steps.push_back(dir_step(root + "/proc", 0555));
    steps.push_back(mount_step("proc", root + "/proc", "proc", kNoSuidDevExec));
    // The VPS's IPC namespace: its /proc/sys/kernel knobs, before they turn
    // read-only below.
    for (const auto& [name, value] : plan.ipc_sysctls)
        steps.push_back(Step{StepKind::write, {}, root + "/proc/sys/" + name, {}, 0, value, 0});
    add_proc_masks(steps, root);
    steps.push_back(dir_step(root + "/sys", 0555));
    steps.push_back(mount_step("sysfs", root + "/sys", "sysfs", kNoSuidDevExec | MS_RDONLY));
    {
        Step firmware = mount_step("tmpfs", root + "/sys/firmware", "tmpfs", MS_RDONLY | kNoSuidDevExec, "size=0,mode=555");
        firmware.optional = true;
        steps.push_back(std::move(firmware));
    }
    // The cgroup namespace (unshared once in the VPS's group) makes the
    // VPS's group the root of this mount.
    if (plan.cgroup_view != plan::CgroupView::none) {
        const unsigned long ro = plan.cgroup_view == plan::CgroupView::read_only ? MS_RDONLY : 0;
        Step cg = mount_step("cgroup2", root + "/sys/fs/cgroup", "cgroup2", kNoSuidDevExec | ro);
        cg.optional = true;
        steps.push_back(std::move(cg));
    }
    // lxcfs answers reads of these files with the reader's cgroup limits.
    for (const auto& f : host.lxcfs_files)
        steps.push_back(mount_step(host.lxcfs_proc + "/" + f, root + "/proc/" + f, {}, MS_BIND));
    add_dev(steps, root, host.console);
    steps.push_back(dir_step(root + "/run", 0755));
    steps.push_back(mount_step("tmpfs", root + "/run", "tmpfs", MS_NOSUID | MS_NODEV,
                               "mode=755,size=65536k"));
    steps.push_back(dir_step(root + "/tmp", 01777));
    steps.push_back(mount_step("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    steps.push_back(Step{StepKind::pivot_root, {}, root, {}, 0, {}, 0});
    return steps;
}

namespace {

int run_pivot(const char* root) noexcept {
    if (::chdir(root) < 0) return -1;
    // pivot_root(".", ".") stacks the old root on top of the new one; the
    // lazy detach then drops it, so no path inside leads back to the host.
    if (::syscall(SYS_pivot_root, ".", ".") < 0) return -1;
    if (::mount(nullptr, ".", nullptr, MS_REC | MS_SLAVE, nullptr) < 0) return -1;
    if (::umount2(".", MNT_DETACH) < 0) return -1;
    if (::chdir("/") < 0) return -1;
    return 0;
}

int run_step(const Step& s) noexcept {
    switch (s.kind) {
        case StepKind::mount: {
            const char* src = s.source.empty() ? nullptr : s.source.c_str();
            const char* fs = s.fstype.empty() ? nullptr : s.fstype.c_str();
            const char* data = s.data.empty() ? nullptr : s.data.c_str();
            return ::mount(src, s.target.c_str(), fs, s.flags, data);
        }
        case StepKind::mkdir:
            if (::mkdir(s.target.c_str(), s.mode) < 0 && errno != EEXIST) return -1;
            return 0;
        case StepKind::touch: {
            int fd = ::open(s.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, s.mode);
            if (fd < 0) return -1;
            ::close(fd);
            return 0;
        }
        case StepKind::symlink:
            if (::symlink(s.source.c_str(), s.target.c_str()) < 0 && errno != EEXIST) return -1;
            return 0;
        case StepKind::pivot_root:
            return run_pivot(s.target.c_str());
        case StepKind::move_mount:
            return static_cast<int>(::syscall(SYS_move_mount, s.fd, "", AT_FDCWD, s.target.c_str(),
                                              kMoveMountEmptyPath));
        case StepKind::write: {
            int fd = ::open(s.target.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0) return -1;
            ssize_t n = ::write(fd, s.data.data(), s.data.size());
            int e = errno;
            ::close(fd);
            errno = e;
            return n < 0 ? -1 : 0;
        }
    }
    errno = EINVAL;
    return -1;
}

}  // namespace

int run_steps(const Step* steps, size_t n) noexcept {
    for (size_t i = 0; i < n; ++i) {
        if (run_step(steps[i]) == 0) continue;
        if (steps[i].optional && errno == ENOENT) continue;
        return static_cast<int>(i);
    }
    return -1;
}

}  // namespace vps::rootfs
