// vz.yaml and <ctid>.yaml: what admins write, the errors they get (with the
// file and line), and configs that survive a save and reload unchanged.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "vps/config.hpp"
#include "vps/sys.hpp"
#include "temp_dir.hpp"
#include "vps/config_cache.hpp"

using namespace vps;
using namespace vps::config;

namespace {

constexpr const char* kOrigin = "/var/lib/vz/conf/101.yaml";

using vps::test::TempDir;

std::string error_of(const Result<VpsConfig>& r) { return r ? std::string() : r.error().message(); }

}  // namespace

TEST_CASE("a VPS config with settings and parameters") {
    auto r = parse_vps(R"(ctid: 101
name: web
ostemplate: debian-12-x86_64
hostname: web.example.com
description: "front end"
onboot: yes
physpages: "0:256M"
numproc: 1024
cpuunits: 1000
)",
                       kOrigin);
    REQUIRE(r);
    CHECK(r->ctid == 101u);
    CHECK(r->name == "web");
    CHECK(r->ostemplate == "debian-12-x86_64");
    CHECK(r->hostname == "web.example.com");
    CHECK(r->description == "front end");
    CHECK(r->onboot == true);
    CHECK(r->params == std::map<std::string, std::string>{
                           {"physpages", "0:256M"}, {"numproc", "1024"}, {"cpuunits", "1000"}});
}

TEST_CASE("malformed YAML names the file and the line") {
    auto r = parse_vps("ctid: 101\nname: web\nhostname: [oops\n", kOrigin);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::bad_config);
    CHECK(error_of(r).find("/var/lib/vz/conf/101.yaml: line ") == 0);

    auto tab = parse_vps("ctid: 101\nname: web\n\tonboot: yes\n", kOrigin);
    REQUIRE_FALSE(tab);
    CHECK(error_of(tab).find("/var/lib/vz/conf/101.yaml: line 3: ") == 0);
}

TEST_CASE("malformed texts that yaml-cpp loops on are errors, not hangs") {
    // LoadAll finds endless empty documents in a lone comma.
    for (const char* text : {",", ",\n,", "ctid: 7\n---\n,"}) {
        CAPTURE(text);
        auto r = parse_vps(text, kOrigin);
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == Errc::bad_config);
    }
    auto two = parse_vps("ctid: 7\n---\nctid: 8\n", kOrigin);
    REQUIRE_FALSE(two);
    CHECK(error_of(two).find("line 2: more than one YAML document") != std::string::npos);
}

TEST_CASE("an unknown key names the key, the file and the line") {
    auto r = parse_vps("ctid: 101\nname: web\nhostnme: x\n", kOrigin);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::bad_config);
    CHECK(error_of(r).find("/var/lib/vz/conf/101.yaml: line 3: unknown key 'hostnme'") == 0);
}

TEST_CASE("values must be single numbers or strings of the right kind") {
    CHECK(error_of(parse_vps("numproc: [1, 2]\n", kOrigin))
              .find("line 1: 'numproc' must be a single value, not a list") != std::string::npos);
    CHECK(error_of(parse_vps("ctid: abc\n", kOrigin)).find("invalid CTID 'abc'") !=
          std::string::npos);
    CHECK(error_of(parse_vps("onboot: maybe\n", kOrigin))
              .find("onboot: 'maybe' is not true or false") != std::string::npos);
    CHECK(error_of(parse_vps("name: a\nname: b\n", kOrigin)).find("line 2: duplicate key 'name'") !=
          std::string::npos);
    CHECK(error_of(parse_vps("numproc:\n", kOrigin)).find("'numproc' must be a single value") !=
          std::string::npos);
    // Free-text settings may be left empty.
    auto empty_host = parse_vps("ctid: 101\nhostname:\n", kOrigin);
    REQUIRE(empty_host);
    CHECK(empty_host->hostname.empty());
}

TEST_CASE("a document that is not a mapping is refused") {
    for (const char* text : {"- a\n- b\n", "just a string\n", "", "a: 1\n---\nb: 2\n"}) {
        CAPTURE(text);
        auto r = parse_vps(text, kOrigin);
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == Errc::bad_config);
        CHECK(error_of(r).find(kOrigin) == 0);
    }
}

TEST_CASE("VPS config round-trips through dump and parse") {
    VpsConfig cfg;
    cfg.ctid = 2147483647;
    cfg.name = "db.1";
    cfg.ostemplate = "centos-7";
    cfg.hostname = "yes";  // a YAML 1.1 boolean, must stay a string
    cfg.description = "line one\nline two: with colon # and hash\n  'quoted' \"too\" ~ null";
    cfg.onboot = true;
    cfg.params = {{"physpages", "0:256M"},
                  {"swappages", "unlimited"},
                  {"cpulimit", "50%"},
                  {"numproc", "1024"}};
    std::string text = dump_vps(cfg);
    // Quoted, so YAML 1.1 readers do not take "0:256M"-like values for base-60 numbers.
    CHECK(text.find("physpages: \"0:256M\"") != std::string::npos);
    auto back = parse_vps(text, "dump");
    REQUIRE(back);
    CHECK(back->ctid == cfg.ctid);
    CHECK(back->name == cfg.name);
    CHECK(back->ostemplate == cfg.ostemplate);
    CHECK(back->hostname == cfg.hostname);
    CHECK(back->description == cfg.description);
    CHECK(back->onboot == cfg.onboot);
    CHECK(back->params == cfg.params);

    for (const char* odd : {"~", "null", " padded ", "#x", "- dash", "{x}", "@at", "101", "true"}) {
        CAPTURE(odd);
        VpsConfig c;
        c.ctid = 7;
        c.description = odd;
        auto again = parse_vps(dump_vps(c), "dump");
        REQUIRE(again);
        CHECK(again->description == odd);
        CHECK_FALSE(again->onboot.has_value());  // unset stays unset
    }
}

