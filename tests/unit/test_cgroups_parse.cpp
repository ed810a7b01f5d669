// cgroups: the pure parsers, fed with samples copied from real hosts.
#include <doctest/doctest.h>

#include "parse.hpp"
#include "v1/v1.hpp"

using namespace cgroups;
using namespace cgroups::detail;

namespace {

// Verbatim from the development host (v1/v2 hybrid): /proc/self/cgroup.
constexpr std::string_view kHybridSelfCgroup =
    "9:name=systemd:/\n"
    "8:pids:/\n"
    "7:blkio:/\n"
    "6:freezer:/\n"
    "5:devices:/\n"
    "4:memory:/process_api/e66735dd0616eebdcd5740eddf5f759c\n"
    "3:cpuset:/\n"
    "2:cpuacct:/\n"
    "1:cpu:/\n"
    "0::/\n";

// Verbatim from the development host: the cgroup part of /proc/self/mountinfo,
// with a few other mounts around it.
constexpr std::string_view kHybridMountinfo =
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

// A systemd host of the older kind (Debian 10): cpu and cpuacct co-mounted,
// optional fields before the " - ".
constexpr std::string_view kCoMountedMountinfo =
    "30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755\n"
    "35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "36 30 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup "
    "rw,memory\n";
constexpr std::string_view kCoMountedSelfCgroup =
    "12:memory:/system.slice/vzd.service\n"
    "4:cpu,cpuacct:/system.slice/vzd.service\n"
    "1:name=systemd:/system.slice/vzd.service\n"
    "0::/system.slice/vzd.service\n";

}  // namespace

TEST_CASE("cgroups: knob values") {
    CHECK(parse_u64("42\n") == 42u);
    CHECK(parse_u64(" 7 ") == 7u);
    CHECK_FALSE(parse_u64(""));
    CHECK_FALSE(parse_u64("12abc"));
    CHECK_FALSE(parse_u64("-1"));
    CHECK(parse_max("max\n") == kUnlimited);
    CHECK(parse_max("1048576\n") == 1048576u);
    CHECK_FALSE(parse_max("maximum"));
    CHECK(format_max(kUnlimited) == "max");
    CHECK(format_max(5) == "5");

    CHECK(parse_v1_limit("-1\n") == kUnlimited);
    CHECK(parse_v1_limit("9223372036854771712\n") == kUnlimited);  // 4 KiB pages
    CHECK(parse_v1_limit("9223372036854710272\n") == kUnlimited);  // 64 KiB pages
    CHECK(parse_v1_limit("536870912\n") == 536870912u);
    CHECK(format_v1_limit(kUnlimited) == "-1");
    CHECK(format_v1_limit(100000) == "100000");
}

TEST_CASE("cgroups: flat-keyed files and cpu.max") {
    constexpr std::string_view events = "low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\n";
    CHECK(flat_keyed_value(events, "max") == 3u);
    CHECK(flat_keyed_value(events, "high") == 12u);
    CHECK(flat_keyed_value(events, "oom_kill") == 1u);  // not confused with "oom"
    CHECK_FALSE(flat_keyed_value(events, "oom_group_kill"));
    constexpr std::string_view stat = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n";
    CHECK(flat_keyed_value(stat, "usage_usec") == 123456u);

    auto unl = parse_cpu_max("max 100000\n");
    REQUIRE(unl);
    CHECK(unl->quota_us == kUnlimited);
    CHECK(unl->period_us == 100000u);
    auto capped = parse_cpu_max("50000 100000\n");
    REQUIRE(capped);
    CHECK(capped->quota_us == 50000u);
    CHECK_FALSE(parse_cpu_max("50000"));
    CHECK_FALSE(parse_cpu_max("x 100000"));
}

TEST_CASE("cgroups: cgroup.procs and word lists") {
    auto pids = parse_pids("31975\n31976\n32359\n");
    REQUIRE(pids);
    CHECK(*pids == std::vector<pid_t>{31975, 31976, 32359});
    CHECK(parse_pids("")->empty());
    CHECK_FALSE(parse_pids("12\nabc\n"));
    CHECK(words("cpuset cpu io memory hugetlb pids rdma misc\n").size() == 8);
    CHECK(words("\n").empty());
}

