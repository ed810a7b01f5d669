// Unprivileged VPSes: the id range in the config and plan, and shifting a
// private area's ownership into it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "vps/config.hpp"
#include "vps/plan.hpp"
#include "vps/storage.hpp"
#include "vps/sys.hpp"

using namespace vps;

TEST_CASE("id_base in a VPS config maps 65536 ids in the plan") {
    auto cfg = config::parse_vps("ctid: 101\nid_base: 165536\n", "101.yaml");
    REQUIRE(cfg);
    CHECK(cfg->id_base == 165536u);
    auto p = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(p);
    REQUIRE(p->uid_map.size() == 1);
    CHECK(p->uid_map[0].inside == 0u);
    CHECK(p->uid_map[0].outside == 165536u);
    CHECK(p->uid_map[0].count == 65536u);
    CHECK(p->gid_map.size() == 1);

    auto again = config::parse_vps(config::dump_vps(*cfg), "101.yaml");
    REQUIRE(again);
    CHECK(again->id_base == 165536u);
}

TEST_CASE("a config without id_base is a privileged VPS") {
    auto cfg = config::parse_vps("ctid: 101\n", "101.yaml");
    REQUIRE(cfg);
    CHECK(cfg->id_base == 0u);
    auto p = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(p);
    CHECK(p->uid_map.empty());
    CHECK(config::dump_vps(*cfg).find("id_base") == std::string::npos);
}

TEST_CASE("id_base and id_range_start refuse ids that are no range") {
    for (const char* bad : {"0", "-1", "abc", "4294967295", "4294901760", "1.5"}) {
        CAPTURE(bad);
        auto r = config::parse_vps(std::string("id_base: ") + bad + "\n", "101.yaml");
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == Errc::bad_config);
        CHECK(r.error().message().find("id_base") != std::string::npos);
        CHECK_FALSE(config::parse_global(std::string("id_range_start: ") + bad + "\n", "vz.yaml"));
    }
    auto g = config::parse_global("userns: false\nid_range_start: 300000\n", "vz.yaml");
    REQUIRE(g);
    CHECK_FALSE(g->userns);
    CHECK(g->id_range_start == 300000u);
    CHECK(config::GlobalConfig{}.userns);
    CHECK_FALSE(config::parse_global("userns: maybe\n", "vz.yaml"));
}

TEST_CASE("shift_ids moves a tree into the range, links included, set-id bits kept") {
    if (::geteuid() != 0) {
        MESSAGE("skipped: chown to other ids needs root");
        return;
    }
    char tmpl[] = "/tmp/vz-shift.XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string dir = tmpl;
    const std::string outside = dir + "-outside";
    REQUIRE(sys::write_file_atomic(outside, "x", 0644));
    REQUIRE(sys::mkdir(dir + "/bin", 0755));
    REQUIRE(sys::write_file_atomic(dir + "/bin/su", "x", 0755));
    REQUIRE(::lchown((dir + "/bin/su").c_str(), 0, 5) == 0);
    REQUIRE(::chmod((dir + "/bin/su").c_str(), 04755) == 0);
    REQUIRE(::symlink(outside.c_str(), (dir + "/escape").c_str()) == 0);

    REQUIRE(storage::shift_ids(dir, 200000));

    struct stat st {};
    REQUIRE(::lstat(dir.c_str(), &st) == 0);
    CHECK(st.st_uid == 200000u);
    REQUIRE(::lstat((dir + "/bin/su").c_str(), &st) == 0);
    CHECK(st.st_uid == 200000u);
    CHECK(st.st_gid == 200005u);
    CHECK((st.st_mode & 07777) == 04755);
    REQUIRE(::lstat((dir + "/escape").c_str(), &st) == 0);
    CHECK(st.st_uid == 200000u);
    // The link itself moved; what it points at did not.
    REQUIRE(::stat(outside.c_str(), &st) == 0);
    CHECK(st.st_uid == 0u);

    CHECK(storage::shift_ids(dir, 0));  // privileged: nothing to do
    (void)sys::remove_tree(dir);
    (void)sys::unlink(outside);
}

namespace {
bool drops(const plan::Plan& p, int cap) {
    return std::find(p.caps_drop.begin(), p.caps_drop.end(), cap) != p.caps_drop.end();
}
constexpr int kSysAdmin = 21, kNetRaw = 13, kSysModule = 16, kSysResource = 24;
}  // namespace

