// Unprivileged VPSes: the id range in the config and plan, and shifting a
// private area's ownership into it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
