// The two backend factories open_backend() chooses between, given what it
// already read about the calling process.
#pragma once

#include <memory>
#include <vector>

#include "cgroups/backend.hpp"
#include "parse.hpp"

namespace cgroups::detail {

// Unified hierarchy mounted at opts.root.
vps::Result<std::unique_ptr<Backend>> open_v2(const Options& opts,
                                              const std::vector<ProcCgroupLine>& self);
// One hierarchy per controller (legacy and hybrid hosts), found in mounts.
vps::Result<std::unique_ptr<Backend>> open_v1(const Options& opts,
                                              const std::vector<ProcCgroupLine>& self,
                                              const std::vector<MountInfo>& mounts);

}  // namespace cgroups::detail
