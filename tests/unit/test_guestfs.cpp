// vps::guestfs: the /etc/hosts and /etc/resolv.conf rewrites, and reading
// and writing files below a VPS root whose owner plants symlinks, FIFOs and
// ".." tricks. Runs unprivileged in a mkdtemp directory holding the VPS
// root and, beside it, an "outside" directory with a sentinel file that no
// attack may read into the VPS or change.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "vps/guestfs.hpp"
#include "vps/sys.hpp"

using namespace vps;
using namespace vps::guestfs;

namespace {

const std::string kSentinel = "SENTINEL root:x:0:0\n";

template <class R>
std::string why(const R& r) {
    return r ? std::string() : r.error().message();
}

// base/root is the VPS root (with an empty etc/), base/outside/sentinel
// the host file every attack aims at.
struct Sandbox {
    std::string base, root, outside, sentinel;

    Sandbox() {
        char tmpl[] = "/tmp/vz-guestfs-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        base = tmpl;
        root = base + "/root";
        outside = base + "/outside";
        sentinel = outside + "/sentinel";
        REQUIRE(sys::mkdir(root, 0755).ok());
        REQUIRE(sys::mkdir(root + "/etc", 0755).ok());
        REQUIRE(sys::mkdir(outside, 0755).ok());
        put(sentinel, kSentinel, 0644);
    }
    ~Sandbox() { (void)sys::remove_tree(base); }
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    static void put(const std::string& path, std::string_view data, mode_t mode = 0644) {
        REQUIRE(sys::write_file_atomic(path, data, mode).ok());
        REQUIRE(::chmod(path.c_str(), mode) == 0);
    }
    void link(const std::string& target, const std::string& rel) const {
        REQUIRE(::symlink(target.c_str(), (root + "/" + rel).c_str()) == 0);
    }
    void replace_etc_with_link(const std::string& target) const {
        REQUIRE(sys::rmdir(root + "/etc").ok());
        link(target, "etc");
    }
    std::string in_root(const std::string& rel) const {
        auto r = sys::read_file(root + "/" + rel);
        return r ? *r : "<" + r.error().message() + ">";
    }
    bool is_regular(const std::string& rel) const {
        struct stat st {};
        return ::lstat((root + "/" + rel).c_str(), &st) == 0 && S_ISREG(st.st_mode);
    }
    Root open() const {
        auto r = open_root(root);
        REQUIRE_MESSAGE(r.ok(), why(r));
        return std::move(*r);
    }
    // Nothing outside the root was read into it or changed: the sentinel
    // is intact and alone, and base holds only root and outside.
    void check_outside_untouched() const {
        CHECK(sys::read_file(sentinel).value() == kSentinel);
        auto out = sys::list_dir(outside);
        REQUIRE(out.ok());
        CHECK(*out == std::vector<std::string>{"sentinel"});
        auto top = sys::list_dir(base);
        REQUIRE(top.ok());
        std::sort(top->begin(), top->end());
        CHECK(*top == std::vector<std::string>{"outside", "root"});
    }
    // The host path written as a path the VPS would see through a symlink.
    std::string dotdot_to_sentinel() const { return "/../../../.." + sentinel; }
};

Identity full_identity() {
    Identity id;
    id.hostname = "web.example.com";
    id.addresses = {"10.0.0.5"};
    id.nameservers = {"8.8.8.8"};
    id.searchdomains = {"example.com"};
    return id;
}

// Fails the test (SIGALRM) instead of hanging it if a FIFO is ever opened
// for reading without O_NONBLOCK.
struct Watchdog {
    Watchdog() { ::alarm(20); }
    ~Watchdog() { ::alarm(0); }
};

}  // namespace

// ---------------------------------------------------------------- hosts

TEST_CASE("guestfs hosts: an empty file gets localhost lines and the Debian 127.0.1.1 line") {
    CHECK(hosts_with("", "web.example.com", {}) ==
          "127.0.0.1 localhost\n"
          "127.0.1.1  web.example.com web  # vzd\n"
          "::1 localhost ip6-localhost ip6-loopback\n");
}

