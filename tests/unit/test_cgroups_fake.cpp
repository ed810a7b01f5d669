// cgroups: both backends against a fake cgroup tree in a temp directory
// (cgroup_fake_tree.hpp: each test lays out the files a kernel would show,
// then reads back what the backend wrote).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "cgroup_fake_tree.hpp"
#include "cgroups/backend.hpp"
#include "vps/sys.hpp"

using namespace cgroups;
using fake_cgroups::FakeTree;
using fake_cgroups::why;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t MiB = 1u << 20;

// ---- v2 --------------------------------------------------------------

constexpr const char* kV2Own = "user.slice/vzd";

void lay_out_v2(const FakeTree& t, const std::string& own_procs) {
    t.files("", {{"cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n"},
                 {"cgroup.subtree_control", "cpuset cpu io memory pids\n"},
                 {"cgroup.procs", ""}});
    t.files(kV2Own, {{"cgroup.controllers", "cpuset cpu io memory pids\n"},
                     {"cgroup.subtree_control", "memory\n"},
                     {"cgroup.procs", own_procs}});
    t.files(std::string(kV2Own) + "/vz", {{"cgroup.controllers", "cpuset cpu io memory pids\n"},
                                          {"cgroup.subtree_control", ""},
                                          {"cgroup.procs", ""}});
    t.put("self_cgroup", "0::/" + std::string(kV2Own) + "\n");
}

void lay_out_v2_group(const FakeTree& t, const std::string& name) {
    t.files(std::string(kV2Own) + "/vz/" + name, {{"cgroup.procs", ""},
                                                  {"cgroup.kill", ""},
                                                  {"cpuset.cpus", ""},
                                                  {"memory.max", "max\n"},
                                                  {"memory.high", "max\n"},
                                                  {"memory.swap.max", "max\n"},
                                                  {"pids.max", "max\n"},
                                                  {"cpu.weight", "100\n"},
                                                  {"cpu.max", "max 100000\n"}});
}

Options v2_options(const FakeTree& t) {
    return fake_cgroups::tree_options(t, Mode::v2, "no-mountinfo");
}

std::string g2(const std::string& file) { return std::string(kV2Own) + "/vz/101/" + file; }

}  // namespace

TEST_CASE("cgroups v2: open enables the missing controllers down to the base") {
    FakeTree t;
    lay_out_v2(t, "");
    auto b = open_backend(v2_options(t));
    REQUIRE_MESSAGE(b, why(b));
    CHECK((*b)->name() == "v2");
    // memory was on already: only the rest is written, in one go.
    CHECK(t.get(std::string(kV2Own) + "/cgroup.subtree_control") == "+cpuset +cpu +io +pids");
    CHECK(t.get(std::string(kV2Own) + "/vz/cgroup.subtree_control") ==
          "+cpuset +cpu +io +memory +pids");
    // The root's file is never written (it already has everything).
    CHECK(t.get("cgroup.subtree_control") == "cpuset cpu io memory pids\n");
    CHECK((*b)->controllers() == std::vector<std::string>{"cpuset", "cpu", "io", "memory", "pids"});
    // No daemon_leaf asked for: nothing moved.
    CHECK_FALSE(t.has(std::string(kV2Own) + "/leaf"));
}

TEST_CASE("cgroups v2: only controllers the parent offers are enabled") {
    FakeTree t;
    lay_out_v2(t, "");
    t.put(std::string(kV2Own) + "/cgroup.controllers", "memory pids\n");
    t.put(std::string(kV2Own) + "/vz/cgroup.controllers", "memory pids\n");
    auto b = open_backend(v2_options(t));
    REQUIRE_MESSAGE(b, why(b));
    CHECK(t.get(std::string(kV2Own) + "/cgroup.subtree_control") == "+pids");
    CHECK((*b)->controllers() == std::vector<std::string>{"memory", "pids"});
}

TEST_CASE("cgroups v2: the daemon moves into its leaf when its cgroup holds processes") {
    FakeTree t;
    lay_out_v2(t, "4242\n");
    t.files(std::string(kV2Own) + "/leaf", {{"cgroup.procs", ""}});
    auto o = v2_options(t);
    o.daemon_leaf = "leaf";
    auto b = open_backend(o);
    REQUIRE_MESSAGE(b, why(b));
    CHECK(t.get(std::string(kV2Own) + "/leaf/cgroup.procs") == std::to_string(::getpid()));
}

