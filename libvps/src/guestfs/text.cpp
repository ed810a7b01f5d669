// The /etc/hosts and /etc/resolv.conf rewrites: pure text, no syscalls.
//
// Both keep every line they do not own byte for byte and in order, and put
// their own lines back where the old ones were, so that applying the same
// identity twice gives the same file (and vzd then skips the write).
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "vps/guestfs.hpp"

namespace vps::guestfs {
namespace {

// Lines without their '\n'. A final line without one still counts; a
// trailing '\n' does not start an empty line.
std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        if (nl == std::string_view::npos) {
            out.emplace_back(text);
            break;
        }
        out.emplace_back(text.substr(0, nl));
        text.remove_prefix(nl + 1);
    }
    return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
        out += l;
        out += '\n';
    }
    return out;
}

std::vector<std::string_view> tokens(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
        size_t b = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') ++i;
        if (i > b) out.push_back(s.substr(b, i - b));
    }
    return out;
}

std::string_view trim_view(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// A hosts line split at its comment: the address and names before '#'.
struct HostsEntry {
    std::vector<std::string_view> fields;  // address, then names
    std::string_view comment;              // after the '#', trimmed
    bool has_comment = false;
};

HostsEntry parse_hosts_line(std::string_view line) {
    HostsEntry e;
    size_t hash = line.find('#');
    if (hash != std::string_view::npos) {
        e.comment = trim_view(line.substr(hash + 1));
        e.has_comment = true;
        line = line.substr(0, hash);
    }
    e.fields = tokens(line);
    return e;
}

// vzd's lines: an entry whose comment is exactly the marker's text. A
// comment-only "# vzd" line is the admin's.
bool is_vzd_line(const HostsEntry& e) {
    static constexpr std::string_view marker_text = kHostsMarker.substr(2);  // "vzd"
    return !e.fields.empty() && e.has_comment && e.comment == marker_text;
}

enum class Family { none, v4, v6 };

// Which family's localhost this line maps, if it names localhost at all.
Family localhost_family(const HostsEntry& e) {
    if (e.fields.size() < 2) return Family::none;
    bool names_localhost = std::any_of(e.fields.begin() + 1, e.fields.end(),
                                       [](std::string_view n) { return iequals(n, "localhost"); });
    if (!names_localhost) return Family::none;
    return e.fields[0].find(':') != std::string_view::npos ? Family::v6 : Family::v4;
}

std::vector<std::string> vzd_hosts_lines(std::string_view hostname,
                                         const std::vector<std::string>& addresses) {
    std::string_view fqdn = hostname;
    std::string_view short_name = fqdn.substr(0, fqdn.find('.'));
    std::string names(fqdn);
    if (short_name != fqdn) names += " " + std::string(short_name);

    std::vector<std::string> addrs;
    for (const auto& a : addresses)
        if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) addrs.push_back(a);
    if (addrs.empty()) addrs.emplace_back("127.0.1.1");

    std::vector<std::string> out;
    for (const auto& a : addrs) out.push_back(a + "  " + names + "  " + std::string(kHostsMarker));
    return out;
}

}  // namespace

std::string hosts_with(std::string_view old, std::string_view hostname,
                       const std::vector<std::string>& addresses) {
    std::vector<std::string> kept;
    long insert_at = -1;  // where vzd's first old line was
    bool has_v4 = false, has_v6 = false;
    for (auto& line : split_lines(old)) {
        HostsEntry e = parse_hosts_line(line);
        if (is_vzd_line(e)) {
            if (insert_at < 0) insert_at = static_cast<long>(kept.size());
            continue;
        }
        Family f = localhost_family(e);
        has_v4 = has_v4 || f == Family::v4;
        has_v6 = has_v6 || f == Family::v6;
        kept.push_back(std::move(line));
    }
    if (hostname.empty()) return join_lines(kept);

    std::vector<std::string> head;
    if (!has_v4) head.emplace_back("127.0.0.1 localhost");
    if (!has_v6) head.emplace_back("::1 localhost ip6-localhost ip6-loopback");
    kept.insert(kept.begin(), head.begin(), head.end());
    if (insert_at >= 0) {
        insert_at += static_cast<long>(head.size());
    } else {
        // Debian puts 127.0.1.1 right after the IPv4 localhost line.
        auto it = std::find_if(kept.begin(), kept.end(), [](const std::string& l) {
            return localhost_family(parse_hosts_line(l)) == Family::v4;
        });
        insert_at = it == kept.end() ? static_cast<long>(kept.size()) : (it - kept.begin()) + 1;
    }
    auto ours = vzd_hosts_lines(hostname, addresses);
    kept.insert(kept.begin() + insert_at, ours.begin(), ours.end());
    return join_lines(kept);
}

namespace {
std::string_view resolv_keyword(std::string_view line) {
    auto t = tokens(line);
    return t.empty() ? std::string_view() : t[0];
}
}  // namespace

std::string resolv_with(std::string_view old, const std::vector<std::string>& nameservers,
                        const std::vector<std::string>& searchdomains) {
    std::vector<std::string> ns_lines;
    for (const auto& n : nameservers) ns_lines.push_back("nameserver " + n);
    std::string search_line = "search";
    for (const auto& d : searchdomains) search_line += " " + d;

    std::vector<std::string> out;
    bool ns_placed = nameservers.empty(), search_placed = searchdomains.empty();
    for (auto& line : split_lines(old)) {
        std::string_view kw = resolv_keyword(line);
        if (!nameservers.empty() && kw == "nameserver") {
            if (!ns_placed) out.insert(out.end(), ns_lines.begin(), ns_lines.end());
            ns_placed = true;
            continue;
        }
        if (!searchdomains.empty() && (kw == "search" || kw == "domain")) {
            if (!search_placed) out.push_back(search_line);
            search_placed = true;
            continue;
        }
        out.push_back(std::move(line));
    }
    if (!ns_placed) out.insert(out.end(), ns_lines.begin(), ns_lines.end());
    if (!search_placed) {
        auto first_ns = std::find_if(out.begin(), out.end(), [](const std::string& l) {
            return resolv_keyword(l) == "nameserver";
        });
        out.insert(first_ns, search_line);
    }
    return join_lines(out);
}

}  // namespace vps::guestfs
