// Thin wrappers over the syscalls the project uses. Each names the call and
// the path in its Error; every descriptor is created CLOEXEC.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vps/error.hpp"
#include "vps/fd.hpp"

namespace vps::sys {

Result<Fd> open(const std::string& path, int flags, mode_t mode = 0);
Result<Fd> openat(FdRef dir, const std::string& path, int flags, mode_t mode = 0);

// Whole-file helpers. read_file reads at most max bytes (a guard against
// files that never end, such as a FIFO planted where a config should be).
Result<std::string> read_file(const std::string& path, size_t max = 16u << 20);
// `bytes` random bytes from getrandom(2) as lower-case hex.
Result<std::string> random_hex(size_t bytes);
// The target of a symlink (readlink(2)), whatever its length.
Result<std::string> read_link(const std::string& path);
Result<std::string> read_fd(FdRef fd, size_t max = 16u << 20);
Result<void> write_all(FdRef fd, std::string_view data);
// Write to an existing file (cgroup and /proc knobs): open, write, close.
Result<void> write_file(const std::string& path, std::string_view data);
Result<void> write_fileat(FdRef dir, const std::string& name, std::string_view data);
Result<std::string> read_fileat(FdRef dir, const std::string& name, size_t max = 1u << 20);
// Crash-safe replace: write a temporary beside it, fsync, rename over,
// fsync the directory. A crash leaves the old or the new file, never half.
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);
// Flush everything written to the file system holding path (syncfs): files
// made by tar or rsync are on disk before a config makes them a VPS.
Result<void> sync_filesystem(const std::string& path);

Result<void> mkdir(const std::string& path, mode_t mode = 0755);  // EEXIST is fine
Result<void> mkdir_p(const std::string& path, mode_t mode = 0755);
Result<void> rmdir(const std::string& path);
Result<void> unlink(const std::string& path);  // ENOENT is fine
// unlink, then fsync the directory: the file is gone even after a crash.
Result<void> unlink_durably(const std::string& path);
// Remove a directory tree without following symlinks and without leaving
// the filesystem it starts on.
Result<void> remove_tree(const std::string& path);

bool exists(const std::string& path);
bool is_dir(const std::string& path);
Result<std::vector<std::string>> list_dir(const std::string& path);

// Pipes and socket pairs, CLOEXEC.
struct FdPair {
    Fd first;
    Fd second;
};
Result<FdPair> pipe();
Result<FdPair> socketpair(int type);

// A stream socket connected to (or listening on) a Unix socket path.
Result<Fd> unix_connect(const std::string& path);
Result<Fd> unix_listen(const std::string& path, int backlog);

// Process helpers.
Result<Fd> pidfd_open(pid_t pid);
int pidfd_send_signal(FdRef pidfd, int sig);
// Field 22 of /proc/<pid>/stat: lets a recorded pid be told apart from a
// later process that reused the number.
std::optional<uint64_t> process_start_time(pid_t pid);

// Run a host program (tar and the like) with stdin from /dev/null, wait for
// it, and fail with its stderr tail when it exits non-zero.
Result<void> run(const std::vector<std::string>& argv);

// What a program printed and how it ended; status is its exit code, or
// 128 + the signal that killed it (as a shell reports it).
struct Output {
    int status = 0;
    std::string out;  // the last `max` bytes of each
    std::string err;
};
// Run a host program with stdin from stdin_path (default /dev/null) and
// wait for it; fails only when it cannot be started at all.
Result<Output> run_capture(const std::vector<std::string>& argv, size_t max = 1 << 20,
                           const std::string& stdin_path = "/dev/null");
// "exited with status N: <stderr tail>" or "killed by signal N: ...".
std::string describe_exit(const Output& o);

std::string trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);

}  // namespace vps::sys
