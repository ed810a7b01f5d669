// What vzd does once per host boot, and how it tells systemd it is ready.
//
// The VPSes marked onboot start when vzd first starts after a boot: a
// marker in runtime_dir (a tmpfs, /run/vzd, that the boot empties) says
// the boot's start-up is done, so a vzd restart or crash later never starts
// a VPS its admin has stopped since.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "daemon.hpp"
#include "vps/sys.hpp"

namespace vzd {
namespace {

namespace sys = vps::sys;

}  // namespace

void sd_notify(const std::string& state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path || (path[0] != '/' && path[0] != '@')) return;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const size_t len = std::strlen(path);
    if (len >= sizeof sa.sun_path) return;
    std::memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';  // abstract socket
    vps::Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return;
    const auto salen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    (void)::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), salen);
}

std::vector<uint32_t> Daemon::onboot_order() const {
    std::vector<std::pair<uint32_t, uint32_t>> marked;  // (bootorder, ctid)
    auto ctids = layout_.list_ctids();
    if (!ctids) return {};
    for (uint32_t id : *ctids) {
        auto cfg = vps::config::load_vps(layout_.conf(id));
        if (cfg && cfg->onboot) marked.emplace_back(cfg->bootorder, id);
    }
    // Higher bootorder first (OpenVZ's rule), then by CTID.
    std::sort(marked.begin(), marked.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::vector<uint32_t> out;
    for (const auto& m : marked) out.push_back(m.second);
    return out;
}

void Daemon::start_onboot() {
    const std::string marker = layout_.runtime_dir() + "/onboot.done";
    if (sys::exists(marker)) return;
    const auto order = onboot_order();
    size_t started = 0;
    for (uint32_t id : order) {
        auto v = entry(id);
        if (is_running(*v)) continue;
        auto r = op_start(id);
        if (r) ++started;
        log("boot: VPS " + std::to_string(id) + (r ? " started" : " did not start: " + r.error().message()));
    }
    if (!order.empty()) log("boot: " + std::to_string(started) + " of " + std::to_string(order.size()) + " onboot VPSes started");
    if (auto r = sys::write_file_atomic(marker, "", 0600); !r)
        log("warning: " + r.error().message() + ": onboot VPSes will be started again at the next vzd start");
}

}  // namespace vzd
