// OpenVZ resource parameters: parsing "barrier:limit" values in pages,
// bytes and counts, and mapping the result onto cgroup limits.
#include "vps/params.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "vps/sys.hpp"

namespace vps::params {
namespace {

// OpenVZ wrote "no limit" as LONG_MAX; configs carried over from it still do.
constexpr uint64_t kOpenVzUnlimited = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
// The largest page count whose size in bytes still fits in 64 bits.
constexpr uint64_t kMaxPages = kUnlimited / kPageSize;
constexpr uint64_t kCpuPeriodUs = 100000;

constexpr std::string_view kPagesHint = "use 65536, 256M, 1G or unlimited";
constexpr std::string_view kBytesHint = "use 4096, 512M, 1G or unlimited";
constexpr std::string_view kCountHint = "use 1024 or unlimited";

Error bad(std::string detail) { return Error::make(Errc::bad_value, std::move(detail)); }

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

enum class NumStatus { ok, not_number, too_large };

struct Num {
    uint64_t value = 0;
    NumStatus status = NumStatus::ok;
};

// Decimal digits only: strtoull would accept a sign, spaces and hex, and
// wrap "-1" around to 2^64-1.
Num parse_digits(std::string_view s) {
    if (s.empty()) return {0, NumStatus::not_number};
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return {0, NumStatus::not_number};
        auto d = static_cast<uint64_t>(c - '0');
        if (v > (kUnlimited - d) / 10) return {0, NumStatus::too_large};
        v = v * 10 + d;
    }
    return {v, NumStatus::ok};
}

// Binary multipliers as OpenVZ's vzctl used them (K = 1024).
uint64_t suffix_multiplier(char c) {
    switch (c) {
        case 'K':
        case 'k':
            return uint64_t{1} << 10;
        case 'M':
        case 'm':
            return uint64_t{1} << 20;
        case 'G':
        case 'g':
            return uint64_t{1} << 30;
        case 'T':
        case 't':
            return uint64_t{1} << 40;
        default:
            return 0;
    }
}

// The errors every number shares; hint says what the parameter accepts.
Error number_error(std::string_view text, NumStatus status, std::string_view what,
                   std::string_view hint) {
    if (status == NumStatus::too_large)
        return bad(quoted(text) + " is too large (" + std::string(hint) + ")");
    if (!text.empty() && text.front() == '-')
        return bad(quoted(text) + " is negative (" + std::string(hint) + ")");
    return bad(quoted(text) + " is not " + std::string(what) + " (" + std::string(hint) + ")");
}

Result<std::string> non_empty(std::string_view text, std::string_view hint) {
    std::string t = sys::trim(text);
    if (t.empty()) return bad("empty value (" + std::string(hint) + ")");
    return t;
}

bool means_unlimited(std::string_view t) { return t == "unlimited"; }

// "512M" -> bytes; t ends in a K/M/G/T suffix.
Result<uint64_t> parse_suffixed(std::string_view t, std::string_view what, std::string_view hint) {
    uint64_t mult = suffix_multiplier(t.back());
    Num n = parse_digits(t.substr(0, t.size() - 1));
    if (mult == 0 || n.status != NumStatus::ok)
        return number_error(t, mult == 0 ? NumStatus::not_number : n.status, what, hint);
    if (n.value > kUnlimited / mult) return number_error(t, NumStatus::too_large, what, hint);
    return n.value * mult;
}

uint64_t bytes_to_pages(uint64_t bytes) {
    if (bytes == kUnlimited) return kUnlimited;
    // Round up: "1K" must not turn into a limit of zero pages.
    return bytes / kPageSize + (bytes % kPageSize != 0 ? 1 : 0);
}

uint64_t pages_to_bytes(uint64_t pages) {
    if (pages == kUnlimited || pages > kMaxPages) return kUnlimited;
    return pages * kPageSize;
}

// A value with a unit-less range such as cpuunits: digits, lo..hi.
Result<uint32_t> parse_ranged(std::string_view t, uint32_t lo, uint32_t hi, std::string_view hint) {
    Num n = parse_digits(t);
    if (n.status == NumStatus::not_number) return number_error(t, n.status, "a number", hint);
    if (n.status == NumStatus::too_large || n.value < lo || n.value > hi)
        return bad(quoted(t) + " is out of range (" + std::string(hint) + ")");
    return static_cast<uint32_t>(n.value);
}

}  // namespace

