#include "vps/net.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include "net/netlink.hpp"

namespace vps::net {
namespace {

constexpr const char* kNoClassifiers =
    "no traffic-control classifiers (cls_u32, cls_matchall, act_gact) in this kernel: ";

SourceFilter routed_filter(const std::vector<plan::IpAddress>& addresses) {
    SourceFilter f;
    f.allowed = addresses;
    return f;
}

plan::IpAddress gateway(int family) {
    auto a = plan::IpAddress{};
    a.family = family;
    if (family == AF_INET) {
        a.bytes = {169, 254, 0, 1};
        a.prefix = 32;
    } else {
        a.bytes = {0xfe, 0x80};
        a.bytes[15] = 1;
        a.prefix = 64;
    }
    return a;
}

plan::IpAddress default_route(int family) {
    plan::IpAddress a;
    a.family = family;
    a.prefix = 0;
    return a;
}

plan::IpAddress host_route(plan::IpAddress a) {
    a.prefix = a.family == AF_INET ? 32 : 128;
    return a;
}

bool has_family(const std::vector<plan::IpAddress>& v, int family) {
    return std::any_of(v.begin(), v.end(), [&](const plan::IpAddress& a) { return a.family == family; });
}

bool contains(const std::vector<plan::IpAddress>& v, const plan::IpAddress& a) {
    return std::any_of(v.begin(), v.end(), [&](const plan::IpAddress& o) { return o.same_address(a) && o.prefix == a.prefix; });
}

Result<int> index_of(Netlink& nl, const std::string& name) {
    auto l = nl.link(name);
    if (!l) return std::move(l).error();
    if (!*l) return Error(Errc::system, "find interface", name + " (" + nl.where() + ")", ENODEV, {});
    return (*l)->index;
}

// The host end's gateway addresses for the families the VPS uses.
Result<void> add_gateways(Netlink& host, int host_index, const std::vector<plan::IpAddress>& addrs) {
    for (int family : {AF_INET, AF_INET6}) {
        if (!has_family(addrs, family)) continue;
        if (auto r = host.add_address(host_index, gateway(family)); !r) return r;
    }
    return ok();
}

Result<void> add_inside_defaults(Netlink& inside, int index, const std::vector<plan::IpAddress>& addrs) {
    for (int family : {AF_INET, AF_INET6}) {
        if (!has_family(addrs, family)) continue;
        auto gw = gateway(family);
        if (auto r = inside.add_route(index, default_route(family), &gw); !r) return r;
    }
    return ok();
}

Result<void> add_routed(Netlink& host, int host_index, Netlink& inside, int index, const plan::IpAddress& a) {
    if (auto r = inside.add_address(index, a); !r) return r;
    return host.add_route(host_index, host_route(a), nullptr);
}

// The host end venet<CTID> of a routed VPS, once the pair exists: source
// filter, forwarding, gateway addresses, up, a route per VPS address.
Result<void> wire_venet_host(Netlink& host, const plan::Network& net, std::vector<std::string>* notes, int* index) {
    auto h = index_of(host, net.venet_host);
    if (!h) return std::move(h).error();
    auto filtered = host.set_source_filter(*h, routed_filter(net.addresses), true);
    if (!filtered) return std::move(filtered).error();
    if (!*filtered && notes)
        notes->push_back(kNoClassifiers + std::string("source addresses of ") + net.venet_host +
                         " are checked by IPv4 reverse path filtering only");
    if (auto r = host.set_routed_conf(net.venet_host); !r) return r;
    if (auto r = add_gateways(host, *h, net.addresses); !r) return r;
    if (auto r = host.set_up(net.venet_host); !r) return r;
    *index = *h;
    return ok();
}

Result<void> create_venet(Netlink& host, Netlink& inside, const plan::Network& net, pid_t pid,
                          std::vector<std::string>* notes) {
    if (auto r = host.add_veth(net.venet_host, {}, plan::kVenetInside, {}, pid); !r) return r;
    int h = 0;
    if (auto r = wire_venet_host(host, net, notes, &h); !r) return r;
    if (auto r = inside.set_up(plan::kVenetInside); !r) return r;
    auto in = index_of(inside, plan::kVenetInside);
    if (!in) return std::move(in).error();
    for (const auto& a : net.addresses)
        if (auto r = add_routed(host, h, inside, *in, a); !r) return r;
    return add_inside_defaults(inside, *in, net.addresses);
}

Result<void> ensure_bridge(Netlink& host, const std::string& name) {
    auto l = host.link(name);
    if (!l) return std::move(l).error();
    if (*l && (*l)->type != "bridge")
        return Error::make(Errc::bad_value, "interface '" + name + "' exists on the host but is not a bridge");
    if (!*l) {
        // Two VPSes starting at once may both find the bridge missing.
        if (auto r = host.add_bridge(name); !r) {
            auto again = host.link(name);
            if (!again || !*again || (*again)->type != "bridge") return r;
        }
    }
    if (!*l || !(*l)->up) return host.set_up(name);
    return ok();
}

SourceFilter veth_filter(const plan::Veth& v) {
    SourceFilter f;
    f.allowed = v.ip_filter;
    f.any_address = v.ip_filter.empty();
    f.restrict_arp = !v.ip_filter.empty();
    if (v.mac_filter && v.mac != plan::Mac{}) f.mac = v.mac;
    return f;
}

// The host end of a bridged veth: MAC and address filters as its plan asks.
// `had_filter`: the interface already has a filter (a live change).
Result<void> filter_veth(Netlink& host, const plan::Veth& v, bool had_filter, std::vector<std::string>* notes) {
    auto index = index_of(host, v.host_ifname);
    if (!index) return std::move(index).error();
    if (!v.filtered()) return had_filter ? host.remove_source_filter(*index) : ok();
    auto filtered = host.set_source_filter(*index, veth_filter(v), !had_filter);
    if (!filtered) return std::move(filtered).error();
    if (!*filtered && notes)
        notes->push_back(kNoClassifiers + std::string("the MAC and address filters of ") + v.host_ifname +
                         " are not applied");
    return ok();
}

// The host end of a bridged veth, once the pair exists: filtered before it
// joins the bridge, so nothing passes unchecked; then up.
Result<void> wire_veth_host(Netlink& host, const plan::Veth& v, std::vector<std::string>* notes) {
    if (auto r = ensure_bridge(host, v.bridge); !r) return r;
    auto bridge = index_of(host, v.bridge);
    if (!bridge) return std::move(bridge).error();
    if (auto r = filter_veth(host, v, false, notes); !r) return r;
    if (auto r = host.set_master(v.host_ifname, *bridge); !r) return r;
    return host.set_up(v.host_ifname);
}

Result<void> create_veth(Netlink& host, Netlink& inside, const plan::Veth& v, pid_t pid,
                         std::vector<std::string>* notes) {
    if (auto r = host.add_veth(v.host_ifname, v.host_mac, v.ifname, v.mac, pid); !r) return r;
    if (auto r = wire_veth_host(host, v, notes); !r) return r;
    return inside.set_up(v.ifname);
}

// The same pair of interfaces (filters aside, which change in place).
bool same_veth(const plan::Veth& a, const plan::Veth& b) {
    return a.ifname == b.ifname && a.host_ifname == b.host_ifname && a.bridge == b.bridge && a.mac == b.mac &&
           a.host_mac == b.host_mac;
}

bool same_filter(const plan::Veth& a, const plan::Veth& b) {
    if (a.filtered() != b.filtered() || a.mac_filter != b.mac_filter || a.ip_filter.size() != b.ip_filter.size())
        return false;
    for (size_t i = 0; i < a.ip_filter.size(); ++i)
        if (!a.ip_filter[i].same_address(b.ip_filter[i])) return false;
    return true;
}

Result<void> update_routed(Netlink& host, Netlink& inside, const plan::Network& from, const plan::Network& to,
                           pid_t pid, std::vector<std::string>* notes) {
    if (from.addresses.empty() && to.addresses.empty()) return ok();
    if (to.addresses.empty()) return host.delete_link(from.venet_host);
    if (from.addresses.empty()) return create_venet(host, inside, to, pid, notes);
    auto h = index_of(host, to.venet_host);
    if (!h) return std::move(h).error();
    auto in = index_of(inside, plan::kVenetInside);
    if (!in) return std::move(in).error();
    for (const auto& a : from.addresses) {
        if (contains(to.addresses, a)) continue;
        if (auto r = host.del_route(*h, host_route(a)); !r) return r;
        if (auto r = inside.del_address(*in, a); !r) return r;
    }
    // Allow new sources before they are used, forbid old ones after. No
    // filter on the interface (see create_venet): nothing to update.
    if (auto r = host.set_source_filter(*h, routed_filter(to.addresses), false); !r && r.error().err() != ENOTSUP)
        return std::move(r).error();
    if (auto r = add_gateways(host, *h, to.addresses); !r) return r;
    for (const auto& a : to.addresses) {
        if (contains(from.addresses, a)) continue;
        if (auto r = add_routed(host, *h, inside, *in, a); !r) return r;
    }
    return add_inside_defaults(inside, *in, to.addresses);
}

}  // namespace

Result<void> setup(const plan::Network& net, pid_t pid, std::vector<std::string>* notes) {
    auto inside = Netlink::open_in(pid);
    if (!inside) return std::move(inside).error().with_context("network");
    if (auto r = inside->set_up("lo"); !r) return std::move(r).error().with_context("network");
    if (net.addresses.empty() && net.veths.empty()) return ok();
    auto host = Netlink::open();
    if (!host) return std::move(host).error().with_context("network");
    if (!net.addresses.empty()) {
        if (auto r = create_venet(*host, *inside, net, pid, notes); !r)
            return std::move(r).error().with_context("network");
    }
    for (const auto& v : net.veths)
        if (auto r = create_veth(*host, *inside, v, pid, notes); !r)
            return std::move(r).error().with_context("network interface " + v.ifname);
    return ok();
}

Result<void> wire_host_side(const plan::Network& net, std::vector<std::string>* notes) {
    if (net.addresses.empty() && net.veths.empty()) return ok();
    auto host = Netlink::open();
    if (!host) return std::move(host).error().with_context("network");
    if (!net.addresses.empty()) {
        int h = 0;
        if (auto r = wire_venet_host(*host, net, notes, &h); !r) return std::move(r).error().with_context("network");
        for (const auto& a : net.addresses)
            if (auto r = host->add_route(h, host_route(a), nullptr); !r) return std::move(r).error().with_context("network");
    }
    for (const auto& v : net.veths)
        if (auto r = wire_veth_host(*host, v, notes); !r)
            return std::move(r).error().with_context("network interface " + v.ifname);
    return ok();
}

Result<void> update(const plan::Network& from, const plan::Network& to, pid_t pid,
                    std::vector<std::string>* notes) {
    auto inside = Netlink::open_in(pid);
    if (!inside) return std::move(inside).error().with_context("network");
    auto host = Netlink::open();
    if (!host) return std::move(host).error().with_context("network");
    for (const auto& old : from.veths) {
        bool kept = std::any_of(to.veths.begin(), to.veths.end(), [&](const plan::Veth& v) { return same_veth(v, old); });
        if (kept) continue;
        if (auto r = host->delete_link(old.host_ifname); !r) return std::move(r).error().with_context("network");
    }
    if (auto r = update_routed(*host, *inside, from, to, pid, notes); !r)
        return std::move(r).error().with_context("network");
    for (const auto& v : to.veths) {
        auto had = std::find_if(from.veths.begin(), from.veths.end(), [&](const plan::Veth& o) { return same_veth(o, v); });
        auto r = had == from.veths.end() ? create_veth(*host, *inside, v, pid, notes)
                 : same_filter(*had, v)  ? ok()
                                         : filter_veth(*host, v, had->filtered(), notes);
        if (!r) return std::move(r).error().with_context("network interface " + v.ifname);
    }
    return ok();
}

std::vector<std::string> remove_host_side(const plan::Network& net, std::vector<std::string>* errors) {
    std::vector<std::string> removed;
    auto host = Netlink::open();
    if (!host) {
        if (errors) errors->push_back(host.error().message());
        return removed;
    }
    std::vector<std::string> names = net.host_ifnames();
    if (net.addresses.empty()) names.push_back(net.venet_host);  // removed while it ran
    for (const auto& name : names) {
        auto l = host->link(name);
        if (!l || !*l || (*l)->type != "veth") continue;
        if (auto r = host->delete_link(name); !r) {
            if (errors) errors->push_back(r.error().message());
            continue;
        }
        removed.push_back(name);
    }
    return removed;
}

Result<void> check_host(const plan::Network& net, const plan::Network* current) {
    if (net.addresses.empty() && net.veths.empty()) return ok();
    auto host = Netlink::open();
    if (!host) return std::move(host).error();
    auto addrs = host->addresses();
    if (!addrs) return std::move(addrs).error();
    for (const auto& a : net.addresses) {
        bool taken = std::any_of(addrs->begin(), addrs->end(), [&](const plan::IpAddress& h) { return h.same_address(a); });
        if (taken) return Error::make(Errc::bad_value, "IP address " + a.text() + " is already in use on the host");
    }
    auto ours = [&](const std::string& name) {
        if (!current) return false;
        auto names = current->host_ifnames();
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    for (const auto& name : net.host_ifnames()) {
        if (ours(name)) continue;
        auto l = host->link(name);
        if (!l) return std::move(l).error();
        if (*l) return Error::make(Errc::bad_value, "host interface name '" + name + "' is already taken by an existing interface");
    }
    for (const auto& v : net.veths) {
        auto l = host->link(v.bridge);
        if (!l) return std::move(l).error();
        if (*l && (*l)->type != "bridge")
            return Error::make(Errc::bad_value, "interface '" + v.bridge + "' exists on the host but is not a bridge");
    }
    return ok();
}

}  // namespace vps::net
