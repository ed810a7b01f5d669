#include "net/netlink.hpp"

#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/act/gact.h>
#include <netlink/route/action.h>
#include <netlink/route/addr.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/matchall.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "vps/sys.hpp"

namespace vps::net {
namespace {

struct AddrDeleter {
    void operator()(nl_addr* a) const noexcept { nl_addr_put(a); }
};
using NlAddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;
struct RtAddrDeleter {
    void operator()(rtnl_addr* a) const noexcept { rtnl_addr_put(a); }
};
struct RouteDeleter {
    void operator()(rtnl_route* r) const noexcept { rtnl_route_put(r); }
};
struct QdiscDeleter {
    void operator()(rtnl_qdisc* q) const noexcept { rtnl_qdisc_put(q); }
};
struct ClsDeleter {
    void operator()(rtnl_cls* c) const noexcept { rtnl_cls_put(c); }
};
struct CacheDeleter {
    void operator()(nl_cache* c) const noexcept { nl_cache_free(c); }
};

NlAddrPtr nl_address(const plan::IpAddress& a) {
    NlAddrPtr p(nl_addr_build(a.family, a.bytes.data(), a.size()));
    if (p) nl_addr_set_prefixlen(p.get(), a.prefix);
    return p;
}

NlAddrPtr nl_mac(const plan::Mac& m) { return NlAddrPtr(nl_addr_build(AF_LLC, m.data(), m.size())); }

bool is_zero(const plan::Mac& m) { return m == plan::Mac{}; }

// libnl takes classifier protocols in host byte order and swaps them itself.
uint16_t proto(uint16_t eth_p) { return eth_p; }

}  // namespace

void LinkDeleter::operator()(rtnl_link* l) const noexcept { rtnl_link_put(l); }

Result<Netlink> Netlink::open() {
    nl_sock* sk = nl_socket_alloc();
    if (!sk) return Error::make(Errc::system, "netlink: out of memory");
    if (int e = nl_connect(sk, NETLINK_ROUTE); e < 0) {
        nl_socket_free(sk);
        return Error(Errc::system, "connect rtnetlink socket", {}, 0, nl_geterror(e));
    }
    return Netlink(sk, "host");
}

Result<Netlink> Netlink::open_in(pid_t pid) {
    const std::string ns_path = "/proc/" + std::to_string(pid) + "/ns/net";
    Fd ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return Error::sys("open", ns_path);
    std::optional<Result<Netlink>> made;
    int setns_errno = 0;
    std::thread([&] {
        if (::setns(ns.get(), CLONE_NEWNET) < 0) {
            setns_errno = errno;
            return;
        }
        made.emplace(open());
    }).join();
    if (setns_errno) return Error::sys("setns", ns_path, setns_errno);
    if (!*made) return std::move(*made).error();
    Netlink nl = std::move(**made);
    nl.where_ = "VPS network namespace (init pid " + std::to_string(pid) + ")";
    return nl;
}

Netlink::~Netlink() {
    if (sk_) nl_socket_free(sk_);
}

Error Netlink::nl_error(const std::string& op, const std::string& object, int err) const {
    std::string what = object;
    if (where_ != "host") what += " in " + where_;
    return Error(Errc::system, op, what, 0, nl_geterror(err));
}

Result<LinkPtr> Netlink::get_link(const std::string& name) {
    rtnl_link* l = nullptr;
    int e = rtnl_link_get_kernel(sk_, 0, name.c_str(), &l);
    if (e == -NLE_OBJ_NOTFOUND || e == -NLE_NODEV) return LinkPtr();
    if (e < 0) return nl_error("look up interface", name, e);
    return LinkPtr(l);
}

Result<std::optional<LinkInfo>> Netlink::link(const std::string& name) {
    auto l = get_link(name);
    if (!l) return std::move(l).error();
    if (!*l) return std::optional<LinkInfo>();
    LinkInfo info;
    info.index = rtnl_link_get_ifindex(l->get());
    const char* type = rtnl_link_get_type(l->get());
    info.type = type ? type : "";
    info.up = (rtnl_link_get_flags(l->get()) & IFF_UP) != 0;
    return std::optional<LinkInfo>(info);
}

Result<void> Netlink::change_link(const std::string& name, rtnl_link* change, const char* what) {
    auto l = get_link(name);
    if (!l) return std::move(l).error();
    if (!*l) return Error(Errc::system, what, name, ENODEV, {});
    if (int e = rtnl_link_change(sk_, l->get(), change, 0); e < 0) return nl_error(what, name, e);
    return ok();
}

Result<void> Netlink::set_up(const std::string& name) {
    LinkPtr change(rtnl_link_alloc());
    rtnl_link_set_flags(change.get(), IFF_UP);
    return change_link(name, change.get(), "bring up interface");
}

Result<void> Netlink::set_master(const std::string& name, int master_index) {
    LinkPtr change(rtnl_link_alloc());
    rtnl_link_set_master(change.get(), master_index);
    return change_link(name, change.get(), "attach to bridge");
}

Result<void> Netlink::set_routed_conf(const std::string& name) {
    LinkPtr change(rtnl_link_alloc());
    for (int id : {IPV4_DEVCONF_FORWARDING, IPV4_DEVCONF_RP_FILTER})
        if (int e = rtnl_link_inet_set_conf(change.get(), id, 1); e < 0)
            return nl_error("set IPv4 forwarding and reverse path filter on", name, e);
    return change_link(name, change.get(), "set IPv4 forwarding and reverse path filter on");
}

Result<void> Netlink::delete_link(const std::string& name) {
    auto l = get_link(name);
    if (!l) return std::move(l).error();
    if (!*l) return ok();
    int e = rtnl_link_delete(sk_, l->get());
    if (e < 0 && e != -NLE_OBJ_NOTFOUND && e != -NLE_NODEV) return nl_error("delete interface", name, e);
    return ok();
}

Result<void> Netlink::add_bridge(const std::string& name) {
    if (int e = rtnl_link_bridge_add(sk_, name.c_str()); e < 0) return nl_error("create bridge", name, e);
    return ok();
}

Result<void> Netlink::add_veth(const std::string& name, const plan::Mac& mac, const std::string& peer_name,
                               const plan::Mac& peer_mac, pid_t peer_pid) {
    LinkPtr veth(rtnl_link_veth_alloc());
    if (!veth) return Error::make(Errc::system, "netlink: out of memory");
    // The peer is owned by the veth object; get_peer takes a reference.
    LinkPtr peer(rtnl_link_veth_get_peer(veth.get()));
    rtnl_link_set_name(veth.get(), name.c_str());
    rtnl_link_set_name(peer.get(), peer_name.c_str());
    if (!is_zero(mac)) {
        auto a = nl_mac(mac);
        rtnl_link_set_addr(veth.get(), a.get());
    }
    if (!is_zero(peer_mac)) {
        auto a = nl_mac(peer_mac);
        rtnl_link_set_addr(peer.get(), a.get());
    }
    rtnl_link_set_ns_pid(peer.get(), peer_pid);
    if (int e = rtnl_link_add(sk_, veth.get(), NLM_F_CREATE | NLM_F_EXCL); e < 0)
        return nl_error("create veth pair", name + " <-> " + peer_name, e);
    return ok();
}

namespace {

// The address `a` on interface `ifindex`, as add and delete requests name it.
std::unique_ptr<rtnl_addr, RtAddrDeleter> address_object(int ifindex, const plan::IpAddress& a) {
    std::unique_ptr<rtnl_addr, RtAddrDeleter> addr(rtnl_addr_alloc());
    auto local = nl_address(a);
    if (!addr || !local) return nullptr;
    rtnl_addr_set_ifindex(addr.get(), ifindex);
    rtnl_addr_set_family(addr.get(), a.family);
    rtnl_addr_set_local(addr.get(), local.get());
    rtnl_addr_set_prefixlen(addr.get(), a.prefix);
    return addr;
}

}  // namespace

Result<void> Netlink::add_address(int ifindex, const plan::IpAddress& a) {
    auto addr = address_object(ifindex, a);
    if (!addr) return Error::make(Errc::system, "netlink: out of memory");
    rtnl_addr_set_flags(addr.get(), IFA_F_NOPREFIXROUTE | IFA_F_NODAD);
    if (int e = rtnl_addr_add(sk_, addr.get(), NLM_F_CREATE | NLM_F_REPLACE); e < 0)
        return nl_error("add address", a.cidr(), e);
    return ok();
}

Result<void> Netlink::del_address(int ifindex, const plan::IpAddress& a) {
    auto addr = address_object(ifindex, a);
    if (!addr) return Error::make(Errc::system, "netlink: out of memory");
    int e = rtnl_addr_delete(sk_, addr.get(), 0);
    if (e < 0 && e != -NLE_NOADDR && e != -NLE_OBJ_NOTFOUND && e != -NLE_NODEV)
        return nl_error("delete address", a.cidr(), e);
    return ok();
}

Result<std::vector<plan::IpAddress>> Netlink::addresses() {
    nl_cache* raw = nullptr;
    if (int e = rtnl_addr_alloc_cache(sk_, &raw); e < 0) return nl_error("list addresses", "all interfaces", e);
    std::unique_ptr<nl_cache, CacheDeleter> cache(raw);
    std::vector<plan::IpAddress> out;
    for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        nl_addr* local = rtnl_addr_get_local(a);
        if (!local) continue;
        plan::IpAddress ip;
        ip.family = nl_addr_get_family(local);
        if (ip.family != AF_INET && ip.family != AF_INET6) continue;
        size_t len = nl_addr_get_len(local);
        if (len != ip.size()) continue;
        std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(local), len);
        ip.prefix = static_cast<uint8_t>(nl_addr_get_prefixlen(local));
        out.push_back(ip);
    }
    return out;
}

