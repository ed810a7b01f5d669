// vps::disk without root: mountinfo parsing and mount lookup, whole-disk
// resolution against a fake sysfs tree, quota block conversions, and what
// the live calls say on filesystems without project quotas.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "disk/disk_internal.hpp"
#include "vps/disk.hpp"
#include "vps/sys.hpp"

using namespace vps;
using namespace vps::disk;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/vz-disk-XXXXXX";
        path = ::mkdtemp(tmpl) ? tmpl : "";
    }
    ~TempDir() { (void)sys::remove_tree(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

template <class R>
std::string why(const R& r) {
    return r ? std::string() : r.error().message();
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// A Debian host: systemd's shared propagation fields, a space escaped in a
// mount point, a partition, a tmpfs and an LVM volume.
constexpr const char* kHostSample =
    "22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro\n"
    "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "24 22 0:22 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=1632720k,mode=755\n"
    "25 22 8:1 / /boot/efi rw,relatime shared:30 - vfat /dev/sda1 rw,fmask=0077\n"
    "26 22 253:0 / /var/lib/vz rw,relatime shared:31 master:2 - ext4 /dev/mapper/vg-vz "
    "rw,prjquota\n"
    "27 22 8:2 /srv/My\\040Files /mnt/my\\040files rw,relatime shared:1 - ext4 /dev/sda2 rw\n";

// The test guest: the host's root over 9p under an overlay, and the storage
// disk (whole virtio disk, no partition table) with project quotas.
constexpr const char* kGuestSample =
    "16 1 0:17 / / rw,relatime - overlay overlay rw,lowerdir=/lower,upperdir=/upper/u,"
    "workdir=/upper/w\n"
    "17 16 0:5 / /dev rw,relatime - devtmpfs devtmpfs rw,size=1010440k,mode=755\n"
    "18 16 0:19 / /proc rw,relatime - proc proc rw\n"
    "19 16 0:20 / /sys rw,relatime - sysfs sysfs rw\n"
    "20 16 0:21 / /tmp rw,relatime - tmpfs tmpfs rw\n"
    "21 16 254:0 / /var/lib/vz-guest rw,relatime - ext4 /dev/vda rw,prjquota\n"
    "22 19 0:22 / /sys/fs/cgroup rw,relatime - cgroup2 none rw,nsdelegate\n"
    "23 16 0:16 / /lower ro,relatime - 9p hostroot ro,access=client,trans=virtio\n";

}  // namespace

TEST_CASE("disk: mountinfo fields, optional fields and escapes") {
    auto m = detail::parse_mountinfo(kHostSample);
    REQUIRE(m.size() == 6);
    CHECK(m[0].mount_id == 22);
    CHECK(m[0].major == 8);
    CHECK(m[0].minor == 2);
    CHECK(m[0].mount_point == "/");
    CHECK(m[0].fstype == "ext4");
    CHECK(m[0].source == "/dev/sda2");
    CHECK(m[0].super_options == "rw,errors=remount-ro");
    // Two optional fields before the separator.
    CHECK(m[4].fstype == "ext4");
    CHECK(m[4].source == "/dev/mapper/vg-vz");
    CHECK(m[4].super_options == "rw,prjquota");
    CHECK(m[5].root == "/srv/My Files");
    CHECK(m[5].mount_point == "/mnt/my files");
}

TEST_CASE("disk: mountinfo lines without the promised fields are skipped") {
    auto m = detail::parse_mountinfo(
        "\n"
        "garbage\n"
        "30 1 8:2 / /a rw - ext4\n"                      // no source or super options
        "31 1 8:2 / /b rw shared:1 ext4 /dev/sda2 rw\n"  // no separator
        "x 1 8:2 / /c rw - ext4 /dev/sda2 rw\n"          // mount id not a number
        "33 1 8-2 / /d rw - ext4 /dev/sda2 rw\n"         // bad device
        "34 1 8:2 / /e rw - ext4  rw\n");                // empty source is fine
    REQUIRE(m.size() == 1);
    CHECK(m[0].mount_point == "/e");
    CHECK(m[0].source.empty());
}

TEST_CASE("disk: mountinfo escapes") {
    CHECK(detail::unescape_mountinfo("a\\040b") == "a b");
    CHECK(detail::unescape_mountinfo("tab\\011nl\\012bs\\134") == "tab\tnl\nbs\\");
    // Not an escape: kept as written.
    CHECK(detail::unescape_mountinfo("a\\08") == "a\\08");
    CHECK(detail::unescape_mountinfo("end\\04") == "end\\04");
    CHECK(detail::unescape_mountinfo("") == "");
}

TEST_CASE("disk: find the mount of a path in the guest's layout") {
    auto m = detail::parse_mountinfo(kGuestSample);
    REQUIRE(m.size() == 8);
    auto storage = detail::find_mount(m, std::nullopt, 254, 0, "/var/lib/vz-guest/private/101");
    REQUIRE(storage);
    CHECK(storage->fstype == "ext4");
    CHECK(storage->source == "/dev/vda");
    CHECK(storage->mount_point == "/var/lib/vz-guest");
    auto exact = detail::find_mount(m, std::nullopt, 254, 0, "/var/lib/vz-guest");
    REQUIRE(exact);
    CHECK(exact->mount_id == 21);
    auto work = detail::find_mount(m, std::nullopt, 0, 17, "/work/main/build");
    REQUIRE(work);
    CHECK(work->fstype == "overlay");
    CHECK(work->mount_point == "/");
    // A mount point is a whole path component, not a string prefix.
    CHECK_FALSE(detail::find_mount(m, std::nullopt, 254, 0, "/var/lib/vz-guestX/a"));
    // The mount id from statx wins over anything the path says.
    auto by_id = detail::find_mount(m, 23, 0, 17, "/work");
    REQUIRE(by_id);
    CHECK(by_id->fstype == "9p");
    CHECK(by_id->source == "hostroot");
    // An unknown id falls back to device and path.
    auto fallback = detail::find_mount(m, 999, 0, 21, "/tmp/x");
    REQUIRE(fallback);
    CHECK(fallback->fstype == "tmpfs");
}

TEST_CASE("disk: a mount stacked on the same point hides the one below") {
    auto m = detail::parse_mountinfo(
        "40 1 8:2 / / rw - ext4 /dev/sda2 rw\n"
        "41 40 8:2 /srv /data rw - ext4 /dev/sda2 rw\n"
        "42 40 8:2 /other /data rw - ext4 /dev/sda2 rw\n");
    auto top = detail::find_mount(m, std::nullopt, 8, 2, "/data/x");
    REQUIRE(top);
    CHECK(top->mount_id == 42);
    auto root = detail::find_mount(m, std::nullopt, 8, 2, "/database");
    REQUIRE(root);
    CHECK(root->mount_id == 40);
    CHECK_FALSE(detail::find_mount(m, std::nullopt, 8, 3, "/data/x"));
}

TEST_CASE("disk: this host's mountinfo parses line for line") {
    auto text = sys::read_file("/proc/self/mountinfo");
    REQUIRE_MESSAGE(text.ok(), why(text));
    size_t lines = 0;
    for (const auto& l : sys::split(*text, '\n')) lines += l.empty() ? 0 : 1;
    auto m = detail::parse_mountinfo(*text);
    CHECK(m.size() == lines);
    auto proc = mount_of("/proc");
    REQUIRE_MESSAGE(proc.ok(), why(proc));
    CHECK(proc->fstype == "proc");
    CHECK(proc->mount_point == "/proc");
    auto root = mount_of("/");
    REQUIRE_MESSAGE(root.ok(), why(root));
    CHECK(root->mount_point == "/");
    MESSAGE("/ is " << root->fstype << " from " << root->source);
}

namespace {

// A sysfs tree shaped like the kernel's: /dev/block/MAJ:MIN links into
// /devices, partitions inside their disk's directory.
struct FakeSysfs {
    TempDir dir;
    FakeSysfs() {
        mkdev("devices/pci0000:00/virtio2/block/vda", "254:0\n", false);
        mkdev("devices/pci0000:00/virtio2/block/vda/vda1", "254:1\n", true);
        mkdev("devices/pci0000:00/ata1/block/sda", "8:0\n", false);
        mkdev("devices/pci0000:00/ata1/block/sda/sda2", "8:2\n", true);
        mkdev("devices/virtual/block/dm-0", "253:0\n", false);
        mkdev("devices/virtual/block/md0", "9:0\n", false);
        mkdev("devices/virtual/block/md0/md0p1", "259:0\n", true);
        mkdev("devices/virtual/block/bad", "nonsense\n", false, "7:7");
    }
    void mkdev(const std::string& rel, const std::string& dev, bool partition,
               const std::string& link_as = {}) {
        std::string d = dir.path + "/" + rel;
        REQUIRE(sys::mkdir_p(d).ok());
        REQUIRE(sys::write_file_atomic(d + "/dev", dev).ok());
        if (partition) REQUIRE(sys::write_file_atomic(d + "/partition", "1\n").ok());
        REQUIRE(sys::mkdir_p(dir.path + "/dev/block").ok());
        std::string name = link_as.empty() ? sys::trim(dev) : link_as;
        std::string link = dir.path + "/dev/block/" + name;
        REQUIRE(::symlink(("../../" + rel).c_str(), link.c_str()) == 0);
    }
};

}  // namespace

TEST_CASE("disk: whole disk from a fake sysfs") {
    FakeSysfs fs;
    auto disk = [&](unsigned ma, unsigned mi) { return detail::whole_disk(fs.dir.path, ma, mi); };
    auto part = disk(254, 1);
    REQUIRE_MESSAGE(part.ok(), why(part));
    CHECK(*part == "254:0");
    CHECK(*disk(254, 0) == "254:0");
    CHECK(*disk(8, 2) == "8:0");
    CHECK(*disk(253, 0) == "253:0");  // device-mapper: the dm device itself
    CHECK(*disk(9, 0) == "9:0");
    CHECK(*disk(259, 0) == "9:0");  // an md partition: the array
    auto missing = disk(8, 16);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().err() == ENOENT);
    CHECK(contains(missing.error().message(), "/dev/block/8:16"));
    auto bad = disk(7, 7);
    REQUIRE_FALSE(bad.ok());
    CHECK(contains(bad.error().message(), "nonsense"));
}

TEST_CASE("disk: quota blocks and bytes") {
    static_assert(bytes_to_kb(0) == 0);
    static_assert(bytes_to_kb(1) == 1);
    static_assert(bytes_to_kb(1023) == 1);
    static_assert(bytes_to_kb(1024) == 1);
    static_assert(bytes_to_kb(1025) == 2);
    static_assert(bytes_to_kb(1u << 20) == 1024);
    static_assert(bytes_to_kb(UINT64_MAX) == UINT64_MAX / 1024 + 1);
    static_assert(kb_to_bytes(0) == 0);
    static_assert(kb_to_bytes(1) == 1024);
    static_assert(kb_to_bytes(1024) == 1u << 20);
    static_assert(kb_to_bytes(UINT64_MAX / 1024) == UINT64_MAX / 1024 * 1024);
    static_assert(kb_to_bytes(UINT64_MAX / 1024 + 1) == UINT64_MAX);
    static_assert(kb_to_bytes(UINT64_MAX) == UINT64_MAX);
    CHECK(bytes_to_kb(kb_to_bytes(12345)) == 12345);
    // A limit given in bytes is never tightened by the conversion.
    for (uint64_t b : {1ull, 1000ull, 4097ull, 10'000'000'001ull})
        CHECK(kb_to_bytes(bytes_to_kb(b)) >= b);
}

TEST_CASE("disk: limits travel through if_dqblk unchanged") {
    QuotaLimits l{100, 200, 10, 20};
    if_dqblk dq = detail::to_dqblk(l);
    CHECK(dq.dqb_bsoftlimit == 100);
    CHECK(dq.dqb_bhardlimit == 200);
    CHECK(dq.dqb_isoftlimit == 10);
    CHECK(dq.dqb_ihardlimit == 20);
    // Only the limits are set; usage and grace times are the kernel's.
    CHECK(dq.dqb_valid == QIF_LIMITS);
    dq.dqb_curspace = 4096 * 3;
    dq.dqb_curinodes = 7;
    auto u = detail::from_dqblk(dq);
    CHECK(u.limits == l);
    CHECK(u.space_used_bytes == 4096 * 3);
    CHECK(u.inodes_used == 7);
}

TEST_CASE("disk: limits that cannot be right are refused before quotactl") {
    CHECK(detail::limits_problem({}) == "");
    CHECK(detail::limits_problem({100, 100, 5, 5}) == "");
    CHECK(detail::limits_problem({100, 0, 5, 0}) == "");  // soft only
    CHECK(contains(detail::limits_problem({200, 100, 0, 0}), "diskspace soft limit 200K"));
    CHECK(contains(detail::limits_problem({0, 0, 6, 5}), "diskinodes"));
    auto zero = set_limits("/nonexistent", 0, {0, 1024, 0, 10});
    REQUIRE_FALSE(zero.ok());
    CHECK(zero.error().code() == Errc::bad_value);
    CHECK(contains(zero.error().message(), "project 0"));
    auto soft = set_limits("/nonexistent", 101, {2048, 1024, 0, 0});
    REQUIRE_FALSE(soft.ok());
    CHECK(soft.error().code() == Errc::bad_value);
}

TEST_CASE("disk: project quota flags need accounting and enforcement") {
    CHECK(detail::project_quota_flags_on(0x30));        // PDQ_ACCT | PDQ_ENFD
    CHECK_FALSE(detail::project_quota_flags_on(0x10));  // accounting only: no prjquota
    CHECK_FALSE(detail::project_quota_flags_on(0x0f));  // user and group only
}

TEST_CASE("disk: filesystems without project quotas or block devices") {
    auto proc = project_quota_enabled("/proc");
    REQUIRE_MESSAGE(proc.ok(), why(proc));
    CHECK_FALSE(*proc);
    auto io = backing_disk("/proc");
    REQUIRE_FALSE(io.ok());
    CHECK(contains(io.error().message(), "is on proc"));
    CHECK(contains(io.error().message(), "no block device for io limits"));
    auto missing = project_quota_enabled("/nonexistent/vz");
    REQUIRE_FALSE(missing.ok());
    CHECK(contains(missing.error().message(), "/nonexistent/vz"));
    auto no_usage = usage("/proc", 101);
    REQUIRE_FALSE(no_usage.ok());
    CHECK(contains(no_usage.error().message(), "quotactl"));
    CHECK(contains(no_usage.error().message(), "project 101"));
    // The pre-5.14 path needs the mount's block device, and proc has none.
    if_dqblk dq{};
    auto by_dev = detail::project_quotactl("/proc", Q_GETQUOTA, "Q_GETQUOTA", 101, &dq,
                                           detail::QuotactlVia::device);
    REQUIRE_FALSE(by_dev.ok());
    CHECK(by_dev.error().err() == ENOTBLK);
    CHECK(contains(by_dev.error().message(), "quotactl Q_GETQUOTA 'proc (for /proc)'"));
    TempDir t;
    auto here = project_quota_enabled(t.path);
    REQUIRE_MESSAGE(here.ok(), why(here));
    MESSAGE(t.path << " has project quotas: " << std::string(*here ? "yes" : "no"));
}

TEST_CASE("disk: backing disk of the root filesystem, when it has one") {
    struct stat st {};
    REQUIRE(::stat("/", &st) == 0);
    auto r = backing_disk("/");
    auto root = mount_of("/");
    REQUIRE(root.ok());
    if (::major(st.st_dev) == 0 && (root->source.empty() || root->source[0] != '/')) {
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error().message(), "is on " + root->fstype));
        return;
    }
    REQUIRE_MESSAGE(r.ok(), why(r));
    MESSAGE("/ (" << root->source << ") is on disk " << *r);
    CHECK_FALSE(sys::exists("/sys/dev/block/" + *r + "/partition"));
}

TEST_CASE("disk: assign_project refuses what is not a directory") {
    TempDir t;
    auto missing = assign_project(t.path + "/none", 101);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().err() == ENOENT);
    CHECK(contains(missing.error().message(), t.path + "/none"));
    REQUIRE(::symlink(t.path.c_str(), (t.path + "/link").c_str()) == 0);
    auto link = assign_project(t.path + "/link", 101);
    REQUIRE_FALSE(link.ok());
    // O_DIRECTORY | O_NOFOLLOW on a symlink: ENOTDIR or ELOOP, whichever
    // check the kernel makes first.
    CHECK((link.error().err() == ENOTDIR || link.error().err() == ELOOP));
}

