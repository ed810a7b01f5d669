// The beancounters and scheduler parameters beyond memory and CPU time:
// open files, CPU and node lists, disk quota, I/O, System V IPC and the
// legacy OpenVZ names a stock kernel cannot limit. What an admin writes,
// what is stored, the errors shown and the limits that come out.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "parse.hpp"
#include "vps/params.hpp"

using namespace vps;
using namespace vps::params;

namespace {

// The full message of a refused name=value ("" if accepted).
std::string refused(std::string_view name, std::string_view value, const HostBounds& host) {
    Resources res;
    auto r = apply_param(res, name, value, host);
    return r ? std::string() : r.error().message();
}

HostBounds two_cpus() { return HostBounds{2, 1, 1048576}; }

Resources parsed(std::string_view name, std::string_view value,
                 const HostBounds& host = two_cpus()) {
    Resources res;
    auto r = apply_param(res, name, value, host);
    REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message()));
    return res;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST_CASE("numfile: barrier:limit open files, bounded by fs.nr_open") {
    CHECK(parsed("numfile", "1024").numfile == BarrierLimit{1024, 1024});
    CHECK(parsed("numfile", "1024:4096").numfile == BarrierLimit{1024, 4096});
    CHECK(parsed("numfile", "unlimited").numfile == BarrierLimit{kUnlimited, kUnlimited});
    CHECK(parsed("numfile", "1048576").numfile == BarrierLimit{1048576, 1048576});

    CHECK(refused("numfile", "2000000", two_cpus()) ==
          "numfile: '2000000' is out of range (use 0..1048576 or unlimited; the host's "
          "fs.nr_open)");
    CHECK(refused("numfile", "0", two_cpus()) ==
          "numfile: 0 would let no process open a file (use at least 1, or unlimited)");
    CHECK(refused("numfile", "0:1024", two_cpus()).find("numfile: 0 would let no process") == 0);
    CHECK(refused("numfile", "4096:1024", two_cpus()) ==
          "numfile: barrier 4096 is above limit 1024 (the barrier must not exceed the limit)");
    CHECK(refused("numfile", "1K", two_cpus()) ==
          "numfile: '1K' is not a number (use 1024 or unlimited)");
    // The old entry point does not know fs.nr_open: plan::build checks it.
    Resources res;
    CHECK(apply_param(res, "numfile", "2000000", 2));
}

TEST_CASE("cpumask: CPU lists are checked against the host and stored merged") {
    CHECK(parsed("cpumask", "0-1").cpumask == "0-1");
    CHECK(parsed("cpumask", "1,0").cpumask == "0-1");
    CHECK(parsed("cpumask", " 1 ").cpumask == "1");
    CHECK(parsed("cpumask", "all").cpumask == "");
    HostBounds big{16, 1, 0};
    CHECK(parsed("cpumask", "6,0-2,3,8-9,9", big).cpumask == "0-3,6,8-9");

    const std::string hint = "(the host has CPUs 0-1; use a list like 0-3,6, or all)";
    CHECK(refused("cpumask", "0-3", two_cpus()) == "cpumask: CPU 3 does not exist " + hint);
    CHECK(refused("cpumask", "2", two_cpus()) == "cpumask: CPU 2 does not exist " + hint);
    CHECK(refused("cpumask", "x", two_cpus()) == "cpumask: 'x' is not a list " + hint);
    CHECK(refused("cpumask", "1-0", two_cpus()) ==
          "cpumask: '1-0' is a backwards range (write 0-1)");
    CHECK(refused("cpumask", "", two_cpus()) == "cpumask: empty value " + hint);
    for (const char* bad : {"auto", "0,,1", "0-", "-1", "1-2-3", "0;1", "0 1", "0x1", "all,0"}) {
        CAPTURE(bad);
        CHECK(refused("cpumask", bad, two_cpus()).find("cpumask: ") == 0);
    }
    CHECK(refused("cpumask", "99999999999", big).find("too large") != std::string::npos);
    HostBounds one{1, 1, 0};
    CHECK(refused("cpumask", "1", one) ==
          "cpumask: CPU 1 does not exist (the host has only CPU 0; use a list like 0-3,6, or "
          "all)");
}

