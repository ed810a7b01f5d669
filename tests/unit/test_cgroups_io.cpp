// cgroups: NUMA nodes, block I/O limits and the accounting counters, on
// both backends, against a fake cgroup tree in a temp directory (laid out
// as cgroup_fake_tree.hpp explains: each test writes the files a kernel
// would show, then reads back what the backend wrote).
#include <doctest/doctest.h>

#include <filesystem>

#include "cgroup_fake_tree.hpp"
#include "cgroups/backend.hpp"
#include "vps/sys.hpp"

using namespace cgroups;
using fake_cgroups::FakeTree;
using fake_cgroups::why;
namespace fs = std::filesystem;

namespace {

// Open the backend `o` describes and its group 101, which must exist.
std::unique_ptr<Group> open_group(const Options& o) {
    auto b = open_backend(o);
    REQUIRE_MESSAGE(b, why(b));
    auto g = (*b)->open("101");
    REQUIRE_MESSAGE(g, why(g));
    return std::move(g).value();
}

// ---- v2: <root>/vzd/vz/101 ---------------------------------------------

std::string g2(const std::string& file) { return "vzd/vz/101/" + file; }

std::unique_ptr<Group> v2_group(const FakeTree& t) {
    const std::string ctrls = "cpuset cpu io memory pids\n";
    t.files("", {{"cgroup.controllers", ctrls}, {"cgroup.subtree_control", ctrls}});
    t.files(
        "vzd",
        {{"cgroup.controllers", ctrls}, {"cgroup.subtree_control", ctrls}, {"cgroup.procs", ""}});
    t.files("vzd/vz", {{"cgroup.controllers", ctrls}, {"cgroup.subtree_control", ctrls}});
    t.files("vzd/vz/101", {{"cgroup.procs", ""},
                           {"cpuset.cpus", ""},
                           {"cpuset.mems", ""},
                           {"io.max", ""},
                           {"io.weight", "default 100\n"}});
    t.put("self_cgroup", "0::/vzd\n");
    return open_group(fake_cgroups::tree_options(t, Mode::v2));
}

}  // namespace

TEST_CASE("cgroups v2: cpuset.mems, io.max and io.weight") {
    FakeTree t;
    auto g = v2_group(t);
    Limits l;
    l.cpuset_cpus = "0-1";
    l.cpuset_mems = "0";
    l.io_device = "8:0";
    l.io_rbps = 10485760;
    l.io_wbps = 10485760;
    l.io_riops = kUnlimited;
    l.io_wiops = 500;
    l.io_weight = 64;
    auto r = g->apply(l);
    REQUIRE_MESSAGE(r, why(r));
    CHECK(t.get(g2("cpuset.cpus")) == "0-1");
    CHECK(t.get(g2("cpuset.mems")) == "0");
    CHECK(t.get(g2("io.max")) == "8:0 rbps=10485760 wbps=10485760 riops=max wiops=500");
    CHECK(t.get(g2("io.weight")) == "default 64");

    // "" hands the group its parent's nodes; only the keys set are written.
    Limits more;
    more.cpuset_mems = "";
    more.io_device = "253:1";
    more.io_riops = 100;
    REQUIRE(g->apply(more));
    CHECK(t.get(g2("cpuset.mems")) == "");
    CHECK(t.get(g2("io.max")) == "253:1 riops=100");
    CHECK(t.get(g2("io.weight")) == "default 64");  // unset: left alone
}

TEST_CASE("cgroups v2: without a device the throttles are not written") {
    FakeTree t;
    auto g = v2_group(t);
    t.put(g2("io.max"), "untouched");
    Limits l;
    l.io_rbps = 1048576;
    l.io_wiops = 10;
    REQUIRE(g->apply(l));
    CHECK(t.get(g2("io.max")) == "untouched");
}

