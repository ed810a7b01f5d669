// OS templates: build specs, the host's apt sources retargeted to another
// release, the mmdebstrap command, and the metadata in the template cache.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "vps/sys.hpp"
#include "vps/templates.hpp"
#include "temp_dir.hpp"

using namespace vps;
using namespace vps::templates;

namespace {

using vps::test::TempDir;

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

bool contains(const std::string& text, const std::string& s) {
    return text.find(s) != std::string::npos;
}

constexpr const char* kDeb822 =
    "# The host's Debian mirrors.\n"
    "Types: deb\n"
    "URIs: http://mirror.example/debian\n"
    "Suites: bookworm bookworm-updates\n"
    "Components: main contrib\n"
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    "\n"
    "Types: deb-src\n"
    "URIs: http://mirror.example/debian\n"
    "Suites: bookworm\n"
    "Components: main\n"
    "\n"
    "Types: deb\n"
    "URIs: http://mirror.example/debian-security\n"
    "Suites: bookworm-security\n"
    "Components: main\n"
    "\n"
    "Types: deb\n"
    "URIs: http://backports.example/debian\n"
    "Suites: bookworm-backports\n"
    "Components: main\n"
    "Enabled: no\n"
    "\n"
    "Types: deb\n"
    "URIs: https://vendor.example/apt\n"
    "Suites: nodistro\n"
    "Components: main\n";

}  // namespace

TEST_CASE("templates: build_spec: each template name and variant") {
    struct Case {
        const char* name;
        const char* version;
        const char* codename;
    };
    for (const Case& c : {Case{"debian-11", "11", "bullseye"}, Case{"debian-12", "12", "bookworm"},
                          Case{"debian-13", "13", "trixie"}}) {
        CAPTURE(c.name);
        auto minimal = build_spec(c.name, "");
        REQUIRE(minimal.ok());
        CHECK(minimal->name == c.name);
        CHECK(minimal->distribution == "debian");
        CHECK(minimal->version == c.version);
        CHECK(minimal->codename == c.codename);
        CHECK(minimal->variant == "minimal");
        for (const char* p : {"systemd-sysv", "dbus", "iproute2", "iputils-ping", "procps",
                              "netbase", "ca-certificates", "less"})
            CHECK(contains(minimal->packages, p));
        CHECK_FALSE(contains(minimal->packages, "ifupdown"));
        CHECK_FALSE(contains(minimal->packages, "openssh-server"));

        auto standard = build_spec(c.name, "standard");
        REQUIRE(standard.ok());
        CHECK(standard->variant == "standard");
        for (const auto& p : minimal->packages) CHECK(contains(standard->packages, p));
        for (const char* p :
             {"openssh-server", "bash-completion", "cron", "vim-tiny", "logrotate", "less", "curl"})
            CHECK(contains(standard->packages, p));
        CHECK_FALSE(contains(standard->packages, "rsyslog"));
        // No package twice on mmdebstrap's --include.
        auto sorted = standard->packages;
        std::sort(sorted.begin(), sorted.end());
        CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    }
    auto explicit_minimal = build_spec("debian-12", "minimal");
    REQUIRE(explicit_minimal.ok());
    CHECK(explicit_minimal->packages == build_spec("debian-12", "")->packages);
}

TEST_CASE("templates: build_spec: unknown template names and variants say what is known") {
    auto name = build_spec("ubuntu-24.04", "minimal");
    REQUIRE_FALSE(name.ok());
    CHECK(name.error().code() == Errc::bad_value);
    CHECK(contains(name.error().message(), "ubuntu-24.04"));
    for (const char* known : {"debian-11", "debian-12", "debian-13"})
        CHECK(contains(name.error().message(), known));

    auto variant = build_spec("debian-12", "huge");
    REQUIRE_FALSE(variant.ok());
    CHECK(variant.error().code() == Errc::bad_value);
    CHECK(contains(variant.error().message(), "huge"));
    CHECK(contains(variant.error().message(), "minimal|standard"));
}

TEST_CASE("templates: rewrite_sources retargets a deb822 file to another release") {
    std::string out = rewrite_sources(kDeb822, "bookworm", "trixie");
    CHECK(out ==
          "# The host's Debian mirrors.\n"
          "Types: deb\n"
          "URIs: http://mirror.example/debian\n"
          "Suites: trixie trixie-updates\n"
          "Components: main contrib\n"
          "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
          "\n"
          "Types: deb\n"
          "URIs: http://mirror.example/debian-security\n"
          "Suites: trixie-security\n"
          "Components: main\n"
          "\n"
          "Types: deb\n"
          "URIs: https://vendor.example/apt\n"
          "Suites: nodistro\n"
          "Components: main\n");
}