namespace {

// A main-table route to `dst` through `ifindex`; the route owns its next hop.
std::unique_ptr<rtnl_route, RouteDeleter> route_object(int ifindex, const plan::IpAddress& dst, rtnl_nexthop** hop) {
    std::unique_ptr<rtnl_route, RouteDeleter> route(rtnl_route_alloc());
    auto d = nl_address(dst);
    rtnl_route_set_family(route.get(), static_cast<uint8_t>(dst.family));
    rtnl_route_set_dst(route.get(), d.get());
    rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_add_nexthop(route.get(), nh);
    *hop = nh;
    return route;
}

}  // namespace

Result<void> Netlink::add_route(int ifindex, const plan::IpAddress& dst, const plan::IpAddress* gateway) {
    rtnl_nexthop* nh = nullptr;
    auto route = route_object(ifindex, dst, &nh);
    rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
    rtnl_route_set_scope(route.get(), gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    if (gateway) {
        auto gw = nl_address(*gateway);
        rtnl_route_nh_set_gateway(nh, gw.get());
        rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
    }
    if (int e = rtnl_route_add(sk_, route.get(), NLM_F_CREATE | NLM_F_REPLACE); e < 0)
        return nl_error("add route to", dst.cidr(), e);
    return ok();
}

Result<void> Netlink::del_route(int ifindex, const plan::IpAddress& dst) {
    rtnl_nexthop* nh = nullptr;
    auto route = route_object(ifindex, dst, &nh);
    rtnl_route_set_scope(route.get(), RT_SCOPE_NOWHERE);  // any scope
    int e = rtnl_route_delete(sk_, route.get(), 0);
    if (e < 0 && e != -NLE_OBJ_NOTFOUND && e != -NLE_NODEV) return nl_error("delete route to", dst.cidr(), e);
    return ok();
}

// --- source filtering -------------------------------------------------------------
// An ingress qdisc with classifiers in priority order:
//   prio 10 (IPv4)  u32 src == each own address      -> pass
//   prio 20 (IPv6)  u32 src == each own address,
//                   fe80::/10 and ::                  -> pass
//   prio 30 (ARP)   matchall                          -> pass
//   prio 100 (all)  matchall                          -> drop
// With a MAC filter (bridged veths) every pass rule also matches the
// Ethernet source, ARP rules the sender hardware address too, and with a
// list of addresses ARP must name one of them (or 0.0.0.0) as its sender.
// Changing the list deletes and re-adds the pass rules; meanwhile the drop
// rule stays, so a change fails closed.
constexpr uint16_t kPrioV4 = 10, kPrioV6 = 20, kPrioArp = 30, kPrioDrop = 100;

Result<void> Netlink::add_ingress_qdisc(int ifindex) {
    std::unique_ptr<rtnl_qdisc, QdiscDeleter> q(rtnl_qdisc_alloc());
    auto* tc = TC_CAST(q.get());
    rtnl_tc_set_ifindex(tc, ifindex);
    rtnl_tc_set_parent(tc, TC_H_INGRESS);
    rtnl_tc_set_handle(tc, TC_HANDLE(0xffff, 0));
    if (int e = rtnl_tc_set_kind(tc, "ingress"); e < 0) return nl_error("set up source filter", "ingress qdisc", e);
    int e = rtnl_qdisc_add(sk_, q.get(), NLM_F_CREATE);
    if (e < 0 && e != -NLE_EXIST) return nl_error("add ingress qdisc on interface", std::to_string(ifindex), e);
    return ok();
}

namespace {

// One 32-bit word of a u32 match, in network byte order, at an offset from
// the network header (negative: the Ethernet header before it).
void match_bits(std::vector<U32Key>& keys, int off, const uint8_t* bytes, unsigned bits) {
    for (unsigned i = 0; i * 8 < bits; ++i) {
        const int pos = off + static_cast<int>(i);
        const int word = pos - (((pos % 4) + 4) % 4);
        auto it = std::find_if(keys.begin(), keys.end(), [&](const U32Key& k) { return k.off == word; });
        if (it == keys.end()) it = keys.insert(keys.end(), U32Key{{}, {}, word});
        const unsigned left = bits - i * 8;
        const uint8_t mask = left >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - left));
        it->mask[pos - word] = mask;
        it->value[pos - word] = bytes[i] & mask;
    }
}

}  // namespace