TEST_CASE("nodemask: NUMA node lists, bounded once the node count is known") {
    CHECK(parsed("nodemask", "0").nodemask == "0");
    CHECK(parsed("nodemask", "all").nodemask == "");
    CHECK(parsed("nodemask", "1,0", HostBounds{2, 2, 0}).nodemask == "0-1");
    CHECK(refused("nodemask", "1", two_cpus()) ==
          "nodemask: NUMA node 1 does not exist (the host has only NUMA node 0; use a list like "
          "0-3,6, or all)");
    // The host-cpus entry point knows no node count: syntax only.
    Resources res;
    CHECK(apply_param(res, "nodemask", "0-3", 2));
    CHECK(res.nodemask == "0-3");
    CHECK_FALSE(apply_param(res, "nodemask", "0-x", 2));
}

TEST_CASE("canonical: lists are stored sorted and merged, all stays all") {
    CHECK(canonical("cpumask", "3,0-2,6") == Pairs{{"cpumask", "0-3,6"}});
    CHECK(canonical("cpumask", " all ") == Pairs{{"cpumask", "all"}});
    CHECK(canonical("nodemask", "1,0") == Pairs{{"nodemask", "0-1"}});
    CHECK(canonical("cpumask", "x") == Pairs{{"cpumask", "x"}});
    CHECK(canonical("iolimit", " 10M ") == Pairs{{"iolimit", "10M"}});
    CHECK(canonical("numtcpsock", "100:200") == Pairs{{"numtcpsock", "100:200"}});
}

TEST_CASE("diskspace: 1 KiB blocks, or bytes with a suffix; diskinodes: counts") {
    CHECK(parsed("diskspace", "10485760:11534336").diskspace == BarrierLimit{10485760, 11534336});
    CHECK(parsed("diskspace", "10G:11G").diskspace == BarrierLimit{10485760, 11534336});
    CHECK(parsed("diskspace", "1M").diskspace == BarrierLimit{1024, 1024});
    CHECK(parsed("diskspace", "0:1G").diskspace == BarrierLimit{0, 1048576});
    CHECK(parsed("diskspace", "unlimited").diskspace == BarrierLimit{kUnlimited, kUnlimited});
    CHECK(*parse_kblocks("2048") == 2048);
    CHECK(*parse_kblocks("1T") == uint64_t{1} << 30);

    CHECK(refused("diskspace", "12Q", two_cpus()) ==
          "diskspace: '12Q' is not a number of 1 KiB blocks or bytes (use 1048576 (1 KiB "
          "blocks), 10G or unlimited)");
    CHECK(refused("diskspace", "0", two_cpus()) ==
          "diskspace: a limit of 0 would lift the quota (use at least 1, or unlimited)");
    CHECK(refused("diskspace", "18014398509481984", two_cpus()).find("too large") !=
          std::string::npos);
    CHECK(refused("diskspace", "11G:10G", two_cpus()) ==
          "diskspace: barrier 11534336 is above limit 10485760 (the barrier must not exceed the "
          "limit)");

    CHECK(parsed("diskinodes", "200000:220000").diskinodes == BarrierLimit{200000, 220000});
    CHECK(refused("diskinodes", "1K", two_cpus()) ==
          "diskinodes: '1K' is not a number (use 1024 or unlimited)");
    CHECK(refused("diskinodes", "0", two_cpus()).find("diskinodes: a limit of 0") == 0);
}

TEST_CASE("iolimit: bytes per second with vzctl's suffixes; 0 is no limit") {
    CHECK(parsed("iolimit", "10M").iolimit == 10485760u);
    CHECK(parsed("iolimit", "1048576").iolimit == 1048576u);  // plain: bytes/s
    CHECK(parsed("iolimit", "100B").iolimit == 100u);
    CHECK(parsed("iolimit", "2g").iolimit == uint64_t{2} << 30);
    CHECK(parsed("iolimit", "0").iolimit == 0u);
    CHECK(parsed("iolimit", "unlimited").iolimit == 0u);
    const std::string hint = "(use bytes per second such as 10485760 or 10M; 0 = no limit)";
    CHECK(refused("iolimit", "fast", two_cpus()) ==
          "iolimit: 'fast' is not a rate in bytes per "
          "second " +
              hint);
    CHECK(refused("iolimit", "-1", two_cpus()).find("iolimit: '-1' is not a rate") == 0);
    CHECK(refused("iolimit", "", two_cpus()) == "iolimit: empty value " + hint);
    CHECK_FALSE(refused("iolimit", "B", two_cpus()).empty());
}