Result<uint64_t> parse_pages(std::string_view text) {
    auto t = non_empty(text, kPagesHint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) return kUnlimited;
    if (suffix_multiplier(t->back()) != 0) {
        auto bytes = parse_suffixed(*t, "a number of pages or bytes", kPagesHint);
        if (!bytes) return bytes;
        return bytes_to_pages(*bytes);
    }
    Num n = parse_digits(*t);
    if (n.status != NumStatus::ok)
        return number_error(*t, n.status, "a number of pages or bytes", kPagesHint);
    if (n.value == kOpenVzUnlimited) return kUnlimited;
    if (n.value > kMaxPages) return number_error(*t, NumStatus::too_large, "", kPagesHint);
    return n.value;
}

Result<uint64_t> parse_count(std::string_view text) {
    auto t = non_empty(text, kCountHint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) return kUnlimited;
    Num n = parse_digits(*t);
    if (n.status != NumStatus::ok) return number_error(*t, n.status, "a number", kCountHint);
    if (n.value == kOpenVzUnlimited) return kUnlimited;
    return n.value;
}

Result<uint64_t> parse_bytes(std::string_view text) {
    auto t = non_empty(text, kBytesHint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) return kUnlimited;
    if (suffix_multiplier(t->back()) != 0)
        return parse_suffixed(*t, "a number of bytes", kBytesHint);
    Num n = parse_digits(*t);
    if (n.status != NumStatus::ok)
        return number_error(*t, n.status, "a number of bytes", kBytesHint);
    if (n.value == kOpenVzUnlimited) return kUnlimited;
    return n.value;
}

Result<BarrierLimit> parse_barrier_limit(std::string_view text, bool pages) {
    auto parse_one = [pages](std::string_view part) {
        return pages ? parse_pages(part) : parse_count(part);
    };
    auto parts = sys::split(text, ':');
    if (parts.size() > 2)
        return bad(quoted(sys::trim(text)) +
                   " has more than one ':' (use barrier:limit or one value)");
    auto barrier = parse_one(parts[0]);
    if (!barrier) return std::move(barrier).error();
    if (parts.size() == 1) return BarrierLimit{*barrier, *barrier};
    auto limit = parse_one(parts[1]);
    if (!limit) return std::move(limit).error();
    if (*barrier > *limit)
        return bad("barrier " + format_value(*barrier) + " is above limit " + format_value(*limit) +
                   " (the barrier must not exceed the limit)");
    return BarrierLimit{*barrier, *limit};
}

