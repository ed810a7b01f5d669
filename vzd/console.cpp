#include "console.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "vps/sys.hpp"

namespace vzd {

vps::Result<ConsolePty> open_console() {
    auto master = vps::sys::open("/dev/ptmx", O_RDWR | O_NOCTTY);
    if (!master) return std::move(master).error();
    if (::grantpt(master->get()) < 0 || ::unlockpt(master->get()) < 0)
        return vps::Error::sys("unlockpt", "/dev/ptmx");
    char name[64];
    if (::ptsname_r(master->get(), name, sizeof name) != 0) return vps::Error::sys("ptsname", "/dev/ptmx");
    // O_NOCTTY: the console must never become vzd's controlling terminal,
    // nor init's, so that vzd going away does not hang up the VPS.
    auto slave = vps::sys::open(name, O_RDWR | O_NOCTTY);
    if (!slave) return std::move(slave).error();
    // The console is an output log: no echo, no CR/LF translation.
    termios t{};
    if (::tcgetattr(slave->get(), &t) == 0) {
        ::cfmakeraw(&t);
        t.c_oflag |= OPOST | ONLCR;
        ::tcsetattr(slave->get(), TCSANOW, &t);
    }
    return ConsolePty{std::move(*master), std::move(*slave), name};
}

void drain_console(vps::Fd master, vps::Fd init_pidfd, const std::string& log_path, size_t max_bytes) {
    auto log = vps::sys::open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    char buf[8192];
    size_t written = 0;
    if (log) {
        struct stat st {};
        if (::fstat(log->get(), &st) == 0) written = static_cast<size_t>(st.st_size);
    }
    for (;;) {
        ssize_t n = ::read(master.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            // EIO: no slave is open now. Over for good once init is gone;
            // otherwise the VPS hung its console up and will reopen it.
            pollfd p{init_pidfd.get(), POLLIN, 0};
            if (!init_pidfd || ::poll(&p, 1, 100) != 0) return;
            continue;
        }
        if (!log) continue;
        if (written + static_cast<size_t>(n) > max_bytes) {
            (void)!::ftruncate(log->get(), 0);
            written = 0;
        }
        if (vps::sys::write_all(log->ref(), std::string_view(buf, static_cast<size_t>(n))))
            written += static_cast<size_t>(n);
    }
}

}  // namespace vzd