TEST_CASE("cgroups: weight <-> shares") {
    CHECK(weight_to_shares(100) == 1024u);
    CHECK(weight_to_shares(50) == 512u);
    CHECK(weight_to_shares(1) == 10u);
    CHECK(weight_to_shares(10000) == 102400u);
    CHECK(shares_to_weight(1024) == 100u);
    CHECK(shares_to_weight(2) == 1u);
    CHECK(shares_to_weight(262144) == 10000u);  // clamped
    for (uint32_t w : {1u, 7u, 33u, 50u, 99u, 100u, 250u, 1000u, 9999u, 10000u})
        CHECK(shares_to_weight(weight_to_shares(w)) == w);
}

TEST_CASE("cgroups: /proc/self/cgroup of the hybrid host") {
    auto lines = parse_proc_cgroup(kHybridSelfCgroup);
    CHECK(lines.size() == 10);
    CHECK(v2_own_path(lines) == "/");
    CHECK(v1_own_path(lines, "memory") == "/process_api/e66735dd0616eebdcd5740eddf5f759c");
    CHECK(v1_own_path(lines, "pids") == "/");
    CHECK(v1_own_path(lines, "cpuacct") == "/");
    CHECK_FALSE(v1_own_path(lines, "hugetlb"));
    CHECK(v1_own_path(lines, "name=systemd") == "/");
}

TEST_CASE("cgroups: /proc/self/cgroup with co-mounts, pure v2, odd paths") {
    auto lines = parse_proc_cgroup(kCoMountedSelfCgroup);
    CHECK(v1_own_path(lines, "cpu") == "/system.slice/vzd.service");
    CHECK(v1_own_path(lines, "cpuacct") == "/system.slice/vzd.service");
    CHECK_FALSE(v1_own_path(lines, "cpuset"));

    auto v2 = parse_proc_cgroup("0::/system.slice/vzd.service\n");
    CHECK(v2_own_path(v2) == "/system.slice/vzd.service");
    CHECK_FALSE(v1_own_path(v2, "memory"));

    // A path may contain ':'; only the first two split.
    auto odd = parse_proc_cgroup("0::/a:b/c\n");
    CHECK(v2_own_path(odd) == "/a:b/c");
    CHECK_FALSE(v2_own_path(parse_proc_cgroup("4:memory:/x\n")));
}

TEST_CASE("cgroups: mountinfo of the hybrid host") {
    auto mounts = parse_mountinfo(kHybridMountinfo);
    CHECK(mounts.size() == 14);
    auto mem = find_v1_mount(mounts, "/sys/fs/cgroup", "memory");
    REQUIRE(mem);
    CHECK(mem->mount_point == "/sys/fs/cgroup/memory");
    CHECK(mem->root == "/");
    CHECK(mem->fstype == "cgroup");
    auto cpuacct = find_v1_mount(mounts, "/sys/fs/cgroup", "cpuacct");
    REQUIRE(cpuacct);
    CHECK(cpuacct->mount_point == "/sys/fs/cgroup/cpuacct");
    // The cgroup2 mount and the named systemd hierarchy carry no controller.
    CHECK_FALSE(find_v1_mount(mounts, "/sys/fs/cgroup", "hugetlb"));
    // Mounts outside the root we were told to use do not count.
    CHECK_FALSE(find_v1_mount(mounts, "/tmp/fake", "memory"));
    CHECK_FALSE(find_v1_mount(mounts, "/sys/fs/cgroup/mem", "memory"));
}

