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

std::optional<uint64_t> flat_keyed_value(std::string_view text, std::string_view key) {
    for (auto line : lines_of(text)) {
        auto sp = line.find(' ');
        if (sp == std::string_view::npos || line.substr(0, sp) != key) continue;
        return parse_u64(line.substr(sp + 1));
    }
    return std::nullopt;
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
