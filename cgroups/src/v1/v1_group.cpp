// A cgroup v1 group: one directory per mounted hierarchy, limits written
// in each controller's own terms.
#include <algorithm>
#include <array>

#include "../parse.hpp"
#include "v1.hpp"
#include "vps/sys.hpp"

namespace cgroups::detail::v1 {
namespace {

using vps::Error;
using vps::Result;

std::optional<uint64_t> events_max(std::string_view t) { return flat_keyed_value(t, "max"); }

// cpuacct.usage counts nanoseconds; Usage wants microseconds.
std::optional<uint64_t> ns_to_us(std::string_view t) {
    auto ns = parse_u64(t);
    if (!ns) return std::nullopt;
    return *ns / 1000;
}

struct ControllerFields {
    std::string_view controller;
    std::span<const Field> fields;
};

constexpr std::array<Field, 7> kMemoryFields{{
    {"memory.usage_in_bytes", &Usage::memory_current, parse_u64},
    {"memory.max_usage_in_bytes", &Usage::memory_peak, parse_u64},
    {"memory.limit_in_bytes", &Usage::memory_max, parse_v1_limit},
    {"memory.failcnt", &Usage::memory_failcnt, parse_u64},
    {"memory.kmem.usage_in_bytes", &Usage::memory_stat_kernel, parse_u64},
    {"memory.kmem.tcp.usage_in_bytes", &Usage::memory_stat_sock, parse_u64},
    // Hits of memory+swap: with memory full, the swap allowance ran out.
    {"memory.memsw.failcnt", &Usage::swap_failcnt, parse_u64},
}};
constexpr std::array<Field, 4> kPidsFields{{
    {"pids.current", &Usage::pids_current, parse_u64},
    {"pids.max", &Usage::pids_max, parse_max},
    {"pids.events", &Usage::pids_failcnt, events_max},
    {"pids.peak", &Usage::pids_peak, parse_u64},
}};
constexpr std::array<Field, 2> kCpuFields{{
    {"cpu.cfs_quota_us", &Usage::cpu_quota_us, parse_v1_limit},
    {"cpu.cfs_period_us", &Usage::cpu_period_us, parse_u64},
}};
constexpr std::array<Field, 1> kCpuacctFields{{
    {"cpuacct.usage", &Usage::cpu_usage_us, ns_to_us},
}};
const std::array<ControllerFields, 4> kUsageFields{{
    {"memory", kMemoryFields},
    {"pids", kPidsFields},
    {"cpu", kCpuFields},
    {"cpuacct", kCpuacctFields},
}};

constexpr std::array<KeyedField, 1> kMemoryKeyed{{
    {"memory.oom_control", "oom_kill", &Usage::memory_oom_kills},  // 4.13+
}};

// blkio.weight belongs to CFQ, gone with the legacy block layer in 5.0;
// BFQ brings blkio.bfq.weight instead.
constexpr std::array<WeightFile, 2> kWeightFiles{{
    {"blkio.weight", io_weight_to_blkio, blkio_to_io_weight, false},
    {"blkio.bfq.weight", io_weight_to_bfq, bfq_to_io_weight, false},
}};

// The four throttle files and the Limits field each takes.
struct Throttle {
    std::string_view file;
    std::optional<uint64_t> Limits::*member;
};
constexpr std::array<Throttle, 4> kThrottles{{
    {"blkio.throttle.read_bps_device", &Limits::io_rbps},
    {"blkio.throttle.write_bps_device", &Limits::io_wbps},
    {"blkio.throttle.read_iops_device", &Limits::io_riops},
    {"blkio.throttle.write_iops_device", &Limits::io_wiops},
}};

// memory + swap as one memsw limit; a sum past the v1 range is no limit.
uint64_t memsw_of(uint64_t memory, uint64_t swap) {
    if (memory == kUnlimited || swap == kUnlimited) return kUnlimited;
    if (memory > kUnlimited - swap) return kUnlimited;
    return memory + swap;
}

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

// swap = memsw - memory, for both usage and limit; memsw files exist only
// with swap accounting.
Result<void> read_swap(const CgroupDir& dir, Usage& u) {
    // The memsw figures pass through the swap fields, then become swap.
    constexpr std::array<Field, 2> kMemsw{{
        {"memory.memsw.usage_in_bytes", &Usage::swap_current, parse_u64},
        {"memory.memsw.limit_in_bytes", &Usage::swap_max, parse_v1_limit},
    }};
    Usage memsw;
    if (auto r = read_fields(dir, kMemsw, memsw); !r) return r;
    if (memsw.swap_current && u.memory_current)
        u.swap_current = *memsw.swap_current - std::min(*memsw.swap_current, *u.memory_current);
    if (memsw.swap_max && u.memory_max)
        u.swap_max = *memsw.swap_max == kUnlimited
                         ? kUnlimited
                         : *memsw.swap_max - std::min(*memsw.swap_max, *u.memory_max);
    return vps::ok();
}

// The first of the files present, read with parse_blkio_rw; the _recursive
// one also counts the groups made beneath this one.
Result<std::optional<ReadWrite>> read_rw(const CgroupDir& dir, std::string_view base) {
    for (std::string file : {std::string(base) + "_recursive", std::string(base)}) {
        auto text = dir.read_optional(file);
        if (!text) return std::move(text).error();
        if (!*text) continue;
        auto rw = parse_blkio_rw(**text);
        if (!rw) return parse_error(dir.file(file), **text);
        return std::optional<ReadWrite>(*rw);
    }
    return std::optional<ReadWrite>();
}

Result<void> read_blkio(const CgroupDir& dir, Usage& u) {
    auto weight = read_io_weight(dir, kWeightFiles);
    if (!weight) return std::move(weight).error();
    u.io_weight = *weight;
    auto bytes = read_rw(dir, "blkio.throttle.io_service_bytes");
    if (!bytes) return std::move(bytes).error();
    if (*bytes) {
        u.io_rbytes = (*bytes)->read;
        u.io_wbytes = (*bytes)->write;
    }
    auto ios = read_rw(dir, "blkio.throttle.io_serviced");
    if (!ios) return std::move(ios).error();
    if (*ios) {
        u.io_rios = (*ios)->read;
        u.io_wios = (*ios)->write;
    }
    return vps::ok();
}

Result<void> read_weight(const CgroupDir& dir, Usage& u) {
    auto text = dir.read_optional("cpu.shares");
    if (!text) return std::move(text).error();
    if (!*text) return vps::ok();
    auto shares = parse_u64(**text);
    if (!shares) return parse_error(dir.file("cpu.shares"), **text);
    u.cpu_weight = shares_to_weight(*shares);
    return vps::ok();
}

class V1Group final : public Group {
  public:
    V1Group(std::string name, std::string label, std::vector<Member> members)
        : name_(std::move(name)), label_(std::move(label)), members_(std::move(members)) {}