TEST_CASE("global config: keys, checks and defaults") {
    auto r = parse_global(R"(socket: /run/vz/ctl.sock
runtime_dir: /run/vz
cgroup_base: machines/vz
admin_group: vzadmin
cgroup_mode: v1
stop_timeout: 30
stop_mode: suspend
defaults:
  physpages: "0:512M"
  numproc: 2048
  ostemplate: debian-12
)",
                          "/var/lib/vz/vz.yaml");
    REQUIRE(r);
    CHECK(r->socket == "/run/vz/ctl.sock");
    CHECK(r->runtime_dir == "/run/vz");
    CHECK(r->cgroup_base == "machines/vz");
    CHECK(r->admin_group == "vzadmin");
    CHECK(r->cgroup_mode == "v1");
    CHECK(r->stop_timeout == 30);
    CHECK(r->stop_mode == "suspend");
    CHECK(r->defaults == std::map<std::string, std::string>{{"physpages", "0:512M"},
                                                            {"numproc", "2048"},
                                                            {"ostemplate", "debian-12"}});

    auto empty = parse_global("", "vz.yaml");
    REQUIRE(empty);
    CHECK(empty->socket == "/run/vzd.sock");
    CHECK(empty->stop_timeout == 10);
    CHECK(empty->cgroup_mode == "auto");
    CHECK(empty->stop_mode == "stop");
}

TEST_CASE("global config: bad values name the key and line") {
    auto msg = [](const char* text) {
        auto r = parse_global(text, "vz.yaml");
        return r ? std::string() : r.error().message();
    };
    CHECK(msg("cgroup_mode: v3\n") == "vz.yaml: line 1: cgroup_mode: 'v3' is not auto, v1 or v2");
    CHECK(msg("stop_mode: hibernate\n") == "vz.yaml: line 1: stop_mode: 'hibernate' is not stop or suspend");
    CHECK(msg("stop_timeout: 0\n").find("stop_timeout: '0' is not a whole number in 1..3600") !=
          std::string::npos);
    CHECK_FALSE(msg("stop_timeout: 3601\n").empty());
    CHECK_FALSE(msg("stop_timeout: 99999999999\n").empty());
    CHECK(parse_global("stop_timeout: 3600\n", "vz.yaml"));
    CHECK(msg("socket: vzd.sock\n").find("not an absolute path") != std::string::npos);
    CHECK(msg("cgroup_base: ../escape\n").find("without '..'") != std::string::npos);
    CHECK(msg("a: 1\nsockett: /x\n").find("vz.yaml: line 1: unknown key 'a'") == 0);
    CHECK(
        msg("defaults:\n  kmemsizes: 1\n").find("line 2: defaults: unknown parameter 'kmemsizes'") !=
        std::string::npos);
    CHECK(msg("defaults: [1]\n").find("defaults must be a mapping") != std::string::npos);
    CHECK(msg("lxcfs: var/lib/lxcfs\n") ==
          "vz.yaml: line 1: lxcfs: 'var/lib/lxcfs' is not an absolute path (or \"\" to turn lxcfs off)");
}

TEST_CASE("global config: lxcfs path, or empty to turn it off") {
    auto on = parse_global("lxcfs: /srv/lxcfs\n", "vz.yaml");
    REQUIRE(on);
    CHECK(on->lxcfs == "/srv/lxcfs");
    auto off = parse_global("lxcfs: \"\"\n", "vz.yaml");
    REQUIRE(off);
    CHECK(off->lxcfs.empty());
    auto dflt = parse_global("", "vz.yaml");
    REQUIRE(dflt);
    CHECK(dflt->lxcfs == "/var/lib/lxcfs");
    auto back = parse_global(dump_global(*on), "vz.yaml");
    REQUIRE(back);
    CHECK(back->lxcfs == "/srv/lxcfs");
}