namespace {

using Setter = Result<void> (*)(Resources&, std::string_view, uint32_t);

struct ParamDef {
    ParamInfo info;
    Setter set;
};

Result<void> set_physpages(Resources& r, std::string_view v, uint32_t) {
    auto bl = parse_barrier_limit(v, true);
    if (!bl) return std::move(bl).error();
    r.physpages = *bl;
    return ok();
}

Result<void> set_swappages(Resources& r, std::string_view v, uint32_t) {
    auto bl = parse_barrier_limit(v, true);
    if (!bl) return std::move(bl).error();
    r.swappages = *bl;
    return ok();
}

Result<void> set_numproc(Resources& r, std::string_view v, uint32_t) {
    auto bl = parse_barrier_limit(v, false);
    if (!bl) return std::move(bl).error();
    r.numproc = *bl;
    return ok();
}

Result<void> set_cpuunits(Resources& r, std::string_view v, uint32_t) {
    auto t = non_empty(v, "use 8..500000");
    if (!t) return std::move(t).error();
    auto n = parse_ranged(*t, 8, 500000, "use 8..500000, default 1000");
    if (!n) return std::move(n).error();
    r.cpuunits = *n;
    return ok();
}

Result<void> set_cpulimit(Resources& r, std::string_view v, uint32_t host_cpus) {
    std::string hint = "use 0.." + std::to_string(100 * host_cpus) + " percent, 0 = no limit";
    auto t = non_empty(v, hint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) {
        r.cpulimit = 0;
        return ok();
    }
    // vzctl printed and accepted "50%".
    std::string_view digits = *t;
    if (digits.size() > 1 && digits.back() == '%') digits.remove_suffix(1);
    auto n = parse_ranged(digits, 0, 100 * host_cpus, hint);
    if (!n) return std::move(n).error();
    r.cpulimit = *n;
    return ok();
}

Result<void> set_cpus(Resources& r, std::string_view v, uint32_t host_cpus) {
    std::string hint = "use 0.." + std::to_string(host_cpus) + ", 0 = all of the host's CPUs";
    auto t = non_empty(v, hint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) {
        r.cpus = 0;
        return ok();
    }
    auto n = parse_ranged(*t, 0, host_cpus, hint);
    if (!n) return std::move(n).error();
    r.cpus = *n;
    return ok();
}

// vzctl 4's --ram/--swap: a limit in bytes, barrier 0 (no soft limit).
Result<void> set_ram(Resources& r, std::string_view v, uint32_t) {
    auto bytes = parse_bytes(v);
    if (!bytes) return std::move(bytes).error();
    r.physpages = BarrierLimit{0, bytes_to_pages(*bytes)};
    return ok();
}

Result<void> set_swap(Resources& r, std::string_view v, uint32_t) {
    auto bytes = parse_bytes(v);
    if (!bytes) return std::move(bytes).error();
    r.swappages = BarrierLimit{0, bytes_to_pages(*bytes)};
    return ok();
}

const std::array<ParamDef, 8>& param_defs() {
    static const std::array<ParamDef, 8> defs{{
        {{"physpages", "RAM in pages or bytes (K/M/G/T), barrier:limit or one value"},
         set_physpages},
        {{"swappages", "swap in pages or bytes (K/M/G/T), barrier:limit or one value"},
         set_swappages},
        {{"numproc", "processes and threads, barrier:limit or one value"}, set_numproc},
        {{"cpuunits", "relative CPU weight, 8..500000 (default 1000)"}, set_cpuunits},
        {{"cpulimit", "CPU time in percent of one CPU, 0 = no limit"}, set_cpulimit},
        {{"cpus", "CPUs the VPS may use at once, 0 = all"}, set_cpus},
        {{"ram", "RAM limit in bytes (K/M/G/T); stored as physpages"}, set_ram},
        {{"swap", "swap limit in bytes (K/M/G/T); stored as swappages"}, set_swap},
    }};
    return defs;
}

const ParamDef* find_def(std::string_view name) {
    for (const auto& d : param_defs())
        if (d.info.name == name) return &d;
    return nullptr;
}

std::string known_names() {
    std::string out;
    for (const auto& d : param_defs()) {
        if (!out.empty()) out += ", ";
        out += d.info.name;
    }
    return out;
}

// ram and physpages (swap and swappages) set the same limit; a config that
// names both is ambiguous, so say so instead of letting one win silently.
void check_aliases(const std::map<std::string, std::string>& values,
                   std::vector<std::string>& problems) {
    if (values.count("ram") && values.count("physpages"))
        problems.push_back("ram: conflicts with physpages (set one of them)");
    if (values.count("swap") && values.count("swappages"))
        problems.push_back("swap: conflicts with swappages (set one of them)");
}

}  // namespace

