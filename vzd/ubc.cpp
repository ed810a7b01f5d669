// `vzctl ubc`: OpenVZ's /proc/user_beancounters view of one running VPS,
// read from its cgroup's own counters, its IPC namespace and its disk
// quota. Values are in OpenVZ's units (pages, bytes, counts, 1K blocks);
// limits nobody set are OpenVZ's "unlimited", LONG_MAX.
#include "daemon.hpp"
#include "vps/disk.hpp"
#include "vps/runtime.hpp"
#include "vps/sys.hpp"

namespace vzd {

using nlohmann::json;
namespace params = vps::params;

namespace {

constexpr uint64_t kLongMax = 9223372036854775807ULL;

json num(std::optional<uint64_t> v) { return v ? json(*v) : json(nullptr); }
uint64_t shown(uint64_t v) { return v == params::kUnlimited ? kLongMax : v; }
std::optional<uint64_t> pages(std::optional<uint64_t> bytes) {
    if (!bytes) return std::nullopt;
    return *bytes == cgroups::kUnlimited ? params::kUnlimited : *bytes / params::kPageSize;
}

json row(std::string_view name, std::optional<uint64_t> held, std::optional<uint64_t> maxheld,
         const std::optional<params::BarrierLimit>& bl, std::optional<uint64_t> failcnt) {
    params::BarrierLimit v = bl.value_or(params::BarrierLimit{});
    return json{{"resource", name},      {"held", num(held)},  {"maxheld", num(maxheld)},
                {"barrier", shown(v.barrier)}, {"limit", shown(v.limit)}, {"failcnt", num(failcnt)}};
}

std::optional<params::BarrierLimit> legacy(const params::Resources& r, const char* name) {
    auto it = r.unenforced.find(name);
    if (it == r.unenforced.end()) return std::nullopt;
    return it->second;
}

// numfile is a per-process limit: held is the most fds any process of the
// VPS has open.
std::optional<uint64_t> most_open_files(const std::vector<pid_t>& pids) {
    uint64_t most = 0;
    for (pid_t p : pids) {
        auto fds = vps::sys::list_dir("/proc/" + std::to_string(p) + "/fd");
        if (fds) most = std::max<uint64_t>(most, fds->size());
    }
    return most;
}

}  // namespace

// What `vzctl list -o physpages,swappages,...` shows as held, in the same
// units as the ubc view.
json Daemon::held_counters(Vps& v) {
    std::lock_guard g(v.m);
    json held = json::object();
    if (!v.group) return held;
    auto u = v.group->usage();
    if (!u) return held;
    held["physpages"] = num(pages(u->memory_current));
    held["swappages"] = num(pages(u->swap_current));
    held["numproc"] = num(u->pids_current);
    held["kmemsize"] = num(u->memory_stat_kernel);
    held["cpu_usage_us"] = num(u->cpu_usage_us);
    return held;
}

Result<json> Daemon::op_ubc(uint32_t ctid) {
    auto v = entry(ctid);
    std::unique_lock g(v->m);
    if (!v->running || !v->group)
        return Error::make(Errc::not_running, "VPS " + std::to_string(ctid) + " is not running");
    auto usage = v->group->usage();
    if (!usage) return std::move(usage).error();
    auto procs = v->group->processes();
    const params::Resources& res = v->plan.resources;
    vps::runtime::Target t{v->running->pid, v->running->pidfd.ref(), v->group.get(), &v->plan};
    auto ipc = vps::runtime::ipc_usage(t);
    const auto& u = *usage;
    json rows = json::array();
    rows.push_back(row("kmemsize", u.memory_stat_kernel, std::nullopt, legacy(res, "kmemsize"), std::nullopt));
    rows.push_back(row("numproc", u.pids_current, u.pids_peak, res.numproc, u.pids_failcnt));
    rows.push_back(row("physpages", pages(u.memory_current), pages(u.memory_peak), res.physpages, u.memory_failcnt));
    rows.push_back(row("swappages", pages(u.swap_current), pages(u.swap_peak), res.swappages, u.swap_failcnt));
    rows.push_back(row("numfile", procs ? most_open_files(*procs) : std::nullopt, std::nullopt, res.numfile, std::nullopt));
    // memory.stat's "sock" counts all socket buffers together.
    for (const char* s : {"tcpsndbuf", "tcprcvbuf", "othersockbuf", "dgramrcvbuf"})
        rows.push_back(row(s, u.memory_stat_sock, std::nullopt, legacy(res, s), std::nullopt));
    auto ipc_val = [&](uint64_t vps::runtime::IpcUsage::*f) -> std::optional<uint64_t> {
        return ipc ? std::optional<uint64_t>((*ipc).*f) : std::nullopt;
    };
    rows.push_back(row("shmpages", ipc_val(&vps::runtime::IpcUsage::shm_pages), std::nullopt, res.shmpages, std::nullopt));
    rows.push_back(row("numshm", ipc_val(&vps::runtime::IpcUsage::shm_segments), std::nullopt, res.numshm, std::nullopt));
    rows.push_back(row("numsem", ipc_val(&vps::runtime::IpcUsage::semaphores), std::nullopt, res.numsem, std::nullopt));
    rows.push_back(row("nummsgqueues", ipc_val(&vps::runtime::IpcUsage::msg_queues), std::nullopt, res.nummsgqueues, std::nullopt));
    if (quota_enabled_) {
        auto q = vps::disk::usage(v->plan.private_dir, ctid);
        std::optional<uint64_t> kb, inodes;
        if (q) {
            kb = vps::disk::bytes_to_kb(q->space_used_bytes);
            inodes = q->inodes_used;
        }
        rows.push_back(row("diskspace", kb, std::nullopt, res.diskspace, std::nullopt));
        rows.push_back(row("diskinodes", inodes, std::nullopt, res.diskinodes, std::nullopt));
    }
    return json{{"ctid", ctid}, {"beancounters", rows}, {"oom_kills", num(u.memory_oom_kills)},
                {"cpu_usage_us", num(u.cpu_usage_us)}};
}

}  // namespace vzd
