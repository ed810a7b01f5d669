// cgroups: create, limit, inspect and remove control groups beneath the
// cgroup the calling process runs in. No VPS knowledge lives here: limits
// are in cgroup terms (bytes, pids, weights, microseconds).
//
// Two backends sit behind one interface: cgroup v2 (the unified hierarchy
// of every current distribution) and cgroup v1 (hybrid hosts, where each
// controller is mounted on its own).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vps/error.hpp"
#include "vps/fd.hpp"

namespace cgroups {

using vps::Result;

inline constexpr uint64_t kUnlimited = UINT64_MAX;

// What to write. nullopt leaves the current value alone; kUnlimited writes
// "max" (v2) or -1 (v1).
struct Limits {
    std::optional<uint64_t> memory_max;   // bytes: memory.max / memory.limit_in_bytes
    std::optional<uint64_t> memory_high;  // bytes: memory.high / memory.soft_limit_in_bytes
    std::optional<uint64_t> swap_max;     // bytes of swap on top of memory (memory.swap.max;
                                          // v1: memsw = memory_max + swap_max when present)
    std::optional<uint64_t> pids_max;     // pids.max
    std::optional<uint32_t> cpu_weight;   // 1..10000 (v2 cpu.weight; v1 cpu.shares = w*1024/100)
    // cpu.max: quota per period in microseconds; quota kUnlimited = no cap.
    std::optional<uint64_t> cpu_quota_us;
    uint64_t cpu_period_us = 100000;
    std::optional<std::string> cpuset_cpus;  // "0-1,3"; empty string = inherit parent's
    std::optional<std::string> cpuset_mems;  // NUMA nodes "0-1"; empty string = inherit parent's
    // Block I/O throttles apply per device: io_device is "MAJ:MIN" (the
    // disk behind the group's files). Without a device the four throttles
    // are not written at all; the caller says so to its user.
    std::optional<std::string> io_device;
    std::optional<uint64_t> io_rbps;   // bytes/s read;  v2 io.max rbps, v1 read_bps_device
    std::optional<uint64_t> io_wbps;   // bytes/s write; v2 wbps, v1 write_bps_device
    std::optional<uint64_t> io_riops;  // reads/s;  v2 riops, v1 read_iops_device
    std::optional<uint64_t> io_wiops;  // writes/s; v2 wiops, v1 write_iops_device
    // Proportional I/O share, 1..10000, default 100: v2 io.weight ("default
    // N"); v1 blkio.weight = N*5 clamped to 10..1000. Without those files
    // (no weight-aware I/O scheduler) BFQ's io.bfq.weight / blkio.bfq.weight
    // (N clamped to 1..1000) is used; with neither, only the default 100
    // can be "set".
    std::optional<uint32_t> io_weight;
};

// What a group holds now, read from its own counters. Fields a backend
// cannot read stay nullopt.
struct Usage {
    std::optional<uint64_t> memory_current;  // bytes
    std::optional<uint64_t> memory_peak;     // bytes (v2 memory.peak; v1 max_usage_in_bytes)
    std::optional<uint64_t> memory_max;      // bytes, kUnlimited if none
    std::optional<uint64_t> memory_failcnt;  // v2 memory.events "max"; v1 memory.failcnt
    std::optional<uint64_t> swap_current;
    std::optional<uint64_t> swap_max;
    std::optional<uint64_t> pids_current;
    std::optional<uint64_t> pids_max;      // kUnlimited if "max"
    std::optional<uint64_t> pids_failcnt;  // pids.events "max"
    std::optional<uint32_t> cpu_weight;
    std::optional<uint64_t> cpu_quota_us;  // kUnlimited if "max"
    std::optional<uint64_t> cpu_period_us;
    std::optional<uint64_t> cpu_usage_us;  // cpu.stat usage_usec / cpuacct.usage / 1000
    // Kernel memory charged to the group (bytes): v2 memory.stat "kernel"
    // (summed from its parts where absent); v1 memory.kmem.usage_in_bytes.
    std::optional<uint64_t> memory_stat_kernel;
    // Socket buffers (bytes): v2 memory.stat "sock"; v1 memory.kmem.tcp.usage_in_bytes.
    std::optional<uint64_t> memory_stat_sock;
    std::optional<uint64_t> memory_oom_kills;  // memory.events / memory.oom_control "oom_kill"
    std::optional<uint64_t> swap_peak;         // memory.swap.peak where the kernel has it; v1: none
    std::optional<uint64_t> swap_failcnt;      // memory.swap.events "max"; v1 memory.memsw.failcnt
    std::optional<uint64_t> pids_peak;         // pids.peak where the kernel has it
    std::optional<uint32_t> io_weight;         // as Limits::io_weight, read back
    // I/O done, summed over devices: v2 io.stat; v1 blkio.throttle.io_service_bytes
    // and io_serviced (their _recursive versions where present).
    std::optional<uint64_t> io_rbytes;
    std::optional<uint64_t> io_wbytes;
    std::optional<uint64_t> io_rios;
    std::optional<uint64_t> io_wios;
};

// One kind of device the group's processes may use: type 'c' or 'b',
// major, minor (-1 = any minor). Everything not listed is refused.
struct DeviceRule {
    char type = 'c';
    int major = 0;
    int minor = -1;
};

class Group {
  public:
    virtual ~Group() = default;
    // Path relative to the backend's base, e.g. "101".
    virtual const std::string& name() const = 0;
    // Human-readable location(s) for errors and `vzctl status`.
    virtual std::string describe() const = 0;

