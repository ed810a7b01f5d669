// The network part of a plan: addresses, MACs and interface names checked
// as text, with no syscalls. What only the host can tell (an address
// already in use, an interface name taken) is checked by vzd.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "vps/plan.hpp"

namespace vps::plan {
namespace {

Error bad(std::string what) { return Error::make(Errc::bad_value, std::move(what)); }

bool parse_prefix(std::string_view text, unsigned max, uint8_t& out) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v > max) return false;
    out = static_cast<uint8_t>(v);
    return true;
}

// Addresses no VPS may claim as its own.
std::string unusable_reason(const IpAddress& a) {
    const auto& b = a.bytes;
    if (a.family == AF_INET) {
        if (b[0] == 0) return "is in 0.0.0.0/8";
        if (b[0] == 127) return "is a loopback address";
        if (b[0] >= 224) return "is a multicast or reserved address";
        if (a.text() == kGatewayV4) return "is the gateway every routed VPS uses";
        return {};
    }
    static const std::array<uint8_t, 16> zero{};
    if (b == zero) return "is the unspecified address";
    std::array<uint8_t, 16> loop{};
    loop[15] = 1;
    if (b == loop) return "is the loopback address";
    if (b[0] == 0xff) return "is a multicast address";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "is a link-local address";
    return {};
}

bool valid_domain_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

std::string default_host_ifname(uint32_t ctid, size_t index) {
    return "veth" + std::to_string(ctid) + "." + std::to_string(index);
}

void build_veths(const config::VpsConfig& cfg, Network& net, std::vector<std::string>& problems) {
    std::set<std::string> inside{kVenetInside, "lo"};
    std::set<std::string> outside{net.venet_host};
    for (size_t i = 0; i < cfg.netif.size(); ++i) {
        const auto& n = cfg.netif[i];
        Veth v;
        v.ifname = n.ifname;
        v.host_ifname = n.host_ifname.empty() ? default_host_ifname(cfg.ctid, i) : n.host_ifname;
        v.bridge = n.bridge;
        const std::string where = "netif " + n.ifname + ": ";
        if (auto r = check_ifname(v.ifname, "interface name"); !r) problems.push_back(where + r.error().detail());
        if (auto r = check_ifname(v.host_ifname, "host interface name"); !r)
            problems.push_back(where + r.error().detail());
        if (!v.bridge.empty()) {
            if (auto r = check_ifname(v.bridge, "bridge"); !r) problems.push_back(where + r.error().detail());
        }
        if (!inside.insert(v.ifname).second)
            problems.push_back(where + "interface name '" + v.ifname + "' is used twice in the VPS");
        if (!outside.insert(v.host_ifname).second)
            problems.push_back(where + "host interface name '" + v.host_ifname + "' is used twice");
        for (auto [text, mac, label] : {std::tuple{&n.mac, &v.mac, "mac"}, std::tuple{&n.host_mac, &v.host_mac, "host_mac"}}) {
            if (text->empty()) continue;  // the kernel picks a random one at each start
            auto parsed = parse_mac(*text);
            if (!parsed) problems.push_back(where + label + ": " + parsed.error().detail());
            else *mac = *parsed;
        }
        v.mac_filter = n.mac_filter;
        for (const auto& text : n.ip_filter) {
            auto a = parse_ip(text);
            if (!a) problems.push_back(where + "ip_filter: " + a.error().detail());
            else v.ip_filter.push_back(*a);
        }
        net.veths.push_back(std::move(v));
    }
}

}  // namespace

size_t IpAddress::size() const { return family == AF_INET ? 4 : 16; }

std::string IpAddress::text() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (!::inet_ntop(family, bytes.data(), buf, sizeof buf)) return "?";
    return buf;
}

std::string IpAddress::cidr() const { return text() + "/" + std::to_string(prefix); }

bool Veth::filtered() const { return (mac_filter && mac != Mac{}) || !ip_filter.empty(); }

std::vector<std::string> Network::host_ifnames() const {
    std::vector<std::string> out;
    if (!addresses.empty()) out.push_back(venet_host);
    for (const auto& v : veths) out.push_back(v.host_ifname);
    return out;
}

