// VPS networking as vzd manages it: --ipadd/--netif_add and friends turned
// into config entries, checked against every other VPS and the host, and
// the host-side leftovers of VPSes that stopped.
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "daemon.hpp"
#include "vps/guestfs.hpp"
#include "vps/net.hpp"

namespace vzd {

using nlohmann::json;
namespace plan = vps::plan;

namespace {

// How an address is written to the config: the prefix only when it is not
// the single-address default.
std::string config_text(const plan::IpAddress& a) {
    return a.prefix == (a.family == AF_INET ? 32 : 128) ? a.text() : a.cidr();
}

// A random locally administered unicast MAC, generated once and kept in
// the config so a VPS keeps its MAC (and its DHCP lease) across restarts.
std::string random_mac() {
    plan::Mac m{};
    if (::getrandom(m.data(), m.size(), 0) != static_cast<ssize_t>(m.size())) m = {0, 0, 0, 0, 0, 1};
    m[0] = static_cast<uint8_t>((m[0] & 0xfe) | 0x02);
    return plan::mac_text(m);
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma == std::string::npos ? comma : comma - start));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

// The config entry holding address `a`, whatever prefix either was written with.
std::vector<std::string>::iterator find_address(vps::config::VpsConfig& cfg, const plan::IpAddress& a) {
    return std::find_if(cfg.ip_address.begin(), cfg.ip_address.end(), [&](const std::string& have) {
        auto h = plan::parse_ip(have);
        return h && h->same_address(a);
    });
}

Result<void> del_addresses(vps::config::VpsConfig& cfg, const std::vector<std::string>& del) {
    for (const auto& text : del) {
        if (text == "all") {
            cfg.ip_address.clear();
            continue;
        }
        auto a = plan::parse_ip(text);
        if (!a) return std::move(a).error();
        auto it = find_address(cfg, *a);
        if (it == cfg.ip_address.end())
            return Error::make(Errc::bad_value, "VPS " + std::to_string(cfg.ctid) + " has no IP address " + a->text());
        cfg.ip_address.erase(it);
    }
    return vps::ok();
}

Result<void> add_addresses(vps::config::VpsConfig& cfg, const std::vector<std::string>& add) {
    for (const auto& text : add) {
        auto a = plan::parse_ip(text);
        if (!a) return std::move(a).error();
        if (find_address(cfg, *a) == cfg.ip_address.end()) cfg.ip_address.push_back(config_text(*a));
    }
    return vps::ok();
}

Result<void> del_netifs(vps::config::VpsConfig& cfg, const std::vector<std::string>& del) {
    for (const auto& name : del) {
        if (name == "all") {
            cfg.netif.clear();
            continue;
        }
        auto it = std::find_if(cfg.netif.begin(), cfg.netif.end(),
                               [&](const vps::config::NetifConfig& n) { return n.ifname == name; });
        if (it == cfg.netif.end())
            return Error::make(Errc::bad_value,
                               "VPS " + std::to_string(cfg.ctid) + " has no network interface '" + name + "'");
        cfg.netif.erase(it);
    }
    return vps::ok();
}

std::string free_host_ifname(const vps::config::VpsConfig& cfg) {
    for (size_t n = 0;; ++n) {
        std::string name = "veth" + std::to_string(cfg.ctid) + "." + std::to_string(n);
        bool used = std::any_of(cfg.netif.begin(), cfg.netif.end(),
                                [&](const vps::config::NetifConfig& i) { return i.host_ifname == name; });
        if (!used) return name;
    }
}

// --ifname IFNAME with --mac_filter on|off and --ip_filter ADDR... ("none"
// empties the list): the ingress filters of one bridged interface.
Result<void> set_netif_filters(vps::config::VpsConfig& cfg, const std::vector<std::string>& ifname,
                               const std::vector<std::string>& mac_filter, const std::vector<std::string>& ip_filter) {
    if (ifname.empty() && mac_filter.empty() && ip_filter.empty()) return vps::ok();
    if (ifname.size() != 1)
        return Error::make(Errc::bad_argument, ifname.empty() ? "--mac_filter and --ip_filter need --ifname IFNAME"
                                                              : "give --ifname once");
    auto it = std::find_if(cfg.netif.begin(), cfg.netif.end(),
                           [&](const vps::config::NetifConfig& n) { return n.ifname == ifname[0]; });
    if (it == cfg.netif.end())
        return Error::make(Errc::bad_value, "VPS " + std::to_string(cfg.ctid) + " has no bridged interface '" +
                                                ifname[0] + "' (add one with --netif_add)");
    if (mac_filter.empty() && ip_filter.empty())
        return Error::make(Errc::bad_argument, "--ifname " + ifname[0] + " needs --mac_filter or --ip_filter");
    if (mac_filter.size() > 1) return Error::make(Errc::bad_argument, "give --mac_filter once");
    if (!mac_filter.empty()) {
        if (mac_filter[0] != "on" && mac_filter[0] != "off")
            return Error::make(Errc::bad_argument, "invalid --mac_filter '" + mac_filter[0] + "': expected on or off");
        it->mac_filter = mac_filter[0] == "on";
    }
    if (!ip_filter.empty()) {
        std::vector<std::string> list;
        for (const auto& text : ip_filter) {
            if (text == "none") {
                if (ip_filter.size() != 1)
                    return Error::make(Errc::bad_argument, "--ip_filter none cannot be combined with addresses");
                break;
            }
            auto a = plan::parse_ip(text);
            if (!a) return std::move(a).error();
            list.push_back(a->text());
        }
        it->ip_filter = std::move(list);
    }
    return vps::ok();
}

// IFNAME[,MAC,HOST_IFNAME,HOST_MAC,BRIDGE]: empty fields get defaults.
Result<void> add_netifs(vps::config::VpsConfig& cfg, const std::vector<std::string>& add,
                        const std::string& default_bridge) {
    for (const auto& spec : add) {
        auto f = split_commas(spec);
        if (f.size() > 5)
            return Error::make(Errc::bad_value, "invalid --netif_add '" + spec +
                                                    "': expected IFNAME[,MAC,HOST_IFNAME,HOST_MAC,BRIDGE]");
        f.resize(5);
        vps::config::NetifConfig n{f[0], f[1], f[2], f[3], f[4], true, {}};
        if (auto r = plan::check_ifname(n.ifname, "interface name"); !r) return r;
        bool dup = std::any_of(cfg.netif.begin(), cfg.netif.end(),
                               [&](const vps::config::NetifConfig& i) { return i.ifname == n.ifname; });
        if (dup)
            return Error::make(Errc::bad_value, "VPS " + std::to_string(cfg.ctid) +
                                                    " already has a network interface '" + n.ifname + "'");
        for (std::string* mac : {&n.mac, &n.host_mac}) {
            if (mac->empty()) *mac = random_mac();
            auto m = plan::parse_mac(*mac);
            if (!m) return std::move(m).error();
            *mac = plan::mac_text(*m);
        }
        if (n.host_ifname.empty()) n.host_ifname = free_host_ifname(cfg);
        if (n.bridge.empty()) n.bridge = default_bridge;
        cfg.netif.push_back(std::move(n));
    }
    return vps::ok();
}

}  // namespace

