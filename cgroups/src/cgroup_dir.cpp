#include "cgroup_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "parse.hpp"
#include "vps/sys.hpp"

namespace cgroups::detail {
namespace {

using vps::Error;
using vps::Result;

constexpr auto kPollInterval = std::chrono::milliseconds(10);
constexpr int kKillRounds = 200;  // x kPollInterval: about two seconds

bool is_subdir(const std::string& parent, const std::string& name) {
    struct stat st {};
    std::string p = parent + "/" + name;
    return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Result<CgroupDir> CgroupDir::open(std::string path) {
    int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Error::sys("open", path);
    return CgroupDir(std::move(path), vps::Fd(fd));
}

Result<CgroupDir> CgroupDir::open_child(const CgroupDir& parent, std::string_view name) {
    std::string n(name);
    int fd = ::openat(parent.fd_.get(), n.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Error::sys("open", parent.file(name));
    return CgroupDir(parent.file(name), vps::Fd(fd));
}

Result<CgroupDir> CgroupDir::make_child(const CgroupDir& parent, std::string_view name) {
    std::string n(name);
    if (::mkdirat(parent.fd_.get(), n.c_str(), 0755) < 0 && errno != EEXIST)
        return Error::sys("mkdir", parent.file(name));
    return open_child(parent, name);
}

std::string CgroupDir::file(std::string_view name) const { return join_path(path_, name); }

bool CgroupDir::has(std::string_view name) const {
    struct stat st {};
    return ::fstatat(fd_.get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<std::string> CgroupDir::read(std::string_view name) const {
    int fd = ::openat(fd_.get(), std::string(name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Error::sys("open", file(name));
    vps::Fd owned(fd);
    auto data = vps::sys::read_fd(owned.ref(), 1u << 20);
    if (!data) return Error::sys("read", file(name), data.error().err());
    return data;
}

Result<std::optional<std::string>> CgroupDir::read_optional(std::string_view name) const {
    auto r = read(name);
    if (r) return std::optional<std::string>(std::move(r).value());
    if (r.error().err() == ENOENT) return std::optional<std::string>();
    return std::move(r).error();
}

Result<void> CgroupDir::write(std::string_view name, std::string_view value) const {
    // O_TRUNC is a no-op on cgroupfs; on the plain files of a test's fake
    // tree it makes the file read back exactly the last value written.
    int fd =
        ::openat(fd_.get(), std::string(name).c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Error::sys("open", file(name));
    vps::Fd owned(fd);
    // A knob takes its value in one write; a failure is the kernel's answer.
    if (::write(fd, value.data(), value.size()) < 0) return Error::sys("write", file(name));
    return vps::ok();
}

Result<std::vector<pid_t>> CgroupDir::procs() const {
    auto text = read("cgroup.procs");
    if (!text) return std::move(text).error();
    auto pids = parse_pids(*text);
    if (!pids) return parse_error(file("cgroup.procs"), *text);
    return std::move(*pids);
}

Result<std::vector<pid_t>> CgroupDir::procs_tree() const {
    auto pids = procs();
    if (!pids) return pids;
    auto entries = vps::sys::list_dir(path_);
    if (!entries) return std::move(entries).error();
    for (const auto& name : *entries) {
        if (!is_subdir(path_, name)) continue;
        auto child = open_child(*this, name);
        if (!child) return std::move(child).error();
        auto more = child->procs_tree();
        if (!more) return more;
        pids->insert(pids->end(), more->begin(), more->end());
    }
    return pids;
}

namespace {

Error bad_limit(std::string detail) { return Error::make(vps::Errc::bad_value, std::move(detail)); }

// cpuset lists reach the kernel as written: digits, ',' and '-' only, so
// no newline can smuggle in a second write.
bool valid_cpuset_list(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || c == ',' || c == '-'; });
}

Result<void> check_io(const Limits& l) {
    if (l.io_weight && (*l.io_weight < 1 || *l.io_weight > 10000))
        return bad_limit("io weight " + std::to_string(*l.io_weight) + " is outside 1..10000");
    if (l.io_device && !valid_device(*l.io_device))
        return bad_limit("io device '" + *l.io_device + "' is not MAJ:MIN");
    const std::pair<const char*, const std::optional<uint64_t>*> throttles[] = {
        {"io_rbps", &l.io_rbps},
        {"io_wbps", &l.io_wbps},
        {"io_riops", &l.io_riops},
        {"io_wiops", &l.io_wiops}};
    // v1 reads 0 as "no limit" and v2 refuses it: neither can stop I/O.
    for (const auto& [name, value] : throttles)
        if (*value && **value == 0)
            return bad_limit(std::string(name) + " 0 is not a limit (kUnlimited means none)");
    return vps::ok();
}

}  // namespace

Result<void> check_limits(const Limits& limits) {
    if (limits.cpu_weight && (*limits.cpu_weight < 1 || *limits.cpu_weight > 10000))
        return bad_limit("cpu weight " + std::to_string(*limits.cpu_weight) +
                         " is outside 1..10000");
    if (limits.cpu_quota_us && limits.cpu_period_us == 0)
        return bad_limit("cpu period must not be 0");
    for (const auto* list : {&limits.cpuset_cpus, &limits.cpuset_mems})
        if (*list && !valid_cpuset_list(**list))
            return bad_limit("cpuset list '" + **list + "' is not like 0-3,6");
    return check_io(limits);
}

Error parse_error(const std::string& path, std::string_view text) {
    std::string shown(text.substr(0, 64));
    while (!shown.empty() && shown.back() == '\n') shown.pop_back();
    return Error(vps::Errc::system, "parse", path, EINVAL, "unexpected content '" + shown + "'");
}

Result<void> read_fields(const CgroupDir& dir, std::span<const Field> fields, Usage& out) {
    for (const auto& f : fields) {
        auto text = dir.read_optional(f.file);
        if (!text) return std::move(text).error();
        if (!*text) continue;
        auto v = f.parse(**text);
        if (!v) return parse_error(dir.file(f.file), **text);
        out.*f.member = *v;
    }
    return vps::ok();
}

Result<void> read_keyed(const CgroupDir& dir, std::span<const KeyedField> fields, Usage& out) {
    for (const auto& f : fields) {
        auto text = dir.read_optional(f.file);
        if (!text) return std::move(text).error();
        if (!*text) continue;
        auto raw = flat_keyed_text(**text, f.key);
        if (!raw) continue;
        auto v = parse_u64(*raw);
        if (!v) return parse_error(dir.file(f.file), **text);
        out.*f.member = *v;
    }
    return vps::ok();
}

Result<void> write_io_weight(const CgroupDir& dir, std::span<const WeightFile> files,
                             uint32_t weight) {
    for (const auto& f : files) {
        if (!dir.has(f.file)) continue;
        std::string value = std::to_string(f.to_file(weight));
        return dir.write(f.file, f.default_prefix ? "default " + value : value);
    }
    if (weight == kDefaultIoWeight || files.empty()) return vps::ok();
    return Error(vps::Errc::system, "write", dir.file(files.front().file), ENOENT,
                 "file absent: no I/O scheduler with weights (such as bfq) serves this group, "
                 "so only the default weight 100 is possible");
}

Result<std::optional<uint32_t>> read_io_weight(const CgroupDir& dir,
                                               std::span<const WeightFile> files) {
    for (const auto& f : files) {
        auto text = dir.read_optional(f.file);
        if (!text) return std::move(text).error();
        if (!*text) continue;
        auto v = parse_weight_file(**text);
        if (!v) return parse_error(dir.file(f.file), **text);
        return std::optional<uint32_t>(f.from_file(*v));
    }
    return std::optional<uint32_t>();
}

Result<void> kill_until_empty(const PidLister& list, const std::string& where) {
    size_t left = 0;
    for (int round = 0; round < kKillRounds; ++round) {
        auto pids = list();
        if (!pids) return std::move(pids).error();
        if (pids->empty()) return vps::ok();
        // Never take the caller down with the group it manages.
        if (std::find(pids->begin(), pids->end(), ::getpid()) != pids->end())
            return Error(vps::Errc::system, "kill", where, EPERM,
                         "the calling process is a member of this cgroup");
        // A pid may exit and be reused between the read and the kill; the
        // window is tiny and the members are what we mean to kill anyway.
        for (pid_t p : *pids)
            if (::kill(p, SIGKILL) < 0 && errno != ESRCH)
                return Error::sys("kill", std::to_string(p));
        left = pids->size();
        std::this_thread::sleep_for(kPollInterval);
    }
    return Error(vps::Errc::busy, "kill", where, EBUSY,
                 std::to_string(left) + " processes still present after SIGKILL");
}

Result<void> remove_cgroup(const std::string& path, Clock::time_point deadline) {
    auto entries = vps::sys::list_dir(path);
    if (!entries) {
        if (entries.error().err() == ENOENT) return vps::ok();
        return std::move(entries).error();
    }
    // Control files vanish with the directory; only child cgroups need work.
    for (const auto& name : *entries)
        if (is_subdir(path, name))
            if (auto r = remove_cgroup(join_path(path, name), deadline); !r) return r;
    for (;;) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return vps::ok();
        // EBUSY: members are still exiting (v2 waits for cgroup.procs to
        // drain, v1 for tasks); anything else will not change by waiting.
        if (errno != EBUSY || Clock::now() >= deadline) return Error::sys("rmdir", path);
        std::this_thread::sleep_for(kPollInterval);
    }
}

}  // namespace cgroups::detail