    const std::string& name() const override { return name_; }

    std::string describe() const override {
        std::string out;
        for (const auto& m : members_)
            out += (out.empty() ? "" : ", ") + controller_label(m) + ":" + m.dir.path();
        return out;
    }

    Result<void> apply(const Limits& limits) override {
        return in_context(write_limits(limits), "apply limits to");
    }
    Result<Usage> usage() const override {
        auto u = read_usage();
        if (!u) return std::move(u).error().with_context("read usage of cgroup " + label_);
        return u;
    }
    Result<void> add_process(pid_t pid) override;
    std::optional<vps::FdRef> clone_into_fd() const override { return std::nullopt; }
    // The v1 devices controller is not among the hierarchies this backend
    // manages.
    Result<void> restrict_devices(const std::vector<DeviceRule>&) override {
        return vps::Error(vps::Errc::system, "restrict devices", label_, ENOTSUP,
                          "the cgroup v1 backend does not manage the devices controller");
    }
    Result<std::vector<pid_t>> processes() const override;
    Result<void> kill_all() override {
        return in_context(kill_until_empty([this] { return processes(); }, label_), "kill");
    }
    Result<void> destroy(int timeout_ms) override;

  private:
    Result<void> in_context(Result<void> r, std::string_view verb) const {
        if (r) return r;
        return std::move(r).error().with_context(std::string(verb) + " cgroup " + label_);
    }
    Result<const CgroupDir*> dir_for(std::string_view controller) const;
    Result<void> write_limits(const Limits& l) const;
    Result<void> write_memory(const Limits& l) const;
    Result<void> write_memsw(const CgroupDir& d, const Limits& l) const;
    Result<void> write_cpu(const Limits& l) const;
    Result<void> write_cpuset(std::string_view file, const std::string& list) const;
    Result<void> write_io(const Limits& l) const;
    Result<Usage> read_usage() const;
    Result<void> read_derived(Usage& u) const;

