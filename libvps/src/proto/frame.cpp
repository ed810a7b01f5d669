// Frames on a stream socket: a 4-byte big-endian length, then the payload.
// File descriptors ride along as SCM_RIGHTS on the first chunk.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "vps/proto.hpp"

namespace vps::proto {
namespace {

constexpr size_t kHeaderSize = 4;
// SCM_MAX_FD: the most the kernel lets a sender attach. With room for all of
// them an over-long list arrives whole and is closed here, instead of being
// cut short by the kernel (MSG_CTRUNC).
constexpr size_t kMaxCmsgFds = 253;

using Clock = std::chrono::steady_clock;

Error protocol_error(std::string detail) { return Error::make(Errc::protocol, std::move(detail)); }

Error oversized(uint64_t size) {
    return protocol_error("frame of " + std::to_string(size) + " bytes exceeds the " +
                          std::to_string(kMaxFrame) + "-byte limit");
}

Error too_many_fds(size_t n) {
    return protocol_error(std::to_string(n) + " file descriptors in one frame (at most " +
                          std::to_string(kMaxFds) + ")");
}

// The whole frame shares one timeout, however many reads it takes.
class Deadline {
  public:
    explicit Deadline(int timeout_ms)
        : forever_(timeout_ms < 0), end_(Clock::now() + std::chrono::milliseconds(timeout_ms)) {}
    int remaining_ms() const {
        if (forever_) return -1;
        auto left = std::chrono::ceil<std::chrono::milliseconds>(end_ - Clock::now()).count();
        return left > 0 ? static_cast<int>(left) : 0;
    }

  private:
    bool forever_;
    Clock::time_point end_;
};

// Wait for the socket to become readable (or writable) within the deadline.
// Returns false on timeout.
Result<bool> wait_for(FdRef sock, short events, const Deadline& dl) {
    for (;;) {
        struct pollfd p {
            sock.get(), events, 0
        };
        int n = ::poll(&p, 1, dl.remaining_ms());
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return Error::sys("poll");
    }
}

// Move every descriptor the message carried into owners at once, so that
// none leaks whatever happens next.
void take_fds(msghdr& msg, std::vector<Fd>& out) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            out.emplace_back(fd);
        }
    }
}

// Progress through one frame, for the errors that describe where it stopped.
struct Reader {
    FdRef sock;
    Deadline deadline;
    Frame frame;
    size_t received = 0;  // bytes of this frame so far, header included
};

// One recvmsg into buf; returns the byte count (0 = EOF, -1 with errno).
ssize_t recv_chunk(Reader& rd, char* buf, size_t len, bool& ctrunc) {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxCmsgFds)];
    iovec iov{buf, len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    // CLOEXEC from birth: a received fd must never reach a VPS's init.
    ssize_t n = ::recvmsg(rd.sock.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    take_fds(msg, rd.frame.fds);
    ctrunc = ctrunc || (msg.msg_flags & MSG_CTRUNC) != 0;
    return n;
}

Error timed_out(const Reader& rd) {
    if (rd.received == 0) return protocol_error("timed out waiting for a request");
    return protocol_error("timed out in the middle of a frame (" + std::to_string(rd.received) +
                          " bytes received)");
}

// Read exactly len bytes, across short reads, EINTR and a non-blocking socket.
Result<void> read_exact(Reader& rd, char* buf, size_t len) {
    size_t got = 0;
    bool ctrunc = false;
    while (got < len) {
        auto ready = wait_for(rd.sock, POLLIN, rd.deadline);
        if (!ready) return std::move(ready).error();
        if (!*ready) return timed_out(rd);
        ssize_t n = recv_chunk(rd, buf + got, len - got, ctrunc);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            return Error::sys("recvmsg");
        }
        if (n == 0) {
            if (rd.received == 0) return protocol_error("connection closed before a frame arrived");
            return protocol_error("truncated frame (connection closed after " +
                                  std::to_string(rd.received) + " bytes)");
        }
        got += static_cast<size_t>(n);
        rd.received += static_cast<size_t>(n);
    }
    if (ctrunc || rd.frame.fds.size() > kMaxFds) {
        size_t n = rd.frame.fds.size();
        rd.frame.fds.clear();  // closes them
        return too_many_fds(ctrunc ? std::max(n, kMaxFds + 1) : n);
    }
    return ok();
}

void put_be32(unsigned char* out, uint32_t v) {
    out[0] = static_cast<unsigned char>(v >> 24);
    out[1] = static_cast<unsigned char>(v >> 16);
    out[2] = static_cast<unsigned char>(v >> 8);
    out[3] = static_cast<unsigned char>(v);
}

uint32_t get_be32(const unsigned char* in) {
    return uint32_t{in[0]} << 24 | uint32_t{in[1]} << 16 | uint32_t{in[2]} << 8 | uint32_t{in[3]};
}

// One sendmsg of what is left of header + payload; fds only if attach.
ssize_t send_chunk(FdRef sock, const unsigned char* header, std::string_view payload, size_t sent,
                   const std::vector<int>& fds, bool attach) {
    iovec iov[2];
    int n_iov = 0;
    if (sent < kHeaderSize)
        iov[n_iov++] = {const_cast<unsigned char*>(header + sent), kHeaderSize - sent};
    size_t body_off = sent > kHeaderSize ? sent - kHeaderSize : 0;
    if (body_off < payload.size())
        iov[n_iov++] = {const_cast<char*>(payload.data() + body_off), payload.size() - body_off};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n_iov);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    if (attach && !fds.empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    // MSG_NOSIGNAL: a vanished peer is an EPIPE error, not a fatal SIGPIPE.
    return ::sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
}

}  // namespace

Result<void> send_frame(FdRef sock, std::string_view payload, const std::vector<int>& fds) {
    if (payload.size() > kMaxFrame) return oversized(payload.size());
    if (fds.size() > kMaxFds) return too_many_fds(fds.size());
    unsigned char header[kHeaderSize];
    put_be32(header, static_cast<uint32_t>(payload.size()));
    const size_t total = kHeaderSize + payload.size();
    size_t sent = 0;
    bool attach = true;
    while (sent < total) {
        ssize_t n = send_chunk(sock, header, payload, sent, fds, attach);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                auto ready = wait_for(sock, POLLOUT, Deadline(-1));
                if (!ready) return std::move(ready).error();
                continue;
            }
            return Error::sys("sendmsg");
        }
        attach = false;  // the kernel took them with the first bytes
        sent += static_cast<size_t>(n);
    }
    return ok();
}

Result<Frame> recv_frame(FdRef sock, int timeout_ms) {
    Reader rd{sock, Deadline(timeout_ms), {}, 0};
    unsigned char header[kHeaderSize];
    if (auto r = read_exact(rd, reinterpret_cast<char*>(header), kHeaderSize); !r)
        return std::move(r).error();
    uint32_t size = get_be32(header);
    // Refuse before reading: a peer must not make us buffer gigabytes.
    if (size > kMaxFrame) return oversized(size);
    rd.frame.payload.resize(size);
    if (size > 0)
        if (auto r = read_exact(rd, rd.frame.payload.data(), size); !r) return std::move(r).error();
    return std::move(rd.frame);
}

}  // namespace vps::proto