TEST_CASE("cgroups v2: io.bfq.weight stands in; with neither only the default works") {
    FakeTree t;
    auto g = v2_group(t);
    fs::remove(t.path(g2("io.weight")));
    t.put(g2("io.bfq.weight"), "default 100\n");
    Limits l;
    l.io_weight = 5000;  // BFQ tops out at 1000
    REQUIRE(g->apply(l));
    CHECK(t.get(g2("io.bfq.weight")) == "default 1000");
    auto u = g->usage();
    REQUIRE(u);
    CHECK(u->io_weight == 1000u);

    fs::remove(t.path(g2("io.bfq.weight")));
    l.io_weight = 100;
    CHECK(g->apply(l));
    l.io_weight = 128;
    auto r = g->apply(l);
    REQUIRE_FALSE(r);
    CHECK(r.error().err() == ENOENT);
    CHECK(r.error().path() == t.path(g2("io.weight")));
    CHECK(r.error().message().find("only the default weight 100") != std::string::npos);
}

TEST_CASE("cgroups v2: io.max missing (io controller off) names the file") {
    FakeTree t;
    auto g = v2_group(t);
    fs::remove(t.path(g2("io.max")));
    Limits l;
    l.io_device = "8:0";
    l.io_rbps = 1;
    auto r = g->apply(l);
    REQUIRE_FALSE(r);
    CHECK(r.error().path() == t.path(g2("io.max")));
}

TEST_CASE("cgroups: limits no kernel takes are refused before any write") {
    FakeTree t;
    auto g = v2_group(t);
    auto refused = [&g](const Limits& l) {
        auto r = g->apply(l);
        return r ? std::string() : r.error().message();
    };
    Limits dev;
    dev.io_device = "sda";
    dev.io_rbps = 1;
    CHECK(refused(dev) == "apply limits to cgroup vz/101: io device 'sda' is not MAJ:MIN");
    Limits zero;
    zero.io_device = "8:0";
    zero.io_wbps = 0;
    CHECK(refused(zero) ==
          "apply limits to cgroup vz/101: io_wbps 0 is not a limit (kUnlimited means none)");
    Limits weight;
    weight.io_weight = 0;
    CHECK(refused(weight).find("io weight 0 is outside 1..10000") != std::string::npos);
    weight.io_weight = 10001;
    CHECK_FALSE(refused(weight).empty());
    Limits mems;
    mems.cpuset_mems = "0\n1";
    CHECK(refused(mems).find("cpuset list '0\n1' is not like 0-3,6") != std::string::npos);
    CHECK(t.get(g2("cpuset.mems")) == "");
    CHECK(t.get(g2("io.weight")) == "default 100\n");
}

TEST_CASE("cgroups v2: usage reads the accounting counters") {
    FakeTree t;
    auto g = v2_group(t);
    t.files("vzd/vz/101",
            {{"memory.stat",
              "anon 1000\nkernel_stack 16384\npagetables 8192\npercpu 480\nsock 12288\n"
              "slab 100000\n"},
             {"memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n"},
             {"memory.swap.peak", "8192\n"},
             {"memory.swap.events", "high 0\nmax 3\nfail 0\n"},
             {"pids.peak", "17\n"},
             {"io.weight", "default 73\n8:0 200\n"},
             {"io.stat",
              "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
              "8:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n"}});
    auto u = g->usage();
    REQUIRE_MESSAGE(u, why(u));
    CHECK(u->memory_stat_kernel == 125056u);  // 6.1: summed from the parts
    CHECK(u->memory_stat_sock == 12288u);
    CHECK(u->memory_oom_kills == 1u);
    CHECK(u->swap_peak == 8192u);
    CHECK(u->swap_failcnt == 3u);
    CHECK(u->pids_peak == 17u);
    CHECK(u->io_weight == 73u);
    CHECK(u->io_rbytes == 4097u);
    CHECK(u->io_wbytes == 8194u);
    CHECK(u->io_rios == 4u);
    CHECK(u->io_wios == 6u);

    t.put(g2("memory.stat"), "kernel 3145728\nsock 0\n");
    t.put(g2("io.stat"), "");
    u = g->usage();
    REQUIRE(u);
    CHECK(u->memory_stat_kernel == 3145728u);
    CHECK(u->io_rbytes == 0u);

    t.put(g2("io.stat"), "8:0 rbytes=x\n");
    auto bad = g->usage();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().path() == t.path(g2("io.stat")));
}