    std::string name_;
    std::string label_;  // "vz/101"
    std::vector<Member> members_;
};

Result<const CgroupDir*> V1Group::dir_for(std::string_view controller) const {
    for (const auto& m : members_)
        if (serves(m, controller)) return &m.dir;
    return Error(vps::Errc::system, {}, {}, ENOENT,
                 "no cgroup v1 " + std::string(controller) + " hierarchy is mounted");
}

Result<void> V1Group::write_limits(const Limits& l) const {
    if (auto r = check_limits(l); !r) return r;
    if (l.cpuset_cpus)
        if (auto r = write_cpuset("cpuset.cpus", *l.cpuset_cpus); !r) return r;
    if (l.cpuset_mems)
        if (auto r = write_cpuset("cpuset.mems", *l.cpuset_mems); !r) return r;
    if (auto r = write_memory(l); !r) return r;
    if (l.pids_max) {
        auto d = dir_for("pids");
        if (!d) return std::move(d).error();
        if (auto r = (*d)->write("pids.max", format_max(*l.pids_max)); !r) return r;
    }
    if (auto r = write_io(l); !r) return r;
    return write_cpu(l);
}

Result<void> V1Group::write_cpuset(std::string_view file, const std::string& list) const {
    auto d = dir_for("cpuset");
    if (!d) return std::move(d).error();
    if (!list.empty()) return (*d)->write(file, list);
    // Empty means "inherit": v1 has no such value, so copy the parent's.
    auto parent = CgroupDir::open(parent_of((*d)->path()));
    if (!parent) return std::move(parent).error();
    auto value = parent->read(file);
    if (!value) return std::move(value).error();
    return (*d)->write(file, vps::sys::trim(*value));
}

// One "MAJ:MIN value" line per throttle file; v1 spells "no limit" as 0.
Result<void> V1Group::write_io(const Limits& l) const {
    bool throttle =
        l.io_device && std::any_of(kThrottles.begin(), kThrottles.end(),
                                   [&l](const Throttle& t) { return (l.*t.member).has_value(); });
    if (!l.io_weight && !throttle) return vps::ok();
    auto d = dir_for("blkio");
    if (!d) return std::move(d).error();
    if (l.io_weight)
        if (auto r = write_io_weight(**d, kWeightFiles, *l.io_weight); !r) return r;
    if (!throttle) return vps::ok();
    for (const auto& t : kThrottles) {
        const auto& v = l.*t.member;
        if (!v) continue;
        std::string value = *v == kUnlimited ? "0" : std::to_string(*v);
        if (auto r = (*d)->write(t.file, *l.io_device + " " + value); !r) return r;
    }
    return vps::ok();
}

Result<void> V1Group::write_memory(const Limits& l) const {
    if (!l.memory_max && !l.memory_high && !l.swap_max) return vps::ok();
    auto d = dir_for("memory");
    if (!d) return std::move(d).error();
    const CgroupDir& dir = **d;
    // v1 has no throttling "high"; the soft limit is what reclaim aims at
    // under pressure, the nearest match.
    if (l.memory_high)
        if (auto r = dir.write("memory.soft_limit_in_bytes", format_v1_limit(*l.memory_high)); !r)
            return r;
    if (!l.memory_max && !l.swap_max) return vps::ok();
    if (dir.has("memory.memsw.limit_in_bytes")) return write_memsw(dir, l);
    // No swap accounting (swapaccount=0): swap is unlimited, which
    // satisfies a request for unlimited and nothing else.
    if (l.swap_max && *l.swap_max != kUnlimited)
        return Error(vps::Errc::system, "write", dir.file("memory.memsw.limit_in_bytes"), ENOENT,
                     "file absent: the kernel does not account swap, so swap cannot be limited");
    if (l.memory_max) return dir.write("memory.limit_in_bytes", format_v1_limit(*l.memory_max));
    return vps::ok();
}

// See plan_memsw() for the order.
Result<void> V1Group::write_memsw(const CgroupDir& dir, const Limits& l) const {
    auto mem_text = dir.read("memory.limit_in_bytes");
    if (!mem_text) return std::move(mem_text).error();
    auto memsw_text = dir.read("memory.memsw.limit_in_bytes");
    if (!memsw_text) return std::move(memsw_text).error();
    auto cur_mem = parse_v1_limit(*mem_text);
    if (!cur_mem) return parse_error(dir.file("memory.limit_in_bytes"), *mem_text);
    auto cur_memsw = parse_v1_limit(*memsw_text);
    if (!cur_memsw) return parse_error(dir.file("memory.memsw.limit_in_bytes"), *memsw_text);

    auto plan = plan_memsw(*cur_mem, *cur_memsw, l.memory_max, l.swap_max);
    auto write = [&dir](std::string_view file, std::optional<uint64_t> v) -> Result<void> {
        if (!v) return vps::ok();
        return dir.write(file, format_v1_limit(*v));
    };
    auto first = plan.memory_first ? write("memory.limit_in_bytes", plan.memory)
                                   : write("memory.memsw.limit_in_bytes", plan.memsw);
    if (!first) return first;
    return plan.memory_first ? write("memory.memsw.limit_in_bytes", plan.memsw)
                             : write("memory.limit_in_bytes", plan.memory);
}

Result<void> V1Group::write_cpu(const Limits& l) const {
    if (!l.cpu_weight && !l.cpu_quota_us) return vps::ok();
    auto d = dir_for("cpu");
    if (!d) return std::move(d).error();
    const CgroupDir& dir = **d;
    if (l.cpu_weight)
        if (auto r = dir.write("cpu.shares", std::to_string(weight_to_shares(*l.cpu_weight))); !r)
            return r;
    if (!l.cpu_quota_us) return vps::ok();
    // The kernel checks the quota against the period (and the parent's
    // bandwidth) on every write: drop a cap before touching the period,
    // set a new period before the quota measured in it.
    std::string period = std::to_string(l.cpu_period_us);
    std::string quota = format_v1_limit(*l.cpu_quota_us);
    bool uncap = *l.cpu_quota_us == kUnlimited;
    auto r = dir.write(uncap ? "cpu.cfs_quota_us" : "cpu.cfs_period_us", uncap ? quota : period);
    if (!r) return r;
    return dir.write(uncap ? "cpu.cfs_period_us" : "cpu.cfs_quota_us", uncap ? period : quota);
}

Result<Usage> V1Group::read_usage() const {
    Usage u;
    for (const auto& [controller, fields] : kUsageFields)
        for (const auto& m : members_)
            if (serves(m, controller))
                if (auto r = read_fields(m.dir, fields, u); !r) return std::move(r).error();
    if (auto r = read_derived(u); !r) return std::move(r).error();
    return u;
}

// Values v1 does not keep in the form Usage wants: swap (memsw minus
// memory), keyed counters, the cpu weight (from shares) and I/O.
Result<void> V1Group::read_derived(Usage& u) const {
    for (const auto& m : members_) {
        if (serves(m, "memory")) {
            if (auto r = read_swap(m.dir, u); !r) return r;
            if (auto r = read_keyed(m.dir, kMemoryKeyed, u); !r) return r;
        }
        if (serves(m, "cpu"))
            if (auto r = read_weight(m.dir, u); !r) return r;
        if (serves(m, "blkio"))
            if (auto r = read_blkio(m.dir, u); !r) return r;
    }
    return vps::ok();
}

Result<void> V1Group::add_process(pid_t pid) {
    for (const auto& m : members_)
        if (auto r = m.dir.write("cgroup.procs", std::to_string(pid)); !r)
            return in_context(std::move(r), "add process " + std::to_string(pid) + " to");
    return vps::ok();
}

Result<std::vector<pid_t>> V1Group::processes() const {
    std::vector<pid_t> all;
    for (const auto& m : members_) {
        auto p = m.dir.procs_tree();
        if (!p) return std::move(p).error().with_context("list processes of cgroup " + label_);
        all.insert(all.end(), p->begin(), p->end());
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
}

// Every hierarchy is tried even after one fails, so a retry has less left
// to do; the first failure is reported.
Result<void> V1Group::destroy(int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    Result<void> first;
    for (const auto& m : members_) {
        auto r = remove_cgroup(m.dir.path(), deadline);
        if (!r && first) first = std::move(r);
    }
    return in_context(std::move(first), "destroy");
}

}  // namespace

MemswPlan plan_memsw(uint64_t cur_memory, uint64_t cur_memsw, std::optional<uint64_t> memory_max,
                     std::optional<uint64_t> swap_max) {
    uint64_t mem = memory_max.value_or(cur_memory);
    uint64_t swap = swap_max                  ? *swap_max
                    : cur_memsw == kUnlimited ? kUnlimited
                                              : cur_memsw - std::min(cur_memsw, cur_memory);
    uint64_t memsw = memsw_of(mem, swap);
    MemswPlan plan;
    plan.memory = memory_max;
    if (memsw != cur_memsw) plan.memsw = memsw;
    // Memory first is safe while the new memory limit fits under the memsw
    // limit in force. Otherwise memory grows past the old memsw, hence past
    // the old memory limit too, and memsw first is safe: it becomes at least
    // the new memory limit, which exceeds the old one.
    plan.memory_first = mem <= cur_memsw;
    return plan;
}

bool serves(const Member& m, std::string_view controller) {
    return std::find(m.controllers.begin(), m.controllers.end(), controller) != m.controllers.end();
}

std::string controller_label(const Member& m) {
    std::string out;
    for (const auto& c : m.controllers) out += (out.empty() ? "" : ",") + c;
    return out;
}

Result<void> inherit_cpuset(const CgroupDir& parent, const CgroupDir& child) {
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        auto mine = child.read(file);
        if (!mine) return std::move(mine).error();
        if (!vps::sys::trim(*mine).empty()) continue;
        auto theirs = parent.read(file);
        if (!theirs) return std::move(theirs).error();
        if (auto r = child.write(file, vps::sys::trim(*theirs)); !r) return r;
    }
    return vps::ok();
}

std::unique_ptr<Group> make_group(std::string name, std::string label,
                                  std::vector<Member> members) {
    return std::make_unique<V1Group>(std::move(name), std::move(label), std::move(members));
}

}  // namespace cgroups::detail::v1