namespace {

std::optional<fsxattr> xattr_of(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return std::nullopt;
    fsxattr fa{};
    int r = ::ioctl(fd, FS_IOC_FSGETXATTR, &fa);
    ::close(fd);
    if (r < 0) return std::nullopt;
    return fa;
}

}  // namespace

// Project 0 needs no project feature, so ext4 takes PROJINHERIT alone: the
// walk can be checked wherever /tmp is a filesystem with that flag.
TEST_CASE("disk: assign_project walks the tree, not the symlinks out of it") {
    TempDir t, outside;
    std::string top = t.path + "/private";
    REQUIRE(sys::mkdir_p(top + "/etc/deep/er").ok());
    REQUIRE(sys::write_file_atomic(top + "/etc/deep/er/file", "x").ok());
    REQUIRE(::symlink(outside.path.c_str(), (top + "/escape").c_str()) == 0);
    REQUIRE(::mkfifo((top + "/etc/fifo").c_str(), 0600) == 0);
    auto r = assign_project(top, 0);
    if (!r && (r.error().err() == EOPNOTSUPP || r.error().err() == ENOTTY)) {
        MESSAGE("skipped: " << t.path << " takes no FS_IOC_FSSETXATTR (" << why(r) << ")");
        return;
    }
    REQUIRE_MESSAGE(r.ok(), why(r));
    for (const char* d : {"", "/etc", "/etc/deep", "/etc/deep/er"}) {
        auto fa = xattr_of(top + d);
        REQUIRE(fa);
        CHECK_MESSAGE((fa->fsx_xflags & FS_XFLAG_PROJINHERIT) != 0, (top + d));
    }
    auto file = xattr_of(top + "/etc/deep/er/file");
    REQUIRE(file);
    CHECK((file->fsx_xflags & FS_XFLAG_PROJINHERIT) == 0);
    auto out = xattr_of(outside.path);
    REQUIRE(out);
    CHECK((out->fsx_xflags & FS_XFLAG_PROJINHERIT) == 0);
    // A second run finds everything tagged and changes nothing.
    auto again = assign_project(top, 0);
    CHECK_MESSAGE(again.ok(), why(again));
}