TEST_CASE("cgroups v2: \"/\" of a cgroup namespace is no root: the daemon moves too") {
    FakeTree t;
    lay_out_v2(t, "");
    t.files("", {{"cgroup.procs", "1\n"}, {"cgroup.type", "domain\n"}});
    t.files("leaf", {{"cgroup.procs", ""}});
    t.files("vz", {{"cgroup.controllers", "memory pids\n"}, {"cgroup.subtree_control", ""}});
    t.put("self_cgroup", "0::/\n");
    auto o = v2_options(t);
    o.daemon_leaf = "leaf";
    auto b = open_backend(o);
    REQUIRE_MESSAGE(b, why(b));
    CHECK(t.get("leaf/cgroup.procs") == std::to_string(::getpid()));

    // The true root (no cgroup.type) keeps its processes.
    fs::remove(t.path("cgroup.type"));
    t.put("leaf/cgroup.procs", "");
    REQUIRE(open_backend(o));
    CHECK(t.get("leaf/cgroup.procs") == "");
}

TEST_CASE("cgroups v2: no daemon_leaf move when our cgroup is empty") {
    FakeTree t;
    lay_out_v2(t, "");
    auto o = v2_options(t);
    o.daemon_leaf = "leaf";
    REQUIRE(open_backend(o));
    CHECK_FALSE(t.has(std::string(kV2Own) + "/leaf"));
}

TEST_CASE("cgroups v2: apply writes each limit to its file") {
    FakeTree t;
    lay_out_v2(t, "");
    lay_out_v2_group(t, "101");
    auto b = open_backend(v2_options(t));
    REQUIRE(b);
    auto g = (*b)->create("101");
    REQUIRE_MESSAGE(g, why(g));
    CHECK((*g)->name() == "101");
    CHECK((*g)->describe() == t.path(std::string(kV2Own) + "/vz/101"));
    CHECK((*g)->clone_into_fd().has_value());
    CHECK((*g)->clone_into_fd()->valid());

    Limits l;
    l.memory_max = 512 * MiB;
    l.memory_high = kUnlimited;
    l.swap_max = 0;
    l.pids_max = 128;
    l.cpu_weight = 200;
    l.cpu_quota_us = 50000;
    l.cpuset_cpus = "0-1";
    auto r = (*g)->apply(l);
    REQUIRE_MESSAGE(r, why(r));
    CHECK(t.get(g2("memory.max")) == "536870912");
    CHECK(t.get(g2("memory.high")) == "max");
    CHECK(t.get(g2("memory.swap.max")) == "0");
    CHECK(t.get(g2("pids.max")) == "128");
    CHECK(t.get(g2("cpu.weight")) == "200");
    CHECK(t.get(g2("cpu.max")) == "50000 100000");
    CHECK(t.get(g2("cpuset.cpus")) == "0-1");

    Limits unl;
    unl.memory_max = kUnlimited;
    unl.pids_max = kUnlimited;
    unl.cpu_quota_us = kUnlimited;
    unl.cpu_period_us = 200000;
    REQUIRE((*g)->apply(unl));
    CHECK(t.get(g2("memory.max")) == "max");
    CHECK(t.get(g2("pids.max")) == "max");
    CHECK(t.get(g2("cpu.max")) == "max 200000");
    CHECK(t.get(g2("memory.swap.max")) == "0");  // nullopt: left alone
}

TEST_CASE("cgroups v2: errors name the file and the group") {
    FakeTree t;
    lay_out_v2(t, "");
    lay_out_v2_group(t, "101");
    fs::remove(t.path(g2("pids.max")));
    fs::remove(t.path(g2("memory.swap.max")));
    auto b = open_backend(v2_options(t));
    REQUIRE(b);
    auto g = (*b)->open("101");
    REQUIRE(g);

    Limits pids;
    pids.pids_max = 10;
    auto r = (*g)->apply(pids);
    REQUIRE_FALSE(r);
    CHECK(r.error().err() == ENOENT);
    CHECK(r.error().path() == t.path(g2("pids.max")));
    CHECK(r.error().message() == "apply limits to cgroup vz/101: open '" + t.path(g2("pids.max")) +
                                     "': No such file or directory");

    // Swap cannot be limited without swap accounting; unlimited is fine.
    Limits swap;
    swap.swap_max = kUnlimited;
    CHECK((*g)->apply(swap));
    swap.swap_max = 64 * MiB;
    auto s = (*g)->apply(swap);
    REQUIRE_FALSE(s);
    CHECK(s.error().message().find(t.path(g2("memory.swap.max"))) != std::string::npos);
    CHECK(s.error().message().find("swap") != std::string::npos);

    Limits bad;
    bad.cpu_weight = 0;
    auto w = (*g)->apply(bad);
    REQUIRE_FALSE(w);
    CHECK(w.error().code() == vps::Errc::bad_value);
    CHECK(t.get(g2("cpu.weight")) == "100\n");  // nothing written
}

