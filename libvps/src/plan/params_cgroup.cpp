// What a checked resource set becomes: cgroup limits, and the System V
// IPC sysctls of the VPS's IPC namespace.
#include <algorithm>
#include <array>

#include "params_impl.hpp"
#include "vps/params.hpp"

namespace vps::params {
namespace {

constexpr uint64_t kCpuPeriodUs = 100000;

// OpenVZ's kernel gave ioprio 0..7 the CFQ blkio weights 320 365 410 460
// 500 550 600 640 (500 being blkio's default). Divided by 5 they land on
// the v2 weight scale with 4 at its default 100; the cgroups library
// multiplies by 5 again for v1's blkio.weight, giving OpenVZ's numbers.
constexpr std::array<uint32_t, 8> kIoprioWeight{64, 73, 82, 92, 100, 110, 120, 128};

// The kernel's defaults for a new IPC namespace (ipc/util.h, shm.h, sem.h).
constexpr uint64_t kShmAllDefault = UINT64_MAX - (uint64_t{1} << 24);
constexpr uint64_t kIpcMni = 32768;
constexpr uint64_t kSemMsl = 32000;  // SEMMSL and SEMMNI
constexpr uint64_t kSemMns = kSemMsl * kSemMsl;
constexpr uint64_t kSemOpm = 500;

// cpulimit caps CPU time in percent of one CPU, cpus in whole CPUs; the
// kernel has one quota, so the tighter of the two wins.
std::optional<uint64_t> cpu_quota(const Resources& res) {
    if (!res.cpulimit && !res.cpus) return std::nullopt;
    uint64_t quota = kUnlimited;
    if (res.cpulimit && *res.cpulimit > 0) quota = uint64_t{*res.cpulimit} * kCpuPeriodUs / 100;
    if (res.cpus && *res.cpus > 0) quota = std::min(quota, uint64_t{*res.cpus} * kCpuPeriodUs);
    return quota;
}

void memory_limits(const Resources& res, cgroups::Limits& l) {
    if (res.physpages) {
        l.memory_max = detail::pages_to_bytes(res.physpages->limit);
        // A barrier only means something below the limit; 0 is vzctl 4's
        // "no barrier" (what --ram writes).
        const auto& pp = *res.physpages;
        l.memory_high = pp.barrier != 0 && pp.barrier < pp.limit
                            ? detail::pages_to_bytes(pp.barrier)
                            : kUnlimited;
    }
    if (res.swappages) l.swap_max = detail::pages_to_bytes(res.swappages->limit);
}

// OpenVZ's 0 = no limit is the cgroups' kUnlimited.
uint64_t rate(uint64_t v) { return v == 0 ? cgroups::kUnlimited : v; }

void io_limits(const Resources& res, cgroups::Limits& l) {
    if (res.iolimit) l.io_rbps = l.io_wbps = rate(*res.iolimit);
    if (res.iopslimit) l.io_riops = l.io_wiops = rate(*res.iopslimit);
    if (res.ioprio) l.io_weight = ioprio_to_io_weight(*res.ioprio);
}

std::string sem_value(uint64_t numsem) {
    if (numsem == kUnlimited)
        return std::to_string(kSemMsl) + " " + std::to_string(kSemMns) + " " +
               std::to_string(kSemOpm) + " " + std::to_string(kSemMsl);
    uint64_t msl = std::min(kSemMsl, numsem);
    uint64_t mni = std::max<uint64_t>(1, std::min(kSemMsl, numsem));
    return std::to_string(msl) + " " + std::to_string(numsem) + " " + std::to_string(kSemOpm) +
           " " + std::to_string(mni);
}

std::string or_default(uint64_t v, uint64_t unlimited_value) {
    return std::to_string(v == kUnlimited ? unlimited_value : v);
}

}  // namespace

uint32_t ioprio_to_io_weight(uint32_t ioprio) {
    return kIoprioWeight[std::min<size_t>(ioprio, kIoprioWeight.size() - 1)];
}

cgroups::Limits to_cgroup_limits(const Resources& res) {
    cgroups::Limits l;
    memory_limits(res, l);
    if (res.numproc) l.pids_max = res.numproc->limit;
    if (res.cpuunits) l.cpu_weight = std::clamp<uint32_t>(*res.cpuunits / 10, 1, 10000);
    l.cpu_quota_us = cpu_quota(res);
    l.cpu_period_us = kCpuPeriodUs;
    // "" (all) hands the group its parent's CPUs or nodes.
    if (res.cpumask) l.cpuset_cpus = *res.cpumask;
    if (res.nodemask) l.cpuset_mems = *res.nodemask;
    io_limits(res, l);
    return l;
}

std::optional<std::string> io_device_warning(const Resources& res, const cgroups::Limits& limits) {
    if (limits.io_device || (!res.iolimit && !res.iopslimit)) return std::nullopt;
    std::string names = res.iolimit && res.iopslimit ? "iolimit, iopslimit"
                        : res.iolimit                ? "iolimit"
                                                     : "iopslimit";
    return names +
           ": not applied: the VPS's storage has no block device of its own to throttle "
           "(io.max needs one); kept in the config";
}

std::vector<std::pair<std::string, std::string>> ipc_sysctls(const Resources& res) {
    std::vector<std::pair<std::string, std::string>> out;
    if (res.shmpages)
        out.emplace_back("kernel/shmall", or_default(res.shmpages->limit, kShmAllDefault));
    if (res.numshm) out.emplace_back("kernel/shmmni", or_default(res.numshm->limit, kIpcMni));
    if (res.numsem) out.emplace_back("kernel/sem", sem_value(res.numsem->limit));
    if (res.nummsgqueues)
        out.emplace_back("kernel/msgmni", or_default(res.nummsgqueues->limit, kIpcMni));
    return out;
}

}  // namespace vps::params
