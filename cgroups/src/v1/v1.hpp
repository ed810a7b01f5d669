// cgroup v1 internals shared by the backend (discovery, base and group
// creation) and the group (limits, usage, teardown).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../cgroup_dir.hpp"
#include "cgroups/backend.hpp"

namespace cgroups::detail::v1 {

// One directory of a group (or of the base) in one mounted hierarchy, with
// the controllers of ours that hierarchy carries: {"memory"}, or
// {"cpu", "cpuacct"} where the two are co-mounted.
struct Member {
    std::vector<std::string> controllers;
    CgroupDir dir;
};

bool serves(const Member& m, std::string_view controller);
// "cpu,cpuacct"
std::string controller_label(const Member& m);

// A new cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and
// no task may join it until both are set: copy the parent's down. Only an
// empty value is written, so a parent that is a root cgroup is only read.
vps::Result<void> inherit_cpuset(const CgroupDir& parent, const CgroupDir& child);

// What to write to memory.limit_in_bytes and memory.memsw.limit_in_bytes,
// and in which order. The kernel keeps memsw >= memory at every moment and
// refuses (EINVAL) a write that would break it: lower memory before memsw,
// raise memsw before memory. A swap_max left unset keeps the current amount
// of swap (memsw - memory). nullopt = leave that file alone.
struct MemswPlan {
    std::optional<uint64_t> memory;
    std::optional<uint64_t> memsw;
    bool memory_first = true;
};
MemswPlan plan_memsw(uint64_t cur_memory, uint64_t cur_memsw, std::optional<uint64_t> memory_max,
                     std::optional<uint64_t> swap_max);

// label is "<base>/<name>", used in error context.
std::unique_ptr<Group> make_group(std::string name, std::string label, std::vector<Member> members);

}  // namespace cgroups::detail::v1
