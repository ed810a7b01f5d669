// OpenVZ resource parameters: parsing "barrier:limit" values in pages,
// bytes, 1 KiB blocks and counts, and id lists; checking a whole set.
// The table of parameters is in params_table.cpp, what the values become
// in params_cgroup.cpp.
#include "vps/params.hpp"

#include <algorithm>
#include <limits>

#include "params_impl.hpp"
#include "vps/sys.hpp"

namespace vps::params {
namespace detail {

Error bad(std::string detail) { return Error::make(Errc::bad_value, std::move(detail)); }

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

Result<std::string> non_empty(std::string_view text, std::string_view hint) {
    std::string t = sys::trim(text);
    if (t.empty()) return bad("empty value (" + std::string(hint) + ")");
    return t;
}

bool means_unlimited(std::string_view t) { return t == "unlimited"; }

uint64_t bytes_to_pages(uint64_t bytes) {
    if (bytes == kUnlimited) return kUnlimited;
    // Round up: "1K" must not turn into a limit of zero pages.
    return bytes / kPageSize + (bytes % kPageSize != 0 ? 1 : 0);
}

uint64_t pages_to_bytes(uint64_t pages) {
    if (pages == kUnlimited || pages > kUnlimited / kPageSize) return kUnlimited;
    return pages * kPageSize;
}

}  // namespace detail

namespace {

using detail::bad;
using detail::means_unlimited;
using detail::non_empty;
using detail::quoted;

constexpr std::string_view kPagesHint = "use 65536, 256M, 1G or unlimited";
constexpr std::string_view kBytesHint = "use 4096, 512M, 1G or unlimited";
constexpr std::string_view kBlocksHint = "use 1048576 (1 KiB blocks), 10G or unlimited";
constexpr std::string_view kCountHint = "use 1024 or unlimited";

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

// "512M" -> bytes; t ends in a K/M/G/T suffix.
Result<uint64_t> parse_suffixed(std::string_view t, std::string_view what, std::string_view hint) {
    uint64_t mult = suffix_multiplier(t.back());
    Num n = parse_digits(t.substr(0, t.size() - 1));
    if (mult == 0 || n.status != NumStatus::ok)
        return number_error(t, mult == 0 ? NumStatus::not_number : n.status, what, hint);
    if (n.value > kUnlimited / mult) return number_error(t, NumStatus::too_large, what, hint);
    return n.value * mult;
}

// A size: plain numbers count units of unit_size bytes, suffixed numbers
// are bytes and round up to whole units.
Result<uint64_t> parse_size(std::string_view text, uint64_t unit_size, std::string_view what,
                            std::string_view hint) {
    auto t = non_empty(text, hint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) return kUnlimited;
    if (suffix_multiplier(t->back()) != 0) {
        auto bytes = parse_suffixed(*t, what, hint);
        if (!bytes) return bytes;
        return *bytes / unit_size + (*bytes % unit_size != 0 ? 1 : 0);
    }
    Num n = parse_digits(*t);
    if (n.status != NumStatus::ok) return number_error(*t, n.status, what, hint);
    if (n.value == detail::kOpenVzUnlimited) return kUnlimited;
    // The size in bytes must fit in 64 bits too.
    if (n.value > kUnlimited / unit_size) return number_error(*t, NumStatus::too_large, "", hint);
    return n.value;
}

}  // namespace

Result<uint64_t> detail::parse_ranged(std::string_view t, uint64_t lo, uint64_t hi,
                                      std::string_view hint) {
    Num n = parse_digits(t);
    if (n.status == NumStatus::not_number) return number_error(t, n.status, "a number", hint);
    if (n.status == NumStatus::too_large || n.value < lo || n.value > hi)
        return bad(quoted(t) + " is out of range (" + std::string(hint) + ")");
    return n.value;
}

Result<uint64_t> parse_pages(std::string_view text) {
    return parse_size(text, kPageSize, "a number of pages or bytes", kPagesHint);
}

Result<uint64_t> parse_kblocks(std::string_view text) {
    return parse_size(text, kBlockSize, "a number of 1 KiB blocks or bytes", kBlocksHint);
}

Result<uint64_t> parse_bytes(std::string_view text) {
    return parse_size(text, 1, "a number of bytes", kBytesHint);
}

Result<uint64_t> parse_count(std::string_view text) {
    auto t = non_empty(text, kCountHint);
    if (!t) return std::move(t).error();
    if (means_unlimited(*t)) return kUnlimited;
    Num n = parse_digits(*t);
    if (n.status != NumStatus::ok) return number_error(*t, n.status, "a number", kCountHint);
    if (n.value == detail::kOpenVzUnlimited) return kUnlimited;
    return n.value;
}

Result<uint64_t> parse_value(std::string_view text, Unit unit) {
    switch (unit) {
        case Unit::pages:
            return parse_pages(text);
        case Unit::bytes:
            return parse_bytes(text);
        case Unit::kblocks:
            return parse_kblocks(text);
        case Unit::count:
            break;
    }
    return parse_count(text);
}

Result<BarrierLimit> parse_barrier_limit(std::string_view text, Unit unit) {
    auto parts = sys::split(text, ':');
    if (parts.size() > 2)
        return bad(quoted(sys::trim(text)) +
                   " has more than one ':' (use barrier:limit or one value)");
    auto barrier = parse_value(parts[0], unit);
    if (!barrier) return std::move(barrier).error();
    if (parts.size() == 1) return BarrierLimit{*barrier, *barrier};
    auto limit = parse_value(parts[1], unit);
    if (!limit) return std::move(limit).error();
    if (*barrier > *limit)
        return bad("barrier " + format_value(*barrier) + " is above limit " + format_value(*limit) +
                   " (the barrier must not exceed the limit)");
    return BarrierLimit{*barrier, *limit};
}

Result<BarrierLimit> parse_barrier_limit(std::string_view text, bool pages) {
    return parse_barrier_limit(text, pages ? Unit::pages : Unit::count);
}

namespace {

struct IdRange {
    uint64_t first;
    uint64_t last;
};

// "0-3" or "6"; ids are bounded to 32 bits like the kernel's.
Result<IdRange> parse_id_range(std::string_view part, std::string_view whole,
                               const std::string& hint) {
    auto not_list = [&] { return bad(quoted(whole) + " is not a list (" + hint + ")"); };
    auto dash = part.find('-');
    auto first = parse_digits(part.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : parse_digits(part.substr(dash + 1));
    if (first.status == NumStatus::not_number || last.status == NumStatus::not_number)
        return not_list();
    constexpr uint64_t kMaxId = std::numeric_limits<uint32_t>::max();
    if (first.status != NumStatus::ok || last.status != NumStatus::ok || last.value > kMaxId)
        return bad(quoted(whole) + " has a number that is too large (" + hint + ")");
    if (first.value > last.value)
        return bad(quoted(part) + " is a backwards range (write " + std::to_string(last.value) +
                   "-" + std::to_string(first.value) + ")");
    return IdRange{first.value, last.value};
}

std::string format_ranges(std::vector<IdRange> ranges) {
    std::sort(ranges.begin(), ranges.end(),
              [](const IdRange& a, const IdRange& b) { return a.first < b.first; });
    std::vector<IdRange> merged;
    for (const auto& r : ranges) {
        if (!merged.empty() && r.first <= merged.back().last + 1)
            merged.back().last = std::max(merged.back().last, r.last);
        else
            merged.push_back(r);
    }
    std::string out;
    for (const auto& r : merged) {
        if (!out.empty()) out += ',';
        out += std::to_string(r.first);
        if (r.last != r.first) out += "-" + std::to_string(r.last);
    }
    return out;
}

}  // namespace

Result<std::string> detail::parse_id_list(std::string_view text, uint32_t count,
                                          std::string_view what) {
    std::string hint = "use a list like 0-3,6, or all";
    if (count == 1) hint = "the host has only " + std::string(what) + " 0; " + hint;
    if (count > 1)
        hint =
            "the host has " + std::string(what) + "s 0-" + std::to_string(count - 1) + "; " + hint;
    auto t = non_empty(text, hint);
    if (!t) return std::move(t).error();
    if (*t == "all") return std::string();
    std::vector<IdRange> ranges;
    for (const auto& part : sys::split(*t, ',')) {
        auto r = parse_id_range(part, *t, hint);
        if (!r) return std::move(r).error();
        if (count > 0 && r->last >= count)
            return bad(std::string(what) + " " + std::to_string(r->last) + " does not exist (" +
                       hint + ")");
        ranges.push_back(*r);
    }
    return format_ranges(std::move(ranges));
}

namespace {

using detail::find_def;
using detail::param_defs;

std::string known_names() {
    std::string out;
    for (const auto& d : param_defs()) {
        if (!out.empty()) out += ", ";
        out += d.doc.name;
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

HostBounds bounds_of(uint32_t host_cpus) {
    HostBounds h;
    h.cpus = host_cpus;
    return h;
}

}  // namespace

const std::vector<ParamInfo>& known_params() {
    static const std::vector<ParamInfo> infos = [] {
        std::vector<ParamInfo> v;
        for (const auto& d : param_defs()) v.push_back({d.doc.name, d.doc.help});
        return v;
    }();
    return infos;
}

bool is_known(std::string_view name) { return find_def(name) != nullptr; }

Result<void> apply_param(Resources& res, std::string_view name, std::string_view value,
                         const HostBounds& host) {
    const detail::ParamDef* def = find_def(name);
    if (!def)
        return Error::make(Errc::bad_argument, "unknown parameter '" + std::string(name) +
                                                   "' (known: " + known_names() + ")");
    HostBounds bounds = host;
    bounds.cpus = std::max<uint32_t>(host.cpus, 1);
    // Parse into a copy so a failed value leaves res untouched.
    Resources next = res;
    auto r = def->set(next, detail::SetArg{def->doc.name, value, def->unit, bounds});
    if (!r) {
        const Error& e = r.error();
        return Error::make(e.code(), std::string(name) + ": " + e.detail());
    }
    res = std::move(next);
    return ok();
}

Result<void> apply_param(Resources& res, std::string_view name, std::string_view value,
                         uint32_t host_cpus) {
    return apply_param(res, name, value, bounds_of(host_cpus));
}

Result<Resources> parse_all(const std::map<std::string, std::string>& values,
                            const HostBounds& host) {
    Resources res;
    std::vector<std::string> problems;
    Errc code = Errc::bad_value;
    for (const auto& [name, value] : values) {
        auto r = apply_param(res, name, value, host);
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

Result<Resources> parse_all(const std::map<std::string, std::string>& values, uint32_t host_cpus) {
    return parse_all(values, bounds_of(host_cpus));
}

std::vector<std::pair<std::string, std::string>> canonical(std::string_view name,
                                                           std::string_view value) {
    if (name == "cpumask" || name == "nodemask") {
        auto list = detail::parse_id_list(value, 0, "id");
        // A bad value stays as written so that checking it reports it verbatim.
        if (!list) return {{std::string(name), std::string(value)}};
        return {{std::string(name), list->empty() ? "all" : *list}};
    }
    std::string target = name == "ram" ? "physpages" : name == "swap" ? "swappages" : "";
    if (target.empty()) return {{std::string(name), sys::trim(value)}};
    auto bytes = parse_bytes(value);
    if (!bytes) return {{std::string(name), std::string(value)}};
    return {{target, "0:" + format_value(detail::bytes_to_pages(*bytes))}};
}

std::string format_value(uint64_t v) { return v == kUnlimited ? "unlimited" : std::to_string(v); }

}  // namespace vps::params