TEST_CASE("guestfs hosts: the admin's lines are kept in order, vzd's go after IPv4 localhost") {
    const std::string debian =
        "127.0.0.1\tlocalhost\n"
        "127.0.1.1\tdebian\n"
        "\n"
        "# The following lines are desirable for IPv6 capable hosts\n"
        "::1     localhost ip6-localhost ip6-loopback\n"
        "ff02::1 ip6-allnodes\n"
        "ff02::2 ip6-allrouters\n"
        "192.168.7.7   db.internal db   # the admin's\n";
    CHECK(hosts_with(debian, "web.example.com", {"10.0.0.5"}) ==
          "127.0.0.1\tlocalhost\n"
          "10.0.0.5  web.example.com web  # vzd\n"
          "127.0.1.1\tdebian\n"
          "\n"
          "# The following lines are desirable for IPv6 capable hosts\n"
          "::1     localhost ip6-localhost ip6-loopback\n"
          "ff02::1 ip6-allnodes\n"
          "ff02::2 ip6-allrouters\n"
          "192.168.7.7   db.internal db   # the admin's\n");
}

TEST_CASE("guestfs hosts: applying the same identity twice changes nothing the second time") {
    const std::vector<std::string> inputs = {
        "",
        "127.0.0.1 localhost\n",
        "::1 localhost\n10.1.1.1 a\n",
        "# only a comment",
        "10.9.9.9 other\n127.0.0.1 localhost.localdomain localhost\n::1 ip6-localhost localhost\n",
    };
    for (const auto& in : inputs) {
        INFO("input: " << in);
        for (const auto& addrs : {std::vector<std::string>{}, std::vector<std::string>{"10.0.0.5"},
                                  std::vector<std::string>{"10.0.0.5", "2001:db8::5"}}) {
            std::string once = hosts_with(in, "web.example.com", addrs);
            CHECK(hosts_with(once, "web.example.com", addrs) == once);
        }
        std::string cleared = hosts_with(in, "", {});
        CHECK(hosts_with(cleared, "", {}) == cleared);
    }
}

TEST_CASE("guestfs hosts: a new hostname replaces vzd's old line in place") {
    const std::string old =
        "127.0.0.1 localhost\n"
        "# admin comment\n"
        "127.0.1.1  old.example.com old  # vzd\n"
        "10.2.2.2 printer\n"
        "::1 localhost ip6-localhost ip6-loopback\n";
    CHECK(hosts_with(old, "new.example.org", {}) ==
          "127.0.0.1 localhost\n"
          "# admin comment\n"
          "127.0.1.1  new.example.org new  # vzd\n"
          "10.2.2.2 printer\n"
          "::1 localhost ip6-localhost ip6-loopback\n");
}

TEST_CASE(
    "guestfs hosts: every vzd line goes, scattered or oddly spaced; new ones take the first "
    "one's place") {
    const std::string old =
        "127.0.0.1 localhost\n"
        "10.0.0.1  old.example.com old  # vzd\n"
        "10.3.3.3 keep\n"
        "10.0.0.2\told.example.com\told\t#vzd  \n"
        "::1 localhost\n";
    CHECK(hosts_with(old, "web", {"10.0.0.5"}) ==
          "127.0.0.1 localhost\n"
          "10.0.0.5  web  # vzd\n"
          "10.3.3.3 keep\n"
          "::1 localhost\n");
}

TEST_CASE("guestfs hosts: IPv6 and several addresses, in order, without duplicates") {
    CHECK(hosts_with("127.0.0.1 localhost\n::1 localhost\n", "web.example.com",
                     {"2001:db8::5", "10.0.0.5", "2001:db8::5"}) ==
          "127.0.0.1 localhost\n"
          "2001:db8::5  web.example.com web  # vzd\n"
          "10.0.0.5  web.example.com web  # vzd\n"
          "::1 localhost\n");
}

TEST_CASE("guestfs hosts: with addresses there is no 127.0.1.1 line") {
    std::string out = hosts_with("", "web.example.com", {"10.0.0.5"});
    CHECK(out.find("127.0.1.1") == std::string::npos);
    CHECK(out.find("10.0.0.5  web.example.com web  # vzd\n") != std::string::npos);
}