const std::vector<ParamInfo>& known_params() {
    static const std::vector<ParamInfo> infos = [] {
        std::vector<ParamInfo> v;
        for (const auto& d : param_defs()) v.push_back(d.info);
        return v;
    }();
    return infos;
}

bool is_known(std::string_view name) { return find_def(name) != nullptr; }

Result<void> apply_param(Resources& res, std::string_view name, std::string_view value,
                         uint32_t host_cpus) {
    const ParamDef* def = find_def(name);
    if (!def)
        return Error::make(Errc::bad_argument, "unknown parameter '" + std::string(name) +
                                                   "' (known: " + known_names() + ")");
    // Parse into a copy so a failed value leaves res untouched.
    Resources next = res;
    auto r = def->set(next, value, std::max<uint32_t>(host_cpus, 1));
    if (!r) {
        const Error& e = r.error();
        return Error::make(e.code(), std::string(name) + ": " + e.detail());
    }
    res = next;
    return ok();
}

Result<Resources> parse_all(const std::map<std::string, std::string>& values, uint32_t host_cpus) {
    Resources res;
    std::vector<std::string> problems;
    Errc code = Errc::bad_value;
    for (const auto& [name, value] : values) {
        auto r = apply_param(res, name, value, host_cpus);
        if (r) continue;
        problems.push_back(r.error().detail());
        code = r.error().code();
    }
    check_aliases(values, problems);
    if (problems.empty()) return res;
    // One problem keeps its own kind; several are reported as bad values.
    if (problems.size() > 1) code = Errc::bad_value;
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
    return Error::make(code, msg);
}

std::vector<std::pair<std::string, std::string>> canonical(std::string_view name,
                                                           std::string_view value) {
    std::string target = name == "ram" ? "physpages" : name == "swap" ? "swappages" : "";
    if (target.empty()) return {{std::string(name), sys::trim(value)}};
    auto bytes = parse_bytes(value);
    // A bad value stays as written so that checking it reports it verbatim.
    if (!bytes) return {{std::string(name), std::string(value)}};
    return {{target, "0:" + format_value(bytes_to_pages(*bytes))}};
}

namespace {

// cpulimit caps CPU time in percent of one CPU, cpus in whole CPUs; the
// kernel has one quota, so the tighter of the two wins.
std::optional<uint64_t> cpu_quota(const Resources& res) {
    if (!res.cpulimit && !res.cpus) return std::nullopt;
    uint64_t quota = kUnlimited;
    if (res.cpulimit && *res.cpulimit > 0) quota = uint64_t{*res.cpulimit} * kCpuPeriodUs / 100;
    if (res.cpus && *res.cpus > 0) quota = std::min(quota, uint64_t{*res.cpus} * kCpuPeriodUs);
    return quota;
}

}  // namespace

cgroups::Limits to_cgroup_limits(const Resources& res) {
    cgroups::Limits l;
    if (res.physpages) {
        l.memory_max = pages_to_bytes(res.physpages->limit);
        // A barrier only means something below the limit; 0 is vzctl 4's
        // "no barrier" (what --ram writes).
        const auto& pp = *res.physpages;
        l.memory_high =
            pp.barrier != 0 && pp.barrier < pp.limit ? pages_to_bytes(pp.barrier) : kUnlimited;
    }
    if (res.swappages) l.swap_max = pages_to_bytes(res.swappages->limit);
    if (res.numproc) l.pids_max = res.numproc->limit;
    if (res.cpuunits) l.cpu_weight = std::clamp<uint32_t>(*res.cpuunits / 10, 1, 10000);
    l.cpu_quota_us = cpu_quota(res);
    l.cpu_period_us = kCpuPeriodUs;
    return l;
}

std::string format_value(uint64_t v) { return v == kUnlimited ? "unlimited" : std::to_string(v); }

}  // namespace vps::params