TEST_CASE("cgroups v2: usage parses the counters") {
    FakeTree t;
    lay_out_v2(t, "");
    lay_out_v2_group(t, "101");
    t.files(std::string(kV2Own) + "/vz/101",
            {{"memory.current", "104857600\n"},
             {"memory.max", "536870912\n"},
             {"memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n"},
             {"memory.swap.current", "4096\n"},
             {"memory.swap.max", "max\n"},
             {"pids.current", "3\n"},
             {"pids.max", "128\n"},
             {"pids.events", "max 2\n"},
             {"cpu.weight", "200\n"},
             {"cpu.max", "50000 100000\n"},
             {"cpu.stat", "usage_usec 987654\nuser_usec 900000\nsystem_usec 87654\n"}});
    auto b = open_backend(v2_options(t));
    REQUIRE(b);
    auto g = (*b)->open("101");
    REQUIRE(g);
    auto u = (*g)->usage();
    REQUIRE_MESSAGE(u, why(u));
    CHECK(u->memory_current == 104857600u);
    CHECK_FALSE(u->memory_peak);  // no memory.peak: a pre-5.19 kernel
    CHECK(u->memory_max == 536870912u);
    CHECK(u->memory_failcnt == 7u);
    CHECK(u->swap_current == 4096u);
    CHECK(u->swap_max == kUnlimited);
    CHECK(u->pids_current == 3u);
    CHECK(u->pids_max == 128u);
    CHECK(u->pids_failcnt == 2u);
    CHECK(u->cpu_weight == 200u);
    CHECK(u->cpu_quota_us == 50000u);
    CHECK(u->cpu_period_us == 100000u);
    CHECK(u->cpu_usage_us == 987654u);

    t.put(g2("memory.peak"), "209715200\n");
    CHECK((*g)->usage()->memory_peak == 209715200u);

    t.put(g2("pids.current"), "lots\n");
    auto bad = (*g)->usage();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().path() == t.path(g2("pids.current")));
}

TEST_CASE("cgroups v2: processes, kill_all and destroy") {
    FakeTree t;
    lay_out_v2(t, "");
    lay_out_v2_group(t, "101");
    t.put(g2("cgroup.procs"), "100\n101\n");
    t.files(std::string(kV2Own) + "/vz/101/inner", {{"cgroup.procs", "102\n"}});
    auto b = open_backend(v2_options(t));
    REQUIRE(b);
    auto g = (*b)->open("101");
    REQUIRE(g);
    auto p = (*g)->processes();
    REQUIRE(p);
    CHECK(p->size() == 3);  // includes the VPS's own child cgroup

    REQUIRE((*g)->add_process(4321));
    CHECK(t.get(g2("cgroup.procs")) == "4321");

    REQUIRE((*g)->kill_all());
    CHECK(t.get(g2("cgroup.kill")) == "1");

    // A fake group holds plain files, which rmdir refuses: the error names it.
    auto d = (*g)->destroy(100);
    REQUIRE_FALSE(d);
    CHECK(d.error().err() == ENOTEMPTY);
    CHECK(d.error().message().rfind("destroy cgroup vz/101: rmdir '", 0) == 0);

    // Gone already: success.
    fs::remove_all(t.path(std::string(kV2Own) + "/vz/101"));
    CHECK((*g)->destroy(100));
    CHECK_FALSE((*b)->exists("101"));
}

