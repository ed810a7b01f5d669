// A VPS's network, applied through rtnetlink (libnl): loopback, routed
// addresses on venet0 (host end venet<CTID>) and bridged veth pairs.
//
// Routed mode, per VPS:
//   inside   venet0: the VPS's addresses (no prefix route), default routes
//            via 169.254.0.1 / fe80::1 on-link
//   host     venet<CTID>: holds 169.254.0.1/32 (and fe80::1/64), routes
//            each VPS address to it, forwards IPv4 arriving on it, and drops
//            at ingress whatever does not come from one of the VPS's addresses
//            (tc u32/matchall filters; where the kernel has none, IPv4 strict
//            reverse path filtering on venet<CTID> is what remains)
//
// Everything on the host side is an interface whose deletion takes its
// addresses, routes and filters with it, so "remove the host ends" is the
// whole cleanup.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "vps/error.hpp"
#include "vps/plan.hpp"

namespace vps::net {

// Wire the fresh network namespace of a starting VPS (its init `pid` has not
// exec'd yet). Every veth's bridge must be resolved (non-empty). `notes`
// gets what the admin should know but is not an error (a kernel without
// the classifiers source filtering uses).
Result<void> setup(const plan::Network& net, pid_t pid, std::vector<std::string>* notes = nullptr);

// The host side of a VPS whose network namespace was restored (by CRIU)
// with its interfaces and addresses inside, and whose veth pairs were made
// again with the host ends named as in `net`: those ends get what setup()
// gives them (filters, gateway addresses, routes, bridge, up).
Result<void> wire_host_side(const plan::Network& net, std::vector<std::string>* notes = nullptr);

// Apply a live change to a running VPS: addresses and interfaces in `to`
// but not in `from` are added, the others removed.
Result<void> update(const plan::Network& from, const plan::Network& to, pid_t pid,
                    std::vector<std::string>* notes = nullptr);

// Delete the host ends a VPS that no longer runs may have left. Only veth
// interfaces are touched (a foreign device with the same name is not
// ours). Returns the names removed; failures are reported in `errors`.
std::vector<std::string> remove_host_side(const plan::Network& net, std::vector<std::string>* errors = nullptr);

// Refuse a network the host cannot give: an address the host itself has, a
// host interface name that is taken (other than by `current`, the network
// the VPS runs with now, if it runs), a bridge name that is not a bridge.
Result<void> check_host(const plan::Network& net, const plan::Network* current);

}  // namespace vps::net
