// Reading a VPS's System V IPC usage. /proc/sysvipc/* shows the IPC
// namespace of the reading process, so a helper joins the VPS's namespace,
// reads the three tables and sends the counts back over a pipe.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <type_traits>

#include "runtime/join.hpp"
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

// Run fn in a forked helper that has joined the VPS's IPC namespace and
// return the value it computed, sent back over a pipe.
template <class T, class Fn>
Result<T> in_ipc_namespace(const Target& t, const char* what, Fn fn) {
    static_assert(std::is_trivially_copyable_v<T>);
    auto chan = sys::pipe();
    if (!chan) return std::move(chan).error();
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork", what);
    if (pid == 0) {
        chan->first.reset();
        if (join_as_vps_root(t.init_pidfd, CLONE_NEWIPC, t.plan && !t.plan->uid_map.empty()) < 0) ::_exit(2);
        T value = fn();
        ::_exit(::write(chan->second.get(), &value, sizeof value) == sizeof value ? 0 : 1);
    }
    chan->second.reset();
    T value{};
    ssize_t n;
    do {
        n = ::read(chan->first.get(), &value, sizeof value);
    } while (n < 0 && errno == EINTR);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof value))
        return Error::make(Errc::system, std::string(what) + ": the helper could not join the VPS's IPC namespace");
    return value;
}

struct WriteOutcome {
    int failed;  // index of the sysctl that could not be written, or -1
    int err;
};

}  // namespace

Result<IpcUsage> ipc_usage(const Target& t) {
    return in_ipc_namespace<IpcUsage>(t, "read /proc/sysvipc", read_ipc);
}

Result<void> set_ipc_sysctls(const Target& t,
                             const std::vector<std::pair<std::string, std::string>>& sysctls) {
    if (sysctls.empty()) return ok();
    auto outcome = in_ipc_namespace<WriteOutcome>(t, "write IPC sysctls", [&] {
        for (size_t i = 0; i < sysctls.size(); ++i) {
            auto r = sys::write_file("/proc/sys/" + sysctls[i].first, sysctls[i].second);
            if (!r) return WriteOutcome{static_cast<int>(i), r.error().err()};
        }
        return WriteOutcome{-1, 0};
    });
    if (!outcome) return std::move(outcome).error();
    if (outcome->failed < 0) return ok();
    const auto& [name, value] = sysctls[static_cast<size_t>(outcome->failed)];
    return Error::sys("write", "/proc/sys/" + name + " = " + value, outcome->err);
}

}  // namespace vps::runtime