TEST_CASE("templates: rewrite_sources: mixed Types, continuation lines, case and spacing") {
    std::string in =
        "Types: deb deb-src\n"
        "URIs: http://mirror.example/debian\n"
        "suites:   bookworm\n"
        "  bookworm-updates   bookworm-security\n"
        "Components: main\n";
    CHECK(rewrite_sources(in, "bookworm", "bullseye") ==
          "Types: deb\n"
          "URIs: http://mirror.example/debian\n"
          "suites:   bullseye\n"
          "  bullseye-updates   bullseye-security\n"
          "Components: main\n");
    // A suite that merely starts with the codename is another one.
    CHECK(rewrite_sources("Types: deb\nURIs: http://x/\nSuites: bookwormish\n", "bookworm",
                          "trixie") == "Types: deb\nURIs: http://x/\nSuites: bookwormish\n");
    // A dropped first stanza leaves no leading gap, a dropped last no trailing one.
    CHECK(rewrite_sources("Types: deb-src\nURIs: http://x/\nSuites: bookworm\n\n"
                          "Types: deb\nURIs: http://x/\nSuites: bookworm\n\n"
                          "Types: deb\nURIs: http://y/\nSuites: bookworm\nEnabled: false\n",
                          "bookworm", "trixie") == "Types: deb\nURIs: http://x/\nSuites: trixie\n");
}

TEST_CASE("templates: rewrite_sources retargets one-line style entries") {
    std::string in =
        "# main archive\n"
        "deb http://mirror.example/debian bookworm main contrib\n"
        "deb-src http://mirror.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian "
        "bookworm-updates main\n"
        "deb  http://security.example/debian-security   bookworm-security main\n"
        "# deb http://mirror.example/debian bookworm-backports main\n"
        "deb https://vendor.example/apt cloud-sdk-bookworm main\n";
    CHECK(rewrite_sources(in, "bookworm", "trixie") ==
          "# main archive\n"
          "deb http://mirror.example/debian trixie main contrib\n"
          "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian "
          "trixie-updates main\n"
          "deb  http://security.example/debian-security   trixie-security main\n"
          "# deb http://mirror.example/debian bookworm-backports main\n"
          "deb https://vendor.example/apt cloud-sdk-bookworm main\n");
}

TEST_CASE(
    "templates: rewrite_sources to the host's own release changes nothing but what is dropped") {
    std::string deb822 =
        "# comment\n"
        "Types: deb\n"
        "URIs: http://mirror.example/debian\n"
        "Suites:  bookworm bookworm-updates\n"
        "Components: main\n"
        "\n\n"
        "Types: deb\n"
        "URIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n";
    CHECK(rewrite_sources(deb822, "bookworm", "bookworm") == deb822);
    std::string one_line = "deb http://mirror.example/debian bookworm main\n";
    CHECK(rewrite_sources(one_line, "bookworm", "bookworm") == one_line);
    CHECK(rewrite_sources("deb http://x/ bookworm main", "bookworm", "bookworm") ==
          "deb http://x/ bookworm main");
    CHECK(rewrite_sources("", "bookworm", "trixie").empty());
}

TEST_CASE("templates: to_deb822 turns one-line entries into stanzas") {
    std::string in =
        "# comment\n"
        "deb [ arch=amd64,i386 signed-by=/usr/share/keyrings/k.gpg ] http://mirror.example/debian "
        "bookworm main contrib\n"
        "\n"
        "deb-src http://mirror.example/debian bookworm main\n"
        "deb [trusted=yes] file:/srv/repo ./\n"
        "deb http://broken.example/\n";
    CHECK(to_deb822(in) ==
          "Types: deb\n"
          "URIs: http://mirror.example/debian\n"
          "Suites: bookworm\n"
          "Components: main contrib\n"
          "Architectures: amd64 i386\n"
          "Signed-By: /usr/share/keyrings/k.gpg\n"
          "\n"
          "Types: deb-src\n"
          "URIs: http://mirror.example/debian\n"
          "Suites: bookworm\n"
          "Components: main\n"
          "\n"
          "Types: deb\n"
          "URIs: file:/srv/repo\n"
          "Suites: ./\n"
          "Trusted: yes\n");
}

