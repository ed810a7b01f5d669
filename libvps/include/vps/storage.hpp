// The storage root, laid out like OpenVZ's /vz:
//
//   <root>/vz.yaml                 host-wide config
//   <root>/conf/<ctid>.yaml        one config per VPS
//   <root>/private/<ctid>/         the VPS's files
//   <root>/root/<ctid>/            where they are mounted while it runs
//   <root>/template/cache/<t>.tar.gz   OS templates
//   <root>/dump/                   checkpoint images
//   <root>/intent/<ctid>.json      the operation under way (vps/intent.hpp)
//
// and the runtime directory (<runtime_dir>/<ctid>.state) holding what is
// needed to find a running VPS again after vzd restarts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vps/error.hpp"

namespace vps::storage {

class Layout {
public:
    Layout(std::string root, std::string runtime_dir)
        : root_(std::move(root)), runtime_(std::move(runtime_dir)) {}

    const std::string& root() const { return root_; }
    const std::string& runtime_dir() const { return runtime_; }
    std::string global_config() const { return root_ + "/vz.yaml"; }
    std::string conf_dir() const { return root_ + "/conf"; }
    std::string conf(uint32_t ctid) const;
    std::string private_dir(uint32_t ctid) const;
    std::string root_dir(uint32_t ctid) const;
    std::string template_cache() const { return root_ + "/template/cache"; }
    std::string dump_dir() const { return root_ + "/dump"; }
    std::string intent_dir() const { return root_ + "/intent"; }
    std::string intent(uint32_t ctid) const { return intent_dir() + "/" + std::to_string(ctid) + ".json"; }
    // CTIDs running when the host last shut down, one per line: the next
    // boot starts those whose onboot is unset.
    std::string running_at_shutdown() const { return root_ + "/running-at-shutdown"; }
    // Of those, the CTIDs suspended (stop_mode: suspend) into dump_dir()/<ctid>:
    // the next boot restores them.
    std::string suspended_at_shutdown() const { return root_ + "/suspended-at-shutdown"; }
    std::string state(uint32_t ctid) const;
    std::string console_log(uint32_t ctid) const;
    // Why the last start failed (the error vzctl printed), kept until the
    // next start; the console log of that start holds what init said.
    std::string start_failure(uint32_t ctid) const;

    // Create the directories above (0700 for private/ and conf/: they hold
    // VPS files with VPS-chosen permissions).
    Result<void> create_dirs() const;
    // CTIDs that have a config file.
    Result<std::vector<uint32_t>> list_ctids() const;
    // A cached template tarball by name ("busybox" -> .../busybox.tar.gz,
    // .tar.xz, .tar.zst, .tar); Errc::no_template if none.
    Result<std::string> find_template(const std::string& name) const;

private:
    std::string root_;
    std::string runtime_;
};

// What vzd records about a running VPS. start_time tells the recorded init
// apart from a later process that reused its pid.
struct RunState {
    uint32_t ctid = 0;
    pid_t init_pid = 0;
    uint64_t start_time = 0;
    int64_t started_at = 0;  // unix seconds
    std::string cgroup;      // the backend's group name
};

std::string encode_state(const RunState& s);
Result<RunState> decode_state(std::string_view text, std::string_view origin);
Result<void> save_state(const std::string& path, const RunState& s);
Result<RunState> load_state(const std::string& path);

// Unpack a template tarball into dir (which must not exist yet) through a
// temporary sibling, so a failed or interrupted unpack leaves nothing
// behind under dir's name.
// prepare runs on the still-empty directory first (to tag it with a disk
// quota project that everything unpacked then inherits).
// id_base != 0: the files are shifted into an unprivileged VPS's id range
// (shift_ids) before the area takes its name.
Result<void> unpack_template(const std::string& tarball, const std::string& dir,
                             const std::function<Result<void>(const std::string&)>& prepare = {},
                             uint32_t id_base = 0);

// Add `base` to the owner and group of every file below dir (inclusive),
// symlinks themselves included, keeping set-user/group-ID bits.
Result<void> shift_ids(const std::string& dir, uint32_t base);

}  // namespace vps::storage
