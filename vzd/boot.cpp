// What vzd does once per host boot and at host shutdown, and how it tells
// systemd it is ready.
//
// The VPSes marked onboot start when vzd first starts after a boot: a
// marker in runtime_dir (a tmpfs, /run/vzd, that the boot empties) says
// the boot's start-up is done, so a vzd restart or crash later never starts
// a VPS its admin has stopped since. At shutdown (vz.service runs
// `vzd --stop-all`) every running VPS is stopped through its own init and
// the ones that ran are noted; the next boot starts them again unless
// their onboot says no (OpenVZ's rule for an unset ONBOOT). With vz.yaml's
// stop_mode: suspend, a VPS is checkpointed instead of stopped, and the
// next boot restores it.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "daemon.hpp"
#include "vps/sys.hpp"

namespace vzd {
namespace {

namespace sys = vps::sys;
using nlohmann::json;

std::set<uint32_t> read_ctid_list(const std::string& path) {
    std::set<uint32_t> out;
    auto text = sys::read_file(path, 1 << 20);
    if (!text) return out;
    for (const auto& line : sys::split(*text, '\n'))
        if (auto id = vps::plan::parse_ctid(sys::trim(line)); id) out.insert(*id);
    return out;
}

void print_summary(const json& result) {
    for (const auto& id : result.value("suspended", json::array()))
        std::printf("VPS %s suspended\n", id.dump().c_str());
    for (const auto& id : result.value("stopped", json::array()))
        std::printf("VPS %s stopped\n", id.dump().c_str());
    for (const auto& f : result.value("failed", json::array()))
        std::fprintf(stderr, "VPS %s did not stop: %s\n", f.value("ctid", json()).dump().c_str(),
                     f.value("error", std::string()).c_str());
}

}  // namespace

void sd_notify(const std::string& state, int fd) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path || (path[0] != '/' && path[0] != '@')) return;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const size_t len = std::strlen(path);
    if (len >= sizeof sa.sun_path) return;
    std::memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';  // abstract socket
    vps::Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return;
    iovec iov{const_cast<char*>(state.data()), state.size()};
    msghdr msg{};
    msg.msg_name = &sa;
    msg.msg_namelen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    (void)::sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
}

std::map<std::string, vps::Fd> take_stored_fds() {
    std::map<std::string, vps::Fd> out;
    const char* pid = std::getenv("LISTEN_PID");
    const char* count = std::getenv("LISTEN_FDS");
    const char* names = std::getenv("LISTEN_FDNAMES");
    if (!pid || !count || std::to_string(::getpid()) != pid) return out;
    const int n = std::atoi(count);
    const auto labels = sys::split(names ? names : "", ':');
    for (int i = 0; i < n; ++i) {
        const int fd = 3 + i;  // SD_LISTEN_FDS_START
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        vps::Fd owned(fd);
        if (static_cast<size_t>(i) < labels.size() && !labels[i].empty()) out[labels[i]] = std::move(owned);
    }
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    return out;
}

