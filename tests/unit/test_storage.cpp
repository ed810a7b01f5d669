// Storage layout, state files and template lookup.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>

#include "vps/storage.hpp"
#include "vps/sys.hpp"

using namespace vps;

namespace {
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/vz-unit-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { (void)sys::remove_tree(path); }
};
}  // namespace

TEST_CASE("layout paths follow OpenVZ's /vz layout") {
    storage::Layout l("/var/lib/vz", "/run/vzd");
    CHECK(l.conf(101) == "/var/lib/vz/conf/101.yaml");
    CHECK(l.private_dir(101) == "/var/lib/vz/private/101");
    CHECK(l.root_dir(101) == "/var/lib/vz/root/101");
    CHECK(l.template_cache() == "/var/lib/vz/template/cache");
    CHECK(l.state(101) == "/run/vzd/101.state");
}

TEST_CASE("list_ctids returns only numeric configs, sorted") {
    TempDir t;
    storage::Layout l(t.path, t.path + "/run");
    REQUIRE(l.create_dirs().ok());
    for (const char* n : {"102.yaml", "101.yaml", "abc.yaml", "0.yaml", "103.yaml.tmp.1", "7"})
        REQUIRE(sys::write_file_atomic(l.conf_dir() + "/" + n, "x: 1\n").ok());
    auto ids = l.list_ctids();
    REQUIRE(ids.ok());
    CHECK(*ids == std::vector<uint32_t>{101, 102});
}

TEST_CASE("find_template finds a cached tarball and names the cache when it is missing") {
    TempDir t;
    storage::Layout l(t.path, t.path + "/run");
    REQUIRE(l.create_dirs().ok());
    REQUIRE(sys::write_file_atomic(l.template_cache() + "/busybox.tar.gz", "").ok());
    auto found = l.find_template("busybox");
    REQUIRE(found.ok());
    CHECK(*found == l.template_cache() + "/busybox.tar.gz");
    auto missing = l.find_template("debian-12");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code() == Errc::no_template);
    CHECK(missing.error().message().find("debian-12") != std::string::npos);
    CHECK(missing.error().message().find(l.template_cache()) != std::string::npos);
    // A name that walks out of the cache is never looked up.
    CHECK_FALSE(l.find_template("../../etc/passwd").ok());
}

TEST_CASE("state files round-trip and reject garbage") {
    TempDir t;
    storage::RunState s{101, 4242, 987654321, 1700000000, "101"};
    const std::string path = t.path + "/101.state";
    REQUIRE(storage::save_state(path, s).ok());
    auto back = storage::load_state(path);
    REQUIRE(back.ok());
    CHECK(back->ctid == 101);
    CHECK(back->init_pid == 4242);
    CHECK(back->start_time == 987654321u);
    CHECK(back->started_at == 1700000000);
    CHECK(back->cgroup == "101");

    auto bad = storage::decode_state("{\"ctid\": \"x\"}", "101.state");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message().find("101.state") != std::string::npos);
    CHECK_FALSE(storage::decode_state("not json", "s").ok());
}

TEST_CASE("atomic writes leave no temporary file behind") {
    TempDir t;
    const std::string path = t.path + "/f.yaml";
    REQUIRE(sys::write_file_atomic(path, "one\n").ok());
    REQUIRE(sys::write_file_atomic(path, "two\n").ok());
    CHECK(*sys::read_file(path) == "two\n");
    auto names = sys::list_dir(t.path);
    REQUIRE(names.ok());
    CHECK(names->size() == 1);
}

TEST_CASE("unpack_template fails cleanly and leaves nothing under the target name") {
    TempDir t;
    const std::string bogus = t.path + "/bogus.tar.gz";
    REQUIRE(sys::write_file_atomic(bogus, "this is not a tarball").ok());
    auto r = storage::unpack_template(bogus, t.path + "/private101");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("bogus.tar.gz") != std::string::npos);
    CHECK_FALSE(sys::exists(t.path + "/private101"));
    CHECK_FALSE(sys::exists(t.path + "/private101.partial"));
}