TEST_CASE("iopslimit and ioprio") {
    CHECK(parsed("iopslimit", "500").iopslimit == 500u);
    CHECK(parsed("iopslimit", "0").iopslimit == 0u);
    CHECK(parsed("iopslimit", "unlimited").iopslimit == 0u);
    CHECK(refused("iopslimit", "1K", two_cpus()) ==
          "iopslimit: '1K' is not a number of operations per second (use operations per second "
          "such as 500; 0 = no limit)");

    for (uint32_t p = 0; p <= 7; ++p) CHECK(parsed("ioprio", std::to_string(p)).ioprio == p);
    CHECK(refused("ioprio", "8", two_cpus()) ==
          "ioprio: '8' is out of range (use 0..7, default 4; higher gets more I/O time)");
    CHECK(refused("ioprio", "high", two_cpus()) ==
          "ioprio: 'high' is not a number (use 0..7, default 4; higher gets more I/O time)");
    CHECK(refused("ioprio", "-1", two_cpus()).find("negative") != std::string::npos);
}

TEST_CASE("to_cgroup_limits: cpuset lists and I/O") {
    Resources res;
    res.cpumask = "0-1";
    res.nodemask = "";
    res.iolimit = 10485760;
    res.iopslimit = 500;
    res.ioprio = 4;
    auto l = to_cgroup_limits(res);
    CHECK(l.cpuset_cpus == "0-1");
    CHECK(l.cpuset_mems == "");  // all: the parent's nodes
    CHECK(l.io_rbps == 10485760u);
    CHECK(l.io_wbps == 10485760u);
    CHECK(l.io_riops == 500u);
    CHECK(l.io_wiops == 500u);
    CHECK(l.io_weight == 100u);
    CHECK_FALSE(l.io_device.has_value());  // vzd fills in the storage's disk

    res.iolimit = 0;
    res.iopslimit = 0;
    l = to_cgroup_limits(res);
    CHECK(l.io_rbps == cgroups::kUnlimited);
    CHECK(l.io_wiops == cgroups::kUnlimited);

    l.io_device = "8:0";
    CHECK(cgroups::detail::format_io_max(l) == "8:0 rbps=max wbps=max riops=max wiops=max");
    res.iolimit = 1048576;
    l = to_cgroup_limits(res);
    l.io_device = "253:1";
    CHECK(cgroups::detail::format_io_max(l) ==
          "253:1 rbps=1048576 wbps=1048576 riops=max wiops=max");
}

TEST_CASE("ioprio -> I/O weight: 4 is the default, higher is more, v1 gets OpenVZ's weights") {
    const uint32_t v2[] = {64, 73, 82, 92, 100, 110, 120, 128};
    const uint64_t v1[] = {320, 365, 410, 460, 500, 550, 600, 640};
    for (uint32_t p = 0; p <= 7; ++p) {
        CAPTURE(p);
        CHECK(ioprio_to_io_weight(p) == v2[p]);
        CHECK(cgroups::detail::io_weight_to_blkio(ioprio_to_io_weight(p)) == v1[p]);
        if (p > 0) CHECK(ioprio_to_io_weight(p) > ioprio_to_io_weight(p - 1));
    }
    CHECK(ioprio_to_io_weight(4) == cgroups::detail::kDefaultIoWeight);
    CHECK(ioprio_to_io_weight(99) == 128u);
}

TEST_CASE("parameters enforced elsewhere leave the cgroup limits alone") {
    auto res = parse_all({{"numfile", "1024"},
                          {"diskspace", "10G"},
                          {"diskinodes", "100000"},
                          {"shmpages", "65536"},
                          {"numshm", "100"},
                          {"numsem", "100"},
                          {"nummsgqueues", "100"},
                          {"kmemsize", "unlimited"},
                          {"numtcpsock", "100"}},
                         two_cpus());
    REQUIRE_MESSAGE(res, (res ? std::string() : res.error().message()));
    auto l = to_cgroup_limits(*res);
    CHECK_FALSE(l.memory_max.has_value());
    CHECK_FALSE(l.memory_high.has_value());
    CHECK_FALSE(l.swap_max.has_value());
    CHECK_FALSE(l.pids_max.has_value());
    CHECK_FALSE(l.cpu_weight.has_value());
    CHECK_FALSE(l.cpu_quota_us.has_value());
    CHECK_FALSE(l.cpuset_cpus.has_value());
    CHECK_FALSE(l.cpuset_mems.has_value());
    CHECK_FALSE(l.io_rbps.has_value());
    CHECK_FALSE(l.io_riops.has_value());
    CHECK_FALSE(l.io_weight.has_value());
}

