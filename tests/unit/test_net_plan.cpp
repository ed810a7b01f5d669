// The network part of a config and plan: addresses, MACs and interface
// names as --ipadd and --netif_add take them, and what a VPS config with
// network settings reads and writes.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include "vps/config.hpp"
#include "vps/plan.hpp"

using namespace vps;
using namespace vps::plan;

TEST_CASE("parse_ip takes IPv4 and IPv6 with an optional prefix") {
    auto v4 = parse_ip("10.0.0.2");
    REQUIRE(v4);
    CHECK(v4->family == AF_INET);
    CHECK(v4->prefix == 32);
    CHECK(v4->text() == "10.0.0.2");
    CHECK(v4->cidr() == "10.0.0.2/32");

    auto v4p = parse_ip("192.168.7.9/24");
    REQUIRE(v4p);
    CHECK(v4p->prefix == 24);
    CHECK(v4p->same_address(*parse_ip("192.168.7.9")));

    auto v6 = parse_ip("FD00:78::3/64");
    REQUIRE(v6);
    CHECK(v6->family == AF_INET6);
    CHECK(v6->prefix == 64);
    CHECK(v6->text() == "fd00:78::3");
    CHECK_FALSE(v6->same_address(*v4));
}

TEST_CASE("parse_ip refuses malformed addresses and ones a VPS cannot own") {
    for (const char* bad : {"", "10.0.0", "10.0.0.256", "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1",
                            "10.0.0.1/2x", "fd00::1/129", "hello", "10.0.0.1 ", "::g"}) {
        CAPTURE(bad);
        auto r = parse_ip(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == Errc::bad_value);
        CHECK(r.error().message().find("invalid IP address") != std::string::npos);
    }
    for (const char* unusable : {"127.0.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "169.254.0.1", "::1", "::",
                                 "ff02::1", "fe80::5"}) {
        CAPTURE(unusable);
        auto r = parse_ip(unusable);
        REQUIRE_FALSE(r);
        CHECK(r.error().message().find("cannot own") != std::string::npos);
    }
}

TEST_CASE("MAC addresses: six hex pairs, unicast, not all zero") {
    auto m = parse_mac("02:AB:cd:00:11:ff");
    REQUIRE(m);
    CHECK(mac_text(*m) == "02:ab:cd:00:11:ff");
    for (const char* bad : {"", "02:ab:cd:00:11", "02-ab-cd-00-11-ff", "02:ab:cd:00:11:fg", "01:00:5e:00:00:01",
                            "00:00:00:00:00:00", "02:ab:cd:00:11:ff:00"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_mac(bad));
    }
}

TEST_CASE("interface names follow the kernel's rules") {
    CHECK(check_ifname("eth0", "interface name"));
    CHECK(check_ifname("veth101.0", "interface name"));
    CHECK(check_ifname("abcdefghijklmno", "interface name"));  // 15 bytes
    auto long_name = check_ifname("abcdefghijklmnop", "interface name");
    REQUIRE_FALSE(long_name);
    CHECK(long_name.error().message().find("longer than 15") != std::string::npos);
    for (const char* bad : {"", ".", "..", "a/b", "a:b", "a b", "tab\there"}) {
        CAPTURE(bad);
        CHECK_FALSE(check_ifname(bad, "interface name"));
    }
}

TEST_CASE("nameservers and search domains") {
    CHECK(check_nameserver("10.0.0.53"));
    CHECK(check_nameserver("2001:db8::53"));
    CHECK(check_nameserver("127.0.0.53"));  // a local resolver inside the VPS is fine
    CHECK_FALSE(check_nameserver("dns.example.com"));
    CHECK(check_searchdomain("example.com"));
    CHECK_FALSE(check_searchdomain("exa mple.com"));
    CHECK_FALSE(check_searchdomain(""));
}