TEST_CASE("guestfs hosts: a hostname without a domain is written once") {
    CHECK(hosts_with("127.0.0.1 localhost\n::1 localhost\n", "web", {}) ==
          "127.0.0.1 localhost\n127.0.1.1  web  # vzd\n::1 localhost\n");
}

TEST_CASE("guestfs hosts: an empty hostname only removes vzd's lines") {
    const std::string old =
        "10.4.4.4 admin\n"
        "127.0.1.1  web.example.com web  # vzd\n"
        "10.5.5.5 admin2\n";
    CHECK(hosts_with(old, "", {}) == "10.4.4.4 admin\n10.5.5.5 admin2\n");
    CHECK(hosts_with(old, "", {"10.0.0.5"}) == "10.4.4.4 admin\n10.5.5.5 admin2\n");
    CHECK(hosts_with("", "", {}).empty());
}

TEST_CASE("guestfs hosts: the admin's own '# vzd' lookalikes are kept") {
    const std::string old =
        "127.0.0.1 localhost\n"
        "::1 localhost\n"
        "# vzd\n"
        "10.6.6.6 gw  # vzd-managed elsewhere\n"
        "10.7.7.7 vzd\n";
    CHECK(hosts_with(old, "", {}) == old);
}

TEST_CASE("guestfs hosts: only the missing localhost family is added") {
    CHECK(hosts_with("127.0.0.1 localhost\n", "h", {}) ==
          "::1 localhost ip6-localhost ip6-loopback\n127.0.0.1 localhost\n127.0.1.1  h  # vzd\n");
    CHECK(hosts_with("::1 LOCALHOST\n", "h", {}) ==
          "127.0.0.1 localhost\n127.0.1.1  h  # vzd\n::1 LOCALHOST\n");
}

TEST_CASE("guestfs hosts: a last line without newline is kept and terminated") {
    CHECK(hosts_with("127.0.0.1 localhost\n::1 localhost\n10.8.8.8 last", "", {}) ==
          "127.0.0.1 localhost\n::1 localhost\n10.8.8.8 last\n");
}

// ---------------------------------------------------------------- resolv.conf

TEST_CASE("guestfs resolv: nameservers and search replaced, comments and options kept") {
    const std::string old =
        "# Generated by NetworkManager\n"
        "search old.example\n"
        "nameserver 192.168.1.1\n"
        "options edns0 trust-ad\n"
        "nameserver 192.168.1.2\n"
        "domain older.example\n";
    CHECK(resolv_with(old, {"8.8.8.8", "2001:4860:4860::8888"}, {"a.example", "b.example"}) ==
          "# Generated by NetworkManager\n"
          "search a.example b.example\n"
          "nameserver 8.8.8.8\n"
          "nameserver 2001:4860:4860::8888\n"
          "options edns0 trust-ad\n");
}

TEST_CASE("guestfs resolv: empty lists leave their lines alone") {
    const std::string old = "search s.example\nnameserver 1.1.1.1\noptions ndots:2\n";
    CHECK(resolv_with(old, {}, {}) == old);
    CHECK(resolv_with(old, {"9.9.9.9"}, {}) ==
          "search s.example\nnameserver 9.9.9.9\noptions ndots:2\n");
    CHECK(resolv_with(old, {}, {"t.example"}) ==
          "search t.example\nnameserver 1.1.1.1\noptions ndots:2\n");
}

TEST_CASE("guestfs resolv: an empty file gets search before the nameservers") {
    CHECK(resolv_with("", {"1.1.1.1", "1.0.0.1"}, {"example.com"}) ==
          "search example.com\nnameserver 1.1.1.1\nnameserver 1.0.0.1\n");
    CHECK(resolv_with("", {}, {"example.com"}) == "search example.com\n");
    CHECK(resolv_with("# c\noptions rotate\n", {"1.1.1.1"}, {}) ==
          "# c\noptions rotate\nnameserver 1.1.1.1\n");
}

TEST_CASE("guestfs resolv: a new search line goes before existing nameservers") {
    CHECK(resolv_with("# c\nnameserver 1.1.1.1\n", {}, {"x.example"}) ==
          "# c\nsearch x.example\nnameserver 1.1.1.1\n");
}

