#include "daemon.hpp"

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <thread>

#include "vps/guestfs.hpp"
#include "vps/sys.hpp"

namespace vzd {

namespace proto = vps::proto;
namespace sys = vps::sys;

namespace {

// Is stderr the journal? systemd says so in JOURNAL_STREAM ("dev:inode" of
// the stream it connected); journald then reads a "<N>" prefix as the
// line's syslog priority (sd-daemon(3)).
bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (!stream) return false;
    struct stat st {};
    if (::fstat(2, &st) < 0) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    return dev == st.st_dev && ino == st.st_ino;
}

}  // namespace

void log(LogLevel level, const std::string& msg) {
    static const bool journal = stderr_is_journal();
    // One line per event; systemd adds the timestamp when it runs us.
    if (journal) std::fprintf(stderr, "<%d>", static_cast<int>(level));
    std::fprintf(stderr, "vzd: %s\n", msg.c_str());
    std::fflush(stderr);
}

void log(const std::string& msg) {
    log(msg.rfind("warning:", 0) == 0 ? LogLevel::warning : LogLevel::info, msg);
}

namespace {

// State-changing operations under way, for a vzd that is asked to exit:
// it lets them finish first (see Daemon::run).
std::mutex in_flight_m;
std::condition_variable in_flight_done;
int in_flight = 0;

}  // namespace

Result<OpLock> OpLock::take(Vps& v, const char* what) {
    if (!v.op.try_lock()) {
        std::lock_guard g(v.m);
        return Error::make(Errc::busy, "VPS " + std::to_string(v.ctid) + " is locked by another " +
                                           "operation (" + v.op_name + ")");
    }
    {
        std::lock_guard g(in_flight_m);
        ++in_flight;
    }
    std::lock_guard g(v.m);
    v.op_name = what;
    return OpLock(&v);
}

OpLock::~OpLock() {
    if (!v_) return;
    {
        std::lock_guard g(v_->m);
        v_->op_name.clear();
    }
    v_->op.unlock();
    {
        std::lock_guard g(in_flight_m);
        --in_flight;
    }
    in_flight_done.notify_all();
}

int operations_in_flight() {
    std::lock_guard g(in_flight_m);
    return in_flight;
}

bool wait_for_operations(std::chrono::seconds limit) {
    std::unique_lock g(in_flight_m);
    return in_flight_done.wait_for(g, limit, [] { return in_flight == 0; });
}

Daemon::Daemon(vps::config::GlobalConfig cfg, vps::storage::Layout layout)
    : cfg_(std::move(cfg)), layout_(std::move(layout)) {}

Result<std::unique_ptr<Daemon>> Daemon::create(const Options& opts) {
    if (opts.root.empty() || opts.root[0] != '/')
        return Error::make(Errc::bad_argument, "--root must be an absolute path");
    auto cfg = vps::config::load_global(opts.root + "/vz.yaml");
    if (!cfg) return std::move(cfg).error();
    if (!opts.socket.empty()) cfg->socket = opts.socket;
    vps::storage::Layout layout(opts.root, cfg->runtime_dir);
    std::unique_ptr<Daemon> d(new Daemon(std::move(*cfg), std::move(layout)));
    d->serving_ = !opts.stop_all;
    if (auto r = d->init(); !r) return std::move(r).error();
    return d;
}

namespace {

Result<vps::Fd> lock_root(const std::string& root) {
    auto fd = sys::open(root + "/.vzd.lock", O_RDWR | O_CREAT, 0600);
    if (!fd) return std::move(fd).error();
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return Error::make(Errc::busy, "another vzd already serves " + root);
        return Error::sys("flock", root + "/.vzd.lock");
    }
    return std::move(*fd);
}

Result<vps::Fd> listen_on(const std::string& path) {
    // The root lock proves no other vzd owns this storage root; a socket
    // file left behind by a killed vzd is stale.
    ::unlink(path.c_str());
    auto fd = sys::unix_listen(path, 128);
    if (!fd) return fd;
    // Everyone may connect so that a refused caller gets a clear answer;
    // the daemon decides by peer credentials.
    if (::chmod(path.c_str(), 0666) < 0) return Error::sys("chmod", path);
    return fd;
}

cgroups::Mode cgroup_mode(const std::string& m) {
    if (m == "v1") return cgroups::Mode::v1;
    if (m == "v2") return cgroups::Mode::v2;
    return cgroups::Mode::automatic;
}

}  // namespace

