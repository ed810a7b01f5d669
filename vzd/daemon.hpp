// vzd: owns every VPS of one storage root. Listens on a Unix socket, checks
// the caller's credentials, runs each request on its own thread (so a long
// operation on one VPS never blocks requests for others) and supervises
// each running VPS's init through its pidfd.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "cgroups/backend.hpp"
#include "vps/config.hpp"
#include "vps/config_cache.hpp"
#include "vps/fd.hpp"
#include "vps/intent.hpp"
#include "vps/plan.hpp"
#include "vps/proto.hpp"
#include "vps/runtime.hpp"
#include "vps/storage.hpp"

namespace vzd {

using vps::Error;
using vps::Errc;
using vps::Result;

struct Options {
    std::string root = "/var/lib/vz";
    std::string socket;  // overrides vz.yaml when set
    // vzd --stop-all: stop every running VPS of the root (host shutdown),
    // through the serving vzd or, with none, by itself; then exit.
    bool stop_all = false;
};

struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

class ConsoleHub;  // console.hpp
struct ConsolePty;

// A running VPS's init as vzd knows it.
struct RunningInit {
    pid_t pid = 0;
    vps::Fd pidfd;
    uint64_t start_time = 0;
    int64_t started_at = 0;
    bool is_child = false;  // started by this vzd (we reap it) or adopted
    // Its console's clients (`vzctl console`); none for an adopted VPS,
    // whose console master went with the vzd that started it.
    std::shared_ptr<ConsoleHub> console;
};

struct Vps {
    explicit Vps(uint32_t id) : ctid(id) {}
    const uint32_t ctid;
    std::mutex op;  // held for the whole of a state-changing operation
    std::mutex m;   // guards everything below
    std::condition_variable changed;
    std::string op_name;
    std::optional<RunningInit> running;
    std::unique_ptr<cgroups::Group> group;
    vps::plan::Plan plan;       // what it runs with now
    vps::config::VpsConfig cfg;  // the config behind `plan`, live changes included
};

class Daemon {
public:
    static Result<std::unique_ptr<Daemon>> create(const Options& opts);
    // Serve until SIGTERM or SIGINT; running VPSes are left running.
    Result<void> run();
    // Host shutdown (boot.cpp): stop every running VPS, all at once, and
    // note which ran so that the next boot starts them again (those whose
    // onboot is unset; onboot yes starts anyway, no never).
    Result<nlohmann::json> op_stop_all();

private:
    Daemon(vps::config::GlobalConfig cfg, vps::storage::Layout layout);
    Result<void> init();
    void drain();
    bool serving_ = true;  // false for vzd --stop-all: no socket, no onboot, no new scope
    void adopt_running();
    // recover.cpp: finish or undo what a vzd that died left half done.
    void recover_interrupted();
    Result<void> recovery_step(const vps::intent::Record& r, vps::intent::Step step);
    // Kill what is left in a VPS's cgroup, remove it, its host-side
    // network and state file.
    void clear_run(uint32_t ctid);
    void adopt_console(Vps& v);
    Result<std::unique_ptr<cgroups::Group>> prepare_group(const vps::plan::Plan& plan);
    // checkpoint.cpp: CRIU.
    Result<nlohmann::json> op_chkpnt(uint32_t ctid, const nlohmann::json& args);
    Result<nlohmann::json> op_restore(uint32_t ctid, const nlohmann::json& args);
    std::string dump_dir_for(uint32_t ctid, const nlohmann::json& args) const;
    // The restore itself, with the VPS's op lock held (restore, migrate).
    Result<nlohmann::json> restore_locked(Vps& v, uint32_t ctid, const std::string& dir);
    // migrate.cpp: the destination's side of vzctl migrate.
    Result<nlohmann::json> op_migrate_in(uint32_t ctid, const nlohmann::json& args);
    Result<nlohmann::json> migrate_commit(Vps& v, uint32_t ctid, const nlohmann::json& args);
    std::string migrate_staging(uint32_t ctid) const;
    Result<void> check_incoming(uint32_t ctid, const vps::config::VpsConfig& cfg, bool online);
    // Place an init that runs (restored) as the VPS's: state file, watch,
    // console thread, fd store.
    Result<void> take_over(Vps& v, pid_t pid, std::unique_ptr<cgroups::Group> group, vps::plan::Plan plan,
                           vps::config::VpsConfig cfg, ConsolePty console, std::shared_ptr<ConsoleHub> hub);
    void serve(vps::Fd conn);
    vps::proto::Response handle(const vps::proto::Request& req, std::vector<vps::Fd>& fds,
                                const Peer& peer, vps::FdRef conn);
    Result<nlohmann::json> dispatch(const vps::proto::Request& req, std::vector<vps::Fd>& fds, const Peer& peer,
                                    vps::FdRef conn);
    Result<void> authorize(const Peer& peer) const;

