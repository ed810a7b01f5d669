#include "console.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>

#include "daemon.hpp"
#include "vps/console.hpp"
#include "vps/sys.hpp"

namespace vzd {

vps::Result<ConsolePty> open_console() {
    auto master = vps::sys::open("/dev/ptmx", O_RDWR | O_NOCTTY);
    if (!master) return std::move(master).error();
    if (::grantpt(master->get()) < 0 || ::unlockpt(master->get()) < 0)
        return vps::Error::sys("unlockpt", "/dev/ptmx");
    char name[64];
    if (::ptsname_r(master->get(), name, sizeof name) != 0)
        return vps::Error::sys("ptsname", "/dev/ptmx");
    // O_NOCTTY: the console must never become vzd's controlling terminal,
    // nor init's, so that vzd going away does not hang up the VPS.
    auto slave = vps::sys::open(name, O_RDWR | O_NOCTTY);
    if (!slave) return std::move(slave).error();
    // The console is an output log: no echo, no CR/LF translation. A getty
    // on the console sets the terminal up as it needs.
    termios t{};
    if (::tcgetattr(slave->get(), &t) == 0) {
        ::cfmakeraw(&t);
        t.c_oflag |= OPOST | ONLCR;
        ::tcsetattr(slave->get(), TCSANOW, &t);
    }
    return ConsolePty{std::move(*master), std::move(*slave), name};
}

vps::Result<std::shared_ptr<ConsoleHub>> ConsoleHub::create() {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return vps::Error::sys("eventfd", "console");
    return std::make_shared<ConsoleHub>(vps::Fd(fd));
}

void ConsoleHub::attach(vps::Fd client) {
    std::lock_guard g(m_);
    clients_.push_back(std::move(client));
    const uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
}

bool ConsoleHub::wait_finished(std::chrono::milliseconds timeout) {
    std::unique_lock g(m_);
    return finished_cv_.wait_for(g, timeout, [this] { return finished_; });
}

std::vector<int> ConsoleHub::clients() {
    std::lock_guard g(m_);
    std::vector<int> out;
    for (const auto& c : clients_) out.push_back(c.get());
    return out;
}

void ConsoleHub::broadcast(std::string_view data) {
    std::lock_guard g(m_);
    std::erase_if(clients_, [data](const vps::Fd& c) {
        ssize_t n = ::send(c.get(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        return n < 0 && errno != EAGAIN && errno != EINTR;
    });
}

void ConsoleHub::drop(int client) {
    std::lock_guard g(m_);
    std::erase_if(clients_, [client](const vps::Fd& c) { return c.get() == client; });
}

void ConsoleHub::finish() {
    {
        std::lock_guard g(m_);
        finished_ = true;
    }
    finished_cv_.notify_all();
}

namespace {

// The console log: appended to, and started afresh when it would grow past
// its bound.
class ConsoleLog {
  public:
    ConsoleLog(const std::string& path, size_t max_bytes) : max_(max_bytes) {
        auto fd = vps::sys::open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (!fd) return;
        fd_ = std::move(*fd);
        struct stat st {};
        if (::fstat(fd_.get(), &st) == 0) written_ = static_cast<size_t>(st.st_size);
    }
    void append(std::string_view data) {
        if (!fd_) return;
        if (written_ + data.size() > max_) {
            (void)!::ftruncate(fd_.get(), 0);
            written_ = 0;
        }
        if (vps::sys::write_all(fd_.ref(), data)) written_ += data.size();
    }

  private:
    vps::Fd fd_;
    size_t written_ = 0;
    size_t max_;
};

bool init_gone(vps::FdRef pidfd) {
    pollfd p{pidfd.get(), POLLIN, 0};
    return !pidfd.valid() || ::poll(&p, 1, 0) != 0;
}

// Type what a client sent into the console; false when the client is gone.
// The master does not block: what the console cannot take now (nobody in
// the VPS reads it) is dropped rather than allowed to stall the log.
bool from_client(int client, vps::FdRef master) {
    char buf[4096];
    ssize_t n = ::read(client, buf, sizeof buf);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n > 0) (void)!::write(master.get(), buf, static_cast<size_t>(n));
    return n > 0;
}

}  // namespace

void serve_console(vps::Fd master, vps::Fd init_pidfd, const std::string& log_path,
                   size_t max_bytes, std::shared_ptr<ConsoleHub> hub) {
    ConsoleLog log(log_path, max_bytes);
    ::fcntl(master.get(), F_SETFL, ::fcntl(master.get(), F_GETFL) | O_NONBLOCK);
    // No slave open: the VPS hung its console up. The master then polls as
    // ready at once, so it is left out for a while, watching init instead.
    bool hung = false;
    char buf[8192];
    for (;;) {
        std::vector<pollfd> p{{hung ? -1 : master.get(), POLLIN, 0},
                              {hung ? init_pidfd.get() : -1, POLLIN, 0},
                              {hub->wake().get(), POLLIN, 0}};
        for (int c : hub->clients()) p.push_back({c, POLLIN, 0});
        if (::poll(p.data(), p.size(), hung ? 100 : -1) < 0 && errno != EINTR) break;
        uint64_t woken;
        if (p[2].revents) (void)!::read(hub->wake().get(), &woken, sizeof woken);
        for (size_t i = 3; i < p.size(); ++i)
            if (p[i].revents && !from_client(p[i].fd, master.ref())) hub->drop(p[i].fd);
        if (std::exchange(hung, false) || !p[0].revents) continue;
        ssize_t n = ::read(master.get(), buf, sizeof buf);
        if (n > 0) {
            log.append(std::string_view(buf, static_cast<size_t>(n)));
            hub->broadcast(std::string_view(buf, static_cast<size_t>(n)));
            continue;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        // EIO: no slave is open now. Over for good once init is gone;
        // otherwise the VPS will reopen its console.
        if (init_gone(init_pidfd.ref())) break;
        hung = true;
    }
    hub->finish();
}

vps::Error start_failed(const vps::storage::Layout& layout, uint32_t ctid, vps::Error e) {
    (void)vps::sys::write_file_atomic(layout.start_failure(ctid), e.message() + "\n", 0600);
    auto tail = vps::console::read_tail(layout.console_log(ctid), vps::console::kTailLines);
    return vps::console::with_tail(std::move(e), tail ? *tail : std::vector<std::string>{});
}

nlohmann::json start_failure(const vps::storage::Layout& layout, uint32_t ctid) {
    auto why = vps::sys::read_file(layout.start_failure(ctid), 1 << 16);
    if (!why) return nlohmann::json::object();
    auto tail = vps::console::read_tail(layout.console_log(ctid), vps::console::kTailLines);
    return nlohmann::json{{"start_error", vps::sys::trim(*why)},
                          {"console_tail", tail ? *tail : std::vector<std::string>{}}};
}

namespace {

// The client's end must be a Unix stream socket: vzd writes to it without
// blocking and reads what the user types from it.
Result<void> check_client(vps::FdRef fd) {
    int type = 0;
    int domain = 0;
    socklen_t len = sizeof type;
    bool ok = ::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
    len = sizeof domain;
    ok = ok && ::getsockopt(fd.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
         domain == AF_UNIX;
    if (!ok)
        return Error::make(Errc::protocol, "console needs one end of a Unix stream socket pair");
    return vps::ok();
}

}  // namespace

Result<nlohmann::json> Daemon::op_console(uint32_t ctid, std::vector<vps::Fd>& fds) {
    if (fds.size() != 1)
        return Error::make(Errc::protocol, "console needs one end of a socket pair");
    if (auto r = check_client(fds[0].ref()); !r) return std::move(r).error();
    auto v = entry(ctid);
    std::shared_ptr<ConsoleHub> hub;
    {
        std::lock_guard g(v->m);
        if (!v->running)
            return Error::make(Errc::not_running,
                               "VPS " + std::to_string(ctid) + " is not running");
        hub = v->running->console;
    }
    if (!hub)
        return Error::make(Errc::system, "the console of VPS " + std::to_string(ctid) +
                                             " is not available: it was started by an earlier vzd "
                                             "(restart the VPS to get it back)");
    hub->attach(std::move(fds[0]));
    fds.clear();
    return nlohmann::json{{"ctid", ctid}};
}

}  // namespace vzd
