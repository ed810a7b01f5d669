#include "terminal.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string_view>

#include "vps/console.hpp"

namespace vzctl {
namespace {

using Clock = std::chrono::steady_clock;

// An Esc typed into the console waits this long for a '.' before it goes
// on alone (vi users press Esc by itself).
constexpr auto kEscHold = std::chrono::milliseconds(500);

class RawMode {
  public:
    RawMode() {
        if (!::isatty(0) || ::tcgetattr(0, &saved_) < 0) return;
        termios raw = saved_;
        ::cfmakeraw(&raw);
        if (::tcsetattr(0, TCSANOW, &raw) == 0) active_ = true;
    }
    ~RawMode() {
        if (active_) ::tcsetattr(0, TCSANOW, &saved_);
    }
    RawMode(const RawMode&) = delete;
    RawMode& operator=(const RawMode&) = delete;

  private:
    termios saved_{};
    bool active_ = false;
};

// A console socket has no window size: this is a no-op there.
void copy_winsize(int master) {
    winsize ws{};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
}

bool write_all(int fd, std::string_view data) {
    const char* p = data.data();
    size_t n = data.size();
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// Pass on what the peer still writes until it has been quiet for quiet_ms.
void drain(int master, char* buf, size_t size, int quiet_ms) {
    pollfd p{master, POLLIN, 0};
    while (::poll(&p, 1, quiet_ms) > 0) {
        ssize_t n = ::read(master, buf, size);
        if (n <= 0 || !write_all(1, std::string_view(buf, static_cast<size_t>(n)))) return;
    }
}

enum class Step { more, closed, detached };

struct Session {
    Session(vps::FdRef p, vps::FdRef d, bool c) : peer(p), daemon(d), console(c) {}
    vps::FdRef peer;    // enter: the pty master; console: vzd's socket
    vps::FdRef daemon;  // enter: vzd answers on it when the shell exits
    bool console = false;
    bool stdin_open = true;
    vps::console::DetachScanner keys;  // console only
    Clock::time_point esc_deadline;    // while keys holds an Esc
    char buf[16384];
};

Step from_peer(Session& s) {
    ssize_t n = ::read(s.peer.get(), s.buf, sizeof s.buf);
    if (n < 0 && errno == EINTR) return Step::more;
    // enter: EIO once the shell and everything on the pty exited;
    // console: end of file once vzd let go of the console.
    if (n <= 0) return Step::closed;
    return write_all(1, std::string_view(s.buf, static_cast<size_t>(n))) ? Step::more
                                                                         : Step::closed;
}

Step stdin_ended(Session& s) {
    s.stdin_open = false;
    if (s.console) {
        (void)write_all(s.peer.get(), s.keys.flush());
        drain(s.peer.get(), s.buf, sizeof s.buf, 500);
        return Step::detached;
    }
    return write_all(s.peer.get(), "\x04") ? Step::more : Step::closed;  // Ctrl-D
}

Step from_stdin(Session& s) {
    ssize_t n = ::read(0, s.buf, sizeof s.buf);
    if (n < 0 && errno == EINTR) return Step::more;
    if (n <= 0) return stdin_ended(s);
    const std::string_view typed(s.buf, static_cast<size_t>(n));
    if (!s.console) return write_all(s.peer.get(), typed) ? Step::more : Step::closed;
    auto out = s.keys.feed(typed);
    if (s.keys.holding()) s.esc_deadline = Clock::now() + kEscHold;
    if (!write_all(s.peer.get(), out.pass)) return Step::closed;
    return out.detach ? Step::detached : Step::more;
}

// How long poll may wait: until a held Esc is due, else for ever.
int poll_timeout(const Session& s) {
    if (!s.keys.holding()) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(s.esc_deadline - Clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
}

Step run(Session& s) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    vps::Fd winch(::signalfd(-1, &set, SFD_CLOEXEC));
    copy_winsize(s.peer.get());
    RawMode raw;
    for (Step step = Step::more;;) {
        pollfd p[4] = {{s.peer.get(), POLLIN, 0},
                       {s.stdin_open ? 0 : -1, POLLIN, 0},
                       {winch.get(), POLLIN, 0},
                       {s.daemon.get(), POLLIN, 0}};
        const int ready = ::poll(p, 4, poll_timeout(s));
        if (ready < 0 && errno != EINTR) return Step::closed;
        if (s.keys.holding() && Clock::now() >= s.esc_deadline &&
            !write_all(s.peer.get(), s.keys.flush()))
            return Step::closed;
        if (ready <= 0) continue;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && (step = from_peer(s)) != Step::more)
            return step;
        if (p[1].revents & (POLLIN | POLLHUP) && (step = from_stdin(s)) != Step::more) return step;
        if (p[2].revents & POLLIN) {
            signalfd_siginfo si;
            (void)!::read(winch.get(), &si, sizeof si);
            copy_winsize(s.peer.get());
        }
        // The daemon answers once more when the shell's helper exits; pass
        // on what the shell wrote last, then stop.
        if (p[3].revents) {
            drain(s.peer.get(), s.buf, sizeof s.buf, 100);
            return Step::closed;
        }
    }
}

}  // namespace

void relay(vps::FdRef master, vps::FdRef daemon) {
    Session s(master, daemon, false);
    (void)run(s);
}

ConsoleEnd relay_console(vps::FdRef console) {
    Session s(console, vps::FdRef(), true);
    return run(s) == Step::detached ? ConsoleEnd::detached : ConsoleEnd::closed;
}

}  // namespace vzctl