TEST_CASE("cgroups v2: counters an older kernel lacks stay unknown") {
    FakeTree t;
    auto g = v2_group(t);
    fs::remove(t.path(g2("io.weight")));
    t.put(g2("memory.events"), "low 0\nhigh 0\nmax 0\noom 0\n");  // before oom_kill
    auto u = g->usage();
    REQUIRE_MESSAGE(u, why(u));
    CHECK_FALSE(u->memory_oom_kills);
    CHECK_FALSE(u->memory_stat_kernel);
    CHECK_FALSE(u->swap_peak);
    CHECK_FALSE(u->pids_peak);
    CHECK_FALSE(u->io_weight);
    CHECK_FALSE(u->io_rbytes);

    t.put(g2("memory.events"), "oom_kill many\n");
    CHECK_FALSE(g->usage());
}

// ---- v1: one hierarchy per controller ---------------------------------

namespace {

std::unique_ptr<Group> v1_group(const FakeTree& t, bool blkio = true) {
    std::string info;
    std::vector<std::string> mounts{"memory", "pids", "cpu", "cpuacct", "cpuset"};
    if (blkio) mounts.emplace_back("blkio");
    std::string self;
    int id = 100;
    for (const auto& m : mounts) {
        info += fake_cgroups::v1_mount_line(t, id, m);
        self += std::to_string(id++ - 99) + ":" + m + ":/\n";
        t.files(m + "/vz/101", {{"cgroup.procs", ""}});
    }
    t.put("mountinfo", info);
    t.put("self_cgroup", self + "0::/\n");
    t.files("cpuset", {{"cpuset.cpus", "0-3\n"}, {"cpuset.mems", "0-1\n"}});
    t.files("cpuset/vz", {{"cpuset.cpus", "0-3\n"}, {"cpuset.mems", "0-1\n"}});
    t.files("cpuset/vz/101", {{"cpuset.cpus", "0-3\n"}, {"cpuset.mems", "0-1\n"}});
    if (blkio)
        t.files("blkio/vz/101", {{"blkio.weight", "500\n"},
                                 {"blkio.throttle.read_bps_device", ""},
                                 {"blkio.throttle.write_bps_device", ""},
                                 {"blkio.throttle.read_iops_device", ""},
                                 {"blkio.throttle.write_iops_device", ""}});
    return open_group(fake_cgroups::tree_options(t, Mode::v1, "mountinfo"));
}

}  // namespace

TEST_CASE("cgroups v1: cpuset.mems, blkio throttles and blkio.weight") {
    FakeTree t;
    auto g = v1_group(t);
    Limits l;
    l.cpuset_mems = "1";
    l.io_device = "8:0";
    l.io_rbps = 10485760;
    l.io_wbps = kUnlimited;
    l.io_riops = 100;
    l.io_wiops = 200;
    l.io_weight = 64;
    auto r = g->apply(l);
    REQUIRE_MESSAGE(r, why(r));
    CHECK(t.get("cpuset/vz/101/cpuset.mems") == "1");
    CHECK(t.get("blkio/vz/101/blkio.throttle.read_bps_device") == "8:0 10485760");
    CHECK(t.get("blkio/vz/101/blkio.throttle.write_bps_device") == "8:0 0");  // 0: no limit
    CHECK(t.get("blkio/vz/101/blkio.throttle.read_iops_device") == "8:0 100");
    CHECK(t.get("blkio/vz/101/blkio.throttle.write_iops_device") == "8:0 200");
    CHECK(t.get("blkio/vz/101/blkio.weight") == "320");  // OpenVZ's ioprio 0

    // "" copies the parent's nodes (v1 has no "inherit"); no device, no throttle.
    Limits back;
    back.cpuset_mems = "";
    back.io_rbps = 1;
    back.io_weight = 10000;
    REQUIRE(g->apply(back));
    CHECK(t.get("cpuset/vz/101/cpuset.mems") == "0-1");
    CHECK(t.get("blkio/vz/101/blkio.throttle.read_bps_device") == "8:0 10485760");
    CHECK(t.get("blkio/vz/101/blkio.weight") == "1000");
}

