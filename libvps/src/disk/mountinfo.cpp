// Which mount holds a path: /proc/self/mountinfo matched by the mount id
// statx reports, or by device and longest mount-point prefix.
#include <fcntl.h>
#include <sys/stat.h>

#include <charconv>
#include <climits>
#include <cstdlib>

#include "disk/disk_internal.hpp"
#include "vps/fd.hpp"
#include "vps/sys.hpp"

namespace vps::disk {
namespace detail {
namespace {

bool is_octal(char c) { return c >= '0' && c <= '7'; }

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

bool parse_dev(std::string_view s, unsigned& major, unsigned& minor) {
    auto colon = s.find(':');
    if (colon == std::string_view::npos) return false;
    return parse_number(s.substr(0, colon), major) && parse_number(s.substr(colon + 1), minor);
}

// Fields of one line: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3
// /dev/root rw,errors=continue" (proc(5)); optional fields end at "-".
std::optional<MountInfo> parse_line(std::string_view line) {
    auto f = sys::split(line, ' ');
    if (f.size() < 10) return std::nullopt;
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 3 >= f.size()) return std::nullopt;
    MountInfo m;
    if (!parse_number(std::string_view(f[0]), m.mount_id)) return std::nullopt;
    if (!parse_dev(f[2], m.major, m.minor)) return std::nullopt;
    m.root = unescape_mountinfo(f[3]);
    m.mount_point = unescape_mountinfo(f[4]);
    m.fstype = unescape_mountinfo(f[dash + 1]);
    m.source = unescape_mountinfo(f[dash + 2]);
    m.super_options = unescape_mountinfo(f[dash + 3]);
    return m;
}

// Whether mount_point is path or one of its leading directories.
bool covers(std::string_view mount_point, std::string_view path) {
    if (mount_point == "/") return !path.empty() && path[0] == '/';
    if (path.substr(0, mount_point.size()) != mount_point) return false;
    return path.size() == mount_point.size() || path[mount_point.size()] == '/';
}

}  // namespace

std::string unescape_mountinfo(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) &&
            is_octal(field[i + 2]) && is_octal(field[i + 3])) {
            out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                     (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
    std::vector<MountInfo> out;
    for (const auto& line : sys::split(text, '\n')) {
        if (auto m = parse_line(line)) out.push_back(std::move(*m));
    }
    return out;
}

std::optional<MountInfo> find_mount(const std::vector<MountInfo>& mounts,
                                    std::optional<uint64_t> mount_id, unsigned major,
                                    unsigned minor, std::string_view canonical_path) {
    if (mount_id) {
        for (const auto& m : mounts)
            if (m.mount_id == *mount_id) return m;
    }
    const MountInfo* best = nullptr;
    for (const auto& m : mounts) {
        if (m.major != major || m.minor != minor) continue;
        if (!covers(m.mount_point, canonical_path)) continue;
        if (!best || m.mount_point.size() >= best->mount_point.size()) best = &m;
    }
    if (!best) return std::nullopt;
    return *best;
}

}  // namespace detail

namespace {

// The path with symlinks resolved, for the prefix match. Only needed when
// statx has no STATX_MNT_ID (before Linux 5.8; goes when our baseline is).
std::string canonical(const std::string& path) {
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf) == nullptr) return path;
    return buf;
}

}  // namespace

Result<MountInfo> mount_of(const std::string& path) {
    auto fd = sys::open(path, O_PATH);
    if (!fd) return std::move(fd).error();
    struct statx stx {};
    if (::statx(fd->get(), "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0)
        return Error::sys("statx", path);
    std::optional<uint64_t> mount_id;
    if (stx.stx_mask & STATX_MNT_ID) mount_id = stx.stx_mnt_id;

    auto text = sys::read_file("/proc/self/mountinfo");
    if (!text) return std::move(text).error();
    auto mounts = detail::parse_mountinfo(*text);
    auto m = detail::find_mount(mounts, mount_id, stx.stx_dev_major, stx.stx_dev_minor,
                                mount_id ? std::string() : canonical(path));
    if (!m)
        return Error(Errc::system, "find mount", path, ENOENT,
                     "not listed in /proc/self/mountinfo");
    return std::move(*m);
}

}  // namespace vps::disk