TEST_CASE("io_device_warning: iolimit without a disk to throttle is reported") {
    Resources res;
    cgroups::Limits l;
    CHECK_FALSE(io_device_warning(res, l));
    res.ioprio = 2;  // a weight needs no device
    CHECK_FALSE(io_device_warning(res, l));
    res.iolimit = 1048576;
    CHECK(io_device_warning(res, l) ==
          "iolimit: not applied: the VPS's storage has no block device of its own to throttle "
          "(io.max needs one); kept in the config");
    res.iopslimit = 100;
    CHECK(io_device_warning(res, l)->rfind("iolimit, iopslimit: not applied", 0) == 0);
    l.io_device = "8:0";
    CHECK_FALSE(io_device_warning(res, l));
}

TEST_CASE("IPC parameters become the IPC namespace's sysctls") {
    CHECK(ipc_sysctls(Resources{}).empty());
    auto res = parse_all(
        {{"shmpages", "256M"}, {"numshm", "4096"}, {"numsem", "128"}, {"nummsgqueues", "16"}},
        two_cpus());
    REQUIRE(res);
    CHECK(ipc_sysctls(*res) == Pairs{{"kernel/shmall", "65536"},
                                     {"kernel/shmmni", "4096"},
                                     {"kernel/sem", "128 128 500 128"},
                                     {"kernel/msgmni", "16"}});

    auto sem = [](std::string_view v) { return ipc_sysctls(parsed("numsem", v)).at(0).second; };
    CHECK(sem("100000") == "32000 100000 500 32000");
    CHECK(sem("0") == "0 0 500 1");
    CHECK(sem("unlimited") == "32000 1024000000 500 32000");
    CHECK(sem("64:256") == "256 256 500 256");  // the limit counts

    auto unl = parse_all(
        {{"shmpages", "unlimited"}, {"numshm", "unlimited"}, {"nummsgqueues", "unlimited"}},
        two_cpus());
    REQUIRE(unl);
    CHECK(ipc_sysctls(*unl) == Pairs{{"kernel/shmall", "18446744073692774399"},
                                     {"kernel/shmmni", "32768"},
                                     {"kernel/msgmni", "32768"}});
}

TEST_CASE("IPC parameters: the kernel's bounds") {
    CHECK(refused("numshm", "40000", two_cpus()) ==
          "numshm: '40000' is out of range (use 0..32768 or unlimited; the kernel's IPCMNI)");
    CHECK(refused("nummsgqueues", "32769", two_cpus()).find("nummsgqueues: '32769' is out") == 0);
    CHECK(parsed("nummsgqueues", "32768").nummsgqueues == BarrierLimit{32768, 32768});
    CHECK(refused("numsem", "3000000000", two_cpus()) ==
          "numsem: '3000000000' is out of range (use 0..2147483647 or unlimited; kernel.sem "
          "holds ints)");
    CHECK(refused("shmpages", "12Q", two_cpus()).find("shmpages: '12Q' is not a number of pages") ==
          0);
    CHECK(refused("numshm", "1K", two_cpus()) ==
          "numshm: '1K' is not a number (use 1024 or unlimited)");
}

TEST_CASE("legacy beancounters are accepted, checked, kept, and warned about") {
    const std::vector<std::string_view> expected{
        "kmemsize",  "lockedpages",  "privvmpages", "oomguarpages", "vmguarpages", "tcpsndbuf",
        "tcprcvbuf", "othersockbuf", "dgramrcvbuf", "dcachesize",   "numtcpsock",  "numothersock",
        "numflock",  "numpty",       "numsiginfo",  "numiptent"};
    CHECK(legacy_params() == expected);
    for (auto name : expected) {
        CAPTURE(name);
        CHECK(is_known(name));
        auto res = parsed(name, "100:200");
        CHECK(res.unenforced.at(std::string(name)) == BarrierLimit{100, 200});
        CHECK(refused(name, "200:100", two_cpus()).find("is above limit") != std::string::npos);
        CHECK(refused(name, "lots", two_cpus()).find(std::string(name) + ": 'lots' is not") == 0);
    }
    // Units as OpenVZ had them: bytes, pages (suffixes are bytes), counts.
    CHECK(parsed("kmemsize", "1M:2M").unenforced.at("kmemsize") == BarrierLimit{1048576, 2097152});
    CHECK(parsed("privvmpages", "1G").unenforced.at("privvmpages") == BarrierLimit{262144, 262144});
    CHECK(refused("numpty", "1K", two_cpus()) ==
          "numpty: '1K' is not a number (use 1024 or unlimited)");
    CHECK(parsed("numiptent", "9223372036854775807").unenforced.at("numiptent") ==
          BarrierLimit{kUnlimited, kUnlimited});
}