    // Registry.
    std::shared_ptr<Vps> entry(uint32_t ctid);
    // A VPS's config as on disk now (parsed again only when it changed).
    Result<vps::config::VpsConfig> load_config(uint32_t ctid) const { return configs_.load(layout_.conf(ctid)); }
    Result<uint32_t> resolve(const std::string& target);
    // cfg_out, when given, gets the config the plan was built from.
    Result<vps::plan::Plan> load_plan(uint32_t ctid, vps::config::VpsConfig* cfg_out = nullptr) const;
    Result<void> reserve_name(const std::string& name, uint32_t ctid);
    void unreserve_name(const std::string& name, uint32_t ctid);
    Result<std::map<uint32_t, uint32_t>> used_id_ranges(uint32_t ctid) const;
    Result<uint32_t> reserve_id_range(uint32_t ctid);
    Result<void> claim_id_range(uint32_t base, uint32_t ctid);
    void unreserve_id_range(uint32_t base);
    std::string choose_id_mapping(const vps::config::VpsConfig& cfg) const;
    void adapt_to_init(vps::plan::Plan& plan) const;
    // boot.cpp: onboot VPSes, once per host boot.
    std::vector<uint32_t> onboot_order() const;
    void start_onboot();
    Result<nlohmann::json> bring_back(uint32_t id, bool suspended);
    Result<nlohmann::json> set_passwords(const vps::config::VpsConfig& cfg, const nlohmann::json& args) const;
    Result<std::map<std::string, std::string>> load_sample(const std::string& name) const;
    vps::plan::HostFacts facts() const;

    // Host facts behind limits (limits.cpp).
    void probe_host();
    cgroups::Limits limits_for(const vps::plan::Plan& plan) const;
    std::vector<std::string> warnings_for(const vps::plan::Plan& plan) const;
    Result<void> apply_disk_quota(const vps::plan::Plan& plan) const;
    Result<void> tag_private_area(const std::string& dir, uint32_t ctid) const;
    vps::runtime::Lxcfs lxcfs_mounts() const;

    // Networking (network.cpp).
    // Apply a request's "net" changes (ipadd, netif_add ...) to a config;
    // true when there were any.
    Result<bool> apply_net_args(vps::config::VpsConfig& cfg, const nlohmann::json& args) const;
    // The request with every --netif_add field that has a default filled in
    // (MACs generated, host interface name chosen against `cfg`).
    Result<nlohmann::json> complete_net_args(const vps::config::VpsConfig& cfg, const nlohmann::json& args) const;
    void resolve_bridges(vps::plan::Plan& plan) const;
    Result<void> check_network(uint32_t ctid, const vps::plan::Network& net,
                               const vps::plan::Network* current) const;
    void clean_host_side(uint32_t ctid, const vps::plan::Network& net) const;
    // Host-side network and name of a VPS leaving this host (destroy).
    void forget_host_side(uint32_t ctid, const Result<vps::config::VpsConfig>& cfg);
    // /etc/hostname, /etc/hosts (when hostname_files) and /etc/resolv.conf
    // inside the VPS's private area.
    Result<void> write_identity(const vps::plan::Plan& plan, bool hostname_files) const;
    Result<vps::plan::Plan> plan_for(const vps::config::VpsConfig& cfg) const;

    // Operations (ops.cpp, exec_ops.cpp).
    Result<nlohmann::json> op_create(const vps::proto::Request& req);
    Result<nlohmann::json> op_start(uint32_t ctid);
    Result<nlohmann::json> op_stop(uint32_t ctid, bool fast);
    Result<nlohmann::json> op_restart(uint32_t ctid);
    // keep_area: what a migration with --remove-area no leaves on the
    // source: the private area, and the config as <ctid>.yaml.migrated.
    Result<nlohmann::json> op_destroy(uint32_t ctid, bool keep_area = false);
    Result<nlohmann::json> op_status(const std::string& target);
    Result<nlohmann::json> op_list();
    Result<nlohmann::json> op_ubc(uint32_t ctid);
    nlohmann::json held_counters(Vps& v);
    Result<nlohmann::json> op_set(uint32_t ctid, const nlohmann::json& args);
    Result<bool> edit_config(vps::config::VpsConfig& cfg, const nlohmann::json& args) const;
    Result<void> apply_live(Vps& v, const vps::plan::Plan& plan, const std::string& hostname, bool net_changed);
    Result<nlohmann::json> op_exec(uint32_t ctid, const nlohmann::json& args,
                                   std::vector<vps::Fd>& fds, vps::FdRef conn);
    Result<nlohmann::json> op_enter(uint32_t ctid, const nlohmann::json& args, vps::FdRef conn);
    // console.cpp: attach the client's end of a socket pair to the console.
    Result<nlohmann::json> op_console(uint32_t ctid, std::vector<vps::Fd>& fds);
    // templates.cpp: OS templates built with mmdebstrap into the template cache.
    Result<nlohmann::json> op_template_build(const nlohmann::json& args, std::vector<vps::Fd>& fds, vps::FdRef conn);
    Result<nlohmann::json> op_template_list() const;