TEST_CASE("templates: host_sources gathers the host's sources as one deb822 text for the target") {
    TempDir root;
    REQUIRE_FALSE(root.path().empty());
    REQUIRE(sys::mkdir_p(root.path() + "/etc/apt/sources.list.d").ok());
    REQUIRE(sys::write_file_atomic(root.path() + "/etc/os-release",
                                   "ID=debian\nVERSION_CODENAME=\"bookworm\"\n")
                .ok());

    auto none = host_sources("trixie", root.path());
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code() == Errc::bad_config);
    CHECK(contains(none.error().message(), "trixie"));

    REQUIRE(
        sys::write_file_atomic(root.path() + "/etc/apt/sources.list",
                               "deb [signed-by=/k.gpg] http://mirror.example/debian bookworm main\n"
                               "deb-src http://mirror.example/debian bookworm main\n")
            .ok());
    REQUIRE(sys::write_file_atomic(root.path() + "/etc/apt/sources.list.d/security.sources",
                                   "Types: deb\nURIs: http://security.example/\n"
                                   "Suites: bookworm-security\nComponents: main\n")
                .ok());
    REQUIRE(sys::write_file_atomic(root.path() + "/etc/apt/sources.list.d/off.list.disabled",
                                   "deb http://off.example/ bookworm main\n")
                .ok());
    auto out = host_sources("trixie", root.path());
    REQUIRE(out.ok());
    CHECK(*out == "# from " + root.path() +
                      "/etc/apt/sources.list\n"
                      "Types: deb\n"
                      "URIs: http://mirror.example/debian\n"
                      "Suites: trixie\n"
                      "Components: main\n"
                      "Signed-By: /k.gpg\n"
                      "\n"
                      "# from " +
                      root.path() +
                      "/etc/apt/sources.list.d/security.sources\n"
                      "Types: deb\n"
                      "URIs: http://security.example/\n"
                      "Suites: trixie-security\n"
                      "Components: main\n");
}

TEST_CASE("templates: host_sources names the files when none can be retargeted") {
    TempDir root;
    REQUIRE(sys::mkdir_p(root.path() + "/etc/apt/sources.list.d").ok());
    REQUIRE(sys::write_file_atomic(root.path() + "/etc/os-release", "VERSION_CODENAME=bookworm\n")
                .ok());
    std::string file = root.path() + "/etc/apt/sources.list.d/debian.sources";
    REQUIRE(sys::write_file_atomic(file, "Types: deb\nURIs: http://m/\nSuites: stable\n").ok());
    auto r = host_sources("trixie", root.path());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == Errc::bad_config);
    CHECK(contains(r.error().message(), file));
    CHECK(contains(r.error().message(), "bookworm"));

    REQUIRE(sys::write_file_atomic(root.path() + "/etc/os-release", "ID=debian\n").ok());
    auto no_codename = host_sources("trixie", root.path());
    REQUIRE_FALSE(no_codename.ok());
    CHECK(contains(no_codename.error().message(), "VERSION_CODENAME"));
    CHECK(contains(no_codename.error().message(), root.path() + "/etc/os-release"));
}

TEST_CASE("templates: mmdebstrap_argv builds a minbase tarball with the spec's packages") {
    auto spec = build_spec("debian-13", "minimal");
    REQUIRE(spec.ok());
    auto argv = mmdebstrap_argv(*spec, "/tmp/b/debian.sources",
                                "/vz/template/cache/.debian-13.tar.zst", "/tmp/b/it's.list");
    REQUIRE(argv.size() == 9);
    CHECK(argv[0] == "mmdebstrap");
    CHECK(argv[1] == "--variant=minbase");
    CHECK(argv[2] ==
          "--include=systemd-sysv,dbus,iproute2,iputils-ping,procps,netbase,ca-certificates,less");
    CHECK(argv[3] ==
          "--customize-hook=chroot \"$1\" dpkg-query -W -f='${Package} ${Version}\\n' > "
          "'/tmp/b/it'\\''s.list'");
    CHECK(argv[4] == "--customize-hook=: > \"$1/etc/machine-id\"");
    // Host keys are removed and made by each VPS at its first sshd start.
    CHECK(contains(argv[5], "rm -f \"$1\"/etc/ssh/ssh_host_*"));
    CHECK(contains(argv[5], "ExecStartPre=/usr/bin/ssh-keygen -A"));
    CHECK(argv[6] == "trixie");
    CHECK(argv[7] == "/vz/template/cache/.debian-13.tar.zst");
    CHECK(argv[8] == "/tmp/b/debian.sources");
    CHECK_FALSE(contains(argv, "--verbose"));
}

TEST_CASE("templates: parse_package_list: dpkg-query's lines, sorted") {
    CHECK(parse_package_list("zlib1g 1:1.2.13\n\nbash 5.2.15-2+b7\n") ==
          std::vector<std::string>{"bash 5.2.15-2+b7", "zlib1g 1:1.2.13"});
    CHECK(parse_package_list("").empty());
}