namespace {
config::VpsConfig networked() {
    config::VpsConfig cfg;
    cfg.ctid = 101;
    cfg.ip_address = {"10.0.0.2", "fd00::2/64"};
    cfg.netif = {{"eth0", "02:00:00:00:00:01", "veth101.0", "02:00:00:00:00:02", "vzbr0", true, {}}};
    cfg.nameserver = {"10.0.0.53"};
    cfg.searchdomain = {"example.com"};
    return cfg;
}
}  // namespace

TEST_CASE("build puts routed addresses and veths into the plan") {
    auto p = build(networked(), HostFacts{2, "/var/lib/vz"});
    REQUIRE(p);
    REQUIRE(p->net.addresses.size() == 2);
    CHECK(p->net.addresses[1].cidr() == "fd00::2/64");
    CHECK(p->net.venet_host == "venet101");
    REQUIRE(p->net.veths.size() == 1);
    CHECK(p->net.veths[0].host_ifname == "veth101.0");
    CHECK(mac_text(p->net.veths[0].mac) == "02:00:00:00:00:01");
    CHECK(p->net.host_ifnames() == std::vector<std::string>{"venet101", "veth101.0"});
    CHECK(p->net.nameservers == std::vector<std::string>{"10.0.0.53"});
}

TEST_CASE("build reports every bad network value by key") {
    auto cfg = networked();
    cfg.ip_address.push_back("10.0.0.2/24");  // the same address again
    cfg.ip_address.push_back("300.1.1.1");
    cfg.netif.push_back({"eth0", "", "veth101.0", "", "", true, {}});  // both names used twice
    cfg.netif.push_back({"venet0", "zz", "", "", "", true, {}});      // clashes with the routed interface
    auto p = build(cfg, HostFacts{2, "/var/lib/vz"});
    REQUIRE_FALSE(p);
    const std::string msg = p.error().message();
    CHECK(msg.find("10.0.0.2 is listed twice") != std::string::npos);
    CHECK(msg.find("300.1.1.1") != std::string::npos);
    CHECK(msg.find("'eth0' is used twice") != std::string::npos);
    CHECK(msg.find("'veth101.0' is used twice") != std::string::npos);
    CHECK(msg.find("'venet0' is used twice") != std::string::npos);
    CHECK(msg.find("invalid MAC address 'zz'") != std::string::npos);
}

TEST_CASE("a VPS config's network settings survive a write and a read") {
    auto cfg = networked();
    auto text = config::dump_vps(cfg);
    auto back = config::parse_vps(text, "101.yaml");
    REQUIRE(back);
    CHECK(back->ip_address == cfg.ip_address);
    CHECK(back->netif == cfg.netif);
    CHECK(back->nameserver == cfg.nameserver);
    CHECK(back->searchdomain == cfg.searchdomain);
}

TEST_CASE("network keys in a hand-written config") {
    auto one = config::parse_vps("ip_address: 10.0.0.9\nnameserver: [1.1.1.1, 8.8.8.8]\n", "x.yaml");
    REQUIRE(one);
    CHECK(one->ip_address == std::vector<std::string>{"10.0.0.9"});
    CHECK(one->nameserver.size() == 2);

    auto bad_netif = config::parse_vps("netif:\n  - ifname: eth0\n    colour: blue\n", "x.yaml");
    REQUIRE_FALSE(bad_netif);
    CHECK(bad_netif.error().message().find("unknown key 'colour'") != std::string::npos);
    CHECK(bad_netif.error().code() == Errc::bad_config);

    auto no_name = config::parse_vps("netif:\n  - mac: \"02:00:00:00:00:01\"\n", "x.yaml");
    REQUIRE_FALSE(no_name);
    CHECK(no_name.error().message().find("without ifname") != std::string::npos);

    auto nested = config::parse_vps("ip_address: [[1, 2]]\n", "x.yaml");
    REQUIRE_FALSE(nested);

    auto global = config::parse_global("bridge: br-vps\n", "vz.yaml");
    REQUIRE(global);
    CHECK(global->bridge == "br-vps");
    CHECK_FALSE(config::parse_global("bridge: a-bridge-name-too-long\n", "vz.yaml"));
}
