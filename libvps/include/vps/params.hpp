// OpenVZ resource parameters: names, units and the barrier:limit syntax.
//
//   physpages, swappages   pages (4 KiB) or bytes with a K/M/G/T suffix;
//                          "barrier:limit" or one value for both
//   numproc                processes, "barrier:limit" or one value
//   cpuunits               relative CPU weight, 8..500000 (OpenVZ default 1000)
//   cpulimit               percent of one CPU, 0 = no limit, above 100 for several
//   cpus                   number of CPUs the VPS may use at once, 0 = all
//   ram, swap              vzctl 4 shorthands: bytes, set physpages/swappages limit
//
// "unlimited" (or OpenVZ's 9223372036854775807) means no limit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/backend.hpp"
#include "vps/error.hpp"

namespace vps::params {

inline constexpr uint64_t kUnlimited = UINT64_MAX;
inline constexpr uint64_t kPageSize = 4096;

struct BarrierLimit {
    uint64_t barrier = kUnlimited;
    uint64_t limit = kUnlimited;
    bool operator==(const BarrierLimit&) const = default;
};

// Parse "256M" / "65536" / "unlimited" as pages (pages unless suffixed).
Result<uint64_t> parse_pages(std::string_view text);
// Parse a plain count ("1024", "unlimited").
Result<uint64_t> parse_count(std::string_view text);
// Parse "barrier:limit" or one value (both), each part with parse_one.
Result<BarrierLimit> parse_barrier_limit(std::string_view text, bool pages);
// Bytes with an optional K/M/G/T suffix ("512M", "1G", "4096").
Result<uint64_t> parse_bytes(std::string_view text);

// The validated resource set of one VPS. nullopt = not set (leave as is).
struct Resources {
    std::optional<BarrierLimit> physpages;  // pages
    std::optional<BarrierLimit> swappages;  // pages
    std::optional<BarrierLimit> numproc;
    std::optional<uint32_t> cpuunits;
    std::optional<uint32_t> cpulimit;  // percent, 0 = unlimited
    std::optional<uint32_t> cpus;      // 0 = all
    bool operator==(const Resources&) const = default;
};

// Every parameter name `vzctl set` and the VPS config accept, with a one-line
// description (for --help and error messages).
struct ParamInfo {
    std::string_view name;
    std::string_view help;
};
const std::vector<ParamInfo>& known_params();
bool is_known(std::string_view name);

// Check one name=value; the error is Errc::bad_value (or bad_argument for an
// unknown name) and names the parameter: "physpages: '12Q' is not a number
// of pages or bytes (use 65536, 256M, 1G or unlimited)".
// host_cpus bounds cpus and cpulimit.
Result<void> apply_param(Resources& res, std::string_view name, std::string_view value,
                         uint32_t host_cpus);
Result<Resources> parse_all(const std::map<std::string, std::string>& values, uint32_t host_cpus);

// Canonical text written back to the config for a parameter ("ram" is
// stored as physpages). Returns {name, value} pairs.
std::vector<std::pair<std::string, std::string>> canonical(std::string_view name,
                                                           std::string_view value);

// The cgroup limits that realise a resource set:
//   physpages.limit -> memory.max; barrier (if below limit) -> memory.high
//   swappages.limit -> swap max; numproc.limit -> pids.max
//   cpuunits -> weight = cpuunits/10 clamped 1..10000 (1000 -> 100, the default)
//   cpulimit -> quota = cpulimit% of period; cpus -> quota cap of cpus*period
//   (whichever is lower).
cgroups::Limits to_cgroup_limits(const Resources& res);

// Format pages/bytes back for humans ("65536" / "unlimited").
std::string format_value(uint64_t v);

}  // namespace vps::params