TEST_CASE("templates: template metadata survives a dump and parse") {
    Info info;
    info.name = "debian-12";
    info.distribution = "debian";
    info.version = "12";
    info.codename = "bookworm";
    info.variant = "standard";
    info.arch = "amd64";
    info.build_date = utc_timestamp(1747735200);
    info.init = "systemd";
    info.packages = {"bash 5.2.15-2+b7", "bsdutils 1:2.38.1-5+b1", "yes: no"};
    CHECK(info.build_date == "2025-05-20T10:00:00Z");
    std::string yaml = dump_info(info);
    auto back = parse_info(yaml, "/vz/template/cache/debian-12.yaml");
    REQUIRE(back.ok());
    CHECK(back->name == info.name);
    CHECK(back->distribution == info.distribution);
    CHECK(back->version == info.version);
    CHECK(back->codename == info.codename);
    CHECK(back->variant == info.variant);
    CHECK(back->arch == info.arch);
    CHECK(back->build_date == info.build_date);
    CHECK(back->init == info.init);
    CHECK(back->packages == info.packages);
    CHECK(back->path.empty());
    CHECK(back->size == 0);

    auto partial = parse_info("name: busybox\ninit: busybox\n", "busybox.yaml");
    REQUIRE(partial.ok());
    CHECK(partial->init == "busybox");
    CHECK(partial->codename.empty());
    CHECK(partial->packages.empty());
}

TEST_CASE("templates: template metadata errors name the file and the key") {
    // Keys another builder records (busybox: banner, applets) are ignored.
    auto extra = parse_info("name: busybox\nbanner: \"BusyBox v1.35.0\"\napplets: 400\n", "/c/busybox.yaml");
    REQUIRE(extra.ok());
    CHECK(extra->name == "busybox");

    CHECK_FALSE(parse_info("name: a\nname: b\n", "x.yaml").ok());
    CHECK_FALSE(parse_info("packages: {a: b}\n", "x.yaml").ok());
    CHECK_FALSE(parse_info("- a\n", "x.yaml").ok());
    CHECK_FALSE(parse_info("name: [\n", "x.yaml").ok());
    CHECK_FALSE(parse_info("", "x.yaml").ok());
}

TEST_CASE("templates: list shows the template cache's tarballs with their metadata") {
    TempDir cache;
    REQUIRE_FALSE(cache.path().empty());
    Info meta;
    meta.name = "debian-12";
    meta.codename = "bookworm";
    meta.init = "systemd";
    meta.packages = {"bash 5.2.15-2+b7"};
    REQUIRE(sys::write_file_atomic(cache.path() + "/debian-12.tar.zst", "12345").ok());
    REQUIRE(sys::write_file_atomic(cache.path() + "/debian-12.yaml", dump_info(meta)).ok());
    REQUIRE(sys::write_file_atomic(cache.path() + "/busybox.tar.gz", "ab").ok());
    REQUIRE(sys::write_file_atomic(cache.path() + "/debian-13.tar.zst.partial", "x").ok());
    REQUIRE(sys::write_file_atomic(cache.path() + "/.debian-13.tar.zst", "x").ok());
    REQUIRE(sys::write_file_atomic(cache.path() + "/notes.txt", "x").ok());

    auto all = list(cache.path());
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    const Info& busybox = (*all)[0];
    CHECK(busybox.name == "busybox");
    CHECK(busybox.path == cache.path() + "/busybox.tar.gz");
    CHECK(busybox.size == 2);
    CHECK(busybox.init.empty());
    CHECK(busybox.packages.empty());
    const Info& debian = (*all)[1];
    CHECK(debian.name == "debian-12");
    CHECK(debian.path == cache.path() + "/debian-12.tar.zst");
    CHECK(debian.size == 5);
    CHECK(debian.codename == "bookworm");
    CHECK(debian.init == "systemd");
    CHECK(debian.packages == meta.packages);

    REQUIRE(sys::write_file_atomic(cache.path() + "/busybox.yaml", "arch: [amd64\n").ok());
    auto bad = list(cache.path());
    REQUIRE_FALSE(bad.ok());
    CHECK(contains(bad.error().message(), cache.path() + "/busybox.yaml"));
}

TEST_CASE("templates: list of a missing template cache is empty") {
    TempDir parent;
    auto none = list(parent.path() + "/no-such-cache");
    REQUIRE(none.ok());
    CHECK(none->empty());
}
