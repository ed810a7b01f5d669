// OpenVZ resource parameters: names, units and the barrier:limit syntax.
//
//   physpages, swappages   pages (4 KiB) or bytes with a K/M/G/T suffix;
//                          "barrier:limit" or one value for both
//   numproc                processes, "barrier:limit" or one value
//   numfile                open files per process (RLIMIT_NOFILE soft:hard)
//   cpuunits               relative CPU weight, 8..500000 (OpenVZ default 1000)
//   cpulimit               percent of one CPU, 0 = no limit, above 100 for several
//   cpus                   number of CPUs the VPS may use at once, 0 = all
//   cpumask, nodemask      CPU / NUMA node lists "0-3,6" or "all"
//   ram, swap              vzctl 4 shorthands: bytes, set physpages/swappages limit
//   diskspace              1 KiB blocks, or bytes with a K/M/G/T suffix; barrier:limit
//   diskinodes             inodes, barrier:limit
//   iolimit                bytes per second (K/M/G/T suffixes), 0 = no limit
//   iopslimit              I/O operations per second, 0 = no limit
//   ioprio                 I/O priority 0..7, default 4
//   shmpages, numshm,      System V IPC limits of the VPS's IPC namespace
//   numsem, nummsgqueues
//   kmemsize, numtcpsock,  OpenVZ beancounters a stock kernel has no limit
//   ... (legacy_params())  for: accepted, checked, kept, never enforced
//
// "unlimited" (or OpenVZ's 9223372036854775807) means no limit.
// param_docs() has each parameter's unit, default and cgroup files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cgroups/backend.hpp"
#include "vps/error.hpp"