TEST_CASE("cgroups: mountinfo with co-mounts, optional fields and escapes") {
    auto mounts = parse_mountinfo(kCoMountedMountinfo);
    REQUIRE(mounts.size() == 3);
    auto cpu = find_v1_mount(mounts, "/sys/fs/cgroup", "cpu");
    auto cpuacct = find_v1_mount(mounts, "/sys/fs/cgroup", "cpuacct");
    REQUIRE(cpu);
    REQUIRE(cpuacct);
    CHECK(cpu->mount_point == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(cpuacct->mount_point == cpu->mount_point);

    auto esc = parse_mountinfo(
        "50 30 0:40 /lxc/c1 /tmp/my\\040root/memory rw - cgroup cgroup rw,memory\n");
    REQUIRE(esc.size() == 1);
    CHECK(esc[0].mount_point == "/tmp/my root/memory");
    CHECK(esc[0].root == "/lxc/c1");
    CHECK(parse_mountinfo("garbage line\n").empty());
}

TEST_CASE("cgroups: our path inside a mount, joins and names") {
    CHECK(path_in_mount("/", "/process_api/x") == "/process_api/x");
    CHECK(path_in_mount("/lxc/c1", "/lxc/c1") == "/");
    CHECK(path_in_mount("/lxc/c1", "/lxc/c1/init.scope") == "/init.scope");
    CHECK_FALSE(path_in_mount("/lxc/c1", "/lxc/c10"));
    CHECK_FALSE(path_in_mount("/lxc/c1", "/"));

    CHECK(join_path("/sys/fs/cgroup/memory", "/") == "/sys/fs/cgroup/memory");
    CHECK(join_path("/sys/fs/cgroup/memory", "/process_api/x") ==
          "/sys/fs/cgroup/memory/process_api/x");
    CHECK(join_path("/sys/fs/cgroup/", "vz") == "/sys/fs/cgroup/vz");
    CHECK(join_path("/", "vz") == "/vz");

    CHECK(valid_name("101", false));
    CHECK_FALSE(valid_name("", false));
    CHECK_FALSE(valid_name("..", false));
    CHECK_FALSE(valid_name("a/b", false));
    CHECK_FALSE(valid_name("/abs", true));
    CHECK(valid_name("vz/ct", true));
    CHECK_FALSE(valid_name("vz//ct", true));
    CHECK_FALSE(valid_name("vz/../x", true));
}

TEST_CASE("cgroups: v1 memsw write order") {
    constexpr uint64_t M = 1u << 20;
    SUBCASE("a new group: everything unlimited, limit both; memory fits first") {
        auto p = v1::plan_memsw(kUnlimited, kUnlimited, 512 * M, 256 * M);
        CHECK(p.memory == 512 * M);
        CHECK(p.memsw == 768 * M);
        CHECK(p.memory_first);
    }
    SUBCASE("raising memory past the current memsw: memsw first") {
        auto p = v1::plan_memsw(512 * M, 768 * M, 1024 * M, 256 * M);
        CHECK(p.memsw == 1280 * M);
        CHECK_FALSE(p.memory_first);
    }
    SUBCASE("lowering: memory first") {
        auto p = v1::plan_memsw(1024 * M, 1280 * M, 256 * M, 0);
        CHECK(p.memory == 256 * M);
        CHECK(p.memsw == 256 * M);
        CHECK(p.memory_first);
    }
    SUBCASE("memory only: the amount of swap stays") {
        auto p = v1::plan_memsw(512 * M, 768 * M, 1024 * M, std::nullopt);
        CHECK(p.memsw == 1280 * M);
        CHECK_FALSE(p.memory_first);
        auto unl = v1::plan_memsw(kUnlimited, kUnlimited, 512 * M, std::nullopt);
        CHECK_FALSE(unl.memsw);  // stays unlimited: nothing to write
        CHECK(unl.memory == 512 * M);
    }
    SUBCASE("swap only: memory untouched") {
        auto p = v1::plan_memsw(512 * M, 768 * M, std::nullopt, 64 * M);
        CHECK_FALSE(p.memory);
        CHECK(p.memsw == 576 * M);
        CHECK(p.memory_first);
    }
    SUBCASE("unlimited memory lifts memsw first") {
        auto p = v1::plan_memsw(512 * M, 768 * M, kUnlimited, 0);
        CHECK(p.memory == kUnlimited);
        CHECK(p.memsw == kUnlimited);
        CHECK_FALSE(p.memory_first);
    }
}

TEST_CASE("cgroups: memory.stat kernel memory, with and without the \"kernel\" key") {
    // A 6.8 kernel prints "kernel" itself.
    constexpr std::string_view with_kernel =
        "anon 1000\nfile 2000\nkernel 3145728\nkernel_stack 16384\npagetables 8192\n"
        "sec_pagetables 0\npercpu 480\nsock 12288\nslab 100000\n";
    CHECK(memory_stat_kernel(with_kernel) == 3145728u);
    CHECK(flat_keyed_value(with_kernel, "sock") == 12288u);
    // Debian 12's 6.1 does not: the parts are summed.
    constexpr std::string_view debian_61 =
        "anon 1000\nfile 2000\nkernel_stack 16384\npagetables 8192\npercpu 480\nsock 12288\n"
        "shmem 0\nslab_reclaimable 60000\nslab_unreclaimable 40000\nslab 100000\n";
    CHECK(memory_stat_kernel(debian_61) == 16384u + 8192u + 480u + 100000u);
    // Without "slab", its two halves.
    CHECK(memory_stat_kernel("kernel_stack 10\nslab_reclaimable 5\nslab_unreclaimable 7\n") == 22u);
    CHECK_FALSE(memory_stat_kernel("anon 1\nfile 2\n"));
    CHECK_FALSE(memory_stat_kernel("kernel lots\n"));
    CHECK_FALSE(memory_stat_kernel("kernel_stack x\nslab 5\n"));
}

TEST_CASE("cgroups: flat_keyed_text tells an absent key from a bad value") {
    CHECK(flat_keyed_text("low 0\nmax 7\noom_kill 2\n", "oom_kill") == "2");
    CHECK_FALSE(flat_keyed_text("low 0\nmax 7\n", "oom_kill"));
    CHECK(flat_keyed_text("max x\n", "max") == "x");
    CHECK_FALSE(flat_keyed_value("max x\n", "max"));
}

TEST_CASE("cgroups: io.stat sums over devices") {
    auto t = parse_io_stat(
        "8:0 rbytes=90112 wbytes=4096 rios=5 wios=1 dbytes=0 dios=0\n"
        "253:1 rbytes=1000 wbytes=2000 rios=3 wios=4 dbytes=0 dios=0 cost.vrate=100.00\n");
    REQUIRE(t);
    CHECK(t->rbytes == 91112u);
    CHECK(t->wbytes == 6096u);
    CHECK(t->rios == 8u);
    CHECK(t->wios == 5u);
    auto empty = parse_io_stat("");
    REQUIRE(empty);  // no I/O yet
    CHECK(empty->rbytes == 0u);
    CHECK_FALSE(parse_io_stat("8:0 rbytes=lots wbytes=0\n"));
}

TEST_CASE("cgroups: v1 blkio read/write lines sum over devices, Total skipped") {
    auto rw = parse_blkio_rw(
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n"
        "8:0 Total 12288\n8:16 Read 100\n8:16 Write 0\n8:16 Total 100\nTotal 12388\n");
    REQUIRE(rw);
    CHECK(rw->read == 4196u);
    CHECK(rw->write == 8192u);
    auto idle = parse_blkio_rw("Total 0\n");  // the hybrid host's root, verbatim
    REQUIRE(idle);
    CHECK(idle->read == 0u);
    CHECK_FALSE(parse_blkio_rw("8:0 Read x\n"));
}

TEST_CASE("cgroups: io.max lines and device names") {
    CHECK(valid_device("8:0"));
    CHECK(valid_device("253:16"));
    for (const char* bad : {"", "8", "8:", ":0", "sda", "8:0 ", "8:0\n8:1", "-1:0", "8:0:1"}) {
        CAPTURE(bad);
        CHECK_FALSE(valid_device(bad));
    }
    Limits l;
    l.io_rbps = 1048576;
    CHECK(format_io_max(l) == "");  // no device: nothing to write
    l.io_device = "8:0";
    CHECK(format_io_max(l) == "8:0 rbps=1048576");
    l.io_wbps = kUnlimited;
    l.io_riops = 100;
    l.io_wiops = 200;
    CHECK(format_io_max(l) == "8:0 rbps=1048576 wbps=max riops=100 wiops=200");
    Limits none;
    none.io_device = "8:0";
    CHECK(format_io_max(none) == "");
}

TEST_CASE("cgroups: I/O weight scales") {
    // v2 100 (default) is v1 500 (default); the ends clamp to 10..1000.
    CHECK(io_weight_to_blkio(100) == 500u);
    CHECK(io_weight_to_blkio(1) == 10u);
    CHECK(io_weight_to_blkio(10000) == 1000u);
    CHECK(blkio_to_io_weight(500) == 100u);
    CHECK(blkio_to_io_weight(10) == 2u);
    for (uint32_t w = 2; w <= 200; ++w) CHECK(blkio_to_io_weight(io_weight_to_blkio(w)) == w);
    CHECK(io_weight_to_bfq(100) == 100u);
    CHECK(io_weight_to_bfq(10000) == 1000u);
    CHECK(bfq_to_io_weight(0) == 1u);
    CHECK(parse_weight_file("default 100\n") == 100u);
    CHECK(parse_weight_file("default 250\n8:0 300\n") == 250u);
    CHECK(parse_weight_file("500\n") == 500u);
    CHECK_FALSE(parse_weight_file(""));
    CHECK_FALSE(parse_weight_file("default x\n"));
}
