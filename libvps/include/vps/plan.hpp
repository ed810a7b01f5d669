// What a VPS should be, checked and resolved: the runtime applies a Plan to
// the kernel and never looks at a config file. Building a plan makes no
// syscalls; facts about the host are probed once beforehand (HostFacts).
#pragma once

#include <array>
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
    bool cgroup2 = false;        // VPS groups are cgroup v2 groups
};

// What a VPS sees at /sys/fs/cgroup: nothing (cgroup v1 hosts), its own
// group read-only (privileged VPSes: the host's root must not reach its
// limits), or its own group delegated to it (unprivileged VPSes; systemd
// inside makes its units' groups there).
enum class CgroupView { none, read_only, delegated };

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

// Ids one unprivileged VPS gets: 0..65535 inside, as a distribution expects.
inline constexpr uint32_t kIdRangeSize = 65536;

// One contiguous id range of a user namespace mapping (uid_map line).
struct IdMap {
    uint32_t inside = 0;
    uint32_t outside = 0;
    uint32_t count = 0;
};

// An IPv4 or IPv6 address with its prefix length, as --ipadd takes it.
struct IpAddress {
    int family = 0;  // AF_INET or AF_INET6
    std::array<uint8_t, 16> bytes{};
    uint8_t prefix = 0;
    size_t size() const;       // 4 or 16 bytes
    std::string text() const;  // "10.0.0.2", "fd00::2"
    std::string cidr() const;  // "10.0.0.2/24"
    // Same address, whatever the prefix.
    bool same_address(const IpAddress& o) const { return family == o.family && bytes == o.bytes; }
};

using Mac = std::array<uint8_t, 6>;

// One bridged veth pair, resolved.
struct Veth {
    std::string ifname;       // inside the VPS
    std::string host_ifname;  // on the host
    std::string bridge;
    Mac mac{};  // all zero: the kernel picks a random one at each start
    Mac host_mac{};
    // Ingress filtering at the host end: source MAC (and ARP sender) must
    // be `mac` (when it is set), and with ip_filter the source address (and
    // ARP sender address) one of these.
    bool mac_filter = true;
    std::vector<IpAddress> ip_filter;
    bool filtered() const;
};

// Routed ("venet") mode: the VPS's addresses sit on `kVenetInside` in the
// VPS and the host reaches them through venet<CTID>, which holds the
// gateway addresses the VPS routes through.
inline constexpr const char* kVenetInside = "venet0";
inline constexpr const char* kGatewayV4 = "169.254.0.1";
inline constexpr const char* kGatewayV6 = "fe80::1";

struct Network {
    std::vector<IpAddress> addresses;  // routed
    std::string venet_host;            // "venet<CTID>"
    std::vector<Veth> veths;
    std::vector<std::string> nameservers;
    std::vector<std::string> searchdomains;
    // Host-side interfaces this VPS owns while it runs.
    std::vector<std::string> host_ifnames() const;
};

struct Plan {
    uint32_t ctid = 0;
    std::string name;
    std::string hostname;
    bool hostname_configured = false;  // set by the admin, not the CTID fallback
    std::string private_dir;  // <root>/private/<ctid>: the VPS's files
    std::string root_dir;     // <root>/root/<ctid>: where they are mounted
    std::vector<std::string> init_argv{"/sbin/init"};
    std::vector<std::string> init_env;
    int stop_signal = 0;  // what asks init to power off (busybox: SIGUSR2)
    // Unprivileged VPSes (config id_base): one range each; empty = no user
    // namespace, root inside is root on the host.
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
    // Unprivileged VPS stored with the ids seen inside: its root is an
    // idmapped mount of private_dir (config id_mapping "mount").
    bool idmapped_root = false;
    CgroupView cgroup_view = CgroupView::none;
    // Syscalls refused with EPERM by the seccomp filter.
    std::vector<std::string> seccomp_deny;
    Network net;
};

// Capabilities a VPS's root never holds (names as capabilities(7), lower case
// without CAP_).
const std::vector<std::string>& default_caps_drop();
const std::vector<std::string>& default_seccomp_deny();

// Capabilities a privileged VPS (no user namespace) also lacks unless its
// config says "name:on": with them, root inside acts on host-wide objects
// (mounting file systems, remounting shared superblocks).
const std::vector<std::string>& privileged_caps_drop();

// One CAPABILITY entry, "sys_admin:on" (also SYS_ADMIN, CAP_SYS_ADMIN):
// the name as default_caps_drop() spells it and whether it is granted.
Result<std::pair<std::string, bool>> parse_capability(std::string_view text);

// Validate a VPS config against the host; every problem is reported in one
// Errc::bad_value error naming the keys.
Result<Plan> build(const config::VpsConfig& cfg, const HostFacts& host);

// CTIDs: 1..2147483647 like OpenVZ; names: [A-Za-z0-9._-], 1..64, not all digits.
Result<uint32_t> parse_ctid(std::string_view text);
Result<void> check_name(std::string_view name);
Result<void> check_hostname(std::string_view hostname);

// Network values, checked as --ipadd, --netif_add and vz.yaml take them.
// parse_ip refuses what cannot be a VPS's own address (loopback, multicast,
// unspecified, the gateways above).
Result<IpAddress> parse_ip(std::string_view text);
Result<Mac> parse_mac(std::string_view text);
std::string mac_text(const Mac& mac);
// A Linux interface name: 1..15 bytes, no '/', ':' or whitespace, not "." or "..".
Result<void> check_ifname(std::string_view name, std::string_view what);
// A resolver address (any unicast IPv4/IPv6, loopback allowed) and a DNS
// search domain.
Result<void> check_nameserver(std::string_view text);
Result<void> check_searchdomain(std::string_view text);
// The network part of a config, resolved; problems are appended.
Network build_network(const config::VpsConfig& cfg, std::vector<std::string>& problems);

}  // namespace vps::plan