TEST_CASE("guestfs resolv: 'domain' counts as search; commented-out keywords are comments") {
    CHECK(resolv_with("domain d.example\n# nameserver 6.6.6.6\n;search z\n", {"1.1.1.1"},
                      {"e.example"}) ==
          "search e.example\n# nameserver 6.6.6.6\n;search z\nnameserver 1.1.1.1\n");
}

TEST_CASE("guestfs resolv: applying twice is the same as once") {
    for (const std::string in : {"", "nameserver 1.2.3.4\n", "options x\nsearch q\n", "# only\n",
                                 "nameserver 1.2.3.4\nsearch q\nnameserver 5.6.7.8"}) {
        INFO("input: " << in);
        for (const auto& ns : {std::vector<std::string>{}, std::vector<std::string>{"8.8.4.4"}})
            for (const auto& sd :
                 {std::vector<std::string>{}, std::vector<std::string>{"a.example", "b"}}) {
                std::string once = resolv_with(in, ns, sd);
                CHECK(resolv_with(once, ns, sd) == once);
            }
    }
}

// ---------------------------------------------------------------- identity checks

TEST_CASE("guestfs check_identity: nothing that could add a line or a comment passes") {
    CHECK(check_identity(full_identity()).ok());
    CHECK(check_identity(Identity{}).ok());
    for (const char* bad_host :
         {"web\n10.0.0.1 evil", "-web", "a..b", "web.", ".web", "we b", "web#x", "a/b"}) {
        Identity id;
        id.hostname = bad_host;
        auto r = check_identity(id);
        CHECK_MESSAGE(!r.ok(), bad_host);
        if (!r.ok()) CHECK(r.error().code() == Errc::bad_value);
    }
    for (const char* bad_addr : {"10.0.0.5/24", "10.0.0.5 # x", "fe80::1%eth0", "", "web"}) {
        Identity a;
        a.addresses = {bad_addr};
        CHECK_MESSAGE(!check_identity(a).ok(), bad_addr);
        Identity n;
        n.nameservers = {bad_addr};
        CHECK_MESSAGE(!check_identity(n).ok(), bad_addr);
    }
    Identity d;
    d.searchdomains = {"a.example b.example"};
    CHECK(!check_identity(d).ok());
}

// ---------------------------------------------------------------- files

TEST_CASE("guestfs open_root: a missing root or a file is an error") {
    Sandbox sb;
    CHECK(!open_root(sb.base + "/nope").ok());
    CHECK(!open_root(sb.sentinel).ok());
}

TEST_CASE("guestfs read_file: contents, nullopt when missing, limits") {
    Sandbox sb;
    Sandbox::put(sb.root + "/etc/hosts", "127.0.0.1 localhost\n");
    Root r = sb.open();
    auto got = read_file(r, "etc/hosts", 1024);
    REQUIRE_MESSAGE(got.ok(), why(got));
    CHECK(got->value() == "127.0.0.1 localhost\n");
    CHECK(read_file(r, "/etc/hosts", 1024).value().value() == "127.0.0.1 localhost\n");

    auto missing = read_file(r, "etc/nope", 1024);
    REQUIRE(missing.ok());
    CHECK(!missing->has_value());
    auto missing_dir = read_file(r, "nodir/file", 1024);
    REQUIRE(missing_dir.ok());
    CHECK(!missing_dir->has_value());

    auto big = read_file(r, "etc/hosts", 5);
    REQUIRE(!big.ok());
    CHECK(big.error().message().find("/etc/hosts in VPS root " + sb.root) != std::string::npos);

    auto dir = read_file(r, "etc", 1024);
    REQUIRE(!dir.ok());
    CHECK(dir.error().message().find("directory") != std::string::npos);
}

TEST_CASE("guestfs read_file: a device is refused without being read") {
    auto dev = open_root("/dev");
    REQUIRE_MESSAGE(dev.ok(), why(dev));
    auto r = read_file(*dev, "null", 1024);
    REQUIRE(!r.ok());
    CHECK(r.error().message().find("character device") != std::string::npos);
}