TEST_CASE("cgroups v2: kill falls back to a kill loop without cgroup.kill") {
    FakeTree t;
    lay_out_v2(t, "");
    lay_out_v2_group(t, "101");
    fs::remove(t.path(g2("cgroup.kill")));
    auto b = open_backend(v2_options(t));
    REQUIRE(b);
    auto g = (*b)->open("101");
    REQUIRE(g);
    CHECK((*g)->kill_all());  // empty group: done at once
    // Refuses to kill the caller.
    t.put(g2("cgroup.procs"), std::to_string(::getpid()) + "\n");
    auto r = (*g)->kill_all();
    REQUIRE_FALSE(r);
    CHECK(r.error().err() == EPERM);
}

TEST_CASE("cgroups v2: open, exists and names") {
    FakeTree t;
    lay_out_v2(t, "");
    auto b = open_backend(v2_options(t));
    REQUIRE(b);
    CHECK_FALSE((*b)->exists("101"));
    auto missing = (*b)->open("101");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().err() == ENOENT);
    CHECK(missing.error().message().find("open cgroup vz/101") == 0);
    auto created = (*b)->create("102");
    REQUIRE(created);
    CHECK((*b)->exists("102"));
    CHECK(t.has(std::string(kV2Own) + "/vz/102"));
    for (const char* bad : {"", "..", "a/b", "/abs"}) {
        auto g = (*b)->create(bad);
        REQUIRE_FALSE(g);
        CHECK(g.error().code() == vps::Errc::bad_value);
    }
}

TEST_CASE("cgroups v2: missing own cgroup line and missing tree") {
    FakeTree t;
    lay_out_v2(t, "");
    t.put("self_cgroup", "4:memory:/x\n");
    auto b = open_backend(v2_options(t));
    REQUIRE_FALSE(b);
    CHECK(b.error().message().find("self_cgroup") != std::string::npos);

    t.put("self_cgroup", "0::/nowhere\n");
    auto c = open_backend(v2_options(t));
    REQUIRE_FALSE(c);
    CHECK(c.error().path() == t.root() + "/nowhere");
}

// ---- v1 --------------------------------------------------------------

namespace {

constexpr const char* kMemOwn = "process_api/e66735dd0616eebdcd5740eddf5f759c";

// The hybrid host's layout, moved into the fake tree: every controller on
// its own mount, memory's own cgroup deep down, the others at the root.
// cpu_mount is "cpu" (separate from cpuacct) or "cpu,cpuacct" (co-mounted).
void lay_out_v1(const FakeTree& t, const std::string& cpu_mount = "cpu") {
    std::string info =
        // Real host lines outside the fake root: must be ignored.
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n";
    int id = 100;
    std::vector<std::string> mounts{"memory", "pids", cpu_mount, "cpuset", "blkio", "freezer"};
    if (cpu_mount == "cpu") mounts.emplace_back("cpuacct");
    for (const auto& m : mounts) {
        info += fake_cgroups::v1_mount_line(t, id++, m);
        fs::create_directories(t.path(m));
    }
    info += "140 31 0:40 / " + t.path("systemd") + " rw - cgroup cgroup rw,name=systemd\n";
    info += "141 31 0:41 / " + t.path("unified") + " rw - cgroup2 cgroup2 rw\n";
    t.put("mountinfo", info);
    std::string self = "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n4:memory:/" +
                       std::string(kMemOwn) + "\n3:cpuset:/\n";
    self += cpu_mount == "cpu" ? "2:cpuacct:/\n1:cpu:/\n" : "2:cpu,cpuacct:/\n";
    t.put("self_cgroup", self + "0::/\n");
    fs::create_directories(t.path(std::string("memory/") + kMemOwn));
    t.files("cpuset", {{"cpuset.cpus", "0-1\n"}, {"cpuset.mems", "0\n"}});
    // mkdir of the base makes no files here; a kernel gives it empty ones.
    t.files("cpuset/vz", {{"cpuset.cpus", ""}, {"cpuset.mems", ""}});
}

constexpr const char* kUnl = "9223372036854771712\n";

std::string mem_group() { return std::string("memory/") + kMemOwn + "/vz/101"; }

void lay_out_v1_group(const FakeTree& t, const std::string& cpu_mount = "cpu") {
    t.files(mem_group(), {{"cgroup.procs", ""},
                          {"memory.limit_in_bytes", kUnl},
                          {"memory.memsw.limit_in_bytes", kUnl},
                          {"memory.soft_limit_in_bytes", kUnl}});
    t.files("pids/vz/101", {{"cgroup.procs", ""}, {"pids.max", "max\n"}});
    t.files(cpu_mount + "/vz/101", {{"cgroup.procs", ""},
                                    {"cpu.shares", "1024\n"},
                                    {"cpu.cfs_quota_us", "-1\n"},
                                    {"cpu.cfs_period_us", "100000\n"}});
    t.files("cpuset/vz/101", {{"cgroup.procs", ""}, {"cpuset.cpus", ""}, {"cpuset.mems", ""}});
    for (const char* m : {"blkio", "freezer"})
        t.files(std::string(m) + "/vz/101", {{"cgroup.procs", ""}});
    if (cpu_mount == "cpu") t.files("cpuacct/vz/101", {{"cgroup.procs", ""}});
}

Options v1_options(const FakeTree& t) {
    return fake_cgroups::tree_options(t, Mode::v1, "mountinfo");
}

}  // namespace

