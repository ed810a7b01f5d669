#include "terminal.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

namespace vzctl {
namespace {

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

void copy_winsize(int master) {
    winsize ws{};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
}

bool write_all(int fd, const char* p, size_t n) {
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

void drain(int master, char* buf, size_t size) {
    pollfd p{master, POLLIN, 0};
    while (::poll(&p, 1, 100) > 0) {
        ssize_t n = ::read(master, buf, size);
        if (n <= 0 || !write_all(1, buf, static_cast<size_t>(n))) return;
    }
}

}  // namespace

void relay(vps::FdRef master, vps::FdRef daemon) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    vps::Fd winch(::signalfd(-1, &set, SFD_CLOEXEC));
    copy_winsize(master.get());
    RawMode raw;
    bool stdin_open = true;
    char buf[16384];
    for (;;) {
        pollfd p[4] = {{master.get(), POLLIN, 0},
                       {stdin_open ? 0 : -1, POLLIN, 0},
                       {winch.get(), POLLIN, 0},
                       {daemon.get(), POLLIN, 0}};
        if (::poll(p, 4, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::read(master.get(), buf, sizeof buf);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                return;  // EIO: the shell and everything on the pty exited
            }
            if (!write_all(1, buf, static_cast<size_t>(n))) return;
        }
        if (p[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = ::read(0, buf, sizeof buf);
            if (n <= 0) {
                stdin_open = false;
                const char eot = 4;
                (void)write_all(master.get(), &eot, 1);
            } else if (!write_all(master.get(), buf, static_cast<size_t>(n))) {
                return;
            }
        }
        if (p[2].revents & POLLIN) {
            signalfd_siginfo si;
            (void)!::read(winch.get(), &si, sizeof si);
            copy_winsize(master.get());
        }
        // The daemon answers once more when the shell's helper exits; pass
        // on what the shell wrote last, then stop.
        if (p[3].revents) {
            drain(master.get(), buf, sizeof buf);
            return;
        }
    }
}

}  // namespace vzctl
