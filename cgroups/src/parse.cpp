#include "parse.hpp"

#include <algorithm>
#include <charconv>
#include <climits>

#include "vps/sys.hpp"

namespace cgroups::detail {
namespace {

std::string_view strip(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        if (!line.empty()) out.push_back(line);
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() &&
            std::all_of(s.begin() + i + 1, s.begin() + i + 4,
                        [](char c) { return c >= '0' && c <= '7'; })) {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

bool has_word(const std::vector<std::string>& list, std::string_view w) {
    return std::find(list.begin(), list.end(), w) != list.end();
}

// Is path equal to root or beneath it (on a '/' boundary)?
bool at_or_beneath(std::string_view path, std::string_view root) {
    while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
    if (root == "/") return !path.empty() && path.front() == '/';
    if (path.substr(0, root.size()) != root) return false;
    return path.size() == root.size() || path[root.size()] == '/';
}

}  // namespace

std::optional<uint64_t> parse_u64(std::string_view s) {
    s = strip(s);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<uint64_t> parse_max(std::string_view s) {
    if (strip(s) == "max") return kUnlimited;
    return parse_u64(s);
}

std::string format_max(uint64_t v) { return v == kUnlimited ? "max" : std::to_string(v); }

std::optional<uint64_t> parse_v1_limit(std::string_view s) {
    if (strip(s) == "-1") return kUnlimited;
    auto v = parse_u64(s);
    if (v && *v >= (uint64_t{1} << 62)) return kUnlimited;
    return v;
}

std::string format_v1_limit(uint64_t v) { return v == kUnlimited ? "-1" : std::to_string(v); }

std::optional<std::string_view> flat_keyed_text(std::string_view text, std::string_view key) {
    for (auto line : lines_of(text)) {
        auto sp = line.find(' ');
        if (sp == std::string_view::npos || line.substr(0, sp) != key) continue;
        return line.substr(sp + 1);
    }
    return std::nullopt;
}

std::optional<uint64_t> flat_keyed_value(std::string_view text, std::string_view key) {
    auto v = flat_keyed_text(text, key);
    if (!v) return std::nullopt;
    return parse_u64(*v);
}

std::optional<uint64_t> memory_stat_kernel(std::string_view text) {
    if (flat_keyed_text(text, "kernel")) return flat_keyed_value(text, "kernel");
    // "slab" is itself the sum of the two slab keys; count those only
    // where it is missing.
    std::vector<std::string_view> keys{"kernel_stack", "pagetables", "percpu"};
    if (flat_keyed_text(text, "slab")) {
        keys.emplace_back("slab");
    } else {
        keys.emplace_back("slab_reclaimable");
        keys.emplace_back("slab_unreclaimable");
    }
    uint64_t sum = 0;
    bool any = false;
    for (auto key : keys) {
        if (!flat_keyed_text(text, key)) continue;
        auto v = flat_keyed_value(text, key);
        if (!v) return std::nullopt;
        sum += *v;
        any = true;
    }
    if (!any) return std::nullopt;
    return sum;
}

std::optional<IoTotals> parse_io_stat(std::string_view text) {
    IoTotals t;
    const std::pair<std::string_view, uint64_t IoTotals::*> keys[] = {{"rbytes", &IoTotals::rbytes},
                                                                      {"wbytes", &IoTotals::wbytes},
                                                                      {"rios", &IoTotals::rios},
                                                                      {"wios", &IoTotals::wios}};
    for (auto line : lines_of(text)) {
        auto w = words(line);
        // w[0] is the device; the rest are key=value (more keys, such as
        // dbytes or cost.*, come and go with the kernel and are skipped).
        for (size_t i = 1; i < w.size(); ++i) {
            auto eq = w[i].find('=');
            if (eq == std::string::npos) continue;
            std::string_view key(w[i].data(), eq);
            for (const auto& [name, member] : keys) {
                if (key != name) continue;
                auto v = parse_u64(std::string_view(w[i]).substr(eq + 1));
                if (!v) return std::nullopt;
                t.*member += *v;
            }
        }
    }
    return t;
}

std::optional<ReadWrite> parse_blkio_rw(std::string_view text) {
    ReadWrite rw;
    for (auto line : lines_of(text)) {
        auto w = words(line);
        if (w.size() != 3 || (w[1] != "Read" && w[1] != "Write")) continue;
        auto v = parse_u64(w[2]);
        if (!v) return std::nullopt;
        (w[1] == "Read" ? rw.read : rw.write) += *v;
    }
    return rw;
}

bool valid_device(std::string_view dev) {
    auto colon = dev.find(':');
    if (colon == std::string_view::npos) return false;
    auto digits = [](std::string_view s) {
        return !s.empty() && s.size() <= 10 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    return digits(dev.substr(0, colon)) && digits(dev.substr(colon + 1));
}

std::string format_io_max(const Limits& limits) {
    if (!limits.io_device) return {};
    const std::pair<std::string_view, const std::optional<uint64_t>*> keys[] = {
        {"rbps", &limits.io_rbps},
        {"wbps", &limits.io_wbps},
        {"riops", &limits.io_riops},
        {"wiops", &limits.io_wiops}};
    std::string out;
    for (const auto& [key, value] : keys)
        if (*value) out += " " + std::string(key) + "=" + format_max(**value);
    if (out.empty()) return {};
    return *limits.io_device + out;
}

uint64_t io_weight_to_blkio(uint32_t weight) {
    return std::clamp<uint64_t>(uint64_t{weight} * 5, 10, 1000);
}

uint32_t blkio_to_io_weight(uint64_t blkio_weight) {
    uint64_t w = (std::min<uint64_t>(blkio_weight, 50000) + 2) / 5;
    return static_cast<uint32_t>(std::clamp<uint64_t>(w, 1, 10000));
}

uint64_t io_weight_to_bfq(uint32_t weight) { return std::clamp<uint64_t>(weight, 1, 1000); }

uint32_t bfq_to_io_weight(uint64_t bfq_weight) {
    return static_cast<uint32_t>(std::clamp<uint64_t>(bfq_weight, 1, 1000));
}

std::optional<uint64_t> parse_weight_file(std::string_view text) {
    if (auto v = flat_keyed_text(text, "default")) return parse_u64(*v);
    auto w = words(text);
    if (w.empty()) return std::nullopt;
    return parse_u64(w[0]);
}

std::optional<CpuMax> parse_cpu_max(std::string_view s) {
    auto w = words(s);
    if (w.size() != 2) return std::nullopt;
    auto quota = parse_max(w[0]);
    auto period = parse_u64(w[1]);
    if (!quota || !period) return std::nullopt;
    return CpuMax{*quota, *period};
}

std::optional<std::vector<pid_t>> parse_pids(std::string_view s) {
    std::vector<pid_t> out;
    for (auto line : lines_of(s)) {
        auto v = parse_u64(line);
        if (!v || *v == 0 || *v > INT_MAX) return std::nullopt;
        out.push_back(static_cast<pid_t>(*v));
    }
    return out;
}

std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
        size_t b = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n') ++i;
        if (i > b) out.emplace_back(s.substr(b, i - b));
    }
    return out;
}

uint64_t weight_to_shares(uint32_t weight) {
    return std::max<uint64_t>(2, uint64_t{weight} * 1024 / 100);
}

uint32_t shares_to_weight(uint64_t shares) {
    uint64_t w = (shares * 100 + 1023) / 1024;  // round up: undoes the floor above
    return static_cast<uint32_t>(std::clamp<uint64_t>(w, 1, 10000));
}

std::vector<ProcCgroupLine> parse_proc_cgroup(std::string_view text) {
    std::vector<ProcCgroupLine> out;
    for (auto line : lines_of(text)) {
        // The path may itself contain ':', so split on the first two only.
        auto c1 = line.find(':');
        if (c1 == std::string_view::npos) continue;
        auto c2 = line.find(':', c1 + 1);
        if (c2 == std::string_view::npos) continue;
        auto id = parse_u64(line.substr(0, c1));
        if (!id) continue;
        ProcCgroupLine l;
        l.hierarchy = static_cast<unsigned>(*id);
        auto ctrls = line.substr(c1 + 1, c2 - c1 - 1);
        if (!ctrls.empty()) l.controllers = vps::sys::split(ctrls, ',');
        l.path = std::string(line.substr(c2 + 1));
        out.push_back(std::move(l));
    }
    return out;
}

std::optional<std::string> v2_own_path(const std::vector<ProcCgroupLine>& lines) {
    for (const auto& l : lines)
        if (l.hierarchy == 0 && l.controllers.empty()) return l.path;
    return std::nullopt;
}

std::optional<std::string> v1_own_path(const std::vector<ProcCgroupLine>& lines,
                                       std::string_view controller) {
    for (const auto& l : lines)
        if (l.hierarchy != 0 && has_word(l.controllers, controller)) return l.path;
    return std::nullopt;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
    std::vector<MountInfo> out;
    for (auto line : lines_of(text)) {
        auto f = vps::sys::split(line, ' ');
        // Optional fields (shared:N ...) sit between field 6 and the " - ".
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 7 || dash == f.end() || f.end() - dash < 4 || dash - f.begin() < 6) continue;
        MountInfo m;
        m.root = unescape_octal(f[3]);
        m.mount_point = unescape_octal(f[4]);
        m.fstype = *(dash + 1);
        m.super_options = vps::sys::split(*(dash + 3), ',');
        out.push_back(std::move(m));
    }
    return out;
}

std::optional<MountInfo> find_v1_mount(const std::vector<MountInfo>& mounts, std::string_view root,
                                       std::string_view controller) {
    for (const auto& m : mounts)
        if (m.fstype == "cgroup" && at_or_beneath(m.mount_point, root) &&
            has_word(m.super_options, controller))
            return m;
    return std::nullopt;
}

std::optional<std::string> path_in_mount(std::string_view mount_root, std::string_view own) {
    if (!at_or_beneath(own, mount_root)) return std::nullopt;
    while (mount_root.size() > 1 && mount_root.back() == '/') mount_root.remove_suffix(1);
    if (mount_root == "/") return std::string(own);
    auto rest = own.substr(mount_root.size());
    return rest.empty() ? std::string("/") : std::string(rest);
}

std::string join_path(std::string_view a, std::string_view b) {
    std::string out(a);
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    while (!b.empty() && b.front() == '/') b.remove_prefix(1);
    while (!b.empty() && b.back() == '/') b.remove_suffix(1);
    if (b.empty()) return out;
    if (out.empty() || out.back() != '/') out += '/';
    out += b;
    return out;
}

bool valid_name(std::string_view name, bool allow_nested) {
    if (name.empty() || name.front() == '/') return false;
    if (!allow_nested && name.find('/') != std::string_view::npos) return false;
    for (const auto& part : vps::sys::split(name, '/'))
        if (part.empty() || part == "." || part == ".." || part.find('\n') != std::string::npos)
            return false;
    return true;
}

}  // namespace cgroups::detail