TEST_CASE("cgroups v1: open finds the hybrid host's hierarchies and makes the base") {
    FakeTree t;
    lay_out_v1(t);
    auto b = open_backend(v1_options(t));
    REQUIRE_MESSAGE(b, why(b));
    CHECK((*b)->name() == "v1");
    CHECK((*b)->controllers() == std::vector<std::string>{"memory", "pids", "cpu", "cpuset", "io"});
    // Each base sits beneath our own cgroup of that hierarchy.
    CHECK(fs::is_directory(t.path(std::string("memory/") + kMemOwn + "/vz")));
    CHECK_FALSE(t.has("memory/vz"));
    for (const char* h : {"pids", "cpu", "cpuacct", "blkio"})
        CHECK(fs::is_directory(t.path(std::string(h) + "/vz")));
    CHECK_FALSE(t.has("freezer/vz"));  // not a controller we use
    // A new cpuset gets its parent's cpus and mems; the root's are only read.
    CHECK(t.get("cpuset/vz/cpuset.cpus") == "0-1");
    CHECK(t.get("cpuset/vz/cpuset.mems") == "0");
    CHECK(t.get("cpuset/cpuset.cpus") == "0-1\n");
    CHECK((*b)->describe().find(t.path(std::string("memory/") + kMemOwn + "/vz")) !=
          std::string::npos);
}

TEST_CASE("cgroups v1: apply writes limits in v1 terms") {
    FakeTree t;
    lay_out_v1(t);
    lay_out_v1_group(t);
    auto b = open_backend(v1_options(t));
    REQUIRE(b);
    auto g = (*b)->create("101");
    REQUIRE_MESSAGE(g, why(g));
    CHECK_FALSE((*g)->clone_into_fd());
    CHECK(t.get("cpuset/vz/101/cpuset.cpus") == "0-1");  // inherited on create
    CHECK(t.get("cpuset/vz/101/cpuset.mems") == "0");

    Limits l;
    l.memory_max = 512 * MiB;
    l.memory_high = 256 * MiB;
    l.swap_max = 256 * MiB;
    l.pids_max = 128;
    l.cpu_weight = 50;
    l.cpu_quota_us = 50000;
    l.cpuset_cpus = "1";
    auto r = (*g)->apply(l);
    REQUIRE_MESSAGE(r, why(r));
    CHECK(t.get(mem_group() + "/memory.limit_in_bytes") == "536870912");
    CHECK(t.get(mem_group() + "/memory.memsw.limit_in_bytes") == "805306368");
    CHECK(t.get(mem_group() + "/memory.soft_limit_in_bytes") == "268435456");
    CHECK(t.get("pids/vz/101/pids.max") == "128");
    CHECK(t.get("cpu/vz/101/cpu.shares") == "512");
    CHECK(t.get("cpu/vz/101/cpu.cfs_quota_us") == "50000");
    CHECK(t.get("cpu/vz/101/cpu.cfs_period_us") == "100000");
    CHECK(t.get("cpuset/vz/101/cpuset.cpus") == "1");

    Limits unl;
    unl.memory_max = kUnlimited;
    unl.memory_high = kUnlimited;
    unl.pids_max = kUnlimited;
    unl.cpu_quota_us = kUnlimited;
    unl.cpu_weight = 1;
    unl.cpuset_cpus = "";
    r = (*g)->apply(unl);
    REQUIRE_MESSAGE(r, why(r));
    CHECK(t.get(mem_group() + "/memory.limit_in_bytes") == "-1");
    CHECK(t.get(mem_group() + "/memory.memsw.limit_in_bytes") == "-1");
    CHECK(t.get(mem_group() + "/memory.soft_limit_in_bytes") == "-1");
    CHECK(t.get("pids/vz/101/pids.max") == "max");
    CHECK(t.get("cpu/vz/101/cpu.cfs_quota_us") == "-1");
    CHECK(t.get("cpu/vz/101/cpu.shares") == "10");
    CHECK(t.get("cpuset/vz/101/cpuset.cpus") == "0-1");  // "" = the parent's
}