Result<void> Daemon::init() {
    if (auto r = layout_.create_dirs(); !r) return r;
    auto lock = lock_root(layout_.root());
    if (!lock) return std::move(lock).error();
    root_lock_ = std::move(*lock);
    probe_host();

    cgroups::Options copts;
    copts.mode = cgroup_mode(cfg_.cgroup_mode);
    copts.base = cfg_.cgroup_base;
    copts.daemon_leaf = "vzd";
    copts.within = systemd_scope(cfg_.cgroup_base, layout_.root(), serving_);
    auto backend = cgroups::open_backend(copts);
    if (!backend) return std::move(backend).error().with_context("cgroups");
    cgroups_ = std::move(*backend);
    log("cgroup " + std::string(cgroups_->name()) + " backend at " + cgroups_->describe());

    auto ctids = layout_.list_ctids();
    if (!ctids) return std::move(ctids).error();
    for (uint32_t id : *ctids) {
        auto cfg = load_config(id);
        if (!cfg) {
            log("warning: " + cfg.error().message());
            continue;
        }
        if (!cfg->name.empty()) names_[cfg->name] = id;
    }
    if (serving_) stored_fds_ = take_stored_fds();
    adopt_running();
    recover_interrupted();
    // Kept for VPSes that are gone: systemd need not keep them any longer.
    for (const auto& [name, fd] : stored_fds_) sd_notify("FDSTOREREMOVE=1\nFDNAME=" + name);
    stored_fds_.clear();
    if (!serving_) return vps::ok();

    auto fd = listen_on(cfg_.socket);
    if (!fd) return std::move(fd).error();
    listen_ = std::move(*fd);
    return vps::ok();
}

// Before exiting, let operations under way end (a restart must not cut a
// create in half), as long as the slowest one could take: a stop that
// waits stop_timeout and then up to 30 s for the kill. One still running
// then is finished or undone by the next vzd (recover.cpp).
void Daemon::drain() {
    const int n = operations_in_flight();
    if (n == 0) return;
    const auto limit = std::chrono::seconds(cfg_.stop_timeout + 35);
    log("waiting up to " + std::to_string(limit.count()) + " s for " + std::to_string(n) +
        " operation(s) under way to finish");
    if (!wait_for_operations(limit))
        log(LogLevel::warning, "exiting with " + std::to_string(operations_in_flight()) +
                                   " operation(s) unfinished; the next vzd finishes or undoes them");
}

Result<void> Daemon::run() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) return Error::sys("signalfd");
    vps::Fd sig(sfd);
    log("listening on " + cfg_.socket + " for " + layout_.root());
    // Ready once the socket answers; onboot VPSes start behind that, so a
    // slow one never holds up `systemctl start vzd` or other requests.
    sd_notify("READY=1\nSTATUS=serving " + layout_.root());
    std::thread([this] { start_onboot(); }).detach();
    for (;;) {
        pollfd pfd[2] = {{listen_.get(), POLLIN, 0}, {sig.get(), POLLIN, 0}};
        if (::poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return Error::sys("poll");
        }
        if (pfd[1].revents & POLLIN) {
            sd_notify("STOPPING=1");
            listen_.reset();
            ::unlink(cfg_.socket.c_str());
            drain();
            log("exiting on signal; running VPSes keep running");
            return vps::ok();
        }
        if (!(pfd[0].revents & POLLIN)) continue;
        int c = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        std::thread([this, conn = vps::Fd(c)]() mutable { serve(std::move(conn)); }).detach();
    }
}

namespace {

Result<Peer> peer_of(vps::FdRef conn) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return Error::sys("getsockopt", "SO_PEERCRED");
    return Peer{cred.pid, cred.uid, cred.gid};
}

bool in_group(const Peer& peer, gid_t gid) {
    if (peer.gid == gid) return true;
    auto status = sys::read_file("/proc/" + std::to_string(peer.pid) + "/status", 1 << 16);
    if (!status) return false;
    for (const auto& line : sys::split(*status, '\n')) {
        if (line.rfind("Groups:", 0) != 0) continue;
        for (const auto& g : sys::split(sys::trim(line.substr(7)), ' '))
            if (!g.empty() && std::to_string(gid) == g) return true;
    }
    return false;
}