TEST_CASE("global config round-trips") {
    GlobalConfig g;
    g.socket = "/tmp/x.sock";
    g.admin_group = "";
    g.cgroup_mode = "v2";
    g.stop_timeout = 3600;
    g.stop_mode = "suspend";
    auto empty_defaults = parse_global(dump_global(g), "dump");
    REQUIRE(empty_defaults);
    CHECK(empty_defaults->socket == g.socket);
    CHECK(empty_defaults->defaults.empty());
    g.defaults = {{"physpages", "0:1G"}, {"cpus", "1"}};
    auto back = parse_global(dump_global(g), "dump");
    REQUIRE(back);
    CHECK(back->socket == g.socket);
    CHECK(back->runtime_dir == g.runtime_dir);
    CHECK(back->cgroup_base == g.cgroup_base);
    CHECK(back->admin_group == g.admin_group);
    CHECK(back->cgroup_mode == g.cgroup_mode);
    CHECK(back->stop_timeout == g.stop_timeout);
    CHECK(back->stop_mode == g.stop_mode);
    CHECK(back->defaults == g.defaults);
}

TEST_CASE("load and save on disk") {
    TempDir dir;
    REQUIRE_FALSE(dir.path().empty());

    auto global = load_global(dir.path() + "/vz.yaml");
    REQUIRE(global);
    CHECK(global->socket == "/run/vzd.sock");

    auto missing = load_vps(dir.path() + "/101.yaml");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == Errc::no_such_vps);
    CHECK(missing.error().path() == dir.path() + "/101.yaml");

    VpsConfig cfg;
    cfg.ctid = 101;
    cfg.hostname = "h1";
    cfg.params["numproc"] = "100";
    REQUIRE(save_vps(dir.path() + "/101.yaml", cfg));
    auto back = load_vps(dir.path() + "/101.yaml");
    REQUIRE(back);
    CHECK(back->ctid == 101u);
    CHECK(back->hostname == "h1");
    CHECK(back->params == cfg.params);
    CHECK(sys::list_dir(dir.path())->size() == 1);  // no temporary left behind
}

TEST_CASE("load_vps ties the config to its file name") {
    TempDir dir;
    REQUIRE(sys::write_file_atomic(dir.path() + "/102.yaml", "hostname: h\n"));
    auto implied = load_vps(dir.path() + "/102.yaml");
    REQUIRE(implied);
    CHECK(implied->ctid == 102u);

    REQUIRE(sys::write_file_atomic(dir.path() + "/103.yaml", "ctid: 104\n"));
    auto mismatch = load_vps(dir.path() + "/103.yaml");
    REQUIRE_FALSE(mismatch);
    CHECK(mismatch.error().code() == Errc::bad_config);
    CHECK(mismatch.error().message().find("ctid 104 does not match the file name") !=
          std::string::npos);

    REQUIRE(sys::write_file_atomic(dir.path() + "/105.yaml", "ctid: 105\nbogus: 1\n"));
    auto bad = load_vps(dir.path() + "/105.yaml");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message() ==
          dir.path() +
              "/105.yaml: line 2: unknown key 'bogus' "
              "(neither a setting such as hostname nor a known parameter)");
}

TEST_CASE("onboot and bootorder round-trip; a bad bootorder names the key") {
    auto cfg = parse_vps("ctid: 101\nonboot: true\nbootorder: 7\n", kOrigin);
    REQUIRE(cfg);
    CHECK(cfg->onboot == true);
    CHECK(cfg->bootorder == 7u);
    auto again = parse_vps(dump_vps(*cfg), kOrigin);
    REQUIRE(again);
    CHECK(again->bootorder == 7u);
    CHECK(dump_vps(VpsConfig{}).find("bootorder") == std::string::npos);  // 0 is not written
    CHECK(dump_vps(VpsConfig{}).find("onboot") == std::string::npos);     // nor an unset onboot
    auto off = parse_vps(dump_vps(*parse_vps("ctid: 101\nonboot: no\n", kOrigin)), kOrigin);
    REQUIRE(off);
    CHECK(off->onboot == false);  // an explicit no survives a round trip
    auto bad = parse_vps("ctid: 101\nbootorder: -1\n", kOrigin);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message().find("bootorder: '-1'") != std::string::npos);
}

TEST_CASE("the config cache parses a config again only when its file changed") {
    TempDir dir;
    const std::string path = dir.path() + "/101.yaml";
    ConfigCache cache;
    auto missing = cache.load(path);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == Errc::no_such_vps);

    VpsConfig cfg;
    cfg.ctid = 101;
    cfg.hostname = "first";
    REQUIRE(save_vps(path, cfg));
    auto a = cache.load(path);
    REQUIRE(a);
    CHECK(a->hostname == "first");
    CHECK(cache.hits() == 0);
    auto b = cache.load(path);
    REQUIRE(b);
    CHECK(b->hostname == "first");
    CHECK(cache.hits() == 1);

    // A save replaces the file: the next load sees the change at once.
    cfg.hostname = "second";
    REQUIRE(save_vps(path, cfg));
    auto c = cache.load(path);
    REQUIRE(c);
    CHECK(c->hostname == "second");
    CHECK(cache.hits() == 1);

    // A file that went bad is an error, never the old config.
    REQUIRE(sys::write_file_atomic(path, "ctid: [\n", 0600));
    CHECK_FALSE(cache.load(path));
    REQUIRE(sys::unlink(path));
    auto gone = cache.load(path);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code() == Errc::no_such_vps);
}
