// Resource parameters: the units and syntax admins write, the errors they
// see, and the cgroup limits that come out.
#include <doctest/doctest.h>

#include "vps/params.hpp"

using namespace vps;
using namespace vps::params;

namespace {

std::string detail_of(const Result<uint64_t>& r) { return r ? std::string() : r.error().detail(); }

}  // namespace

TEST_CASE("pages: plain numbers are pages, suffixed numbers are bytes") {
    CHECK(*parse_pages("65536") == 65536);
    CHECK(*parse_pages("256M") == 65536);
    CHECK(*parse_pages("1G") == 262144);
    CHECK(*parse_pages("1g") == 262144);
    CHECK(*parse_pages("2T") == (uint64_t{2} << 40) / 4096);
    CHECK(*parse_pages("8K") == 2);
    // A byte count that is not a whole page rounds up, never down to 0.
    CHECK(*parse_pages("1K") == 1);
    CHECK(*parse_pages("  128M\t") == 32768);
    CHECK(*parse_pages("0") == 0);
}

TEST_CASE("pages: unlimited and OpenVZ's LONG_MAX") {
    CHECK(*parse_pages("unlimited") == kUnlimited);
    CHECK(*parse_pages("9223372036854775807") == kUnlimited);
    CHECK(*parse_count("9223372036854775807") == kUnlimited);
    CHECK(*parse_bytes("unlimited") == kUnlimited);
}

TEST_CASE("pages: malformed values are refused with what is accepted") {
    auto r = parse_pages("12Q");
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::bad_value);
    CHECK(r.error().detail() ==
          "'12Q' is not a number of pages or bytes (use 65536, 256M, 1G or unlimited)");
    CHECK(detail_of(parse_pages("99999999999999999999T")).find("too large") != std::string::npos);
    CHECK(detail_of(parse_pages("99999999999999999999")).find("too large") != std::string::npos);
    // Fits in 64 bits as pages but not as bytes.
    CHECK(detail_of(parse_pages("4503599627370496")).find("too large") != std::string::npos);
    CHECK(detail_of(parse_pages("20000000T")).find("too large") != std::string::npos);
    CHECK(detail_of(parse_pages("-1")).find("negative") != std::string::npos);
    CHECK(detail_of(parse_pages("   ")).find("empty") != std::string::npos);
    CHECK_FALSE(parse_pages("M"));
    CHECK_FALSE(parse_pages("1.5G"));
    CHECK_FALSE(parse_pages("0x100"));
    CHECK_FALSE(parse_pages("+5"));
    CHECK_FALSE(parse_pages("Unlimited"));
}

TEST_CASE("bytes and counts") {
    CHECK(*parse_bytes("512M") == 512ull << 20);
    CHECK(*parse_bytes("4096") == 4096);
    CHECK(*parse_count("1024") == 1024);
    CHECK(*parse_count("unlimited") == kUnlimited);
    // Counts have no units.
    CHECK(detail_of(parse_count("1K")) == "'1K' is not a number (use 1024 or unlimited)");
    CHECK_FALSE(parse_bytes("12Q"));
}

TEST_CASE("barrier:limit") {
    CHECK(*parse_barrier_limit("0:256M", true) == BarrierLimit{0, 65536});
    CHECK(*parse_barrier_limit("100", false) == BarrierLimit{100, 100});
    CHECK(*parse_barrier_limit("100:unlimited", false) == BarrierLimit{100, kUnlimited});
    CHECK(*parse_barrier_limit(" 1G : 2G ", true) == BarrierLimit{262144, 524288});

    auto over = parse_barrier_limit("512:256", false);
    REQUIRE_FALSE(over);
    CHECK(over.error().detail().find("barrier 512 is above limit 256") != std::string::npos);
    auto unl = parse_barrier_limit("unlimited:5", false);
    REQUIRE_FALSE(unl);
    CHECK(unl.error().detail().find("barrier unlimited is above limit 5") != std::string::npos);

    CHECK(parse_barrier_limit("1:2:3", false).error().detail().find("more than one ':'") !=
          std::string::npos);
    CHECK_FALSE(parse_barrier_limit(":5", false));
    CHECK_FALSE(parse_barrier_limit("5:", false));
}