TEST_CASE("cgroups v1: memory limit only keeps the swap allowance") {
    FakeTree t;
    lay_out_v1(t);
    lay_out_v1_group(t);
    t.put(mem_group() + "/memory.limit_in_bytes", "536870912\n");
    t.put(mem_group() + "/memory.memsw.limit_in_bytes", "805306368\n");
    auto b = open_backend(v1_options(t));
    REQUIRE(b);
    auto g = (*b)->open("101");
    REQUIRE(g);
    Limits l;
    l.memory_max = 1024 * MiB;
    REQUIRE((*g)->apply(l));
    CHECK(t.get(mem_group() + "/memory.limit_in_bytes") == "1073741824");
    CHECK(t.get(mem_group() + "/memory.memsw.limit_in_bytes") == "1342177280");
}

TEST_CASE("cgroups v1: without swap accounting only unlimited swap is possible") {
    FakeTree t;
    lay_out_v1(t);
    lay_out_v1_group(t);
    fs::remove(t.path(mem_group() + "/memory.memsw.limit_in_bytes"));
    auto b = open_backend(v1_options(t));
    REQUIRE(b);
    auto g = (*b)->open("101");
    REQUIRE(g);
    Limits l;
    l.memory_max = 256 * MiB;
    l.swap_max = kUnlimited;
    REQUIRE((*g)->apply(l));
    CHECK(t.get(mem_group() + "/memory.limit_in_bytes") == "268435456");
    l.swap_max = 0;
    auto r = (*g)->apply(l);
    REQUIRE_FALSE(r);
    CHECK(r.error().path() == t.path(mem_group() + "/memory.memsw.limit_in_bytes"));
    CHECK(r.error().message().rfind("apply limits to cgroup vz/101: write '", 0) == 0);
}

TEST_CASE("cgroups v1: usage converts v1 counters") {
    FakeTree t;
    lay_out_v1(t);
    lay_out_v1_group(t);
    t.files(mem_group(), {{"memory.usage_in_bytes", "104857600\n"},
                          {"memory.max_usage_in_bytes", "209715200\n"},
                          {"memory.limit_in_bytes", "536870912\n"},
                          {"memory.failcnt", "5\n"},
                          {"memory.memsw.usage_in_bytes", "104861696\n"},
                          {"memory.memsw.limit_in_bytes", "805306368\n"}});
    t.files("pids/vz/101",
            {{"pids.current", "1\n"}, {"pids.max", "64\n"}, {"pids.events", "max 4\n"}});
    t.files("cpu/vz/101", {{"cpu.shares", "512\n"}, {"cpu.cfs_quota_us", "-1\n"}});
    t.files("cpuacct/vz/101", {{"cpuacct.usage", "123456789\n"}});
    auto b = open_backend(v1_options(t));
    REQUIRE(b);
    auto g = (*b)->open("101");
    REQUIRE(g);
    auto u = (*g)->usage();
    REQUIRE_MESSAGE(u, why(u));
    CHECK(u->memory_current == 104857600u);
    CHECK(u->memory_peak == 209715200u);
    CHECK(u->memory_max == 536870912u);
    CHECK(u->memory_failcnt == 5u);
    CHECK(u->swap_current == 4096u);
    CHECK(u->swap_max == 256 * MiB);
    CHECK(u->pids_current == 1u);
    CHECK(u->pids_max == 64u);
    CHECK(u->pids_failcnt == 4u);
    CHECK(u->cpu_weight == 50u);
    CHECK(u->cpu_quota_us == kUnlimited);
    CHECK(u->cpu_period_us == 100000u);
    CHECK(u->cpu_usage_us == 123456u);

    t.put(mem_group() + "/memory.memsw.limit_in_bytes", kUnl);
    t.put(mem_group() + "/memory.limit_in_bytes", kUnl);
    u = (*g)->usage();
    REQUIRE(u);
    CHECK(u->memory_max == kUnlimited);
    CHECK(u->swap_max == kUnlimited);
}