TEST_CASE("cgroups v1: blkio.bfq.weight stands in; with neither only the default works") {
    FakeTree t;
    auto g = v1_group(t);
    fs::remove(t.path("blkio/vz/101/blkio.weight"));
    t.put("blkio/vz/101/blkio.bfq.weight", "100\n");
    Limits l;
    l.io_weight = 128;
    REQUIRE(g->apply(l));
    CHECK(t.get("blkio/vz/101/blkio.bfq.weight") == "128");

    fs::remove(t.path("blkio/vz/101/blkio.bfq.weight"));
    l.io_weight = 100;
    CHECK(g->apply(l));
    l.io_weight = 64;
    auto r = g->apply(l);
    REQUIRE_FALSE(r);
    CHECK(r.error().path() == t.path("blkio/vz/101/blkio.weight"));
    CHECK(r.error().message().rfind("apply limits to cgroup vz/101: write '", 0) == 0);
}

TEST_CASE("cgroups v1: I/O limits without a blkio hierarchy") {
    FakeTree t;
    auto g = v1_group(t, false);
    Limits l;
    l.io_weight = 64;
    auto r = g->apply(l);
    REQUIRE_FALSE(r);
    CHECK(r.error().message() ==
          "apply limits to cgroup vz/101: no cgroup v1 blkio hierarchy is mounted");
    // Throttles without a device need no hierarchy: nothing is written.
    Limits quiet;
    quiet.io_rbps = 5;
    CHECK(g->apply(quiet));
}

TEST_CASE("cgroups v1: usage reads kmem, oom kills, peaks and blkio counters") {
    FakeTree t;
    auto g = v1_group(t);
    t.files("memory/vz/101",
            {{"memory.kmem.usage_in_bytes", "2097152\n"},
             {"memory.kmem.tcp.usage_in_bytes", "4096\n"},
             {"memory.memsw.failcnt", "6\n"},
             {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"}});
    t.files("pids/vz/101", {{"pids.peak", "9\n"}});
    t.files("blkio/vz/101",
            {{"blkio.throttle.io_service_bytes_recursive",
              "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n"},
             {"blkio.throttle.io_service_bytes", "8:0 Read 1\n8:0 Write 1\nTotal 2\n"},
             {"blkio.throttle.io_serviced", "8:0 Read 3\n8:0 Write 5\n8:0 Total 8\nTotal 8\n"}});
    auto u = g->usage();
    REQUIRE_MESSAGE(u, why(u));
    CHECK(u->memory_stat_kernel == 2097152u);
    CHECK(u->memory_stat_sock == 4096u);
    CHECK(u->swap_failcnt == 6u);
    CHECK(u->memory_oom_kills == 2u);
    CHECK(u->pids_peak == 9u);
    CHECK(u->io_weight == 100u);   // blkio.weight 500
    CHECK(u->io_rbytes == 4096u);  // the _recursive file wins
    CHECK(u->io_wbytes == 8192u);
    CHECK(u->io_rios == 3u);
    CHECK(u->io_wios == 5u);
    CHECK_FALSE(u->swap_peak);  // v1 has no such counter

    t.put("blkio/vz/101/blkio.throttle.io_serviced", "8:0 Read x\n");
    auto bad = g->usage();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().path() == t.path("blkio/vz/101/blkio.throttle.io_serviced"));
}