TEST_CASE("a privileged VPS loses sys_admin unless its config grants it") {
    auto priv = config::parse_vps("ctid: 101\n", "101.yaml");
    REQUIRE(priv);
    auto p = plan::build(*priv, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(p);
    CHECK(drops(*p, kSysAdmin));
    CHECK(drops(*p, kSysModule));

    auto unpriv = config::parse_vps("ctid: 101\nid_base: 165536\n", "101.yaml");
    REQUIRE(unpriv);
    auto u = plan::build(*unpriv, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(u);
    CHECK_FALSE(drops(*u, kSysAdmin));  // within its own user namespace only
    CHECK(drops(*u, kSysModule));

    priv->capability = {"sys_admin:on", "NET_RAW:off"};
    auto granted = plan::build(*priv, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(granted);
    CHECK_FALSE(drops(*granted, kSysAdmin));
    CHECK(drops(*granted, kNetRaw));
    bool warned = false;
    for (const auto& w : granted->warnings) warned |= w.find("sys_admin:on in a privileged VPS") != std::string::npos;
    CHECK(warned);
}

TEST_CASE("capability entries: host-wide powers, unknown names and bad states are refused") {
    auto cfg = config::parse_vps("ctid: 101\nid_base: 165536\ndiskspace: 1G\n", "101.yaml");
    REQUIRE(cfg);
    cfg->capability = {"sys_module:on", "CAP_FLYING:on", "chown:yes", "sys_resource:on", "kill"};
    auto p = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE_FALSE(p);
    const std::string msg = p.error().message();
    CHECK(msg.find("sys_module acts on the whole host") != std::string::npos);
    CHECK(msg.find("unknown capability 'flying'") != std::string::npos);
    CHECK(msg.find("'chown:yes'") != std::string::npos);
    CHECK(msg.find("sys_resource:on would let root exceed diskspace") != std::string::npos);
    CHECK(msg.find("'kill'") != std::string::npos);

    cfg->capability = {"sys_resource:off"};
    auto q = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(q);
    CHECK(drops(*q, kSysResource));

    auto parsed = plan::parse_capability("CAP_SYS_ADMIN:off");
    REQUIRE(parsed);
    CHECK(parsed->first == "sys_admin");
    CHECK_FALSE(parsed->second);
}

TEST_CASE("id_mapping and capability round-trip; id_mapping mount means an idmapped root") {
    auto cfg = config::parse_vps("ctid: 101\nid_base: 165536\nid_mapping: mount\ncapability: [\"net_raw:off\"]\n",
                                 "101.yaml");
    REQUIRE(cfg);
    CHECK(cfg->id_mapping == "mount");
    auto p = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(p);
    CHECK(p->idmapped_root);
    auto again = config::parse_vps(config::dump_vps(*cfg), "101.yaml");
    REQUIRE(again);
    CHECK(again->id_mapping == "mount");
    CHECK(again->capability == std::vector<std::string>{"net_raw:off"});

    cfg->id_mapping = "shift";
    auto s = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(s);
    CHECK_FALSE(s->idmapped_root);
    cfg->id_mapping = "magic";
    auto bad = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message().find("id_mapping: 'magic'") != std::string::npos);
}

TEST_CASE("bridged interfaces keep their MAC and address filters through the config") {
    auto cfg = config::parse_vps(
        "ctid: 101\nnetif:\n  - ifname: eth0\n    mac: \"02:00:00:00:00:01\"\n    ip_filter: [\"10.0.0.5\", \"fd00::5\"]\n"
        "  - ifname: eth1\n    mac_filter: false\n",
        "101.yaml");
    REQUIRE(cfg);
    REQUIRE(cfg->netif.size() == 2);
    CHECK(cfg->netif[0].mac_filter);
    CHECK(cfg->netif[0].ip_filter == std::vector<std::string>{"10.0.0.5", "fd00::5"});
    CHECK_FALSE(cfg->netif[1].mac_filter);
    auto again = config::parse_vps(config::dump_vps(*cfg), "101.yaml");
    REQUIRE(again);
    CHECK(again->netif == cfg->netif);
    auto p = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE(p);
    CHECK(p->net.veths[0].filtered());
    CHECK(p->net.veths[0].ip_filter.size() == 2);
    CHECK_FALSE(p->net.veths[1].filtered());  // no MAC filter, no addresses

    cfg->netif[0].ip_filter = {"10.0.0.300"};
    auto bad = plan::build(*cfg, plan::HostFacts{2, "/var/lib/vz"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message().find("netif eth0: ip_filter") != std::string::npos);
}

TEST_CASE("idmapped_mounts and a netif's mac_filter must be true or false") {
    auto g = config::parse_global("idmapped_mounts: sometimes\n", "vz.yaml");
    REQUIRE_FALSE(g);
    CHECK(g.error().message().find("idmapped_mounts: 'sometimes' is not true or false") != std::string::npos);
    auto ok = config::parse_global("idmapped_mounts: false\n", "vz.yaml");
    REQUIRE(ok);
    CHECK_FALSE(ok->idmapped_mounts);
    auto n = config::parse_vps("ctid: 101\nnetif:\n  - ifname: eth0\n    mac_filter: maybe\n", "101.yaml");
    REQUIRE_FALSE(n);
    CHECK(n.error().message().find("mac_filter: 'maybe' is not true or false") != std::string::npos);
}