TEST_CASE("guestfs paths: '..', '.' and empty components are refused") {
    Sandbox sb;
    Root r = sb.open();
    for (const char* rel : {"", "/", "../outside/sentinel", "etc/../../outside/sentinel", "etc/",
                            "./etc/hosts", "etc//hosts"}) {
        INFO(rel);
        auto w = write_file(r, rel, "x");
        REQUIRE(!w.ok());
        CHECK(w.error().code() == Errc::bad_argument);
        CHECK(!read_file(r, rel, 100).ok());
    }
    sb.check_outside_untouched();
}

TEST_CASE(
    "guestfs write_file: a new file gets the parent's owner and the given mode, "
    "whatever the umask") {
    Sandbox sb;
    Root r = sb.open();
    mode_t old_umask = ::umask(077);
    auto w = write_file(r, "etc/hostname", "web\n");
    auto w2 = write_file(r, "etc/motd", "hi\n", 0640);
    ::umask(old_umask);
    REQUIRE_MESSAGE(w.ok(), why(w));
    REQUIRE_MESSAGE(w2.ok(), why(w2));
    CHECK(sb.in_root("etc/hostname") == "web\n");
    struct stat st {
    }, dst{};
    REQUIRE(::stat((sb.root + "/etc/hostname").c_str(), &st) == 0);
    REQUIRE(::stat((sb.root + "/etc").c_str(), &dst) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    CHECK(st.st_uid == dst.st_uid);
    CHECK(st.st_gid == dst.st_gid);
    REQUIRE(::stat((sb.root + "/etc/motd").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
}

TEST_CASE("guestfs write_file: an existing regular file keeps its owner and mode 0600") {
    Sandbox sb;
    Sandbox::put(sb.root + "/etc/hosts", "old\n", 0600);
    Root r = sb.open();
    struct stat before {};
    REQUIRE(::stat((sb.root + "/etc/hosts").c_str(), &before) == 0);
    auto w = write_file(r, "etc/hosts", "new\n");
    REQUIRE_MESSAGE(w.ok(), why(w));
    struct stat st {};
    REQUIRE(::stat((sb.root + "/etc/hosts").c_str(), &st) == 0);
    CHECK(sb.in_root("etc/hosts") == "new\n");
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(st.st_uid == ::getuid());
    CHECK(st.st_gid == before.st_gid);
    CHECK(st.st_ino != before.st_ino);  // replaced, not rewritten in place
}

TEST_CASE("guestfs write_file: set-id bits are not carried over") {
    Sandbox sb;
    Sandbox::put(sb.root + "/etc/hosts", "old\n", 04755);
    Root r = sb.open();
    REQUIRE(write_file(r, "etc/hosts", "new\n").ok());
    struct stat st {};
    REQUIRE(::stat((sb.root + "/etc/hosts").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0755);
}

TEST_CASE("guestfs write_file: ids of a user-namespaced VPS (shifted owner) are kept") {
    if (::geteuid() != 0) {
        MESSAGE("skipped: chown to other ids needs root");
        return;
    }
    Sandbox sb;
    const uid_t shifted = 100000;
    REQUIRE(::chown((sb.root).c_str(), shifted, shifted) == 0);
    REQUIRE(::chown((sb.root + "/etc").c_str(), shifted, shifted) == 0);
    Sandbox::put(sb.root + "/etc/hosts", "old\n", 0644);
    REQUIRE(::chown((sb.root + "/etc/hosts").c_str(), shifted + 5, shifted + 6) == 0);
    Root r = sb.open();
    REQUIRE(write_file(r, "etc/hosts", "new\n").ok());
    REQUIRE(write_file(r, "etc/hostname", "h\n").ok());
    REQUIRE(write_file(r, "run/x", "y\n").ok());  // creates run/
    struct stat st {};
    REQUIRE(::stat((sb.root + "/etc/hosts").c_str(), &st) == 0);
    CHECK(st.st_uid == shifted + 5);
    CHECK(st.st_gid == shifted + 6);
    REQUIRE(::stat((sb.root + "/etc/hostname").c_str(), &st) == 0);
    CHECK(st.st_uid == shifted);
    CHECK(st.st_gid == shifted);
    REQUIRE(::stat((sb.root + "/run").c_str(), &st) == 0);
    CHECK(st.st_uid == shifted);
    CHECK((st.st_mode & 07777) == 0755);
}

TEST_CASE("guestfs write_file: a missing parent is created one level deep, not more") {
    Sandbox sb;
    REQUIRE(sys::rmdir(sb.root + "/etc").ok());
    Root r = sb.open();
    mode_t old_umask = ::umask(077);
    auto w = write_file(r, "etc/hostname", "web\n");
    ::umask(old_umask);
    REQUIRE_MESSAGE(w.ok(), why(w));
    struct stat st {};
    REQUIRE(::lstat((sb.root + "/etc").c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0755);
    CHECK(sb.in_root("etc/hostname") == "web\n");

    auto deep = write_file(r, "a/b/c", "x");
    REQUIRE(!deep.ok());
    CHECK(deep.error().message().find("/a/b/c in VPS root") != std::string::npos);
    CHECK(!sys::exists(sb.root + "/a"));
}

TEST_CASE("guestfs write_file: no temporary is left behind, on success or failure") {
    Sandbox sb;
    REQUIRE(sys::mkdir(sb.root + "/etc/hosts.d").ok());
    Root r = sb.open();
    REQUIRE(write_file(r, "etc/hosts", "a\n").ok());
    REQUIRE(write_file(r, "etc/hosts", "b\n").ok());
    auto onto_dir = write_file(r, "etc/hosts.d", "c\n");
    CHECK(!onto_dir.ok());
    auto names = sys::list_dir(sb.root + "/etc");
    REQUIRE(names.ok());
    std::sort(names->begin(), names->end());
    CHECK(*names == std::vector<std::string>{"hosts", "hosts.d"});
}

TEST_CASE("guestfs write_file: a hard link to a host file is replaced, not written through") {
    Sandbox sb;
    REQUIRE(::link(sb.sentinel.c_str(), (sb.root + "/etc/hosts").c_str()) == 0);
    Root r = sb.open();
    REQUIRE(write_file(r, "etc/hosts", "new\n").ok());
    CHECK(sb.in_root("etc/hosts") == "new\n");
    sb.check_outside_untouched();
}

// ---------------------------------------------------------------- attacks

TEST_CASE("guestfs attack: /etc -> / keeps every write inside the root") {
    // Were "/" the host's, this would land at the host's "/": the name is
    // unique, and is checked for and removed there so a regression cannot
    // leave anything behind.
    Sandbox sb;
    sb.replace_etc_with_link("/");
    const std::string probe = "vz-guestfs-probe-" + sb.base.substr(sb.base.rfind('/') + 1);
    Root r = sb.open();
    auto w = write_file(r, "etc/" + probe, "probe\n");
    bool on_host = sys::exists("/" + probe);
    if (on_host) (void)sys::unlink("/" + probe);
    CHECK(!on_host);
    REQUIRE_MESSAGE(w.ok(), why(w));
    CHECK(sb.in_root(probe) == "probe\n");  // "/" is the VPS root
    auto read = read_file(r, "etc" + sb.sentinel, 1024);
    REQUIRE_MESSAGE(read.ok(), why(read));
    CHECK(!read->has_value());
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: /etc -> the host path of a directory outside fails closed") {
    Sandbox sb;
    sb.replace_etc_with_link(sb.outside);
    Root r = sb.open();
    auto a = apply_identity(r, full_identity());
    REQUIRE(!a.ok());
    CHECK(a.error().message().find("in VPS root " + sb.root) != std::string::npos);
    CHECK(!read_file(r, "etc/sentinel", 1024).value().has_value());
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: resolv.conf -> /../../../<host file> is replaced, never followed") {
    Sandbox sb;
    sb.link(sb.dotdot_to_sentinel(), "etc/resolv.conf");
    Root r = sb.open();
    auto read = read_file(r, "etc/resolv.conf", 1024);
    REQUIRE_MESSAGE(read.ok(), why(read));
    CHECK(!read->has_value());  // resolved inside the root, where nothing is
    auto a = apply_identity(r, full_identity());
    REQUIRE_MESSAGE(a.ok(), why(a));
    CHECK(sb.is_regular("etc/resolv.conf"));
    CHECK(sb.in_root("etc/resolv.conf") == "search example.com\nnameserver 8.8.8.8\n");
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: resolv.conf -> ../../outside/sentinel (relative) stays inside") {
    Sandbox sb;
    // On the host this relative link names base/outside/sentinel exactly.
    sb.link("../../outside/sentinel", "etc/resolv.conf");
    REQUIRE(sys::read_file(sb.root + "/etc/resolv.conf").value() == kSentinel);
    Root r = sb.open();
    CHECK(!read_file(r, "etc/resolv.conf", 1024).value().has_value());
    auto a = apply_identity(r, full_identity());
    REQUIRE_MESSAGE(a.ok(), why(a));
    CHECK(sb.is_regular("etc/resolv.conf"));
    CHECK(sb.in_root("etc/resolv.conf").find("SENTINEL") == std::string::npos);
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: hosts -> /proc/self/root/<host file> stays inside") {
    Sandbox sb;
    sb.link("/proc/self/root" + sb.sentinel, "etc/hosts");
    Root r = sb.open();
    auto a = apply_identity(r, full_identity());
    REQUIRE_MESSAGE(a.ok(), why(a));
    CHECK(sb.is_regular("etc/hosts"));
    std::string hosts = sb.in_root("etc/hosts");
    CHECK(hosts.find("SENTINEL") == std::string::npos);
    CHECK(hosts.find("web.example.com") != std::string::npos);
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: /proc magic links are refused when procfs is inside the root") {
    // A running VPS's root seen through /proc/<pid>/root holds a real
    // procfs; /proc/self stands in for it here.
    Sandbox sb;
    auto r = open_root("/proc/self");
    REQUIRE_MESSAGE(r.ok(), why(r));
    auto read = read_file(*r, "root" + sb.sentinel, 1024);
    REQUIRE(!read.ok());
    CHECK(read.error().message().find("magic link") != std::string::npos);
    auto w = write_file(*r, "root" + sb.sentinel, "pwned\n");
    CHECK(!w.ok());
    auto beside = write_file(*r, "root" + sb.base + "/pwned", "pwned\n");
    CHECK(!beside.ok());
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: a FIFO at /etc/hostname is an error, not a hang") {
    Watchdog dog;
    Sandbox sb;
    REQUIRE(::mkfifo((sb.root + "/etc/hostname").c_str(), 0644) == 0);
    Root r = sb.open();
    auto read = read_file(r, "etc/hostname", 1024);
    REQUIRE(!read.ok());
    CHECK(read.error().message().find("FIFO") != std::string::npos);
    CHECK(read.error().message().find("/etc/hostname in VPS root " + sb.root) != std::string::npos);
    auto a = apply_identity(r, full_identity());
    REQUIRE(!a.ok());
    CHECK(a.error().message().find("FIFO") != std::string::npos);
    // write_file on its own replaces the FIFO without opening it.
    REQUIRE(write_file(r, "etc/hostname", "h\n").ok());
    CHECK(sb.is_regular("etc/hostname"));
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: a symlink to a FIFO is refused too") {
    Watchdog dog;
    Sandbox sb;
    REQUIRE(::mkfifo((sb.root + "/fifo").c_str(), 0644) == 0);
    sb.link("/fifo", "etc/resolv.conf");
    Root r = sb.open();
    CHECK(!read_file(r, "etc/resolv.conf", 1024).ok());
}

TEST_CASE("guestfs attack: a directory symlink chain ends inside the root") {
    Sandbox sb;
    // etc -> /l1 -> l2 -> ../outside: on the host that is base/outside.
    sb.replace_etc_with_link("/l1");
    sb.link("l2", "l1");
    sb.link("../outside", "l2");
    REQUIRE(sys::mkdir(sb.root + "/outside").ok());  // where it lands inside
    Root r = sb.open();
    auto a = apply_identity(r, full_identity());
    REQUIRE_MESSAGE(a.ok(), why(a));
    CHECK(sb.in_root("outside/hostname") == "web.example.com\n");
    CHECK(sb.is_regular("outside/hosts"));
    CHECK(sb.is_regular("outside/resolv.conf"));
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: a chain leading nowhere inside fails closed") {
    Sandbox sb;
    // etc -> /l1 -> l2/.. with l2 -> ../outside: on the host, base itself.
    sb.replace_etc_with_link("/l1");
    sb.link("l2/..", "l1");
    sb.link("../outside", "l2");
    Root r = sb.open();
    auto a = apply_identity(r, full_identity());
    REQUIRE(!a.ok());
    CHECK(a.error().message().find("in VPS root " + sb.root) != std::string::npos);
    sb.check_outside_untouched();
}

TEST_CASE("guestfs attack: a symlink to a file inside the root is read, then replaced") {
    Sandbox sb;
    Sandbox::put(sb.root + "/etc/hosts.real", "10.9.9.9 admin\n");
    sb.link("/etc/hosts.real", "etc/hosts");
    Root r = sb.open();
    Identity id;
    id.hostname = "web";
    auto a = apply_identity(r, id);
    REQUIRE_MESSAGE(a.ok(), why(a));
    CHECK(sb.is_regular("etc/hosts"));
    CHECK(sb.in_root("etc/hosts").find("10.9.9.9 admin\n") != std::string::npos);
    CHECK(sb.in_root("etc/hosts.real") == "10.9.9.9 admin\n");
}

// ---------------------------------------------------------------- apply_identity

TEST_CASE("guestfs apply_identity: writes the three files, then leaves them alone") {
    Sandbox sb;
    Sandbox::put(sb.root + "/etc/resolv.conf", "# mine\noptions rotate\nnameserver 1.1.1.1\n");
    Root r = sb.open();
    auto a = apply_identity(r, full_identity());
    REQUIRE_MESSAGE(a.ok(), why(a));
    CHECK(sb.in_root("etc/hostname") == "web.example.com\n");
    CHECK(sb.in_root("etc/hosts") ==
          "127.0.0.1 localhost\n10.0.0.5  web.example.com web  # vzd\n"
          "::1 localhost ip6-localhost ip6-loopback\n");
    CHECK(sb.in_root("etc/resolv.conf") ==
          "# mine\noptions rotate\nsearch example.com\nnameserver 8.8.8.8\n");

    auto inode = [&](const char* rel) {
        struct stat st {};
        REQUIRE(::stat((sb.root + "/" + rel).c_str(), &st) == 0);
        return st.st_ino;
    };
    auto h = inode("etc/hostname"), ho = inode("etc/hosts"), rc = inode("etc/resolv.conf");
    REQUIRE(apply_identity(r, full_identity()).ok());
    CHECK(inode("etc/hostname") == h);
    CHECK(inode("etc/hosts") == ho);
    CHECK(inode("etc/resolv.conf") == rc);
}

TEST_CASE("guestfs apply_identity: an empty identity touches nothing") {
    Sandbox sb;
    Root r = sb.open();
    REQUIRE(apply_identity(r, Identity{}).ok());
    auto names = sys::list_dir(sb.root + "/etc");
    REQUIRE(names.ok());
    CHECK(names->empty());
}

TEST_CASE("guestfs apply_identity: nameservers alone leave hostname and hosts alone") {
    Sandbox sb;
    Root r = sb.open();
    Identity id;
    id.nameservers = {"2001:db8::53"};
    REQUIRE(apply_identity(r, id).ok());
    CHECK(sb.in_root("etc/resolv.conf") == "nameserver 2001:db8::53\n");
    CHECK(!sys::exists(sb.root + "/etc/hostname"));
    CHECK(!sys::exists(sb.root + "/etc/hosts"));
}

TEST_CASE("guestfs apply_identity: a bad value is refused before any file is touched") {
    Sandbox sb;
    Root r = sb.open();
    Identity id = full_identity();
    id.nameservers = {"8.8.8.8\nnameserver 6.6.6.6"};
    auto a = apply_identity(r, id);
    REQUIRE(!a.ok());
    CHECK(a.error().code() == Errc::bad_value);
    CHECK(!sys::exists(sb.root + "/etc/hostname"));
}