std::vector<uint32_t> Daemon::onboot_order() const {
    std::vector<std::pair<uint32_t, uint32_t>> marked;  // (bootorder, ctid)
    auto ctids = layout_.list_ctids();
    if (!ctids) return {};
    const auto ran = read_ctid_list(layout_.running_at_shutdown());
    for (uint32_t id : *ctids) {
        auto cfg = load_config(id);
        if (!cfg) continue;
        if (cfg->onboot.value_or(ran.count(id) != 0)) marked.emplace_back(cfg->bootorder, id);
    }
    // Higher bootorder first (OpenVZ's rule), then by CTID.
    std::sort(marked.begin(), marked.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::vector<uint32_t> out;
    for (const auto& m : marked) out.push_back(m.second);
    return out;
}

// A VPS suspended at shutdown comes back from its images; one whose
// restore fails starts afresh, its images kept aside for a look.
Result<json> Daemon::bring_back(uint32_t id, bool suspended) {
    const std::string images = layout_.dump_dir() + "/" + std::to_string(id);
    if (suspended && sys::exists(images + "/inventory.img")) {
        auto r = op_restore(id, json::object());
        if (r) return r;
        const std::string aside = images + ".failed";
        (void)sys::remove_tree(aside);
        (void)::rename(images.c_str(), aside.c_str());
        log(LogLevel::warning, "boot: VPS " + std::to_string(id) + " suspended at shutdown could not be restored (" +
                                   r.error().message() + "); its images are in " + aside + "; starting it afresh");
    }
    return op_start(id);
}

void Daemon::start_onboot() {
    const std::string marker = layout_.runtime_dir() + "/onboot.done";
    if (sys::exists(marker)) return;
    const auto order = onboot_order();
    const auto suspended = read_ctid_list(layout_.suspended_at_shutdown());
    size_t started = 0;
    for (uint32_t id : order) {
        auto v = entry(id);
        if (is_running(*v)) continue;
        auto r = bring_back(id, suspended.count(id) != 0);
        if (r) ++started;
        log("boot: VPS " + std::to_string(id) +
            (r ? (r->value("restore_ms", -1) >= 0 ? " restored" : " started") : " did not start: " + r.error().message()));
    }
    if (!order.empty()) log("boot: " + std::to_string(started) + " of " + std::to_string(order.size()) + " onboot VPSes started");
    if (auto r = sys::write_file_atomic(marker, "", 0600); !r)
        log("warning: " + r.error().message() + ": onboot VPSes will be started again at the next vzd start");
    ::unlink(layout_.running_at_shutdown().c_str());
    ::unlink(layout_.suspended_at_shutdown().c_str());
}

Result<json> Daemon::op_stop_all() {
    auto ctids = layout_.list_ctids();
    if (!ctids) return std::move(ctids).error();
    std::vector<uint32_t> running;
    for (uint32_t id : *ctids)
        if (is_running(*entry(id))) running.push_back(id);
    // Noted before stopping: a shutdown that cuts this short still brings
    // them back.
    std::string list;
    for (uint32_t id : running) list += std::to_string(id) + "\n";
    if (auto r = sys::write_file_atomic(layout_.running_at_shutdown(), list, 0600); !r)
        log("warning: " + r.error().message() + ": the next boot starts only VPSes with onboot yes");
    const bool suspend = cfg_.stop_mode == "suspend";
    log("shutdown: " + std::string(suspend ? "suspending " : "stopping ") + std::to_string(running.size()) +
        " running VPSes");
    // All at once: each waits for its own init (up to stop_timeout), and a
    // host with many VPSes must not take their sum to power off.
    std::vector<Result<json>> results(running.size(), json());
    std::vector<std::thread> stoppers;
    for (size_t i = 0; i < running.size(); ++i)
        stoppers.emplace_back([this, &results, &running, suspend, i] {
            if (suspend) {
                auto r = op_chkpnt(running[i], json::object());
                if (r) {
                    results[i] = std::move(r);
                    return;
                }
                log(LogLevel::warning, "shutdown: VPS " + std::to_string(running[i]) +
                                           " could not be suspended, stopping it: " + r.error().message());
            }
            results[i] = op_stop(running[i], false);
        });
    for (auto& t : stoppers) t.join();
    json out{{"stopped", json::array()}, {"suspended", json::array()}, {"failed", json::array()}};
    std::string suspended_list;
    for (size_t i = 0; i < running.size(); ++i) {
        if (results[i]) {
            // op_chkpnt answers "suspended", op_stop "stopped".
            const bool suspended = results[i]->value("status", std::string()) == "suspended";
            out[suspended ? "suspended" : "stopped"].push_back(running[i]);
            if (suspended) suspended_list += std::to_string(running[i]) + "\n";
            continue;
        }
        log("shutdown: VPS " + std::to_string(running[i]) + " did not stop: " + results[i].error().message());
        out["failed"].push_back(json{{"ctid", running[i]}, {"error", results[i].error().message()}});
    }
    if (auto r = sys::write_file_atomic(layout_.suspended_at_shutdown(), suspended_list, 0600); !r)
        log("warning: " + r.error().message() + ": the next boot starts the suspended VPSes afresh");
    return out;
}

int run_stop_all(const Options& opts) {
    // A serving vzd does it; with none (stopped by its admin, or dead), this
    // process takes the root over for the job.
    auto cfg = vps::config::load_global(opts.root + "/vz.yaml");
    if (!cfg) {
        std::fprintf(stderr, "vzd: %s\n", cfg.error().message().c_str());
        return vps::exit_code(cfg.error().code());
    }
    const std::string socket = opts.socket.empty() ? cfg->socket : opts.socket;
    Result<json> result = json();
    if (auto conn = sys::unix_connect(socket); conn) {
        vps::proto::Request req{vps::proto::Op::stop_all, {}, json::object()};
        auto sent = vps::proto::send_frame(conn->ref(), vps::proto::to_text(vps::proto::encode(req)));
        auto frame = sent ? vps::proto::recv_frame(conn->ref()) : Result<vps::proto::Frame>(std::move(sent).error());
        auto resp = frame ? vps::proto::parse_json(frame->payload) : Result<json>(std::move(frame).error());
        auto decoded = resp ? vps::proto::decode_response(*resp) : Result<vps::proto::Response>(std::move(resp).error());
        if (!decoded) result = std::move(decoded).error();
        else if (!decoded->ok) result = decoded->error;
        else result = decoded->result;
    } else {
        auto daemon = Daemon::create(opts);
        if (!daemon) result = std::move(daemon).error();
        // Never destroyed: its watcher threads may still be finishing as
        // the process exits.
        else result = daemon->release()->op_stop_all();
    }
    if (!result) {
        std::fprintf(stderr, "vzd: stop all VPSes: %s\n", result.error().message().c_str());
        return vps::exit_code(result.error().code());
    }
    print_summary(*result);
    return result->value("failed", json::array()).empty() ? 0 : 1;
}

}  // namespace vzd
