// Reading a VPS's System V IPC usage. /proc/sysvipc/* shows the IPC
// namespace of the reading process, so a helper joins the VPS's namespace,
// reads the three tables and sends the counts back over a pipe.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vps/runtime.hpp"
#include "vps/sys.hpp"

namespace vps::runtime {
namespace {

// Rows of a /proc/sysvipc table (after its header), split on blanks.
std::vector<std::vector<std::string>> table_rows(const std::string& path) {
    std::vector<std::vector<std::string>> rows;
    auto text = sys::read_file(path, 8u << 20);
    if (!text) return rows;
    auto lines = sys::split(*text, '\n');
    for (size_t i = 1; i < lines.size(); ++i) {
        std::vector<std::string> cols;
        for (auto& c : sys::split(lines[i], ' '))
            if (!c.empty()) cols.push_back(c);
        if (!cols.empty()) rows.push_back(std::move(cols));
    }
    return rows;
}

uint64_t column(const std::vector<std::string>& row, size_t i) {
    if (i >= row.size()) return 0;
    try {
        return std::stoull(row[i]);
    } catch (...) {
        return 0;
    }
}

IpcUsage read_ipc() {
    IpcUsage u;
    for (const auto& row : table_rows("/proc/sysvipc/shm")) {
        ++u.shm_segments;
        u.shm_pages += (column(row, 3) + 4095) / 4096;  // key shmid perms size ...
    }
    for (const auto& row : table_rows("/proc/sysvipc/sem")) u.semaphores += column(row, 3);  // key semid perms nsems
    u.msg_queues = table_rows("/proc/sysvipc/msg").size();
    return u;
}

}  // namespace

Result<IpcUsage> ipc_usage(const Target& t) {
    auto chan = sys::pipe();
    if (!chan) return std::move(chan).error();
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork");
    if (pid == 0) {
        chan->first.reset();
        if (::setns(t.init_pidfd.get(), CLONE_NEWIPC) < 0) ::_exit(1);
        IpcUsage u = read_ipc();
        ::_exit(::write(chan->second.get(), &u, sizeof u) == sizeof u ? 0 : 1);
    }
    chan->second.reset();
    IpcUsage u;
    ssize_t n = ::read(chan->first.get(), &u, sizeof u);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof u))
        return Error::make(Errc::system, "could not read the VPS's IPC usage from /proc/sysvipc");
    return u;
}

Result<void> set_ipc_sysctls(const Target& t,
                             const std::vector<std::pair<std::string, std::string>>& sysctls) {
    if (sysctls.empty()) return ok();
    auto chan = sys::pipe();
    if (!chan) return std::move(chan).error();
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork");
    if (pid == 0) {
        chan->first.reset();
        int failed = -1, err = 0;
        if (::setns(t.init_pidfd.get(), CLONE_NEWIPC) < 0) {
            failed = static_cast<int>(sysctls.size());
            err = errno;
        }
        for (size_t i = 0; failed < 0 && i < sysctls.size(); ++i) {
            auto r = sys::write_file("/proc/sys/" + sysctls[i].first, sysctls[i].second);
            if (!r) {
                failed = static_cast<int>(i);
                err = r.error().err();
            }
        }
        int msg[2] = {failed, err};
        ::_exit(::write(chan->second.get(), msg, sizeof msg) == sizeof msg ? 0 : 1);
    }
    chan->second.reset();
    int msg[2] = {-2, 0};
    ssize_t n = ::read(chan->first.get(), msg, sizeof msg);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof msg)) return Error::make(Errc::system, "IPC sysctl helper died");
    if (msg[0] == static_cast<int>(sysctls.size())) return Error::sys("setns", "IPC namespace", msg[1]);
    if (msg[0] >= 0)
        return Error::sys("write", "/proc/sys/" + sysctls[msg[0]].first + " = " + sysctls[msg[0]].second, msg[1]);
    return ok();
}

}  // namespace vps::runtime