TEST_CASE("apply_param names the parameter in its error and leaves the set untouched") {
    Resources res;
    REQUIRE(apply_param(res, "physpages", "0:256M", 2));
    auto r = apply_param(res, "physpages", "12Q", 2);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::bad_value);
    CHECK(r.error().message() ==
          "physpages: '12Q' is not a number of pages or bytes (use 65536, 256M, 1G or unlimited)");
    CHECK(res.physpages == BarrierLimit{0, 65536});

    auto unknown = apply_param(res, "kmemsizes", "100", 2);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code() == Errc::bad_argument);
    CHECK(unknown.error().detail().find("unknown parameter 'kmemsizes'") != std::string::npos);
    CHECK(unknown.error().detail().find("physpages") != std::string::npos);
    CHECK(unknown.error().detail().find("numfile") != std::string::npos);
}

TEST_CASE("cpuunits range 8..500000") {
    Resources res;
    CHECK(apply_param(res, "cpuunits", "8", 1));
    CHECK(apply_param(res, "cpuunits", "500000", 1));
    CHECK(res.cpuunits == 500000u);
    auto low = apply_param(res, "cpuunits", "7", 1);
    REQUIRE_FALSE(low);
    CHECK(low.error().detail().find("cpuunits: '7' is out of range") == 0);
    CHECK_FALSE(apply_param(res, "cpuunits", "500001", 1));
    CHECK_FALSE(apply_param(res, "cpuunits", "99999999999999999999999", 1));
    CHECK_FALSE(apply_param(res, "cpuunits", "unlimited", 1));
}

TEST_CASE("cpulimit and cpus are bounded by the host's CPUs") {
    Resources res;
    CHECK(apply_param(res, "cpulimit", "200", 2));
    CHECK(res.cpulimit == 200u);
    CHECK(apply_param(res, "cpulimit", "50%", 2));
    CHECK(res.cpulimit == 50u);
    CHECK(apply_param(res, "cpulimit", "0", 2));
    auto over = apply_param(res, "cpulimit", "201", 2);
    REQUIRE_FALSE(over);
    CHECK(over.error().detail().find("use 0..200") != std::string::npos);

    CHECK(apply_param(res, "cpus", "2", 2));
    CHECK(res.cpus == 2u);
    CHECK(apply_param(res, "cpus", "0", 2));
    auto cpus = apply_param(res, "cpus", "3", 2);
    REQUIRE_FALSE(cpus);
    CHECK(cpus.error().detail().find("cpus: '3' is out of range (use 0..2") == 0);
    CHECK_FALSE(apply_param(res, "cpus", "-1", 2));
}

TEST_CASE("ram and swap set the physpages and swappages limits") {
    Resources res;
    REQUIRE(apply_param(res, "ram", "1G", 1));
    CHECK(res.physpages == BarrierLimit{0, 262144});
    REQUIRE(apply_param(res, "swap", "512M", 1));
    CHECK(res.swappages == BarrierLimit{0, 131072});

    using Pairs = std::vector<std::pair<std::string, std::string>>;
    CHECK(canonical("ram", "1G") == Pairs{{"physpages", "0:262144"}});
    CHECK(canonical("swap", "unlimited") == Pairs{{"swappages", "0:unlimited"}});
    CHECK(canonical("numproc", " 100:200 ") == Pairs{{"numproc", "100:200"}});
    CHECK(canonical("ram", "lots") == Pairs{{"ram", "lots"}});
}