void reply(vps::FdRef conn, const proto::Response& resp, const std::vector<int>& fds = {}) {
    (void)proto::send_frame(conn, proto::to_text(proto::encode(resp)), fds);
}

proto::Response failure(Error e) {
    proto::Response r;
    r.ok = false;
    r.error = std::move(e);
    return r;
}

}  // namespace

Result<void> Daemon::authorize(const Peer& peer) const {
    if (peer.uid == 0) return vps::ok();
    if (!cfg_.admin_group.empty()) {
        if (group* g = ::getgrnam(cfg_.admin_group.c_str()); g && in_group(peer, g->gr_gid))
            return vps::ok();
    }
    std::string who = "uid " + std::to_string(peer.uid);
    std::string how = cfg_.admin_group.empty() ? "only root may manage VPSes"
                                               : "only root and group '" + cfg_.admin_group +
                                                     "' may manage VPSes";
    return Error::make(Errc::permission, "permission denied: " + how + " (caller is " + who + ")");
}

void Daemon::serve(vps::Fd conn) {
    auto peer = peer_of(conn.ref());
    if (!peer) return;
    // A client that connects and never sends is dropped after 10 s.
    auto frame = proto::recv_frame(conn.ref(), 10000);
    if (!frame) {
        reply(conn.ref(), failure(std::move(frame).error()));
        return;
    }
    auto json = proto::parse_json(frame->payload);
    if (!json) {
        reply(conn.ref(), failure(std::move(json).error()));
        return;
    }
    auto req = proto::decode_request(*json);
    if (!req) {
        reply(conn.ref(), failure(std::move(req).error()));
        return;
    }
    if (auto r = authorize(*peer); !r) {
        log("refused " + std::string(proto::op_name(req->op)) + " from uid " +
            std::to_string(peer->uid));
        reply(conn.ref(), failure(std::move(r).error()));
        return;
    }
    proto::Response resp = handle(*req, frame->fds, *peer, conn.ref());
    // enter sends its own reply (with the pty master) before it returns.
    if (req->op != proto::Op::enter || !resp.ok) reply(conn.ref(), resp);
}

Result<nlohmann::json> Daemon::dispatch(const proto::Request& req, std::vector<vps::Fd>& fds, const Peer& peer,
                                        vps::FdRef conn) {
    using proto::Op;
    Result<nlohmann::json> out = nlohmann::json::object();
    auto with_ctid = [&](auto&& fn) -> Result<nlohmann::json> {
        auto id = resolve(req.target);
        if (!id) return std::move(id).error();
        return fn(*id);
    };
    switch (req.op) {
        case Op::ping:
            out = nlohmann::json{{"pong", true}, {"uid", peer.uid}};
            break;
        case Op::create:
            out = op_create(req);
            break;
        case Op::start:
            out = with_ctid([&](uint32_t id) { return op_start(id); });
            break;
        case Op::stop:
            out = with_ctid(
                [&](uint32_t id) { return op_stop(id, req.args.value("fast", false)); });
            break;
        case Op::restart:
            out = with_ctid([&](uint32_t id) { return op_restart(id); });
            break;
        case Op::destroy:
            out = with_ctid([&](uint32_t id) { return op_destroy(id, req.args.value("keep_area", false)); });
            break;
        case Op::status:
            out = op_status(req.target);
            break;
        case Op::list:
            out = op_list();
            break;
        case Op::ubc:
            out = with_ctid([&](uint32_t id) { return op_ubc(id); });
            break;
        case Op::set:
            out = with_ctid([&](uint32_t id) { return op_set(id, req.args); });
            break;
        case Op::exec:
            out = with_ctid([&](uint32_t id) { return op_exec(id, req.args, fds, conn); });
            break;
        case Op::enter:
            out = with_ctid([&](uint32_t id) { return op_enter(id, req.args, conn); });
            break;
        case Op::console:
            out = with_ctid([&](uint32_t id) { return op_console(id, fds); });
            break;
        case Op::template_build:
            out = op_template_build(req.args, fds, conn);
            break;
        case Op::template_list:
            out = op_template_list();
            break;
        case Op::stop_all:
            out = op_stop_all();
            break;
        case Op::chkpnt:
            out = with_ctid([&](uint32_t id) { return op_chkpnt(id, req.args); });
            break;
        case Op::restore:
            out = with_ctid([&](uint32_t id) { return op_restore(id, req.args); });
            break;
        case Op::migrate_in: {
            // The VPS does not exist here yet: its target is a CTID.
            auto id = vps::plan::parse_ctid(req.target);
            out = id ? op_migrate_in(*id, req.args) : Result<nlohmann::json>(std::move(id).error());
            break;
        }
    }
    return out;
}

