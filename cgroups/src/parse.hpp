// Pure parsers for the text the kernel hands out about cgroups: knob values
// ("max", "-1", numbers), flat-keyed files (memory.events, cpu.stat),
// /proc/self/cgroup and /proc/self/mountinfo. No I/O here, so the unit
// tests can feed them samples copied from real hosts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/backend.hpp"

namespace cgroups::detail {

// A decimal number, surrounding whitespace (the trailing newline) allowed.
std::optional<uint64_t> parse_u64(std::string_view s);

// v2 limit: "max" or a number; "max" becomes kUnlimited.
std::optional<uint64_t> parse_max(std::string_view s);
// The v2 spelling of a limit: "max" for kUnlimited, else the number.
std::string format_max(uint64_t v);

// v1 limit: "-1" or a number. memory.limit_in_bytes reads back "no limit"
// as PAGE_COUNTER_MAX * PAGE_SIZE (9223372036854771712 with 4 KiB pages,
// less with larger pages), so anything from 2^62 up counts as unlimited.
std::optional<uint64_t> parse_v1_limit(std::string_view s);
// The v1 spelling of a limit: "-1" for kUnlimited, else the number.
std::string format_v1_limit(uint64_t v);

// One value of a flat-keyed file ("key value" per line): memory.events,
// pids.events, cpu.stat. nullopt if the key is absent or not a number.
std::optional<uint64_t> flat_keyed_value(std::string_view text, std::string_view key);

// The raw value of one key of a flat-keyed file, so that a caller can tell
// an absent key (older kernel: leave the counter unknown) from a bad value.
std::optional<std::string_view> flat_keyed_text(std::string_view text, std::string_view key);

// memory.stat: kernel memory in bytes. Its "kernel" key where the kernel has
// one; kernels without it (Debian 12's 6.1) get the sum of kernel_stack,
// slab (or slab_reclaimable + slab_unreclaimable), pagetables and percpu.
// That fallback can go once every supported kernel prints "kernel".
// nullopt if none of these keys is present or one is not a number.
std::optional<uint64_t> memory_stat_kernel(std::string_view text);

// v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per
// device), summed over devices. An empty file (no I/O yet) is all zeros;
// nullopt if a value is not a number.
struct IoTotals {
    uint64_t rbytes = 0;
    uint64_t wbytes = 0;
    uint64_t rios = 0;
    uint64_t wios = 0;
};
std::optional<IoTotals> parse_io_stat(std::string_view text);

// v1 blkio.throttle.io_service_bytes / io_serviced: the "MAJ:MIN Read N"
// and "MAJ:MIN Write N" lines summed over devices (the per-device and final
// "Total" lines count both directions together and are skipped).
struct ReadWrite {
    uint64_t read = 0;
    uint64_t write = 0;
};
std::optional<ReadWrite> parse_blkio_rw(std::string_view text);

// "MAJ:MIN", both decimal: what io.max and blkio.throttle.* take.
bool valid_device(std::string_view dev);

// v2 io.max: "MAJ:MIN rbps=N wbps=max riops=N wiops=N" with only the keys
// set in limits; "" when limits has no device or no throttle set.
std::string format_io_max(const Limits& limits);

// v2 io.weight (1..10000, default 100) <-> v1 blkio.weight (10..1000,
// default 500): blkio = weight * 5, clamped, the mapping systemd uses for
// IOWeight and BlockIOWeight. The reverse divides with rounding.
inline constexpr uint32_t kDefaultIoWeight = 100;
uint64_t io_weight_to_blkio(uint32_t weight);
uint32_t blkio_to_io_weight(uint64_t blkio_weight);
// BFQ's own files (io.bfq.weight, blkio.bfq.weight) take 1..1000, default
// 100: the v2 weight, clamped.
uint64_t io_weight_to_bfq(uint32_t weight);
uint32_t bfq_to_io_weight(uint64_t bfq_weight);
// A weight file's content: "default 100" (plus per-device lines) or a bare
// "500".
std::optional<uint64_t> parse_weight_file(std::string_view text);

// cpu.max: "max 100000" or "50000 100000" -> {quota (kUnlimited for max), period}.
struct CpuMax {
    uint64_t quota_us;
    uint64_t period_us;
};
std::optional<CpuMax> parse_cpu_max(std::string_view s);

// cgroup.procs: one pid per line.
std::optional<std::vector<pid_t>> parse_pids(std::string_view s);

// Whitespace-separated words (cgroup.controllers, cgroup.subtree_control).
std::vector<std::string> words(std::string_view s);

// v1 cpu.shares <-> v2 cpu.weight, the mapping OpenVZ's cpuunits and the
// interface use: shares = weight * 1024 / 100, at least 2 (the kernel's
// minimum). The reverse rounds so every weight survives a round trip.
uint64_t weight_to_shares(uint32_t weight);
uint32_t shares_to_weight(uint64_t shares);

// One line of /proc/<pid>/cgroup: "4:memory:/process_api/x", "1:cpu,cpuacct:/",
// "0::/user.slice" (the v2 line has hierarchy 0 and no controllers).
struct ProcCgroupLine {
    unsigned hierarchy = 0;
    std::vector<std::string> controllers;  // empty for v2; "name=systemd" kept as is
    std::string path;
};
std::vector<ProcCgroupLine> parse_proc_cgroup(std::string_view text);
// Our cgroup in the unified hierarchy ("0::" line).
std::optional<std::string> v2_own_path(const std::vector<ProcCgroupLine>& lines);
// Our cgroup in the v1 hierarchy that carries controller.
std::optional<std::string> v1_own_path(const std::vector<ProcCgroupLine>& lines,
                                       std::string_view controller);

// The fields of /proc/self/mountinfo we need; octal escapes (\040) decoded.
struct MountInfo {
    std::string root;         // field 4: the directory of the filesystem mounted here
    std::string mount_point;  // field 5
    std::string fstype;       // after " - "
    std::vector<std::string> super_options;  // "rw", "cpu", "cpuacct", "name=systemd"
};
std::vector<MountInfo> parse_mountinfo(std::string_view text);

// The first "cgroup" (v1) mount at or beneath root whose super options list
// controller (co-mounts such as cpu,cpuacct serve both names).
std::optional<MountInfo> find_v1_mount(const std::vector<MountInfo>& mounts, std::string_view root,
                                       std::string_view controller);

// Our directory inside a mounted hierarchy: the mount shows its root, our
// cgroup path is absolute in the hierarchy, so strip the mount's root.
// nullopt if our cgroup lies outside what is mounted.
std::optional<std::string> path_in_mount(std::string_view mount_root, std::string_view own);

// "a" + "/b/" -> "a/b"; an empty or "/" tail leaves a unchanged.
std::string join_path(std::string_view a, std::string_view b);

// A group or base name: relative, no empty, "." or ".." component.
// allow_nested permits "a/b" (base names); group names are one component.
bool valid_name(std::string_view name, bool allow_nested);

}  // namespace cgroups::detail