TEST_CASE("warnings name each legacy parameter and say it is kept") {
    CHECK(param_warning("numtcpsock") ==
          "numtcpsock: accepted but not enforced on a stock kernel (no cgroup limit exists); kept "
          "in the config");
    CHECK(param_warning("kmemsize") ==
          "kmemsize: accepted but not enforced on a stock kernel (no cgroup limit exists; it is "
          "counted within physpages); kept in the config");
    CHECK(param_warning("tcpsndbuf")->find("counted within physpages") != std::string::npos);
    for (const char* enforced : {"physpages", "numfile", "diskspace", "shmpages", "iolimit", "x"})
        CHECK_FALSE(param_warning(enforced));
    auto w = warnings({{"physpages", "0:1G"}, {"numflock", "100"}, {"dcachesize", "1M"}});
    REQUIRE(w.size() == 2);
    CHECK(w[0].rfind("dcachesize: accepted but not enforced", 0) == 0);
    CHECK(w[1].rfind("numflock: accepted but not enforced", 0) == 0);
}

TEST_CASE("param_docs documents every known parameter") {
    const auto& docs = param_docs();
    REQUIRE(docs.size() == known_params().size());
    // The fields of cgroups::Usage an accounting view can show.
    const std::set<std::string_view> usage_fields{
        "memory_current",  "swap_current",       "pids_current",     "cpu_usage_us",
        "io_weight",       "memory_stat_kernel", "memory_stat_sock", "io_rbytes, io_wbytes",
        "io_rios, io_wios"};
    const std::set<std::string_view> units{"pages", "bytes",  "1K-blocks", "count", "percent",
                                           "list",  "weight", "bytes/s",   "ops/s", "priority"};
    for (size_t i = 0; i < docs.size(); ++i) {
        const auto& d = docs[i];
        CAPTURE(d.name);
        CHECK(d.name == known_params()[i].name);
        CHECK(d.help == known_params()[i].help);
        CHECK(find_doc(d.name) == &d);
        CHECK(units.count(d.unit) == 1);
        CHECK_FALSE(d.default_value.empty());
        bool cgroup = d.enforcement == Enforcement::cgroup;
        CHECK(d.cgroup_v2.empty() == !cgroup);
        CHECK(d.cgroup_v1.empty() == !cgroup);
        bool elsewhere = !cgroup && d.enforcement != Enforcement::none;
        CHECK(d.applied_as.empty() == !elsewhere);
        if (!d.held.empty()) CHECK(usage_fields.count(d.held) == 1);
        if (d.enforcement == Enforcement::none) CHECK(d.barrier_limit);
    }
    CHECK(find_doc("nosuch") == nullptr);
    const auto* pp = find_doc("physpages");
    REQUIRE(pp);
    CHECK(pp->unit == "pages");
    CHECK(pp->barrier_limit);
    CHECK(pp->cgroup_v2 == "memory.max (barrier: memory.high)");
    CHECK(pp->cgroup_v1 == "memory.limit_in_bytes (barrier: memory.soft_limit_in_bytes)");
    CHECK(find_doc("diskspace")->unit == "1K-blocks");
    CHECK(find_doc("ioprio")->default_value == "4");
    CHECK(find_doc("numsem")->applied_as == "kernel.sem");
    CHECK(find_doc("numfile")->enforcement == Enforcement::rlimit);
    CHECK(find_doc("cpumask")->cgroup_v2 == "cpuset.cpus");
    CHECK(find_doc("nodemask")->cgroup_v1 == "cpuset.mems");
    CHECK(find_doc("kmemsize")->held == "memory_stat_kernel");
}

TEST_CASE("a failed new parameter leaves the set untouched") {
    Resources res;
    REQUIRE(apply_param(res, "cpumask", "0", two_cpus()));
    REQUIRE(apply_param(res, "numtcpsock", "10", two_cpus()));
    CHECK_FALSE(apply_param(res, "cpumask", "5", two_cpus()));
    CHECK_FALSE(apply_param(res, "numtcpsock", "x", two_cpus()));
    CHECK(res.cpumask == "0");
    CHECK(res.unenforced.at("numtcpsock") == BarrierLimit{10, 10});
}