    virtual Result<void> apply(const Limits& limits) = 0;
    // Allow opening and mknod of the listed devices only (v2: an eBPF
    // device program attached to the group; v1: the devices controller).
    // Errc::system with ENOTSUP where neither is available.
    virtual Result<void> restrict_devices(const std::vector<DeviceRule>& allow) = 0;
    virtual Result<Usage> usage() const = 0;

    // Move a process in (every controller on v1).
    virtual Result<void> add_process(pid_t pid) = 0;
    // Move a process in beside `init`: into the group, or, when the VPS has
    // made child groups of its own and enabled controllers for them (so the
    // group may hold no process, cgroup v2's rule), into init's group below.
    virtual Result<void> add_process_near(pid_t pid, pid_t init) { (void)init; return add_process(pid); }
    // Hand the group's subtree to the VPS's root (uid, gid on the host): it
    // may make child groups and move its processes between them, never
    // change the group's own limits. v2 only (systemd inside a VPS needs
    // it); Errc::system with ENOTSUP elsewhere.
    virtual Result<void> delegate(uid_t uid, gid_t gid) {
        (void)uid, (void)gid;
        return vps::Error(vps::Errc::system, "delegate cgroup", name(), ENOTSUP,
                          "only cgroup v2 groups can be delegated");
    }
    // v2: an O_PATH|O_DIRECTORY fd of the group for clone3's
    // CLONE_INTO_CGROUP. v1 has none: the caller uses add_process().
    virtual std::optional<vps::FdRef> clone_into_fd() const = 0;
    virtual Result<std::vector<pid_t>> processes() const = 0;

    // SIGKILL every process in the group (v2: cgroup.kill; v1: repeat
    // kill() over cgroup.procs until it stays empty, bounded).
    virtual Result<void> kill_all() = 0;
    // Remove the group's directories once empty; waits up to timeout_ms for
    // dying processes to leave. Already-removed is success.
    virtual Result<void> destroy(int timeout_ms = 5000) = 0;
};

enum class Mode { automatic, v1, v2 };

struct Options {
    Mode mode = Mode::automatic;
    // Where cgroup filesystems are mounted and where we read our own cgroup
    // from; tests point these at a fake tree in a temp directory.
    std::string root = "/sys/fs/cgroup";
    std::string proc_self_cgroup = "/proc/self/cgroup";
    std::string proc_self_mountinfo = "/proc/self/mountinfo";
    // Name of the directory created beneath our own cgroup that holds every
    // group this backend makes ("vz" -> <own>/vz/101).
    std::string base = "vz";
    // v2 only: if our own cgroup is not the root and holds processes, move
    // this process into <own>/<daemon_leaf> first so controllers can be
    // enabled below <own> (the no-internal-process rule). Empty = never.
    std::string daemon_leaf;
    // v2 only: work beneath this cgroup (its path from the hierarchy's root,
    // "/machine.slice/vz.scope") instead of our own: a delegated systemd
    // scope that outlives the daemon. It must hold no process itself.
    std::string within;
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string_view name() const = 0;  // "v2" or "v1"
    // Human-readable base location(s).
    virtual std::string describe() const = 0;
    // Controllers this backend can limit ("memory", "pids", "cpu", "cpuset", "io").
    virtual std::vector<std::string> controllers() const = 0;

    // Create the group (and the base on first use); an existing group is
    // opened (EEXIST is not an error: a restarted daemon re-creates).
    virtual Result<std::unique_ptr<Group>> create(std::string_view name) = 0;
    // Open an existing group; Errc::system with ENOENT if absent.
    virtual Result<std::unique_ptr<Group>> open(std::string_view name) = 0;
    virtual bool exists(std::string_view name) const = 0;
};

// v2: move the calling process into <own>/<leaf>, made if missing. A
// process that only keeps a delegated systemd scope alive sits there, so
// that the scope's own cgroup can enable controllers for its other children.
Result<void> enter_leaf(const Options& opts, std::string_view leaf);
// v2: does the cgroup at path (from the hierarchy's root) exist and hold
// at least one process directly?
bool holds_processes(const Options& opts, const std::string& path);

// Probe the host (or the fake tree in opts) and return the matching backend,
// with the base directory created and, on v2, controllers enabled down to it.
Result<std::unique_ptr<Backend>> open_backend(const Options& opts);

}  // namespace cgroups