Result<void> Netlink::add_filter(int ifindex, uint16_t protocol, uint16_t prio, const std::vector<U32Key>& keys,
                                 int verdict, const std::string& what) {
    std::unique_ptr<rtnl_cls, ClsDeleter> cls(rtnl_cls_alloc());
    auto* tc = TC_CAST(cls.get());
    rtnl_tc_set_ifindex(tc, ifindex);
    rtnl_tc_set_parent(tc, TC_HANDLE(0xffff, 0));
    rtnl_cls_set_prio(cls.get(), prio);
    rtnl_cls_set_protocol(cls.get(), protocol);
    rtnl_act* act = rtnl_act_alloc();
    rtnl_tc_set_kind(TC_CAST(act), "gact");
    rtnl_gact_set_action(act, verdict);
    int e = 0;
    if (!keys.empty()) {
        rtnl_tc_set_kind(tc, "u32");
        for (const auto& k : keys) {
            uint32_t value = 0, mask = 0;
            std::memcpy(&value, k.value.data(), 4);
            std::memcpy(&mask, k.mask.data(), 4);
            if (e >= 0) e = rtnl_u32_add_key(cls.get(), value, mask, k.off, 0);
        }
        if (e >= 0) e = rtnl_u32_add_action(cls.get(), act);
        // A u32 filter without the terminal flag only follows links to other
        // hash tables and never runs its action.
        if (e >= 0) e = rtnl_u32_set_cls_terminal(cls.get());
    } else {
        rtnl_tc_set_kind(tc, "matchall");
        e = rtnl_mall_append_action(cls.get(), act);
    }
    rtnl_act_put(act);
    if (e >= 0) e = rtnl_cls_add(sk_, cls.get(), NLM_F_CREATE);
    // A kernel built without the classifier or action (and no module to
    // load) answers ENOENT or EOPNOTSUPP.
    if (e == -NLE_OBJ_NOTFOUND || e == -NLE_OPNOTSUPP) return Error(Errc::system, "add source filter", {}, ENOTSUP, nl_geterror(e));
    if (e < 0) return nl_error("add source filter", what, e);
    return ok();
}

