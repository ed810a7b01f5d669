// The VPS's hostname, /etc/hosts and /etc/resolv.conf, written from the
// host through the guarded read_file/write_file.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <functional>

#include "vps/guestfs.hpp"

namespace vps::guestfs {
namespace {

constexpr size_t kMaxEtcFile = 1u << 20;

// RFC 1123 names, plus '_' which real hostnames use: labels of 1-63
// letters, digits, '-' and '_', not starting or ending with '-', at most
// 253 characters, no trailing dot. Nothing that could end a hosts or
// resolv.conf line or start a comment.
bool is_dns_name(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    size_t start = 0;
    for (;;) {
        size_t dot = s.find('.', start);
        std::string_view label =
            s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool is_ip_literal(const std::string& s) {
    in6_addr buf{};
    return ::inet_pton(AF_INET, s.c_str(), &buf) == 1 ||
           ::inet_pton(AF_INET6, s.c_str(), &buf) == 1;
}

Error bad(std::string_view what, std::string_view value, std::string_view expected) {
    return Error::make(Errc::bad_value, std::string(what) + " '" + std::string(value) +
                                            "' is not " + std::string(expected));
}

// Read rel, transform it, and write it back only if that changes it. A
// missing file counts as empty; an empty result for a missing file is not
// written.
Result<void> update(const Root& root, std::string_view rel,
                    const std::function<std::string(std::string_view)>& transform) {
    auto old = read_file(root, rel, kMaxEtcFile);
    if (!old) return std::move(old).error();
    const std::string current = old->value_or(std::string());
    std::string next = transform(current);
    if (next == current && (old->has_value() || next.empty())) return ok();
    return write_file(root, rel, next);
}

}  // namespace

Result<void> check_identity(const Identity& id) {
    if (!id.hostname.empty() && !is_dns_name(id.hostname))
        return bad("hostname", id.hostname, "a valid host name");
    for (const auto& a : id.addresses)
        if (!is_ip_literal(a)) return bad("address", a, "an IPv4 or IPv6 address");
    for (const auto& n : id.nameservers)
        if (!is_ip_literal(n)) return bad("nameserver", n, "an IPv4 or IPv6 address");
    for (const auto& d : id.searchdomains)
        if (!is_dns_name(d)) return bad("search domain", d, "a valid domain name");
    return ok();
}

Result<void> apply_identity(const Root& root, const Identity& id) {
    if (auto c = check_identity(id); !c) return c;
    if (!id.hostname.empty()) {
        auto r = update(root, "etc/hostname", [&](std::string_view) { return id.hostname + "\n"; });
        if (!r) return r;
    }
    if (!id.hostname.empty() || !id.addresses.empty()) {
        auto r = update(root, "etc/hosts", [&](std::string_view old) {
            return hosts_with(old, id.hostname, id.addresses);
        });
        if (!r) return r;
    }
    if (!id.nameservers.empty() || !id.searchdomains.empty()) {
        auto r = update(root, "etc/resolv.conf", [&](std::string_view old) {
            return resolv_with(old, id.nameservers, id.searchdomains);
        });
        if (!r) return r;
    }
    return ok();
}

}  // namespace vps::guestfs