Result<bool> Daemon::apply_net_args(vps::config::VpsConfig& cfg, const json& args) const {
    auto it = args.find("net");
    if (it == args.end() || it->is_null()) return false;
    if (!it->is_object()) return Error::make(Errc::protocol, "'net' must be an object");
    const json& net = *it;
    static const std::set<std::string> known{"ipadd",        "ipdel",        "netif_add", "netif_del",
                                             "nameserver",   "searchdomain", "ifname",    "mac_filter",
                                             "ip_filter"};
    for (const auto& item : net.items())
        if (!known.count(item.key())) return Error::make(Errc::protocol, "unknown network setting 'net." + item.key() + "'");
    auto get = [&](const char* key) { return strings_arg(net, key, "net."); };
    auto ipdel = get("ipdel"), ipadd = get("ipadd"), netif_del = get("netif_del"), netif_add = get("netif_add"),
         nameserver = get("nameserver"), searchdomain = get("searchdomain");
    for (auto* r : {&ipdel, &ipadd, &netif_del, &netif_add, &nameserver, &searchdomain})
        if (!*r) return std::move(*r).error();
    if (auto r = del_addresses(cfg, *ipdel); !r) return std::move(r).error();
    if (auto r = add_addresses(cfg, *ipadd); !r) return std::move(r).error();
    if (auto r = del_netifs(cfg, *netif_del); !r) return std::move(r).error();
    if (auto r = add_netifs(cfg, *netif_add, cfg_.bridge); !r) return std::move(r).error();
    for (const auto& ns : *nameserver)
        if (auto r = plan::check_nameserver(ns); !r) return std::move(r).error();
    for (const auto& d : *searchdomain)
        if (auto r = plan::check_searchdomain(d); !r) return std::move(r).error();
    if (!nameserver->empty()) cfg.nameserver = *nameserver;
    if (!searchdomain->empty()) cfg.searchdomain = *searchdomain;
    auto ifname = get("ifname"), mac_filter = get("mac_filter"), ip_filter = get("ip_filter");
    for (auto* r : {&ifname, &mac_filter, &ip_filter})
        if (!*r) return std::move(*r).error();
    if (auto r = set_netif_filters(cfg, *ifname, *mac_filter, *ip_filter); !r) return std::move(r).error();
    return !net.empty();
}

