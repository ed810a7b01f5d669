// CgroupDir: one cgroup directory held open, every control file reached
// relative to its fd; plus the chores both backends share (listing and
// killing members, removing a group, reading counters into Usage).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/backend.hpp"
#include "vps/error.hpp"
#include "vps/fd.hpp"

namespace cgroups::detail {

using Clock = std::chrono::steady_clock;

class CgroupDir {
  public:
    // O_PATH|O_DIRECTORY: the fd reaches the files below it and doubles as
    // clone3's CLONE_INTO_CGROUP target, but cannot read the directory.
    static vps::Result<CgroupDir> open(std::string path);
    // Create name beneath parent (an existing one is fine) and open it.
    static vps::Result<CgroupDir> make_child(const CgroupDir& parent, std::string_view name);
    // Open an existing child; ENOENT if absent.
    static vps::Result<CgroupDir> open_child(const CgroupDir& parent, std::string_view name);

    const std::string& path() const { return path_; }
    vps::FdRef fd() const { return fd_.ref(); }
    // The full path of a control file, for error messages.
    std::string file(std::string_view name) const;

    bool has(std::string_view name) const;
    vps::Result<std::string> read(std::string_view name) const;
    // nullopt when the file is absent: the controller is off, or the
    // kernel predates the knob.
    vps::Result<std::optional<std::string>> read_optional(std::string_view name) const;
    // One write() of value, as the kernel wants it.
    vps::Result<void> write(std::string_view name, std::string_view value) const;

    // Members of this cgroup alone, and of it plus every cgroup beneath it
    // (a VPS may create its own child groups).
    vps::Result<std::vector<pid_t>> procs() const;
    vps::Result<std::vector<pid_t>> procs_tree() const;

  private:
    CgroupDir(std::string path, vps::Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
    std::string path_;
    vps::Fd fd_;
};

// Limits no kernel would accept, caught before anything is written so a
// bad request leaves the group unchanged.
vps::Result<void> check_limits(const Limits& limits);

// An Error for a control file whose content we cannot parse.
vps::Error parse_error(const std::string& path, std::string_view text);

// One counter of a Usage, read from file and turned into a number by parse.
using Parser = std::optional<uint64_t> (*)(std::string_view);
struct Field {
    std::string_view file;
    std::optional<uint64_t> Usage::*member;
    Parser parse;
};
// Fill the members named in fields; absent files leave them nullopt,
// unparsable content is an error.
vps::Result<void> read_fields(const CgroupDir& dir, std::span<const Field> fields, Usage& out);

// One counter kept under a key of a flat-keyed file (memory.events
// "oom_kill", memory.swap.events "max").
struct KeyedField {
    std::string_view file;
    std::string_view key;
    std::optional<uint64_t> Usage::*member;
};
// Like read_fields; an absent file or key (an older kernel) leaves the
// member nullopt, a value that is not a number is an error.
vps::Result<void> read_keyed(const CgroupDir& dir, std::span<const KeyedField> fields, Usage& out);

// A file that takes a proportional I/O weight, and how its numbers relate
// to Limits::io_weight. Each backend lists its candidates in order of
// preference; the first one the group has is used.
struct WeightFile {
    std::string_view file;
    uint64_t (*to_file)(uint32_t weight);
    uint32_t (*from_file)(uint64_t value);
    bool default_prefix;  // write "default N" rather than "N"
};
// Write weight to the first file present. With none present the default
// weight (100) is what the group has anyway; any other weight fails with
// ENOENT naming the first candidate.
vps::Result<void> write_io_weight(const CgroupDir& dir, std::span<const WeightFile> files,
                                  uint32_t weight);
// The weight of the first file present; nullopt with none.
vps::Result<std::optional<uint32_t>> read_io_weight(const CgroupDir& dir,
                                                    std::span<const WeightFile> files);

// SIGKILL every pid list() returns, again and again until it returns none
// (a process may fork while we kill). Bounded: fails with EBUSY on where
// when processes remain after about two seconds.
using PidLister = std::function<vps::Result<std::vector<pid_t>>()>;
vps::Result<void> kill_until_empty(const PidLister& list, const std::string& where);

// rmdir path after removing any cgroups beneath it (a VPS may create its
// own); EBUSY (members still exiting) is retried until deadline. A missing
// directory is success.
vps::Result<void> remove_cgroup(const std::string& path, Clock::time_point deadline);

}  // namespace cgroups::detail
