#pragma once

#include <string>
#include <vector>

#include "cgroups/backend.hpp"
#include "vps/fd.hpp"

namespace cgroups::v2 {

// Load and attach the device program of `allow` to the cgroup directory
// (path for errors). Needs CAP_SYS_ADMIN (and CAP_BPF) on the host.
Result<void> attach_device_filter(vps::FdRef cgroup_dir, const std::string& path, const std::vector<DeviceRule>& allow);

}  // namespace cgroups::v2