Result<IpAddress> parse_ip(std::string_view text) {
    const std::string shown(text);
    auto slash = text.find('/');
    std::string addr(text.substr(0, slash));
    IpAddress a;
    if (::inet_pton(AF_INET, addr.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET;
        a.prefix = 32;
    } else if (::inet_pton(AF_INET6, addr.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET6;
        a.prefix = 128;
    } else {
        return bad("invalid IP address '" + shown + "': not an IPv4 or IPv6 address");
    }
    if (slash != std::string_view::npos &&
        !parse_prefix(text.substr(slash + 1), a.family == AF_INET ? 32 : 128, a.prefix))
        return bad("invalid IP address '" + shown + "': bad prefix length");
    if (auto why = unusable_reason(a); !why.empty())
        return bad("IP address '" + shown + "' " + why + ": a VPS cannot own it");
    return a;
}

Result<Mac> parse_mac(std::string_view text) {
    Mac m{};
    const std::string shown(text);
    // Six pairs of hex digits separated by ':' (17 characters).
    if (text.size() != 17) return bad("invalid MAC address '" + shown + "': expected XX:XX:XX:XX:XX:XX");
    for (size_t i = 0; i < 6; ++i) {
        auto part = text.substr(i * 3, 2);
        if (i < 5 && text[i * 3 + 2] != ':')
            return bad("invalid MAC address '" + shown + "': expected XX:XX:XX:XX:XX:XX");
        auto [end, ec] = std::from_chars(part.data(), part.data() + 2, m[i], 16);
        if (ec != std::errc() || end != part.data() + 2)
            return bad("invalid MAC address '" + shown + "': '" + std::string(part) + "' is not hex");
    }
    if (m[0] & 1) return bad("invalid MAC address '" + shown + "': a multicast address");
    if (m == Mac{}) return bad("invalid MAC address '" + shown + "': all zero");
    return m;
}

std::string mac_text(const Mac& mac) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < mac.size(); ++i) {
        if (i) out += ':';
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 15];
    }
    return out;
}

Result<void> check_ifname(std::string_view name, std::string_view what) {
    const std::string shown(name);
    if (name.empty()) return bad(std::string(what) + " is empty");
    if (name.size() >= IFNAMSIZ)
        return bad(std::string(what) + " '" + shown + "' is longer than " + std::to_string(IFNAMSIZ - 1) +
                   " characters");
    if (name == "." || name == "..") return bad(std::string(what) + " '" + shown + "' is not allowed");
    for (char c : name)
        if (c == '/' || c == ':' || c <= ' ' || c == 127)
            return bad(std::string(what) + " '" + shown + "' contains a '/', ':', space or control character");
    return ok();
}

Result<void> check_nameserver(std::string_view text) {
    std::string s(text);
    std::array<uint8_t, 16> buf{};
    if (::inet_pton(AF_INET, s.c_str(), buf.data()) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf.data()) == 1)
        return ok();
    return bad("invalid nameserver '" + s + "': not an IPv4 or IPv6 address");
}

Result<void> check_searchdomain(std::string_view text) {
    const std::string shown(text);
    if (text.empty() || text.size() > 253 || !std::all_of(text.begin(), text.end(), valid_domain_char))
        return bad("invalid search domain '" + shown + "'");
    return ok();
}

Network build_network(const config::VpsConfig& cfg, std::vector<std::string>& problems) {
    Network net;
    net.venet_host = "venet" + std::to_string(cfg.ctid);
    for (const auto& text : cfg.ip_address) {
        auto a = parse_ip(text);
        if (!a) {
            problems.push_back("ip_address: " + a.error().detail());
            continue;
        }
        bool dup = std::any_of(net.addresses.begin(), net.addresses.end(),
                               [&](const IpAddress& o) { return o.same_address(*a); });
        if (dup) problems.push_back("ip_address: " + a->text() + " is listed twice");
        else net.addresses.push_back(*a);
    }
    build_veths(cfg, net, problems);
    for (const auto& ns : cfg.nameserver) {
        if (auto r = check_nameserver(ns); !r) problems.push_back("nameserver: " + r.error().detail());
        else net.nameservers.push_back(ns);
    }
    for (const auto& d : cfg.searchdomain) {
        if (auto r = check_searchdomain(d); !r) problems.push_back("searchdomain: " + r.error().detail());
        else net.searchdomains.push_back(d);
    }
    return net;
}

}  // namespace vps::plan
