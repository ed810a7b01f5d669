// Owners for kernel handles: Fd owns a descriptor, FdRef borrows one,
// PidFd owns a child process (killed and reaped unless released),
// ScopeExit runs an undo unless dismissed.
#pragma once

#include <sys/types.h>

#include <functional>
#include <utility>

namespace vps {

class FdRef {
public:
    constexpr FdRef() = default;
    constexpr explicit FdRef(int fd) : fd_(fd) {}
    constexpr int get() const { return fd_; }
    constexpr bool valid() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    FdRef ref() const { return FdRef(fd_); }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// A child process we started. Unless release()d or waited for, the
// destructor kills it with SIGKILL and reaps it, so an early return can
// never leak a half-started VPS init.
class PidFd {
public:
    PidFd() = default;
    PidFd(pid_t pid, Fd fd) : pid_(pid), fd_(std::move(fd)) {}
    PidFd(PidFd&& o) noexcept : pid_(std::exchange(o.pid_, -1)), fd_(std::move(o.fd_)) {}
    PidFd& operator=(PidFd&& o) noexcept;
    PidFd(const PidFd&) = delete;
    PidFd& operator=(const PidFd&) = delete;
    ~PidFd();

    pid_t pid() const { return pid_; }
    FdRef fd() const { return fd_.ref(); }
    bool valid() const { return pid_ > 0; }
    // Give up ownership: the process lives on (a running VPS init).
    Fd release() {
        pid_ = -1;
        return std::move(fd_);
    }
    // Wait for exit; returns the wait status (as from waitpid), or -1.
    int wait();

private:
    void kill_and_reap();
    pid_t pid_ = -1;
    Fd fd_;
};

class ScopeExit {
public:
    explicit ScopeExit(std::function<void()> f) : f_(std::move(f)) {}
    ScopeExit(const ScopeExit&) = delete;
    ScopeExit& operator=(const ScopeExit&) = delete;
    ~ScopeExit() {
        if (f_) f_();
    }
    void dismiss() { f_ = nullptr; }

private:
    std::function<void()> f_;
};

}  // namespace vps
