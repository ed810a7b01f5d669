// VpsConfig + HostFacts -> Plan: every check happens here, without syscalls,
// so a bad config is refused before anything touches the kernel.
#include "vps/plan.hpp"

#include <linux/capability.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <csignal>
#include <optional>

namespace vps::plan {
namespace {

constexpr uint32_t kMaxCtid = 2147483647;  // OpenVZ's CTIDs are positive ints
constexpr size_t kMaxNameLen = 64;
constexpr size_t kMaxLabelLen = 63;      // RFC 1035 2.3.4
constexpr size_t kMaxHostnameLen = 253;  // a full name without the final dot

struct CapName {
    std::string_view name;
    int number;
};

// Names as capabilities(7) spells them, lower case without CAP_. The numbers
// come from the kernel header so this library needs no libcap.
constexpr std::array<CapName, 41> kCaps{{
    {"chown", CAP_CHOWN},
    {"dac_override", CAP_DAC_OVERRIDE},
    {"dac_read_search", CAP_DAC_READ_SEARCH},
    {"fowner", CAP_FOWNER},
    {"fsetid", CAP_FSETID},
    {"kill", CAP_KILL},
    {"setgid", CAP_SETGID},
    {"setuid", CAP_SETUID},
    {"setpcap", CAP_SETPCAP},
    {"linux_immutable", CAP_LINUX_IMMUTABLE},
    {"net_bind_service", CAP_NET_BIND_SERVICE},
    {"net_broadcast", CAP_NET_BROADCAST},
    {"net_admin", CAP_NET_ADMIN},
    {"net_raw", CAP_NET_RAW},
    {"ipc_lock", CAP_IPC_LOCK},
    {"ipc_owner", CAP_IPC_OWNER},
    {"sys_module", CAP_SYS_MODULE},
    {"sys_rawio", CAP_SYS_RAWIO},
    {"sys_chroot", CAP_SYS_CHROOT},
    {"sys_ptrace", CAP_SYS_PTRACE},
    {"sys_pacct", CAP_SYS_PACCT},
    {"sys_admin", CAP_SYS_ADMIN},
    {"sys_boot", CAP_SYS_BOOT},
    {"sys_nice", CAP_SYS_NICE},
    {"sys_resource", CAP_SYS_RESOURCE},
    {"sys_time", CAP_SYS_TIME},
    {"sys_tty_config", CAP_SYS_TTY_CONFIG},
    {"mknod", CAP_MKNOD},
    {"lease", CAP_LEASE},
    {"audit_write", CAP_AUDIT_WRITE},
    {"audit_control", CAP_AUDIT_CONTROL},
    {"setfcap", CAP_SETFCAP},
    {"mac_override", CAP_MAC_OVERRIDE},
    {"mac_admin", CAP_MAC_ADMIN},
    {"syslog", CAP_SYSLOG},
    {"wake_alarm", CAP_WAKE_ALARM},
    {"block_suspend", CAP_BLOCK_SUSPEND},
    {"audit_read", CAP_AUDIT_READ},
    {"perfmon", CAP_PERFMON},
    {"bpf", CAP_BPF},
    {"checkpoint_restore", CAP_CHECKPOINT_RESTORE},
}};

std::optional<int> cap_number(std::string_view name) {
    for (const auto& c : kCaps)
        if (c.name == name) return c.number;
    return std::nullopt;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

Result<void> check_label(std::string_view label, std::string_view whole) {
    auto bad = [whole](std::string why) {
        return Error::make(Errc::bad_value,
                           "invalid hostname '" + std::string(whole) + "': " + why);
    };
    if (label.empty()) return bad("empty label (two dots in a row, or a leading or trailing dot)");
    if (label.size() > kMaxLabelLen)
        return bad("label '" + std::string(label) + "' is longer than 63 characters");
    for (char c : label)
        if (!is_alnum(c) && c != '-')
            return bad("'" + std::string(1, c) +
                       "' is not allowed (use letters, digits, '-' and '.')");
    if (label.front() == '-' || label.back() == '-')
        return bad("label '" + std::string(label) + "' starts or ends with '-'");
    return ok();
}

// The directories of a VPS beneath the storage root.
Result<std::string> storage_root(const HostFacts& host) {
    std::string root = host.storage_root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (root.empty() || root.front() != '/')
        return Error::make(Errc::bad_value,
                           "storage root '" + host.storage_root + "' is not an absolute path");
    if (root == "/") root.clear();  // "/" + "/private/101" must not start with "//"
    return root;
}

std::vector<std::string> default_env() {
    return {"container=vz", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=linux", "HOME=/root"};
}

std::vector<int> cap_numbers(const std::vector<std::string>& names) {
    std::vector<int> out;
    for (const auto& n : names)
        if (auto num = cap_number(n)) out.push_back(*num);
    return out;
}

params::HostBounds bounds(const HostFacts& host) {
    params::HostBounds b;
    b.cpus = std::max<uint32_t>(host.cpus, 1);
    b.numa_nodes = std::max<uint32_t>(host.numa_nodes, 1);
    b.nr_open = host.nr_open;
    return b;
}

// numfile as setrlimit takes it: "unlimited" becomes the most the kernel
// allows (fs.nr_open), as RLIM_INFINITY fails with EPERM.
std::optional<Rlimit> nofile_limit(const params::Resources& res, const HostFacts& host) {
    if (!res.numfile) return std::nullopt;
    auto cap = [&host](uint64_t v) {
        return v == params::kUnlimited && host.nr_open > 0 ? host.nr_open : v;
    };
    return Rlimit{cap(res.numfile->barrier), cap(res.numfile->limit)};
}

// quotactl(2) spells "no limit" 0.
std::optional<params::BarrierLimit> quota_terms(const std::optional<params::BarrierLimit>& bl) {
    if (!bl) return std::nullopt;
    auto q = [](uint64_t v) { return v == params::kUnlimited ? 0 : v; };
    return params::BarrierLimit{q(bl->barrier), q(bl->limit)};
}

std::optional<DiskQuota> disk_quota(const params::Resources& res) {
    if (!res.diskspace && !res.diskinodes) return std::nullopt;
    return DiskQuota{quota_terms(res.diskspace), quota_terms(res.diskinodes)};
}

// Identity checks (ctid, name, hostname); problems are appended.
void check_identity(const config::VpsConfig& cfg, std::vector<std::string>& problems) {
    if (cfg.ctid == 0 || cfg.ctid > kMaxCtid)
        problems.push_back("ctid: " + std::to_string(cfg.ctid) + " is not a valid CTID (use 1.." +
                           std::to_string(kMaxCtid) + ")");
    if (!cfg.name.empty())
        if (auto r = check_name(cfg.name); !r) problems.push_back("name: " + r.error().detail());
    if (auto r = check_hostname(cfg.hostname); !r)
        problems.push_back("hostname: " + r.error().detail());
}

}  // namespace

const std::vector<std::string>& default_caps_drop() {
    // Host-wide powers: loading code into the kernel, raw devices, the
    // clock, reboot, LSM policy, the kernel log, accounting, audit, eBPF and
    // perf, and checkpoint/restore of other processes. What a normal distro
    // needs (sys_admin within its namespaces, sys_nice, lease,
    // linux_immutable) stays.
    static const std::vector<std::string> caps{
        "sys_module",   "sys_rawio",     "sys_time",   "sys_boot",  "mac_admin",
        "mac_override", "syslog",        "wake_alarm", "sys_pacct", "audit_control",
        "audit_read",   "block_suspend", "bpf",        "perfmon",   "checkpoint_restore",
    };
    return caps;
}

const std::vector<std::string>& privileged_caps_drop() {
    static const std::vector<std::string> caps{"sys_admin"};
    return caps;
}

Result<std::pair<std::string, bool>> parse_capability(std::string_view text) {
    const std::string shown(text);
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return Error::make(Errc::bad_value, "invalid capability '" + shown + "': expected NAME:on or NAME:off");
    std::string name(text.substr(0, colon));
    const std::string_view state = text.substr(colon + 1);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.rfind("cap_", 0) == 0) name.erase(0, 4);
    if (!cap_number(name))
        return Error::make(Errc::bad_value, "invalid capability '" + shown + "': unknown capability '" + name +
                                                "' (names as capabilities(7), e.g. sys_admin)");
    if (state != "on" && state != "off")
        return Error::make(Errc::bad_value, "invalid capability '" + shown + "': expected on or off after ':'");
    return std::pair{name, state == "on"};
}

const std::vector<std::string>& default_seccomp_deny() {
    // Syscalls that act on the whole host whatever namespace the caller is
    // in. Names some architectures lack (vm86, stime, the pre-2.6 module
    // calls) are listed anyway: the seccomp step skips names libseccomp
    // cannot resolve.
    static const std::vector<std::string> deny{
        // Replacing or extending the running kernel.
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "create_module",
        "get_kernel_syms",
        "query_module",
        "uselib",
        // Host-wide state: swap, process accounting, the kernel log, nfsd.
        "swapon",
        "swapoff",
        "acct",
        "syslog",
        "nfsservctl",
        // The kernel keyring is not namespaced.
        "keyctl",
        "add_key",
        "request_key",
        // Raw hardware and kernel introspection.
        "iopl",
        "ioperm",
        "vm86",
        "vm86old",
        "lookup_dcookie",
        "bpf",
        "perf_event_open",
        // Setting the clock (reading it through adjtimex stays allowed).
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "stime",
        // Opens any inode by handle, bypassing the mount namespace.
        "open_by_handle_at",
        // Stalls kernel page faults at the caller's will: the classic tool
        // for winning kernel races.
        "userfaultfd",
    };
    return deny;
}

Result<uint32_t> parse_ctid(std::string_view text) {
    auto bad = [text](std::string why) {
        return Error::make(Errc::bad_argument, "invalid CTID '" + std::string(text) + "': " + why);
    };
    if (text.empty()) return bad("empty (use 1..2147483647)");
    uint64_t v = 0;
    for (char c : text) {
        if (!is_digit(c)) return bad("not a number (use 1..2147483647)");
        v = v * 10 + static_cast<uint64_t>(c - '0');
        if (v > kMaxCtid) return bad("out of range (use 1..2147483647)");
    }
    if (v == 0) return bad("out of range (use 1..2147483647)");
    // "0101" and "101" would name the same VPS under two spellings.
    if (text.front() == '0') return bad("leading zero (write it without)");
    return static_cast<uint32_t>(v);
}

Result<void> check_name(std::string_view name) {
    auto bad = [name](std::string why) {
        return Error::make(Errc::bad_argument, "invalid name '" + std::string(name) + "': " + why);
    };
    if (name.empty()) return bad("empty");
    if (name.size() > kMaxNameLen) return bad("longer than 64 characters");
    bool has_non_digit = false;
    for (char c : name) {
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
            return bad("'" + std::string(1, c) +
                       "' is not allowed (use letters, digits, '.', '_', '-')");
        has_non_digit = has_non_digit || !is_digit(c);
    }
    // An all-digit name could not be told apart from a CTID on the command line.
    if (!has_non_digit) return bad("all digits (it would read as a CTID)");
    // "-x" reads as an option; "." and ".." are directory entries.
    if (name.front() == '-') return bad("starts with '-'");
    if (name == "." || name == "..") return bad("not a usable name");
    return ok();
}

Result<void> check_hostname(std::string_view hostname) {
    if (hostname.empty()) return ok();  // unset: the plan falls back to the CTID
    if (hostname.size() > kMaxHostnameLen)
        return Error::make(Errc::bad_value, "invalid hostname '" + std::string(hostname) +
                                                "': longer than 253 characters");
    size_t start = 0;
    for (;;) {
        size_t dot = hostname.find('.', start);
        auto label = hostname.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (auto r = check_label(label, hostname); !r) return r;
        if (dot == std::string_view::npos) return ok();
        start = dot + 1;
    }
}

namespace {

// The bounding set a VPS loses: the defaults, for a privileged VPS also
// privileged_caps_drop(), then the config's CAPABILITY entries. Only what a
// VPS may hold can be turned on; problems and warnings are appended.
std::vector<std::string> caps_to_drop(const config::VpsConfig& cfg, bool disk_quota,
                                      std::vector<std::string>& problems, std::vector<std::string>& warnings) {
    const auto& never = default_caps_drop();
    std::vector<std::string> drop = never;
    const bool privileged = cfg.id_base == 0;
    if (privileged) drop.insert(drop.end(), privileged_caps_drop().begin(), privileged_caps_drop().end());
    // Quota hard limits do not bind a holder of CAP_SYS_RESOURCE: a VPS
    // with a disk quota must not have it, or its root could fill the disk.
    if (disk_quota) drop.push_back("sys_resource");
    for (const auto& entry : cfg.capability) {
        auto cap = parse_capability(entry);
        if (!cap) {
            problems.push_back("capability: " + cap.error().detail());
            continue;
        }
        const auto& [name, on] = *cap;
        if (!on) {
            if (std::find(drop.begin(), drop.end(), name) == drop.end()) drop.push_back(name);
            continue;
        }
        if (std::find(never.begin(), never.end(), name) != never.end()) {
            problems.push_back("capability: " + name + " acts on the whole host and is never given to a VPS");
            continue;
        }
        if (name == "sys_resource" && disk_quota) {
            problems.push_back("capability: sys_resource:on would let root exceed diskspace and diskinodes");
            continue;
        }
        std::erase(drop, name);
        if (privileged && name == "sys_admin")
            warnings.push_back("capability sys_admin:on in a privileged VPS: its root can mount and remount "
                               "file systems the host shares with it; give it to trusted VPSes only");
    }
    return drop;
}

}  // namespace

Result<Plan> build(const config::VpsConfig& cfg, const HostFacts& host) {
    std::vector<std::string> problems;
    check_identity(cfg, problems);
    auto root = storage_root(host);
    if (!root) problems.push_back(root.error().detail());
    auto res = params::parse_all(cfg.params, bounds(host));
    if (!res) problems.push_back(res.error().detail());
    Network net = build_network(cfg, problems);
    std::vector<std::string> cap_warnings;
    auto drop = caps_to_drop(cfg, res && (res->diskspace || res->diskinodes), problems, cap_warnings);
    if (!cfg.id_mapping.empty() && cfg.id_mapping != "mount" && cfg.id_mapping != "shift")
        problems.push_back("id_mapping: '" + cfg.id_mapping + "' is not mount or shift");
    if (!problems.empty()) {
        std::string msg;
        for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
        return Error::make(Errc::bad_value, msg);
    }

    Plan p;
    p.ctid = cfg.ctid;
    p.name = cfg.name;
    p.hostname = cfg.hostname.empty() ? std::to_string(cfg.ctid) : cfg.hostname;
    p.hostname_configured = !cfg.hostname.empty();
    p.private_dir = *root + "/private/" + std::to_string(cfg.ctid);
    p.root_dir = *root + "/root/" + std::to_string(cfg.ctid);
    p.init_argv = {"/sbin/init"};
    p.init_env = default_env();
    // busybox init powers off on SIGUSR2; sysvinit and systemd differ, which
    // a per-template setting will cover.
    p.stop_signal = SIGUSR2;
    p.resources = std::move(res).value();
    p.rlimit_nofile = nofile_limit(p.resources, host);
    p.disk_quota = disk_quota(p.resources);
    p.ipc_sysctls = params::ipc_sysctls(p.resources);
    p.warnings = params::warnings(cfg.params);
    p.warnings.insert(p.warnings.end(), cap_warnings.begin(), cap_warnings.end());
    p.caps_drop = cap_numbers(drop);
    p.seccomp_deny = default_seccomp_deny();
    p.net = std::move(net);
    if (cfg.id_base != 0) {
        p.uid_map = {IdMap{0, cfg.id_base, kIdRangeSize}};
        p.gid_map = p.uid_map;
        p.idmapped_root = cfg.id_mapping == "mount";
    }
    if (host.cgroup2) p.cgroup_view = p.uid_map.empty() ? CgroupView::read_only : CgroupView::delegated;
    return p;
}

}  // namespace vps::plan