namespace vps::params {

inline constexpr uint64_t kUnlimited = UINT64_MAX;
inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kBlockSize = 1024;  // OpenVZ's diskspace unit

struct BarrierLimit {
    uint64_t barrier = kUnlimited;
    uint64_t limit = kUnlimited;
    bool operator==(const BarrierLimit&) const = default;
};

// What a plain number counts; a K/M/G/T suffix always means bytes, which
// pages and kblocks convert (rounding up). Counts take no suffix.
enum class Unit { count, pages, bytes, kblocks };

// Parse "256M" / "65536" / "unlimited" as pages (pages unless suffixed).
Result<uint64_t> parse_pages(std::string_view text);
// Parse a plain count ("1024", "unlimited").
Result<uint64_t> parse_count(std::string_view text);
// Bytes with an optional K/M/G/T suffix ("512M", "1G", "4096").
Result<uint64_t> parse_bytes(std::string_view text);
// 1 KiB blocks ("10485760"), or bytes with a suffix ("10G").
Result<uint64_t> parse_kblocks(std::string_view text);
// One value in unit.
Result<uint64_t> parse_value(std::string_view text, Unit unit);
// Parse "barrier:limit" or one value (both), each part in unit.
Result<BarrierLimit> parse_barrier_limit(std::string_view text, Unit unit);
// The same, pages (true) or counts (false).
Result<BarrierLimit> parse_barrier_limit(std::string_view text, bool pages);

// The validated resource set of one VPS. nullopt = not set (leave as is).
struct Resources {
    std::optional<BarrierLimit> physpages;  // pages
    std::optional<BarrierLimit> swappages;  // pages
    std::optional<BarrierLimit> numproc;
    std::optional<uint32_t> cpuunits;
    std::optional<uint32_t> cpulimit;       // percent, 0 = unlimited
    std::optional<uint32_t> cpus;           // 0 = all
    std::optional<BarrierLimit> numfile;    // open files: soft:hard RLIMIT_NOFILE
    std::optional<std::string> cpumask;     // canonical "0-3,6"; "" = all
    std::optional<std::string> nodemask;    // canonical "0-1"; "" = all
    std::optional<BarrierLimit> diskspace;  // 1 KiB blocks
    std::optional<BarrierLimit> diskinodes;
    std::optional<uint64_t> iolimit;           // bytes/s, 0 = unlimited
    std::optional<uint64_t> iopslimit;         // operations/s, 0 = unlimited
    std::optional<uint32_t> ioprio;            // 0..7
    std::optional<BarrierLimit> shmpages;      // pages of System V shared memory
    std::optional<BarrierLimit> numshm;        // shared memory segments
    std::optional<BarrierLimit> numsem;        // semaphores
    std::optional<BarrierLimit> nummsgqueues;  // message queues
    // Legacy beancounters by name (see legacy_params()): kept, not enforced.
    std::map<std::string, BarrierLimit, std::less<>> unenforced;
    bool operator==(const Resources&) const = default;
};

// Every parameter name `vzctl set` and the VPS config accept, with a one-line
// description (for --help and error messages).
struct ParamInfo {
    std::string_view name;
    std::string_view help;
};
const std::vector<ParamInfo>& known_params();
bool is_known(std::string_view name);

// How a parameter takes effect.
enum class Enforcement {
    cgroup,      // a cgroup limit (to_cgroup_limits)
    rlimit,      // a resource limit of the VPS's init, inherited by all
    ipc_sysctl,  // a sysctl of the VPS's IPC namespace (ipc_sysctls)
    disk_quota,  // the storage area's project quota
    none,        // accepted and kept only: a stock kernel has no such limit
};

// Reference for the accounting view and the man page.
struct ParamDoc {
    std::string_view name;
    std::string_view unit;           // "pages", "bytes", "1K-blocks", "count", "percent", "list",
                                     // "weight", "bytes/s", "ops/s", "priority"
    bool barrier_limit;              // takes "barrier:limit"
    std::string_view default_value;  // what a VPS gets when it is not set
    std::string_view cgroup_v2;      // file(s) written on cgroup v2; "" = none
    std::string_view cgroup_v1;      // file(s) written on cgroup v1; "" = none
    Enforcement enforcement;
    // What takes the value when it is not a cgroup file: "RLIMIT_NOFILE",
    // "kernel.shmall", "project quota (blocks)"; "" for cgroup limits.
    std::string_view applied_as;
    // Where the accounting view finds what is held: a cgroups::Usage field
    // (or "" when nothing counts it).
    std::string_view held;
    std::string_view help;  // as known_params()
};
// One entry per known parameter, in known_params() order.
const std::vector<ParamDoc>& param_docs();
const ParamDoc* find_doc(std::string_view name);

// The OpenVZ beancounters a stock kernel cannot limit (kmemsize,
// numtcpsock, ...), in known_params() order.
std::vector<std::string_view> legacy_params();
// "numtcpsock: accepted but not enforced on a stock kernel (no cgroup limit
// exists); kept in the config"; nullopt for a parameter that is enforced
// (or unknown).
std::optional<std::string> param_warning(std::string_view name);
// The warnings for every name in values, in name order.
std::vector<std::string> warnings(const std::map<std::string, std::string>& values);

// What the host allows, for the checks that depend on it. 0 = not known:
// only the syntax is checked then (plan::build checks again with the
// host's facts).
struct HostBounds {
    uint32_t cpus = 1;        // CPUs 0..cpus-1; bounds cpus, cpulimit, cpumask
    uint32_t numa_nodes = 0;  // nodes 0..numa_nodes-1; bounds nodemask
    uint64_t nr_open = 0;     // fs.nr_open: the highest RLIMIT_NOFILE; bounds numfile
};

// Check one name=value; the error is Errc::bad_value (or bad_argument for an
// unknown name) and names the parameter: "physpages: '12Q' is not a number
// of pages or bytes (use 65536, 256M, 1G or unlimited)".
// host_cpus bounds cpus, cpulimit and cpumask.
Result<void> apply_param(Resources& res, std::string_view name, std::string_view value,
                         uint32_t host_cpus);
Result<void> apply_param(Resources& res, std::string_view name, std::string_view value,
                         const HostBounds& host);
Result<Resources> parse_all(const std::map<std::string, std::string>& values, uint32_t host_cpus);
Result<Resources> parse_all(const std::map<std::string, std::string>& values,
                            const HostBounds& host);

// Canonical text written back to the config for a parameter ("ram" is
// stored as physpages, "0,1,2,3" as "0-3"). Returns {name, value} pairs.
std::vector<std::pair<std::string, std::string>> canonical(std::string_view name,
                                                           std::string_view value);

// The cgroup limits that realise a resource set:
//   physpages.limit -> memory.max; barrier (if below limit) -> memory.high
//   swappages.limit -> swap max; numproc.limit -> pids.max
//   cpuunits -> weight = cpuunits/10 clamped 1..10000 (1000 -> 100, the default)
//   cpulimit -> quota = cpulimit% of period; cpus -> quota cap of cpus*period
//   (whichever is lower).
//   cpumask -> cpuset.cpus, nodemask -> cpuset.mems ("all": the parent's)
//   iolimit -> io_rbps and io_wbps (each direction), iopslimit -> io_riops
//   and io_wiops; 0 = kUnlimited. io_device stays unset: the caller fills
//   in the storage's disk (see io_device_warning()).
//   ioprio -> io_weight: 64 73 82 92 100 110 120 128 for 0..7 (OpenVZ's
//   blkio weights 320..640 divided by 5; 4 is the default 100).
// numfile, diskspace, diskinodes, the IPC limits and the legacy
// beancounters are not cgroup limits and are left out.
cgroups::Limits to_cgroup_limits(const Resources& res);

// The cgroup I/O weight of an ioprio (0..7, larger ones clamp to 7).
uint32_t ioprio_to_io_weight(uint32_t ioprio);

// A text for the user when iolimit or iopslimit is set but limits has no
// io_device, so the backend wrote no throttle; nullopt otherwise.
std::optional<std::string> io_device_warning(const Resources& res, const cgroups::Limits& limits);

// The sysctls (path under /proc/sys, value) the runtime writes inside the
// VPS's new IPC namespace before init runs; unset parameters are left out
// (a new IPC namespace starts with the kernel's defaults):
//   shmpages.limit     -> kernel/shmall (pages)
//   numshm.limit       -> kernel/shmmni
//   numsem.limit = N   -> kernel/sem "min(32000,N) N 500 max(1,min(32000,N))"
//                         (SEMMSL SEMMNS SEMOPM SEMMNI)
//   nummsgqueues.limit -> kernel/msgmni
// "unlimited" writes the largest value a stock kernel takes: shmall
// 18446744073692774399 (its default), shmmni and msgmni 32768 (IPCMNI),
// sem "32000 1024000000 500 32000" (its default).
std::vector<std::pair<std::string, std::string>> ipc_sysctls(const Resources& res);

// Format pages/bytes back for humans ("65536" / "unlimited").
std::string format_value(uint64_t v);

}  // namespace vps::params
