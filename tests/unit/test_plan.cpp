// plan::build and the identity checks: what a VPS resolves to, and the
// errors a bad config produces before anything touches the kernel.
#include <doctest/doctest.h>
#include <linux/capability.h>

#include <algorithm>
#include <csignal>

#include "vps/plan.hpp"

using namespace vps;
using namespace vps::plan;

namespace {

config::VpsConfig sample() {
    config::VpsConfig cfg;
    cfg.ctid = 101;
    cfg.name = "web";
    cfg.hostname = "web.example.com";
    cfg.params = {{"physpages", "0:256M"}, {"numproc", "512"}, {"cpus", "1"}};
    return cfg;
}

HostFacts host() { return HostFacts{2, "/var/lib/vz"}; }

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

TEST_CASE("parse_ctid accepts 1..2147483647 written plainly") {
    CHECK(*parse_ctid("101") == 101u);
    CHECK(*parse_ctid("1") == 1u);
    CHECK(*parse_ctid("2147483647") == 2147483647u);

    auto abc = parse_ctid("abc");
    REQUIRE_FALSE(abc);
    CHECK(abc.error().code() == Errc::bad_argument);
    CHECK(abc.error().message().find("invalid CTID 'abc': ") == 0);
    for (const char* bad : {"0", "-1", "+1", "1e3", "", " 101", "0101", "2147483648",
                            "99999999999999999999999", "10 1"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_ctid(bad));
    }
}

TEST_CASE("check_name: short names with a non-digit") {
    CHECK(check_name("web"));
    CHECK(check_name("db-1.prod_x"));
    CHECK(check_name("1a"));
    CHECK(check_name(std::string(64, 'a')));
    auto digits = check_name("101");
    REQUIRE_FALSE(digits);
    CHECK(digits.error().detail().find("all digits") != std::string::npos);
    for (const char* bad : {"", "a b", "a/b", "-x", ".", "..", "é"}) {
        CAPTURE(bad);
        CHECK_FALSE(check_name(bad));
    }
    CHECK_FALSE(check_name(std::string(65, 'a')));
}

TEST_CASE("check_hostname follows RFC 1123") {
    CHECK(check_hostname(""));
    CHECK(check_hostname("web"));
    CHECK(check_hostname("web-1.example.com"));
    CHECK(check_hostname("1.2.3"));
    CHECK(check_hostname(std::string(63, 'a')));
    CHECK_FALSE(check_hostname(std::string(64, 'a')));
    std::string long_name = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                            std::string(63, 'c') + "." + std::string(61, 'd');
    CHECK(long_name.size() == 253);
    CHECK(check_hostname(long_name));
    CHECK_FALSE(check_hostname(long_name + "d"));
    auto underscore = check_hostname("my_host");
    REQUIRE_FALSE(underscore);
    CHECK(underscore.error().code() == Errc::bad_value);
    CHECK(underscore.error().detail().find("'_' is not allowed") != std::string::npos);
    for (const char* bad : {"-web", "web-", "a..b", ".web", "web.", "a b", "web/1"}) {
        CAPTURE(bad);
        CHECK_FALSE(check_hostname(bad));
    }
}

TEST_CASE("build resolves a valid config") {
    auto p = build(sample(), host());
    REQUIRE(p);
    CHECK(p->ctid == 101u);
    CHECK(p->name == "web");
    CHECK(p->hostname == "web.example.com");
    CHECK(p->private_dir == "/var/lib/vz/private/101");
    CHECK(p->root_dir == "/var/lib/vz/root/101");
    CHECK(p->init_argv == std::vector<std::string>{"/sbin/init"});
    CHECK(contains(p->init_env, std::string("container=vz")));
    CHECK(contains(p->init_env, std::string("HOME=/root")));
    CHECK(p->stop_signal == SIGUSR2);
    CHECK(p->resources.physpages == params::BarrierLimit{0, 65536});
    CHECK(p->resources.numproc == params::BarrierLimit{512, 512});
    CHECK(p->resources.cpus == 1u);
    CHECK(p->uid_map.empty());
}

TEST_CASE("build: hostname defaults to the CTID and the storage root is normalised") {
    auto cfg = sample();
    cfg.hostname.clear();
    auto p = build(cfg, HostFacts{1, "/srv/vz/"});
    REQUIRE(p);
    CHECK(p->hostname == "101");
    CHECK(p->private_dir == "/srv/vz/private/101");

    auto rel = build(cfg, HostFacts{1, "vz"});
    REQUIRE_FALSE(rel);
    CHECK(rel.error().detail().find("storage root 'vz' is not an absolute path") !=
          std::string::npos);
}

TEST_CASE("build: capabilities and syscalls a VPS never gets") {
    auto cfg = sample();
    cfg.id_base = 165536;  // unprivileged: sys_admin within its own namespaces
    auto p = build(cfg, host());
    REQUIRE(p);
    // Every default name resolved to a number.
    CHECK(p->caps_drop.size() == default_caps_drop().size());
    CHECK(contains(p->caps_drop, CAP_SYS_MODULE));
    CHECK(contains(p->caps_drop, CAP_SYS_TIME));
    CHECK(contains(p->caps_drop, CAP_BPF));
    CHECK(contains(p->caps_drop, CAP_CHECKPOINT_RESTORE));
    // A distro's init needs these inside its namespaces.
    CHECK_FALSE(contains(p->caps_drop, CAP_SYS_ADMIN));
    CHECK_FALSE(contains(p->caps_drop, CAP_NET_ADMIN));
    CHECK_FALSE(contains(p->caps_drop, CAP_SYS_NICE));

    CHECK(contains(p->seccomp_deny, std::string("kexec_load")));
    CHECK(contains(p->seccomp_deny, std::string("init_module")));
    CHECK(contains(p->seccomp_deny, std::string("open_by_handle_at")));
    CHECK_FALSE(contains(p->seccomp_deny, std::string("mount")));
    CHECK_FALSE(contains(p->seccomp_deny, std::string("adjtimex")));
}

TEST_CASE("build collects every bad key into one error") {
    auto cfg = sample();
    cfg.ctid = 0;
    cfg.name = "123";
    cfg.hostname = "bad_host";
    cfg.params["physpages"] = "12Q";
    cfg.params["cpuunits"] = "5";
    cfg.params["cpus"] = "3";  // the host has 2
    auto p = build(cfg, host());
    REQUIRE_FALSE(p);
    CHECK(p.error().code() == Errc::bad_value);
    const std::string msg = p.error().message();
    for (const char* part : {"ctid: 0", "name: invalid name '123'", "hostname: invalid hostname",
                             "physpages: '12Q'", "cpuunits: '5'", "cpus: '3'"}) {
        CAPTURE(part);
        CHECK(msg.find(part) != std::string::npos);
    }
    CHECK(std::count(msg.begin(), msg.end(), ';') == 5);
}

TEST_CASE("build refuses a parameter it does not know") {
    auto cfg = sample();
    cfg.params["kmemsizes"] = "100";
    auto p = build(cfg, host());
    REQUIRE_FALSE(p);
    CHECK(p.error().detail().find("unknown parameter 'kmemsizes'") != std::string::npos);
}

TEST_CASE("build: numfile becomes the init's RLIMIT_NOFILE, unlimited is fs.nr_open") {
    auto cfg = sample();
    auto none = build(cfg, host());
    REQUIRE(none);
    CHECK_FALSE(none->rlimit_nofile);  // inherit vzd's

    cfg.params["numfile"] = "1024:4096";
    auto p = build(cfg, host());
    REQUIRE(p);
    CHECK(p->rlimit_nofile == Rlimit{1024, 4096});

    cfg.params["numfile"] = "unlimited";
    auto facts = host();
    facts.nr_open = 524288;
    p = build(cfg, facts);
    REQUIRE(p);
    CHECK(p->rlimit_nofile == Rlimit{524288, 524288});

    cfg.params["numfile"] = "600000";
    auto over = build(cfg, facts);
    REQUIRE_FALSE(over);
    CHECK(over.error().detail().find("numfile: '600000' is out of range (use 0..524288") !=
          std::string::npos);
}

TEST_CASE("build: disk quota in quotactl terms, 0 meaning no limit") {
    auto cfg = sample();
    auto none = build(cfg, host());
    REQUIRE(none);
    CHECK_FALSE(none->disk_quota);

    cfg.params["diskspace"] = "10G:11G";
    auto p = build(cfg, host());
    REQUIRE(p);
    REQUIRE(p->disk_quota);
    CHECK(p->disk_quota->blocks == params::BarrierLimit{10485760, 11534336});
    CHECK_FALSE(p->disk_quota->inodes);

    cfg.params["diskinodes"] = "unlimited";
    cfg.params["diskspace"] = "0:unlimited";
    p = build(cfg, host());
    REQUIRE(p);
    CHECK(p->disk_quota->blocks == params::BarrierLimit{0, 0});
    CHECK(p->disk_quota->inodes == params::BarrierLimit{0, 0});
    // The quota is not a cgroup limit.
    CHECK(p->resources.diskspace == params::BarrierLimit{0, params::kUnlimited});
}

TEST_CASE("build: IPC sysctls and warnings for the user") {
    auto cfg = sample();
    cfg.params["numshm"] = "128";
    cfg.params["numsem"] = "256";
    cfg.params["numtcpsock"] = "1000";
    cfg.params["kmemsize"] = "unlimited";
    auto p = build(cfg, host());
    REQUIRE(p);
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    CHECK(p->ipc_sysctls == Pairs{{"kernel/shmmni", "128"}, {"kernel/sem", "256 256 500 256"}});
    REQUIRE(p->warnings.size() == 2);
    CHECK(p->warnings[0].rfind("kmemsize: accepted but not enforced on a stock kernel", 0) == 0);
    CHECK(p->warnings[1] ==
          "numtcpsock: accepted but not enforced on a stock kernel (no cgroup limit exists); "
          "kept in the config");
    CHECK(p->resources.unenforced.size() == 2);

    auto quiet = build(sample(), host());
    REQUIRE(quiet);
    CHECK(quiet->warnings.empty());
    CHECK(quiet->ipc_sysctls.empty());
}

TEST_CASE("build: cpumask and nodemask are checked against the host's facts") {
    auto cfg = sample();
    cfg.params["cpumask"] = "1";
    cfg.params["nodemask"] = "0";
    auto p = build(cfg, host());
    REQUIRE(p);
    CHECK(p->resources.cpumask == "1");
    CHECK(p->resources.nodemask == "0");

    cfg.params["cpumask"] = "2";
    cfg.params["nodemask"] = "1";
    auto bad = build(cfg, host());  // 2 CPUs, 1 NUMA node
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail().find("cpumask: CPU 2 does not exist") != std::string::npos);
    CHECK(bad.error().detail().find("nodemask: NUMA node 1 does not exist") != std::string::npos);

    auto facts = host();
    facts.cpus = 4;
    facts.numa_nodes = 2;
    CHECK(build(cfg, facts));
}
