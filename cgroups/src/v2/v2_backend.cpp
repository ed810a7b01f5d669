// cgroup v2: one unified hierarchy. Groups live at <root>/<own>/<base>/<name>
// with the controllers we use enabled on the way down.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "../backends.hpp"
#include "../cgroup_dir.hpp"
#include "../parse.hpp"
#include "devices.hpp"
#include "vps/sys.hpp"

namespace cgroups::detail {
namespace {

using vps::Error;
using vps::Result;

// Controllers we limit, in the order the kernel lists them.
constexpr std::array<std::string_view, 5> kWanted{"cpuset", "cpu", "io", "memory", "pids"};

std::optional<uint64_t> events_max(std::string_view t) { return flat_keyed_value(t, "max"); }
std::optional<uint64_t> usage_usec(std::string_view t) { return flat_keyed_value(t, "usage_usec"); }

constexpr std::array<Field, 12> kUsageFields{{
    {"memory.current", &Usage::memory_current, parse_u64},
    {"memory.peak", &Usage::memory_peak, parse_u64},  // 5.19+; older kernels: nullopt
    {"memory.max", &Usage::memory_max, parse_max},
    // OpenVZ's failcnt counted refused charges; "max" counts hits of memory.max.
    {"memory.events", &Usage::memory_failcnt, events_max},
    {"memory.swap.current", &Usage::swap_current, parse_u64},
    {"memory.swap.max", &Usage::swap_max, parse_max},
    {"pids.current", &Usage::pids_current, parse_u64},
    {"pids.max", &Usage::pids_max, parse_max},
    {"pids.events", &Usage::pids_failcnt, events_max},
    {"cpu.stat", &Usage::cpu_usage_us, usage_usec},
    {"memory.swap.peak", &Usage::swap_peak, parse_u64},
    {"pids.peak", &Usage::pids_peak, parse_u64},
}};

constexpr std::array<KeyedField, 3> kKeyedFields{{
    {"memory.events", "oom_kill", &Usage::memory_oom_kills},
    {"memory.swap.events", "max", &Usage::swap_failcnt},
    {"memory.stat", "sock", &Usage::memory_stat_sock},
}};

uint32_t same_weight(uint64_t v) {
    return static_cast<uint32_t>(std::clamp<uint64_t>(v, 1, 10000));
}
uint64_t to_weight(uint32_t w) { return w; }

// io.weight belongs to the iocost controller; BFQ has its own file.
constexpr std::array<WeightFile, 2> kWeightFiles{{
    {"io.weight", to_weight, same_weight, true},
    {"io.bfq.weight", io_weight_to_bfq, bfq_to_io_weight, true},
}};

class V2Group final : public Group {
  public:
    V2Group(std::string name, std::string label, CgroupDir dir)
        : name_(std::move(name)), label_(std::move(label)), dir_(std::move(dir)) {}

    const std::string& name() const override { return name_; }
    std::string describe() const override { return dir_.path(); }

    Result<void> apply(const Limits& limits) override {
        auto r = write_limits(limits);
        if (!r) return std::move(r).error().with_context("apply limits to cgroup " + label_);
        return r;
    }

    Result<Usage> usage() const override {
        auto u = read_usage();
        if (!u) return std::move(u).error().with_context("read usage of cgroup " + label_);
        return u;
    }

    Result<void> add_process(pid_t pid) override {
        auto r = dir_.write("cgroup.procs", std::to_string(pid));
        if (!r)
            return std::move(r).error().with_context("add process " + std::to_string(pid) +
                                                     " to cgroup " + label_);
        return r;
    }

    Result<void> add_process_near(pid_t pid, pid_t init) override;
    Result<void> delegate(uid_t uid, gid_t gid) override;

    std::optional<vps::FdRef> clone_into_fd() const override { return dir_.fd(); }
    Result<void> restrict_devices(const std::vector<DeviceRule>& allow) override {
        return v2::attach_device_filter(dir_.fd(), dir_.path(), allow);
    }

    Result<std::vector<pid_t>> processes() const override {
        auto p = dir_.procs_tree();
        if (!p) return std::move(p).error().with_context("list processes of cgroup " + label_);
        return p;
    }

    Result<void> kill_all() override {
        auto r = kill();
        if (!r) return std::move(r).error().with_context("kill cgroup " + label_);
        return r;
    }

    Result<void> destroy(int timeout_ms) override {
        auto r = remove_cgroup(dir_.path(), Clock::now() + std::chrono::milliseconds(timeout_ms));
        if (!r) return std::move(r).error().with_context("destroy cgroup " + label_);
        return r;
    }