TEST_CASE("parse_all reports every bad parameter at once") {
    auto r = parse_all({{"physpages", "12Q"}, {"cpuunits", "1"}, {"numproc", "100"}}, 1);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::bad_value);
    const std::string& msg = r.error().detail();
    CHECK(msg.find("physpages: '12Q'") != std::string::npos);
    CHECK(msg.find("cpuunits: '1'") != std::string::npos);
    CHECK(msg.find("; ") != std::string::npos);

    auto both = parse_all({{"ram", "1G"}, {"physpages", "0:100"}}, 1);
    REQUIRE_FALSE(both);
    CHECK(both.error().detail().find("ram: conflicts with physpages") != std::string::npos);

    auto good = parse_all({{"numproc", "100:200"}, {"cpus", "1"}}, 1);
    REQUIRE(good);
    CHECK(good->numproc == BarrierLimit{100, 200});
    CHECK_FALSE(good->physpages.has_value());
}

TEST_CASE("to_cgroup_limits: memory") {
    Resources res;
    res.physpages = BarrierLimit{0, 65536};
    auto l = to_cgroup_limits(res);
    CHECK(l.memory_max == 268435456u);
    CHECK(l.memory_high == kUnlimited);  // barrier 0 = no soft limit
    CHECK_FALSE(l.swap_max.has_value());

    res.physpages = BarrierLimit{32768, 65536};
    CHECK(to_cgroup_limits(res).memory_high == 134217728u);
    res.physpages = BarrierLimit{65536, 65536};
    CHECK(to_cgroup_limits(res).memory_high == kUnlimited);
    res.physpages = BarrierLimit{kUnlimited, kUnlimited};
    CHECK(to_cgroup_limits(res).memory_max == cgroups::kUnlimited);

    res.swappages = BarrierLimit{0, 131072};
    CHECK(to_cgroup_limits(res).swap_max == 536870912u);
    res.swappages = BarrierLimit{0, kUnlimited};
    CHECK(to_cgroup_limits(res).swap_max == kUnlimited);
}

TEST_CASE("to_cgroup_limits: processes and CPU") {
    Resources res;
    auto none = to_cgroup_limits(res);
    CHECK_FALSE(none.memory_max.has_value());
    CHECK_FALSE(none.pids_max.has_value());
    CHECK_FALSE(none.cpu_weight.has_value());
    CHECK_FALSE(none.cpu_quota_us.has_value());
    CHECK(none.cpu_period_us == 100000u);

    res.numproc = BarrierLimit{100, 200};
    CHECK(to_cgroup_limits(res).pids_max == 200u);

    res.cpuunits = 1000;
    CHECK(to_cgroup_limits(res).cpu_weight == 100u);
    res.cpuunits = 8;
    CHECK(to_cgroup_limits(res).cpu_weight == 1u);
    res.cpuunits = 500000;
    CHECK(to_cgroup_limits(res).cpu_weight == 10000u);

    res.cpulimit = 50;
    CHECK(to_cgroup_limits(res).cpu_quota_us == 50000u);
    res.cpulimit = 150;
    res.cpus = 1;  // one CPU is tighter than 150%
    CHECK(to_cgroup_limits(res).cpu_quota_us == 100000u);
    res.cpulimit = 0;
    res.cpus = 2;
    CHECK(to_cgroup_limits(res).cpu_quota_us == 200000u);
    res.cpus = 0;
    CHECK(to_cgroup_limits(res).cpu_quota_us == kUnlimited);
}

TEST_CASE("known parameters and formatting") {
    for (const char* name :
         {"physpages", "swappages", "numproc", "cpuunits", "cpulimit", "cpus", "ram", "swap"})
        CHECK(is_known(name));
    CHECK_FALSE(is_known("hostname"));
    CHECK(known_params().size() == 36);
    for (const auto& p : known_params()) CHECK_FALSE(p.help.empty());
    CHECK(format_value(kUnlimited) == "unlimited");
    CHECK(format_value(65536) == "65536");
}
