// The table of parameters: for each name its setter (parse, check, store
// in Resources) and its documentation (unit, default, the files or kernel
// knobs that carry it). known_params() and param_docs() are views of it.
#include <algorithm>
#include <limits>

#include "params_impl.hpp"
#include "vps/params.hpp"

namespace vps::params {
namespace {

using detail::bad;
using detail::means_unlimited;
using detail::non_empty;
using detail::quoted;
using detail::SetArg;

// IPCMNI: the most IPC objects of one kind a namespace can have on a
// stock kernel (without the ipcmni_extend boot option).
constexpr uint64_t kIpcMni = 32768;
constexpr uint64_t kIntMax = std::numeric_limits<int32_t>::max();

Result<BarrierLimit> barrier_limit(const SetArg& a) { return parse_barrier_limit(a.value, a.unit); }

// A barrier:limit whose limit the kernel bounds: "unlimited" passes.
Result<void> check_at_most(const BarrierLimit& bl, uint64_t max, std::string_view why) {
    if (bl.limit == kUnlimited || bl.limit <= max) return ok();
    return bad(quoted(format_value(bl.limit)) + " is out of range (use 0.." + std::to_string(max) +
               " or unlimited; " + std::string(why) + ")");
}

// Limits where 0 would not mean "none" but break things or, for quotas,
// read as "no limit" to the kernel.
Result<void> check_not_zero(const BarrierLimit& bl, std::string_view why) {
    if (bl.limit != 0 && bl.barrier != 0) return ok();
    return bad("0 " + std::string(why) + " (use at least 1, or unlimited)");
}

template <std::optional<BarrierLimit> Resources::*M>
Result<void> set_bl(Resources& r, const SetArg& a) {
    auto bl = barrier_limit(a);
    if (!bl) return std::move(bl).error();
    r.*M = *bl;
    return ok();
}

Result<void> set_cpuunits(Resources& r, const SetArg& a) {
    auto t = non_empty(a.value, "use 8..500000");
    if (!t) return std::move(t).error();
    auto n = detail::parse_ranged(*t, 8, 500000, "use 8..500000, default 1000");
    if (!n) return std::move(n).error();
    r.cpuunits = static_cast<uint32_t>(*n);
    return ok();
}

Result<void> set_cpulimit(Resources& r, const SetArg& a) {
    uint32_t max = 100 * a.host.cpus;
    std::string hint = "use 0.." + std::to_string(max) + " percent, 0 = no limit";
    auto t = non_empty(a.value, hint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) {
        r.cpulimit = 0;
        return ok();
    }
    // vzctl printed and accepted "50%".
    std::string_view digits = *t;
    if (digits.size() > 1 && digits.back() == '%') digits.remove_suffix(1);
    auto n = detail::parse_ranged(digits, 0, max, hint);
    if (!n) return std::move(n).error();
    r.cpulimit = static_cast<uint32_t>(*n);
    return ok();
}

Result<void> set_cpus(Resources& r, const SetArg& a) {
    std::string hint = "use 0.." + std::to_string(a.host.cpus) + ", 0 = all of the host's CPUs";
    auto t = non_empty(a.value, hint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) {
        r.cpus = 0;
        return ok();
    }
    auto n = detail::parse_ranged(*t, 0, a.host.cpus, hint);
    if (!n) return std::move(n).error();
    r.cpus = static_cast<uint32_t>(*n);
    return ok();
}

// vzctl 4's --ram/--swap: a limit in bytes, barrier 0 (no soft limit).
Result<void> set_ram(Resources& r, const SetArg& a) {
    auto bytes = parse_bytes(a.value);
    if (!bytes) return std::move(bytes).error();
    r.physpages = BarrierLimit{0, detail::bytes_to_pages(*bytes)};
    return ok();
}

Result<void> set_swap(Resources& r, const SetArg& a) {
    auto bytes = parse_bytes(a.value);
    if (!bytes) return std::move(bytes).error();
    r.swappages = BarrierLimit{0, detail::bytes_to_pages(*bytes)};
    return ok();
}

// soft:hard RLIMIT_NOFILE; the kernel refuses a hard limit above fs.nr_open.
Result<void> set_numfile(Resources& r, const SetArg& a) {
    auto bl = barrier_limit(a);
    if (!bl) return std::move(bl).error();
    if (auto c = check_not_zero(*bl, "would let no process open a file"); !c) return c;
    if (a.host.nr_open > 0)
        if (auto c = check_at_most(*bl, a.host.nr_open, "the host's fs.nr_open"); !c) return c;
    r.numfile = *bl;
    return ok();
}

Result<void> set_cpumask(Resources& r, const SetArg& a) {
    auto list = detail::parse_id_list(a.value, a.host.cpus, "CPU");
    if (!list) return std::move(list).error();
    r.cpumask = *list;
    return ok();
}

Result<void> set_nodemask(Resources& r, const SetArg& a) {
    auto list = detail::parse_id_list(a.value, a.host.numa_nodes, "NUMA node");
    if (!list) return std::move(list).error();
    r.nodemask = *list;
    return ok();
}

// A quota limit of 0 is "no limit" to quotactl(2): refuse it rather than
// silently lift the quota.
template <std::optional<BarrierLimit> Resources::*M>
Result<void> set_quota(Resources& r, const SetArg& a) {
    auto bl = barrier_limit(a);
    if (!bl) return std::move(bl).error();
    if (bl->limit == 0)
        return bad("a limit of 0 would lift the quota (use at least 1, or unlimited)");
    r.*M = *bl;
    return ok();
}

// Bytes per second, plain or with a B/K/M/G/T suffix (vzctl's); 0 and
// "unlimited" mean no limit.
Result<void> set_iolimit(Resources& r, const SetArg& a) {
    std::string_view hint = "use bytes per second such as 10485760 or 10M; 0 = no limit";
    auto t = non_empty(a.value, hint);
    if (!t) return std::move(t).error();
    std::string text = *t;
    if (text.size() > 1 && (text.back() == 'B' || text.back() == 'b')) text.pop_back();
    auto bytes = parse_bytes(text);
    if (!bytes)
        return bad(quoted(*t) + " is not a rate in bytes per second (" + std::string(hint) + ")");
    r.iolimit = *bytes == kUnlimited ? 0 : *bytes;
    return ok();
}

Result<void> set_iopslimit(Resources& r, const SetArg& a) {
    std::string_view hint = "use operations per second such as 500; 0 = no limit";
    auto t = non_empty(a.value, hint);
    if (!t) return std::move(t).error();
    auto n = parse_count(*t);
    if (!n)
        return bad(quoted(*t) + " is not a number of operations per second (" + std::string(hint) +
                   ")");
    r.iopslimit = *n == kUnlimited ? 0 : *n;
    return ok();
}

Result<void> set_ioprio(Resources& r, const SetArg& a) {
    std::string_view hint = "use 0..7, default 4; higher gets more I/O time";
    auto t = non_empty(a.value, hint);
    if (!t) return std::move(t).error();
    auto n = detail::parse_ranged(*t, 0, 7, hint);
    if (!n) return std::move(n).error();
    r.ioprio = static_cast<uint32_t>(*n);
    return ok();
}

// shmmni and msgmni: at most IPCMNI objects.
template <std::optional<BarrierLimit> Resources::*M>
Result<void> set_ipc_count(Resources& r, const SetArg& a) {
    auto bl = barrier_limit(a);
    if (!bl) return std::move(bl).error();
    if (auto c = check_at_most(*bl, kIpcMni, "the kernel's IPCMNI"); !c) return c;
    r.*M = *bl;
    return ok();
}

// kernel.sem holds ints.
Result<void> set_numsem(Resources& r, const SetArg& a) {
    auto bl = barrier_limit(a);
    if (!bl) return std::move(bl).error();
    if (auto c = check_at_most(*bl, kIntMax, "kernel.sem holds ints"); !c) return c;
    r.numsem = *bl;
    return ok();
}

// OpenVZ beancounters without a stock-kernel limit: checked and kept.
Result<void> set_legacy(Resources& r, const SetArg& a) {
    auto bl = barrier_limit(a);
    if (!bl) return std::move(bl).error();
    r.unenforced.insert_or_assign(std::string(a.name), *bl);
    return ok();
}

constexpr Enforcement kCgroup = Enforcement::cgroup;
constexpr Enforcement kNone = Enforcement::none;
constexpr Enforcement kIpc = Enforcement::ipc_sysctl;
constexpr Enforcement kQuota = Enforcement::disk_quota;

// A legacy beancounter's entry: no files, kept only.
detail::ParamDef legacy(std::string_view name, std::string_view unit_name, Unit unit,
                        std::string_view held, std::string_view help) {
    return {{name, unit_name, true, "unlimited", "", "", kNone, "", held, help}, unit, set_legacy};
}

std::vector<detail::ParamDef> resource_defs() {
    using detail::ParamDef;
    return {
        {{"physpages", "pages", true, "unlimited", "memory.max (barrier: memory.high)",
          "memory.limit_in_bytes (barrier: memory.soft_limit_in_bytes)", kCgroup, "",
          "memory_current", "RAM in pages or bytes (K/M/G/T), barrier:limit or one value"},
         Unit::pages,
         set_bl<&Resources::physpages>},
        {{"swappages", "pages", true, "unlimited", "memory.swap.max",
          "memory.memsw.limit_in_bytes (memory + swap)", kCgroup, "", "swap_current",
          "swap in pages or bytes (K/M/G/T), barrier:limit or one value"},
         Unit::pages,
         set_bl<&Resources::swappages>},
        {{"numproc", "count", true, "unlimited", "pids.max", "pids.max", kCgroup, "",
          "pids_current", "processes and threads, barrier:limit or one value"},
         Unit::count,
         set_bl<&Resources::numproc>},
        {{"numfile", "count", true, "inherited from vzd", "", "", Enforcement::rlimit,
          "RLIMIT_NOFILE (soft:hard)", "",
          "open files per process (RLIMIT_NOFILE), barrier:limit or one value"},
         Unit::count,
         set_numfile},
        {{"cpuunits", "weight", false, "1000", "cpu.weight (cpuunits / 10)",
          "cpu.shares (cpu.weight * 1024 / 100)", kCgroup, "", "cpu_usage_us",
          "relative CPU weight, 8..500000 (default 1000)"},
         Unit::count,
         set_cpuunits},
        {{"cpulimit", "percent", false, "0", "cpu.max", "cpu.cfs_quota_us, cpu.cfs_period_us",
          kCgroup, "", "cpu_usage_us", "CPU time in percent of one CPU, 0 = no limit"},
         Unit::count,
         set_cpulimit},
        {{"cpus", "count", false, "0", "cpu.max", "cpu.cfs_quota_us, cpu.cfs_period_us", kCgroup,
          "", "cpu_usage_us", "CPUs the VPS may use at once, 0 = all"},
         Unit::count,
         set_cpus},
        {{"cpumask", "list", false, "all", "cpuset.cpus", "cpuset.cpus", kCgroup, "", "",
          "CPUs the VPS may run on: a list like 0-3,6, or all"},
         Unit::count,
         set_cpumask},
        {{"nodemask", "list", false, "all", "cpuset.mems", "cpuset.mems", kCgroup, "", "",
          "NUMA nodes the VPS takes memory from: a list like 0-1, or all"},
         Unit::count,
         set_nodemask},
        {{"ram", "bytes", false, "unlimited", "memory.max", "memory.limit_in_bytes", kCgroup, "",
          "memory_current", "RAM limit in bytes (K/M/G/T); stored as physpages"},
         Unit::bytes,
         set_ram},
        {{"swap", "bytes", false, "unlimited", "memory.swap.max", "memory.memsw.limit_in_bytes",
          kCgroup, "", "swap_current", "swap limit in bytes (K/M/G/T); stored as swappages"},
         Unit::bytes,
         set_swap},
    };
}

std::vector<detail::ParamDef> disk_io_ipc_defs() {
    return {
        {{"diskspace", "1K-blocks", true, "unlimited", "", "", kQuota, "project quota (blocks)", "",
          "disk space in 1 KiB blocks or bytes (K/M/G/T), barrier:limit"},
         Unit::kblocks,
         set_quota<&Resources::diskspace>},
        {{"diskinodes", "count", true, "unlimited", "", "", kQuota, "project quota (inodes)", "",
          "files and directories (inodes), barrier:limit"},
         Unit::count,
         set_quota<&Resources::diskinodes>},
        {{"iolimit", "bytes/s", false, "0", "io.max rbps, wbps",
          "blkio.throttle.read_bps_device, blkio.throttle.write_bps_device", kCgroup, "",
          "io_rbytes, io_wbytes",
          "disk bandwidth in bytes/s (K/M/G), each direction; 0 = no limit"},
         Unit::bytes,
         set_iolimit},
        {{"iopslimit", "ops/s", false, "0", "io.max riops, wiops",
          "blkio.throttle.read_iops_device, blkio.throttle.write_iops_device", kCgroup, "",
          "io_rios, io_wios", "disk operations per second, each direction; 0 = no limit"},
         Unit::count,
         set_iopslimit},
        {{"ioprio", "priority", false, "4", "io.weight (or io.bfq.weight)",
          "blkio.weight (or blkio.bfq.weight)", kCgroup, "", "io_weight",
          "I/O priority 0..7 (default 4); higher gets more disk time"},
         Unit::count,
         set_ioprio},
        {{"shmpages", "pages", true, "unlimited", "", "", kIpc, "kernel.shmall", "",
          "System V shared memory in pages or bytes (K/M/G/T), barrier:limit"},
         Unit::pages,
         set_bl<&Resources::shmpages>},
        {{"numshm", "count", true, "4096", "", "", kIpc, "kernel.shmmni", "",
          "System V shared memory segments, at most 32768"},
         Unit::count,
         set_ipc_count<&Resources::numshm>},
        {{"numsem", "count", true, "1024000000", "", "", kIpc, "kernel.sem", "",
          "System V semaphores (kernel.sem SEMMNS)"},
         Unit::count,
         set_numsem},
        {{"nummsgqueues", "count", true, "32000", "", "", kIpc, "kernel.msgmni", "",
          "System V message queues, at most 32768"},
         Unit::count,
         set_ipc_count<&Resources::nummsgqueues>},
    };
}

// Kernel memory and socket buffers are charged to the memory cgroup, so
// physpages bounds them; the accounting view shows them from memory.stat.
std::vector<detail::ParamDef> legacy_defs() {
    constexpr std::string_view kKmem = "memory_stat_kernel";
    constexpr std::string_view kSock = "memory_stat_sock";
    return {
        legacy("kmemsize", "bytes", Unit::bytes, kKmem, "kernel memory (OpenVZ; not enforced)"),
        legacy("lockedpages", "pages", Unit::pages, "", "mlock()ed pages (OpenVZ; not enforced)"),
        legacy("privvmpages", "pages", Unit::pages, "", "allocated memory (OpenVZ; not enforced)"),
        legacy("oomguarpages", "pages", Unit::pages, "", "OOM guarantee (OpenVZ; not enforced)"),
        legacy("vmguarpages", "pages", Unit::pages, "",
               "allocation guarantee (OpenVZ; not enforced)"),
        legacy("tcpsndbuf", "bytes", Unit::bytes, kSock, "TCP send buffers (OpenVZ; not enforced)"),
        legacy("tcprcvbuf", "bytes", Unit::bytes, kSock,
               "TCP receive buffers (OpenVZ; not enforced)"),
        legacy("othersockbuf", "bytes", Unit::bytes, kSock,
               "other socket buffers (OpenVZ; not enforced)"),
        legacy("dgramrcvbuf", "bytes", Unit::bytes, kSock,
               "datagram receive buffers (OpenVZ; not enforced)"),
        legacy("dcachesize", "bytes", Unit::bytes, kKmem,
               "dentry and inode caches (OpenVZ; not enforced)"),
        legacy("numtcpsock", "count", Unit::count, "", "TCP sockets (OpenVZ; not enforced)"),
        legacy("numothersock", "count", Unit::count, "", "other sockets (OpenVZ; not enforced)"),
        legacy("numflock", "count", Unit::count, "", "file locks (OpenVZ; not enforced)"),
        legacy("numpty", "count", Unit::count, "", "pseudo-terminals (OpenVZ; not enforced)"),
        legacy("numsiginfo", "count", Unit::count, "", "queued signals (OpenVZ; not enforced)"),
        legacy("numiptent", "count", Unit::count, "", "netfilter rules (OpenVZ; not enforced)"),
    };
}

}  // namespace

const std::vector<detail::ParamDef>& detail::param_defs() {
    static const std::vector<ParamDef> defs = [] {
        std::vector<ParamDef> all = resource_defs();
        for (auto* part : {disk_io_ipc_defs, legacy_defs})
            for (auto& d : part()) all.push_back(std::move(d));
        return all;
    }();
    return defs;
}

const detail::ParamDef* detail::find_def(std::string_view name) {
    for (const auto& d : param_defs())
        if (d.doc.name == name) return &d;
    return nullptr;
}

const std::vector<ParamDoc>& param_docs() {
    static const std::vector<ParamDoc> docs = [] {
        std::vector<ParamDoc> v;
        for (const auto& d : detail::param_defs()) v.push_back(d.doc);
        return v;
    }();
    return docs;
}

const ParamDoc* find_doc(std::string_view name) {
    for (const auto& d : param_docs())
        if (d.name == name) return &d;
    return nullptr;
}

std::vector<std::string_view> legacy_params() {
    std::vector<std::string_view> out;
    for (const auto& d : detail::param_defs())
        if (d.doc.enforcement == Enforcement::none) out.push_back(d.doc.name);
    return out;
}

std::optional<std::string> param_warning(std::string_view name) {
    const auto* doc = find_doc(name);
    if (!doc || doc->enforcement != Enforcement::none) return std::nullopt;
    std::string why = "no cgroup limit exists";
    if (!doc->held.empty()) why += "; it is counted within physpages";
    return std::string(name) + ": accepted but not enforced on a stock kernel (" + why +
           "); kept in the config";
}

std::vector<std::string> warnings(const std::map<std::string, std::string>& values) {
    std::vector<std::string> out;
    for (const auto& [name, value] : values)
        if (auto w = param_warning(name)) out.push_back(std::move(*w));
    return out;
}

}  // namespace vps::params
