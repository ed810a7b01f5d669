// A small C++ face of libnl-route: one rtnetlink socket (in vzd's network
// namespace or in a VPS's) and the handful of link, address, route and
// traffic-control requests VPS networking needs. Every libnl object is
// owned by a unique_ptr; every failure names the request and the object.
#pragma once

#include <sys/types.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vps/error.hpp"
#include "vps/fd.hpp"
#include "vps/plan.hpp"

struct nl_sock;
struct rtnl_link;

namespace vps::net {

struct LinkDeleter {
    void operator()(rtnl_link* l) const noexcept;
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;

struct LinkInfo {
    int index = 0;
    std::string type;  // "veth", "bridge", "" for plain devices
    bool up = false;
};

// One 32-bit word a u32 filter compares (bytes in packet order).
struct U32Key {
    std::array<uint8_t, 4> value{};
    std::array<uint8_t, 4> mask{};
    int off = 0;  // from the network header
};

// What an interface's ingress lets through (see set_source_filter).
struct SourceFilter {
    std::vector<plan::IpAddress> allowed;  // source addresses
    bool any_address = false;              // no address check (MAC only)
    bool restrict_arp = false;             // ARP sender address in `allowed`
    std::optional<plan::Mac> mac;          // Ethernet source and ARP sender
};

class Netlink {
public:
    // A socket in the calling thread's network namespace.
    static Result<Netlink> open();
    // A socket in the network namespace of process `pid`: a short-lived
    // thread joins that namespace and makes the socket, which stays bound
    // to it (setns(CLONE_NEWNET) changes only the calling thread).
    static Result<Netlink> open_in(pid_t pid);

    Netlink(Netlink&& o) noexcept : sk_(std::exchange(o.sk_, nullptr)), where_(std::move(o.where_)) {}
    Netlink& operator=(Netlink&&) = delete;
    Netlink(const Netlink&) = delete;
    ~Netlink();

    // nullopt when there is no such interface.
    Result<std::optional<LinkInfo>> link(const std::string& name);
    Result<void> set_up(const std::string& name);
    Result<void> delete_link(const std::string& name);  // ok when it does not exist
    Result<void> add_bridge(const std::string& name);
    Result<void> set_master(const std::string& name, int master_index);
    // A veth pair whose peer is created directly inside the network
    // namespace of `peer_pid` (so its name never clashes with the host's).
    Result<void> add_veth(const std::string& name, const plan::Mac& mac, const std::string& peer_name,
                          const plan::Mac& peer_mac, pid_t peer_pid);
    // IPv4 forwarding for packets that arrive on this interface only, and
    // strict reverse path filtering (a source must be routed back through
    // this interface; the kernel applies the larger of this and
    // conf/all/rp_filter).
    Result<void> set_routed_conf(const std::string& name);

    // Address without prefix route and without duplicate address detection
    // (the link has one other end and vzd knows who owns what).
    Result<void> add_address(int ifindex, const plan::IpAddress& a);
    Result<void> del_address(int ifindex, const plan::IpAddress& a);
    // Every address on every interface of this namespace.
    Result<std::vector<plan::IpAddress>> addresses();
    // A route to `dst` through interface `ifindex`, via `gateway` when given
    // (on-link: the gateway needs no route of its own).
    Result<void> add_route(int ifindex, const plan::IpAddress& dst, const plan::IpAddress* gateway);
    Result<void> del_route(int ifindex, const plan::IpAddress& dst);

    // Source filtering on the ingress of `ifindex`: packets whose source is
    // not allowed by `filter` are dropped (IPv6 link-local passes, and ARP
    // unless restricted). `fresh`: the interface has no filter yet (first
    // call after creating it). false: the kernel has no u32/matchall
    // classifier or gact action.
    Result<bool> set_source_filter(int ifindex, const SourceFilter& filter, bool fresh);
    // Remove every filter (the ingress qdisc) of `ifindex`.
    Result<void> remove_source_filter(int ifindex);

    const std::string& where() const { return where_; }

private:
    Netlink(nl_sock* sk, std::string where) : sk_(sk), where_(std::move(where)) {}
    Error nl_error(const std::string& op, const std::string& object, int err) const;
    Result<LinkPtr> get_link(const std::string& name);
    Result<void> change_link(const std::string& name, rtnl_link* change, const char* what);
    Result<void> add_ingress_qdisc(int ifindex);
    // keys empty: a matchall filter.
    Result<void> add_filter(int ifindex, uint16_t protocol, uint16_t prio, const std::vector<U32Key>& keys,
                            int verdict, const std::string& what);
    Result<void> del_filters(int ifindex, uint16_t protocol, uint16_t prio);

    nl_sock* sk_ = nullptr;
    std::string where_;  // "host" or "VPS network namespace of pid N", for errors
};

}  // namespace vps::net