Result<void> Netlink::del_filters(int ifindex, uint16_t protocol, uint16_t prio) {
    std::unique_ptr<rtnl_cls, ClsDeleter> cls(rtnl_cls_alloc());
    auto* tc = TC_CAST(cls.get());
    rtnl_tc_set_ifindex(tc, ifindex);
    rtnl_tc_set_parent(tc, TC_HANDLE(0xffff, 0));
    rtnl_cls_set_prio(cls.get(), prio);
    rtnl_cls_set_protocol(cls.get(), protocol);
    int e = rtnl_cls_delete(sk_, cls.get(), 0);
    if (e < 0 && e != -NLE_OBJ_NOTFOUND && e != -NLE_NOATTR && e != -NLE_INVAL)
        return nl_error("remove source filters of interface", std::to_string(ifindex), e);
    return ok();
}

namespace {

// The Ethernet source address sits 8 bytes before the network header; an
// ARP packet's sender hardware address at 8 and sender address at 14.
constexpr int kEthSrc = -8, kArpSha = 8, kArpSpa = 14, kIpv4Src = 12, kIpv6Src = 8;

std::vector<U32Key> with_mac(const SourceFilter& f) {
    std::vector<U32Key> keys;
    if (f.mac) match_bits(keys, kEthSrc, f.mac->data(), 48);
    return keys;
}

struct Rule {
    uint16_t protocol;
    uint16_t prio;
    std::vector<U32Key> keys;  // empty: everything of this protocol
    std::string what;
};

// The pass rules of a filter, in the order described above.
std::vector<Rule> pass_rules(const SourceFilter& f) {
    std::vector<Rule> rules;
    const std::string mac = f.mac ? "from " + plan::mac_text(*f.mac) : "any MAC";
    std::vector<plan::IpAddress> v4, v6;
    for (auto a : f.allowed) {
        a.prefix = a.family == AF_INET ? 32 : 128;
        (a.family == AF_INET ? v4 : v6).push_back(a);
    }
    if (f.mac) v4.push_back(plan::IpAddress{AF_INET, {}, 32});  // DHCP asks from 0.0.0.0
    v6.push_back(plan::IpAddress{AF_INET6, {0xfe, 0x80}, 10});   // link-local
    v6.push_back(plan::IpAddress{AF_INET6, {}, 128});            // duplicate address detection
    if (f.any_address) {
        rules.push_back({ETH_P_IP, kPrioV4, with_mac(f), "IPv4 " + mac});
        rules.push_back({ETH_P_IPV6, kPrioV6, with_mac(f), "IPv6 " + mac});
    } else {
        for (const auto& a : v4) {
            auto keys = with_mac(f);
            match_bits(keys, kIpv4Src, a.bytes.data(), a.prefix);
            rules.push_back({ETH_P_IP, kPrioV4, std::move(keys), a.cidr()});
        }
        for (const auto& a : v6) {
            auto keys = with_mac(f);
            match_bits(keys, kIpv6Src, a.bytes.data(), a.prefix);
            rules.push_back({ETH_P_IPV6, kPrioV6, std::move(keys), a.cidr()});
        }
    }
    if (!f.mac && (f.any_address || !f.restrict_arp)) {
        rules.push_back({ETH_P_ARP, kPrioArp, {}, "ARP"});
    } else if (f.any_address || !f.restrict_arp) {
        auto keys = with_mac(f);
        match_bits(keys, kArpSha, f.mac->data(), 48);
        rules.push_back({ETH_P_ARP, kPrioArp, std::move(keys), "ARP " + mac});
    } else {
        for (const auto& a : v4) {
            auto keys = with_mac(f);
            if (f.mac) match_bits(keys, kArpSha, f.mac->data(), 48);
            match_bits(keys, kArpSpa, a.bytes.data(), 32);
            rules.push_back({ETH_P_ARP, kPrioArp, std::move(keys), "ARP for " + a.text()});
        }
        if (!f.mac) {  // probes (sender 0.0.0.0); with a MAC filter v4 holds 0.0.0.0
            auto keys = with_mac(f);
            plan::IpAddress zero{AF_INET, {}, 32};
            match_bits(keys, kArpSpa, zero.bytes.data(), 32);
            rules.push_back({ETH_P_ARP, kPrioArp, std::move(keys), "ARP probes"});
        }
    }
    return rules;
}

}  // namespace