  private:
    Result<void> write_limits(const Limits& l) const;
    Result<void> write_cpuset(const Limits& l) const;
    Result<void> write_io(const Limits& l) const;
    Result<void> write_swap(uint64_t swap_max) const;
    Result<Usage> read_usage() const;
    Result<void> read_cpu(Usage& u) const;
    Result<void> read_memory_stat(Usage& u) const;
    Result<void> read_io(Usage& u) const;
    Result<void> kill() const;

    std::string name_;
    std::string label_;  // "vz/101", for messages
    CgroupDir dir_;
};

// The files systemd's delegation hands over (systemd.resource-control(5),
// Delegate=): the group itself, to make children, and the membership files.
constexpr std::array<const char*, 3> kDelegatedFiles{"cgroup.procs", "cgroup.subtree_control", "cgroup.threads"};

Result<void> V2Group::delegate(uid_t uid, gid_t gid) {
    if (::fchownat(dir_.fd().get(), "", uid, gid, AT_EMPTY_PATH) < 0)
        return Error::sys("chown", dir_.path());
    for (const char* f : kDelegatedFiles)
        if (::fchownat(dir_.fd().get(), f, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
            return Error::sys("chown", dir_.file(f));
    return vps::ok();
}

Result<void> V2Group::add_process_near(pid_t pid, pid_t init) {
    auto direct = dir_.write("cgroup.procs", std::to_string(pid));
    if (direct) return direct;
    if (direct.error().err() != EBUSY)
        return std::move(direct).error().with_context("add process " + std::to_string(pid) + " to cgroup " + label_);
    // "0::/vz/101/init.scope": below the group's own path, relative to the
    // hierarchy's root (vzd is not in a cgroup namespace).
    auto text = vps::sys::read_file("/proc/" + std::to_string(init) + "/cgroup", 1 << 16);
    if (!text) return std::move(text).error();
    const std::string rel = v2_own_path(parse_proc_cgroup(*text)).value_or("");
    // The group's path ends with its path in the hierarchy (the part of rel
    // before init's own child groups), whatever the mount point.
    const std::string& own = dir_.path();
    std::string target;
    for (size_t at = own.find('/'); at != std::string::npos && target.empty(); at = own.find('/', at + 1)) {
        const std::string_view tail = std::string_view(own).substr(at);
        if (rel.size() > tail.size() && rel.starts_with(tail) && rel[tail.size()] == '/')
            target = own + rel.substr(tail.size());
    }
    if (target.empty() || rel.find("/..") != std::string::npos)
        return Error(vps::Errc::system, "add process " + std::to_string(pid) + " to cgroup", label_, EBUSY,
                     "the group holds child groups only, and init's group is not below it");
    auto near = CgroupDir::open(target);
    if (!near) return std::move(near).error();
    return near->write("cgroup.procs", std::to_string(pid));
}

Result<void> V2Group::write_limits(const Limits& l) const {
    if (auto r = check_limits(l); !r) return r;
    if (auto r = write_cpuset(l); !r) return r;
    std::vector<std::pair<std::string_view, std::string>> knobs;
    if (l.memory_max) knobs.emplace_back("memory.max", format_max(*l.memory_max));
    if (l.memory_high) knobs.emplace_back("memory.high", format_max(*l.memory_high));
    if (l.pids_max) knobs.emplace_back("pids.max", format_max(*l.pids_max));
    if (l.cpu_weight) knobs.emplace_back("cpu.weight", std::to_string(*l.cpu_weight));
    if (l.cpu_quota_us)
        knobs.emplace_back("cpu.max",
                           format_max(*l.cpu_quota_us) + " " + std::to_string(l.cpu_period_us));
    for (const auto& [file, value] : knobs)
        if (auto r = dir_.write(file, value); !r) return r;
    if (auto r = write_io(l); !r) return r;
    if (l.swap_max) return write_swap(*l.swap_max);
    return vps::ok();
}

// cpuset first among the limits: an empty string hands the group back its
// parent's cpus (or memory nodes).
Result<void> V2Group::write_cpuset(const Limits& l) const {
    if (l.cpuset_cpus)
        if (auto r = dir_.write("cpuset.cpus", *l.cpuset_cpus); !r) return r;
    if (l.cpuset_mems) return dir_.write("cpuset.mems", *l.cpuset_mems);
    return vps::ok();
}

// io.max takes one device per write, with only the keys to change.
Result<void> V2Group::write_io(const Limits& l) const {
    if (l.io_weight)
        if (auto r = write_io_weight(dir_, kWeightFiles, *l.io_weight); !r) return r;
    std::string io_max = format_io_max(l);
    if (io_max.empty()) return vps::ok();
    return dir_.write("io.max", io_max);
}

// memory.swap.max exists only with swap accounting (CONFIG_MEMCG_SWAP, and
// not "swapaccount=0"). Without it swap is unlimited, which satisfies a
// request for unlimited and nothing else.
Result<void> V2Group::write_swap(uint64_t swap_max) const {
    if (dir_.has("memory.swap.max")) return dir_.write("memory.swap.max", format_max(swap_max));
    if (swap_max == kUnlimited) return vps::ok();
    return Error(vps::Errc::system, "write", dir_.file("memory.swap.max"), ENOENT,
                 "file absent: the kernel does not account swap, so swap cannot be limited");
}

Result<Usage> V2Group::read_usage() const {
    Usage u;
    if (auto r = read_fields(dir_, kUsageFields, u); !r) return std::move(r).error();
    if (auto r = read_keyed(dir_, kKeyedFields, u); !r) return std::move(r).error();
    if (auto r = read_cpu(u); !r) return std::move(r).error();
    if (auto r = read_memory_stat(u); !r) return std::move(r).error();
    if (auto r = read_io(u); !r) return std::move(r).error();
    return u;
}

Result<void> V2Group::read_cpu(Usage& u) const {
    auto weight = dir_.read_optional("cpu.weight");
    if (!weight) return std::move(weight).error();
    if (*weight) {
        auto w = parse_u64(**weight);
        if (!w || *w > 10000) return parse_error(dir_.file("cpu.weight"), **weight);
        u.cpu_weight = static_cast<uint32_t>(*w);
    }
    auto max = dir_.read_optional("cpu.max");
    if (!max) return std::move(max).error();
    if (*max) {
        auto m = parse_cpu_max(**max);
        if (!m) return parse_error(dir_.file("cpu.max"), **max);
        u.cpu_quota_us = m->quota_us;
        u.cpu_period_us = m->period_us;
    }
    return vps::ok();
}

Result<void> V2Group::read_memory_stat(Usage& u) const {
    auto text = dir_.read_optional("memory.stat");
    if (!text) return std::move(text).error();
    if (!*text) return vps::ok();
    auto kernel = memory_stat_kernel(**text);
    if (!kernel) return parse_error(dir_.file("memory.stat"), **text);
    u.memory_stat_kernel = *kernel;
    return vps::ok();
}

Result<void> V2Group::read_io(Usage& u) const {
    auto weight = read_io_weight(dir_, kWeightFiles);
    if (!weight) return std::move(weight).error();
    u.io_weight = *weight;
    auto text = dir_.read_optional("io.stat");
    if (!text) return std::move(text).error();
    if (!*text) return vps::ok();
    auto io = parse_io_stat(**text);
    if (!io) return parse_error(dir_.file("io.stat"), **text);
    u.io_rbytes = io->rbytes;
    u.io_wbytes = io->wbytes;
    u.io_rios = io->rios;
    u.io_wios = io->wios;
    return vps::ok();
}

Result<void> V2Group::kill() const {
    // cgroup.kill (5.14+) kills the whole subtree atomically, forks included.
    // The loop is for older kernels and can go once 5.14 is the baseline.
    if (dir_.has("cgroup.kill")) return dir_.write("cgroup.kill", "1");
    return kill_until_empty([this] { return dir_.procs_tree(); }, dir_.path());
}

class V2Backend final : public Backend {
  public:
    V2Backend(std::string base, CgroupDir base_dir, std::vector<std::string> controllers)
        : base_(std::move(base)), dir_(std::move(base_dir)), controllers_(std::move(controllers)) {}

    std::string_view name() const override { return "v2"; }
    std::string describe() const override { return "cgroup v2 at " + dir_.path(); }
    std::vector<std::string> controllers() const override { return controllers_; }

    Result<std::unique_ptr<Group>> create(std::string_view name) override {
        return make(name, true);
    }
    Result<std::unique_ptr<Group>> open(std::string_view name) override {
        return make(name, false);
    }
    bool exists(std::string_view name) const override {
        return valid_name(name, false) && dir_.has(name);
    }

  private:
    Result<std::unique_ptr<Group>> make(std::string_view name, bool create) const {
        std::string label = base_ + "/" + std::string(name);
        if (!valid_name(name, false))
            return Error::make(vps::Errc::bad_value,
                               "invalid cgroup name '" + std::string(name) + "'");
        auto dir = create ? CgroupDir::make_child(dir_, name) : CgroupDir::open_child(dir_, name);
        if (!dir)
            return std::move(dir).error().with_context(
                (create ? "create cgroup " : "open cgroup ") + label);
        return std::unique_ptr<Group>(
            std::make_unique<V2Group>(std::string(name), std::move(label), std::move(dir).value()));
    }

    std::string base_;
    CgroupDir dir_;
    std::vector<std::string> controllers_;
};

// The controllers we want that the parent hands down to dir.
Result<std::vector<std::string>> available(const CgroupDir& dir) {
    auto text = dir.read("cgroup.controllers");
    if (!text) return std::move(text).error();
    auto have = words(*text);
    std::vector<std::string> out;
    for (auto w : kWanted)
        if (std::find(have.begin(), have.end(), w) != have.end()) out.emplace_back(w);
    return out;
}

// Enable the controllers not yet on in dir's subtree_control, in one
// write ("+cpu +pids"), which the kernel applies all or nothing. Writing
// only what is missing leaves a delegating parent's (or the root's) file
// untouched when it is already right.
Result<void> enable(const CgroupDir& dir, const std::vector<std::string>& ctrls) {
    auto text = dir.read("cgroup.subtree_control");
    if (!text) return std::move(text).error();
    auto on = words(*text);
    std::string missing;
    for (const auto& c : ctrls)
        if (std::find(on.begin(), on.end(), c) == on.end())
            missing += (missing.empty() ? "+" : " +") + c;
    if (missing.empty()) return vps::ok();
    auto r = dir.write("cgroup.subtree_control", missing);
    if (!r && r.error().err() == EBUSY)
        return std::move(r).error().with_context(
            "enable " + missing + " (the cgroup holds processes: no internal processes allowed)");
    if (!r) return std::move(r).error().with_context("enable " + missing);
    return r;
}

// The no-internal-process rule: controllers can be enabled below our own
// cgroup only once it holds no process, so the daemon moves into a leaf.
Result<void> move_self_to_leaf(const CgroupDir& own, const std::string& leaf) {
    auto pids = own.procs();
    if (!pids) return std::move(pids).error();
    if (pids->empty()) return vps::ok();
    auto leaf_dir = CgroupDir::make_child(own, leaf);
    if (!leaf_dir) return std::move(leaf_dir).error();
    return leaf_dir->write("cgroup.procs", std::to_string(::getpid()));
}

Result<CgroupDir> prepare_base(const Options& opts, const std::string& own_path) {
    auto own = CgroupDir::open(join_path(opts.root, own_path));
    if (!own) return std::move(own).error();
    // Only the true root is exempt from the rule. Inside a cgroup namespace
    // our cgroup reads as "/" too, but is not the root: the root alone has
    // no cgroup.type.
    bool is_root = own_path == "/" && !own->has("cgroup.type");
    if (!is_root && !opts.daemon_leaf.empty() && opts.within.empty())
        if (auto r = move_self_to_leaf(*own, opts.daemon_leaf); !r) return std::move(r).error();
    auto ctrls = available(*own);
    if (!ctrls) return std::move(ctrls).error();
    if (auto r = enable(*own, *ctrls); !r) return std::move(r).error();
    CgroupDir dir = std::move(own).value();
    for (const auto& part : vps::sys::split(opts.base, '/')) {
        auto child = CgroupDir::make_child(dir, part);
        if (!child) return std::move(child).error();
        if (auto r = enable(*child, *ctrls); !r) return std::move(r).error();
        dir = std::move(child).value();
    }
    return dir;
}

}  // namespace

Result<std::unique_ptr<Backend>> open_v2(const Options& opts,
                                         const std::vector<ProcCgroupLine>& self) {
    const std::string ctx = "open cgroup v2 at " + opts.root;
    auto own = opts.within.empty() ? v2_own_path(self) : std::optional<std::string>(opts.within);
    if (!own)
        return Error(vps::Errc::system, "parse", opts.proc_self_cgroup, ENOENT,
                     "no cgroup v2 line (0::/path)")
            .with_context(ctx);
    if (!valid_name(opts.base, true))
        return Error::make(vps::Errc::bad_value, "invalid base name '" + opts.base + "'")
            .with_context(ctx);
    auto base = prepare_base(opts, *own);
    if (!base) return std::move(base).error().with_context(ctx);
    auto ctrls = available(*base);
    if (!ctrls) return std::move(ctrls).error().with_context(ctx);
    return std::unique_ptr<Backend>(
        std::make_unique<V2Backend>(opts.base, std::move(base).value(), std::move(ctrls).value()));
}

}  // namespace cgroups::detail
