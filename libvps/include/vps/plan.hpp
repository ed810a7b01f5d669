// What a VPS should be, checked and resolved: the runtime applies a Plan to
// the kernel and never looks at a config file. Building a plan makes no
// syscalls; facts about the host are probed once beforehand (HostFacts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vps/config.hpp"
#include "vps/error.hpp"
#include "vps/params.hpp"

namespace vps::plan {

struct HostFacts {
    uint32_t cpus = 1;
    std::string storage_root;  // absolute, e.g. /var/lib/vz
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