proto::Response Daemon::handle(const proto::Request& req, std::vector<vps::Fd>& fds,
                               const Peer& peer, vps::FdRef conn) {
    using proto::Op;
    Result<nlohmann::json> out = nlohmann::json::object();
    // An argument of the wrong JSON type (a string where a flag belongs)
    // makes nlohmann::json throw; it is the client's error, never vzd's end.
    try {
        out = dispatch(req, fds, peer, conn);
    } catch (const nlohmann::json::exception& e) {
        out = Error::make(Errc::protocol, "malformed arguments for " + std::string(proto::op_name(req.op)) + ": " + e.what());
    }
    if (!out) {
        Error e = std::move(out).error();
        if (req.op != Op::list && req.op != Op::status && req.op != Op::ubc && req.op != Op::template_list)
            log(LogLevel::error, std::string(proto::op_name(req.op)) + " " + req.target + ": " + e.message());
        return failure(std::move(e));
    }
    proto::Response r;
    r.result = std::move(*out);
    return r;
}

std::shared_ptr<Vps> Daemon::entry(uint32_t ctid) {
    std::lock_guard g(registry_m_);
    auto& slot = vpses_[ctid];
    if (!slot) slot = std::make_shared<Vps>(ctid);
    return slot;
}

Result<uint32_t> Daemon::resolve(const std::string& target) {
    if (target.empty()) return Error::make(Errc::bad_argument, "no CTID given");
    bool numeric = std::all_of(target.begin(), target.end(), ::isdigit);
    if (!numeric) {
        std::lock_guard g(registry_m_);
        auto it = names_.find(target);
        if (it != names_.end()) return it->second;
        if (auto r = vps::plan::check_name(target); !r) return std::move(r).error();
        return Error::make(Errc::no_such_vps, "VPS '" + target + "' does not exist");
    }
    auto id = vps::plan::parse_ctid(target);
    if (!id) return id;
    if (!sys::exists(layout_.conf(*id)))
        return Error::make(Errc::no_such_vps, "VPS " + target + " does not exist");
    return id;
}

Result<vps::plan::Plan> Daemon::load_plan(uint32_t ctid, vps::config::VpsConfig* cfg_out) const {
    auto cfg = load_config(ctid);
    if (!cfg) return std::move(cfg).error();
    if (cfg->ctid != ctid)
        return Error::make(Errc::bad_config, layout_.conf(ctid) + ": ctid " +
                                                 std::to_string(cfg->ctid) + " does not match the file name");
    auto plan = plan_for(*cfg);
    if (!plan) return std::move(plan).error().with_context(layout_.conf(ctid));
    if (cfg_out) *cfg_out = std::move(*cfg);
    return plan;
}

// systemd powers off on SIGRTMIN+4 in a container (systemd(1), SIGNALS);
// what /sbin/init is, is the template's business, so every plan looks it up
// in the VPS's own files (none yet at create: the default stays).
void Daemon::adapt_to_init(vps::plan::Plan& plan) const {
    auto root = vps::guestfs::open_root(plan.private_dir);
    if (!root) return;
    auto init = vps::guestfs::resolve(*root, "sbin/init");
    if (!init || !*init) return;
    const std::string& path = **init;
    if (path.substr(path.rfind('/') + 1) == "systemd") plan.stop_signal = SIGRTMIN + 4;
}

int wait_or_hangup(vps::PidFd& child, vps::FdRef conn, const std::function<void()>& on_hangup) {
    for (;;) {
        // Only a hang-up of the client matters here; bytes it sends after
        // its request are not read (polling for them would spin).
        pollfd p[2] = {{child.fd().get(), POLLIN, 0}, {conn.get(), POLLRDHUP, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[0].revents) break;
        if (p[1].revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) {
            on_hangup();
            break;
        }
    }
    return child.wait();
}

Result<vps::plan::Plan> Daemon::plan_for(const vps::config::VpsConfig& cfg) const {
    auto plan = vps::plan::build(cfg, facts());
    if (!plan) return plan;
    resolve_bridges(*plan);
    adapt_to_init(*plan);
    return plan;
}

}  // namespace vzd