Result<bool> Netlink::set_source_filter(int ifindex, const SourceFilter& filter, bool fresh) {
    // On a new interface the drop rule goes in first; later it stays.
    if (fresh) {
        if (auto r = add_ingress_qdisc(ifindex); !r) return std::move(r).error();
        if (auto r = add_filter(ifindex, proto(ETH_P_ALL), kPrioDrop, {}, TC_ACT_SHOT, "drop"); !r) {
            if (r.error().err() == ENOTSUP) return false;
            return std::move(r).error();
        }
    }
    if (auto r = del_filters(ifindex, proto(ETH_P_IP), kPrioV4); !r) return std::move(r).error();
    if (auto r = del_filters(ifindex, proto(ETH_P_IPV6), kPrioV6); !r) return std::move(r).error();
    if (auto r = del_filters(ifindex, proto(ETH_P_ARP), kPrioArp); !r) return std::move(r).error();
    for (const auto& rule : pass_rules(filter))
        if (auto r = add_filter(ifindex, proto(rule.protocol), rule.prio, rule.keys, TC_ACT_OK, rule.what); !r)
            return std::move(r).error();
    return true;
}

Result<void> Netlink::remove_source_filter(int ifindex) {
    std::unique_ptr<rtnl_qdisc, QdiscDeleter> q(rtnl_qdisc_alloc());
    auto* tc = TC_CAST(q.get());
    rtnl_tc_set_ifindex(tc, ifindex);
    rtnl_tc_set_parent(tc, TC_H_INGRESS);
    rtnl_tc_set_handle(tc, TC_HANDLE(0xffff, 0));
    rtnl_tc_set_kind(tc, "ingress");
    int e = rtnl_qdisc_delete(sk_, q.get());
    if (e < 0 && e != -NLE_OBJ_NOTFOUND && e != -NLE_INVAL && e != -NLE_NOATTR)
        return nl_error("remove ingress qdisc of interface", std::to_string(ifindex), e);
    return ok();
}

}  // namespace vps::net
