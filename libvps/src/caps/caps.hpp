// Capabilities: the bounding set a VPS's root is held to. The sets are
// computed in the parent; the child applies them with raw syscalls.
#pragma once

#include <linux/capability.h>

#include <vector>

#include "vps/error.hpp"

namespace vps::caps {

struct Prepared {
    std::vector<int> drop;  // capability numbers to remove from the bounding set
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};  // effective/permitted/inheritable
};

// Start from this process's sets and remove `drop` everywhere.
Result<Prepared> prepare(const std::vector<int>& drop);

// Child side, allocation-free: drop from the bounding set, clear ambient,
// then set the reduced effective/permitted/inheritable sets. Returns -1 with
// errno set on failure.
int apply(const Prepared& p) noexcept;

// Name of a capability number ("sys_admin"), through libcap.
std::string name_of(int cap);

}  // namespace vps::caps
