// The whole disk under a filesystem, for cgroup io.max: io.max takes whole
// disks and device-mapper/md devices, never partitions.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "disk/disk_internal.hpp"
#include "vps/sys.hpp"

namespace vps::disk {
namespace detail {
namespace {

std::string dev_name(unsigned major, unsigned minor) {
    return std::to_string(major) + ":" + std::to_string(minor);
}

bool is_dev_name(std::string_view s) {
    auto colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
    for (size_t i = 0; i < s.size(); ++i)
        if (i != colon && (s[i] < '0' || s[i] > '9')) return false;
    return true;
}

}  // namespace

Result<std::string> whole_disk(const std::string& sysfs_root, unsigned major, unsigned minor) {
    std::string node = sysfs_root + "/dev/block/" + dev_name(major, minor);
    // A partition's sysfs directory sits inside its disk's; "/.." after the
    // /sys/dev/block symlink is resolved from the link's target, so it lands
    // in the disk's directory. A missing node fails the read, naming it.
    std::string dev_file = node + (sys::exists(node + "/partition") ? "/../dev" : "/dev");
    auto text = sys::read_file(dev_file, 64);
    if (!text) return std::move(text).error();
    std::string dev = sys::trim(*text);
    if (!is_dev_name(dev))
        return Error(Errc::system, "read", dev_file, 0,
                     "not a MAJ:MIN device number: '" + dev + "'");
    return dev;
}

}  // namespace detail

namespace {

// Filesystems on an anonymous device (major 0) either have no block device
// at all (tmpfs, overlay, 9p, NFS) or, like btrfs, name it as the source.
Result<dev_t> anonymous_fs_device(const std::string& path) {
    auto m = mount_of(path);
    if (!m) return std::move(m).error();
    struct stat st {};
    if (!m->source.empty() && m->source[0] == '/' && ::stat(m->source.c_str(), &st) == 0 &&
        S_ISBLK(st.st_mode))
        return st.st_rdev;
    return Error(Errc::system, {}, path, 0,
                 "is on " + m->fstype + " (" + m->source + " at " + m->mount_point +
                     "), which has no block device for io limits");
}

}  // namespace

Result<std::string> backing_disk(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0) return Error::sys("stat", path);
    dev_t dev = st.st_dev;
    if (::major(dev) == 0) {
        auto real = anonymous_fs_device(path);
        if (!real) return std::move(real).error();
        dev = *real;
    }
    auto disk = detail::whole_disk("/sys", ::major(dev), ::minor(dev));
    if (!disk) return std::move(disk).error().with_context("backing disk of " + path);
    return disk;
}

}  // namespace vps::disk