Result<json> Daemon::complete_net_args(const vps::config::VpsConfig& cfg, const json& args) const {
    json out = args;
    auto it = args.find("net");
    if (it == args.end() || !it->is_object() || !it->contains("netif_add")) return out;
    auto specs = strings_arg(*it, "netif_add", "net.");
    if (!specs) return std::move(specs).error();
    vps::config::VpsConfig scratch = cfg;
    auto dels = strings_arg(*it, "netif_del", "net.");
    if (!dels) return std::move(dels).error();
    if (auto r = del_netifs(scratch, *dels); !r) return std::move(r).error();
    json filled = json::array();
    for (const auto& spec : *specs) {
        if (auto r = add_netifs(scratch, {spec}, cfg_.bridge); !r) return std::move(r).error();
        const auto& n = scratch.netif.back();
        filled.push_back(n.ifname + "," + n.mac + "," + n.host_ifname + "," + n.host_mac + "," + n.bridge);
    }
    out["net"]["netif_add"] = filled;
    return out;
}

void Daemon::resolve_bridges(plan::Plan& p) const {
    for (auto& v : p.net.veths)
        if (v.bridge.empty()) v.bridge = cfg_.bridge;
}

// Another VPS (running or not) may not hold the same address or host
// interface name; nor may the host itself.
Result<void> Daemon::check_network(uint32_t ctid, const plan::Network& net, const plan::Network* current) const {
    if (net.addresses.empty() && net.veths.empty()) return vps::ok();
    auto ctids = layout_.list_ctids();
    if (!ctids) return std::move(ctids).error();
    const auto mine = net.host_ifnames();
    for (uint32_t other : *ctids) {
        if (other == ctid) continue;
        auto cfg = load_config(other);
        if (!cfg) continue;
        std::vector<std::string> ignored;
        auto theirs = plan::build_network(*cfg, ignored);
        for (const auto& a : net.addresses)
            for (const auto& b : theirs.addresses)
                if (a.same_address(b))
                    return Error::make(Errc::bad_value, "IP address " + a.text() + " is already used by VPS " +
                                                            std::to_string(other));
        for (const auto& name : theirs.host_ifnames())
            if (std::find(mine.begin(), mine.end(), name) != mine.end())
                return Error::make(Errc::bad_value, "host interface name '" + name + "' is already used by VPS " +
                                                        std::to_string(other));
    }
    return vps::net::check_host(net, current);
}

void Daemon::clean_host_side(uint32_t ctid, const plan::Network& net) const {
    std::vector<std::string> errors;
    auto removed = vps::net::remove_host_side(net, &errors);
    for (const auto& name : removed) log("VPS " + std::to_string(ctid) + ": removed host interface " + name);
    for (const auto& e : errors) log("warning: VPS " + std::to_string(ctid) + ": " + e);
}

Result<void> Daemon::write_identity(const plan::Plan& p, bool hostname_files) const {
    vps::guestfs::Identity id;
    if (hostname_files) {
        id.hostname = p.hostname;
        for (const auto& a : p.net.addresses) id.addresses.push_back(a.text());
    }
    id.nameservers = p.net.nameservers;
    id.searchdomains = p.net.searchdomains;
    if (id.hostname.empty() && id.addresses.empty() && id.nameservers.empty() && id.searchdomains.empty())
        return vps::ok();
    auto root = vps::guestfs::open_root(p.private_dir);
    if (!root) return std::move(root).error();
    return vps::guestfs::apply_identity(*root, id);
}

}  // namespace vzd