    // Supervision (supervise.cpp).
    Result<void> start_locked(Vps& v);
    Result<void> check_reachable(const vps::plan::Plan& plan) const;
    Result<void> stop_locked(Vps& v, bool fast);
    void watch(std::shared_ptr<Vps> v, vps::Fd pidfd);
    void on_init_exit(Vps& v);
    bool is_running(Vps& v);
    uint64_t nproc(Vps& v);

    vps::config::GlobalConfig cfg_;
    vps::storage::Layout layout_;
    mutable vps::config::ConfigCache configs_;
    std::unique_ptr<cgroups::Backend> cgroups_;
    vps::Fd root_lock_;
    // Console masters systemd kept across our restart ("console-<ctid>"),
    // until adopt_running() takes them.
    std::map<std::string, vps::Fd> stored_fds_;
    vps::Fd listen_;
    uint32_t host_cpus_ = 1;
    uint32_t numa_nodes_ = 1;
    uint64_t nr_open_ = 1048576;
    std::string io_device_;        // "MAJ:MIN" of the disk under private/
    std::string io_device_error_;  // why there is none
    bool quota_enabled_ = false;
    std::string quota_off_reason_;

    std::mutex registry_m_;
    std::mutex template_build_m_;  // one template build at a time
    std::map<uint32_t, std::shared_ptr<Vps>> vpses_;
    std::map<std::string, uint32_t> names_;
    std::set<uint32_t> reserved_bases_;  // id ranges of creates in progress
};

// Take the per-VPS operation lock or fail with "busy" (vzctl exit 9).
class OpLock {
public:
    static Result<OpLock> take(Vps& v, const char* what);
    OpLock(OpLock&& o) noexcept : v_(std::exchange(o.v_, nullptr)) {}
    OpLock(const OpLock&) = delete;
    OpLock& operator=(const OpLock&) = delete;
    OpLock& operator=(OpLock&&) = delete;
    ~OpLock();

private:
    explicit OpLock(Vps* v) : v_(v) {}
    Vps* v_;
};

// The on-disk record of an operation under way on one VPS (vps/intent.hpp),
// written before its first change and removed, durably, when it ends.
class IntentRecord {
public:
    static Result<IntentRecord> write(const vps::storage::Layout& layout, uint32_t ctid, vps::intent::Op op,
                                      std::string images = {});
    IntentRecord(IntentRecord&& o) noexcept : path_(std::exchange(o.path_, {})) {}
    IntentRecord(const IntentRecord&) = delete;
    IntentRecord& operator=(const IntentRecord&) = delete;
    IntentRecord& operator=(IntentRecord&&) = delete;
    ~IntentRecord();

private:
    explicit IntentRecord(std::string path) : path_(std::move(path)) {}
    std::string path_;
};

// State-changing operations (OpLock holders) under way in this vzd, and a
// wait until there are none (false: the limit passed first).
int operations_in_flight();
bool wait_for_operations(std::chrono::seconds limit);

// syslog priorities, as journald reads them.
enum class LogLevel { error = 3, warning = 4, notice = 5, info = 6 };
void log(LogLevel level, const std::string& msg);
// Info, or warning for a message that starts with "warning:".
void log(const std::string& msg);

// scope.cpp: under systemd, the cgroup (from the hierarchy's root) of the
// delegated scope VPS groups live in, made with its keeper when missing
// and may_create; "" when vzd is not a systemd service on cgroup v2 (VPS
// groups then live beneath vzd's own cgroup).
std::string systemd_scope(const std::string& cgroup_base, const std::string& root, bool may_create);
// vzd --cgroup-keeper: hold the scope open; never returns on success.
int run_cgroup_keeper();
// vzd --stop-all (boot.cpp). Returns the exit status.
int run_stop_all(const Options& opts);

// Tell the service manager (systemd's NOTIFY_SOCKET, when set) our state:
// "READY=1", "STATUS=...", "STOPPING=1"; with fd, "FDSTORE=1\nFDNAME=..."
// hands systemd a copy to keep for our next start. Without a manager,
// nothing happens.
void sd_notify(const std::string& state, int fd = -1);
// Rollback for a start or restore that failed after its cgroup was made.
void discard_group(cgroups::Group& g);
// The console of a VPS about to start (or be restored), owned by its root.
Result<ConsolePty> console_for(const vps::plan::Plan& plan);
// The fd store's name of a VPS's console master.
inline std::string console_fd_name(uint32_t ctid) { return "console-" + std::to_string(ctid); }
// The fds systemd kept for us (LISTEN_FDS, LISTEN_FDNAMES), by name.
std::map<std::string, vps::Fd> take_stored_fds();

// Wait for a child working for a client; when the client hangs up first,
// on_hangup() stops the child. Returns the child's wait status.
int wait_or_hangup(vps::PidFd& child, vps::FdRef conn, const std::function<void()>& on_hangup);

// A request argument that is a string; absent or another type = "".
std::string str_arg(const nlohmann::json& args, const char* key);
// A request argument that is a list of strings; absent = empty. `prefix`
// names the enclosing object in errors ("net.").
Result<std::vector<std::string>> strings_arg(const nlohmann::json& args, const char* key,
                                             const std::string& prefix = {});

}  // namespace vzd