TEST_CASE("cgroups v1: co-mounted cpu,cpuacct") {
    FakeTree t;
    lay_out_v1(t, "cpu,cpuacct");
    lay_out_v1_group(t, "cpu,cpuacct");
    t.put("cpu,cpuacct/vz/101/cpuacct.usage", "5000000\n");
    auto b = open_backend(v1_options(t));
    REQUIRE_MESSAGE(b, why(b));
    CHECK((*b)->controllers() == std::vector<std::string>{"memory", "pids", "cpu", "cpuset", "io"});
    auto g = (*b)->open("101");
    REQUIRE_MESSAGE(g, why(g));
    Limits l;
    l.cpu_weight = 300;
    REQUIRE((*g)->apply(l));
    CHECK(t.get("cpu,cpuacct/vz/101/cpu.shares") == "3072");
    auto u = (*g)->usage();
    REQUIRE(u);
    CHECK(u->cpu_usage_us == 5000u);
    CHECK(u->cpu_weight == 300u);
}

TEST_CASE("cgroups v1: processes, add_process and destroy") {
    FakeTree t;
    lay_out_v1(t);
    lay_out_v1_group(t);
    t.put("pids/vz/101/cgroup.procs", "300\n200\n");
    t.put(mem_group() + "/cgroup.procs", "200\n300\n");
    auto b = open_backend(v1_options(t));
    REQUIRE(b);
    auto g = (*b)->open("101");
    REQUIRE(g);
    auto p = (*g)->processes();
    REQUIRE(p);
    CHECK(*p == std::vector<pid_t>{200, 300});

    REQUIRE((*g)->add_process(777));
    for (const char* h : {"pids", "cpu", "cpuacct", "cpuset", "blkio"})
        CHECK(t.get(std::string(h) + "/vz/101/cgroup.procs") == "777");
    CHECK(t.get(mem_group() + "/cgroup.procs") == "777");
    CHECK(t.get("freezer/vz/101/cgroup.procs") == "");

    auto d = (*g)->destroy(50);
    REQUIRE_FALSE(d);
    CHECK(d.error().message().rfind("destroy cgroup vz/101: rmdir '", 0) == 0);
    for (const char* h : {"pids", "cpu", "cpuacct", "cpuset", "blkio"})
        fs::remove_all(t.path(std::string(h) + "/vz/101"));
    fs::remove_all(t.path(mem_group()));
    CHECK((*g)->destroy(50));
    CHECK_FALSE((*b)->exists("101"));
}

TEST_CASE("cgroups v1: a half-made group still exists; open of an absent one fails") {
    FakeTree t;
    lay_out_v1(t);
    auto b = open_backend(v1_options(t));
    REQUIRE(b);
    auto missing = (*b)->open("101");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().err() == ENOENT);
    fs::create_directories(t.path("pids/vz/101"));
    CHECK((*b)->exists("101"));
}

TEST_CASE("cgroups v1: hierarchies that are not mounted") {
    FakeTree t;
    lay_out_v1(t);
    // Only pids under the fake root.
    t.put("mountinfo",
          "39 31 0:36 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
          "40 31 0:37 / " +
              t.path("pids") + " rw - cgroup cgroup rw,pids\n");
    fs::create_directories(t.path("pids/vz/101"));
    t.put("pids/vz/101/pids.max", "max\n");
    auto b = open_backend(v1_options(t));
    REQUIRE_MESSAGE(b, why(b));
    CHECK((*b)->controllers() == std::vector<std::string>{"pids"});
    auto g = (*b)->open("101");
    REQUIRE(g);
    Limits l;
    l.memory_max = 1;
    auto r = (*g)->apply(l);
    REQUIRE_FALSE(r);
    CHECK(r.error().message() ==
          "apply limits to cgroup vz/101: no cgroup v1 memory hierarchy is mounted");

    t.put("mountinfo", "39 31 0:36 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
    auto none = open_backend(v1_options(t));
    REQUIRE_FALSE(none);
    CHECK(none.error().message().find("no cgroup v1 controller") != std::string::npos);
}
