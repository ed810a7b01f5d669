// What a VPS should be, checked and resolved: the runtime applies a Plan to
// the kernel and never looks at a config file. Building a plan makes no
// syscalls; facts about the host are probed once beforehand (HostFacts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vps/config.hpp"
#include "vps/error.hpp"
#include "vps/params.hpp"

namespace vps::plan {

struct HostFacts {
    uint32_t cpus = 1;
    std::string storage_root;    // absolute, e.g. /var/lib/vz
    uint32_t numa_nodes = 1;     // /sys/devices/system/node/node*; bounds nodemask
    uint64_t nr_open = 1048576;  // /proc/sys/fs/nr_open (the kernel's default here)
};

// A soft:hard resource limit as setrlimit(2) takes it; kUnlimited is
// RLIM_INFINITY.
struct Rlimit {
    uint64_t soft = params::kUnlimited;
    uint64_t hard = params::kUnlimited;
    bool operator==(const Rlimit&) const = default;
};

// Disk quota of the VPS's storage, in quotactl(2)'s terms: blocks of 1 KiB
// (QIF_DQBLKSIZE) and inodes, soft = barrier, hard = limit, 0 = no limit.
// nullopt leaves that half of the quota as it is.
struct DiskQuota {
    std::optional<params::BarrierLimit> blocks;
    std::optional<params::BarrierLimit> inodes;
    bool operator==(const DiskQuota&) const = default;
};

// One contiguous id range of a user namespace mapping (uid_map line).
struct IdMap {
    uint32_t inside = 0;
    uint32_t outside = 0;
    uint32_t count = 0;
};

struct Plan {
    uint32_t ctid = 0;
    std::string name;
    std::string hostname;
    std::string private_dir;  // <root>/private/<ctid>: the VPS's files
    std::string root_dir;     // <root>/root/<ctid>: where they are mounted
    std::vector<std::string> init_argv{"/sbin/init"};
    std::vector<std::string> init_env;
    int stop_signal = 0;  // what asks init to power off (busybox: SIGUSR2)
    // Unprivileged VPSes: empty = no user namespace.
    std::vector<IdMap> uid_map;
    std::vector<IdMap> gid_map;
    params::Resources resources;
    // numfile: set with prlimit on init before exec, inherited by every
    // process; "unlimited" is the host's fs.nr_open (the kernel refuses
    // RLIM_INFINITY). nullopt = inherit vzd's.
    std::optional<Rlimit> rlimit_nofile;
    // diskspace and diskinodes, for the quota of the storage area.
    std::optional<DiskQuota> disk_quota;
    // Sysctls (path below /proc/sys, value) written inside the VPS's IPC
    // namespace before init runs: params::ipc_sysctls().
    std::vector<std::pair<std::string, std::string>> ipc_sysctls;
    // For the user, not errors: parameters kept but not enforced.
    std::vector<std::string> warnings;
    // Capabilities removed from the bounding set (cap numbers).
    std::vector<int> caps_drop;
    // Syscalls refused with EPERM by the seccomp filter.
    std::vector<std::string> seccomp_deny;
};

// Capabilities a VPS's root never holds (names as capabilities(7), lower case
// without CAP_).
const std::vector<std::string>& default_caps_drop();
const std::vector<std::string>& default_seccomp_deny();

// Validate a VPS config against the host; every problem is reported in one
// Errc::bad_value error naming the keys.
Result<Plan> build(const config::VpsConfig& cfg, const HostFacts& host);

// CTIDs: 1..2147483647 like OpenVZ; names: [A-Za-z0-9._-], 1..64, not all digits.
Result<uint32_t> parse_ctid(std::string_view text);
Result<void> check_name(std::string_view name);
Result<void> check_hostname(std::string_view hostname);

}  // namespace vps::plan
