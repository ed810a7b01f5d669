#include "vps/fd.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace vps {

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

PidFd& PidFd::operator=(PidFd&& o) noexcept {
    if (this != &o) {
        kill_and_reap();
        pid_ = std::exchange(o.pid_, -1);
        fd_ = std::move(o.fd_);
    }
    return *this;
}

PidFd::~PidFd() { kill_and_reap(); }

void PidFd::kill_and_reap() {
    if (pid_ <= 0) return;
    if (fd_.valid())
        ::syscall(SYS_pidfd_send_signal, fd_.get(), SIGKILL, nullptr, 0);
    else
        ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

int PidFd::wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    pid_ = -1;
    return r < 0 ? -1 : status;
}

}  // namespace vps
