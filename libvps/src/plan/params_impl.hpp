// Internals shared by the parameter sources: params.cpp (numbers, lists,
// apply/parse_all), params_table.cpp (the table of parameters and their
// setters) and params_cgroup.cpp (what the values turn into).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vps/params.hpp"

namespace vps::params::detail {

// OpenVZ wrote "no limit" as LONG_MAX; configs carried over from it still do.
inline constexpr uint64_t kOpenVzUnlimited = static_cast<uint64_t>(INT64_MAX);

Error bad(std::string detail);
std::string quoted(std::string_view text);
// The trimmed text, or "empty value (hint)".
Result<std::string> non_empty(std::string_view text, std::string_view hint);
bool means_unlimited(std::string_view t);
// A unit-less number in lo..hi ("'7' is out of range (hint)").
Result<uint64_t> parse_ranged(std::string_view t, uint64_t lo, uint64_t hi, std::string_view hint);

uint64_t bytes_to_pages(uint64_t bytes);  // rounds up; kUnlimited stays
uint64_t pages_to_bytes(uint64_t pages);  // kUnlimited past 64 bits

// A list of ids ("0-3,6") as cpuset files take it, sorted and merged:
// "3,0-2,6" -> "0-3,6"; "all" -> "". what names one id ("CPU", "NUMA
// node"); count bounds the ids to 0..count-1 (0 = unknown, unbounded).
Result<std::string> parse_id_list(std::string_view text, uint32_t count, std::string_view what);

// One parameter's setter gets everything the table knows about it.
struct SetArg {
    std::string_view name;
    std::string_view value;
    Unit unit;
    const HostBounds& host;
};
using Setter = Result<void> (*)(Resources&, const SetArg&);

struct ParamDef {
    ParamDoc doc;
    Unit unit;  // of a barrier:limit value
    Setter set;
};
const std::vector<ParamDef>& param_defs();
const ParamDef* find_def(std::string_view name);

}  // namespace vps::params::detail
