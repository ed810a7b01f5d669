// vps::passwd: --userpasswd parsing, password hashing, the passwd, group
// and shadow rewrites, and set_password on a VPS root in a mkdtemp
// directory, beside an "outside" directory whose sentinel no planted
// symlink may change.
#include <crypt.h>
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "vps/passwd.hpp"
#include "vps/sys.hpp"

using namespace vps;
using namespace vps::passwd;

namespace {

const std::string kSentinel = "SENTINEL root:x:0:0\n";
const std::string kSecret = "s3cr3t:pa ss";

template <class R>
std::string why(const R& r) {
    return r ? std::string() : r.error().message();
}

// The error of a failed parse, which must never show the password.
std::string parse_error(std::string_view arg, std::string_view password) {
    auto r = parse_userpasswd(arg);
    REQUIRE(!r.ok());
    CHECK(r.error().code() == Errc::bad_value);
    const std::string msg = r.error().message();
    if (!password.empty()) CHECK(msg.find(password) == std::string::npos);
    return msg;
}

// base/root is the VPS root (with etc/ and home/), base/outside/sentinel a
// host file.
struct Sandbox {
    std::string base, root, outside, sentinel;

    Sandbox() {
        char tmpl[] = "/tmp/vz-passwd-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        base = tmpl;
        root = base + "/root";
        outside = base + "/outside";
        sentinel = outside + "/sentinel";
        for (const auto& d : {root, root + "/etc", root + "/home", outside})
            REQUIRE(sys::mkdir(d, 0755).ok());
        put(sentinel, kSentinel);
    }
    ~Sandbox() { (void)sys::remove_tree(base); }
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    static void put(const std::string& path, std::string_view data, mode_t mode = 0644) {
        REQUIRE(sys::write_file_atomic(path, data, mode).ok());
        REQUIRE(::chmod(path.c_str(), mode) == 0);
    }
    void put_etc(const std::string& name, std::string_view data, mode_t mode = 0644) const {
        put(root + "/etc/" + name, data, mode);
    }
    std::string in_root(const std::string& rel) const {
        auto r = sys::read_file(root + "/" + rel);
        return r ? *r : "<" + r.error().message() + ">";
    }
    struct stat lstat_in_root(const std::string& rel) const {
        struct stat st {};
        REQUIRE(::lstat((root + "/" + rel).c_str(), &st) == 0);
        return st;
    }
    guestfs::Root open() const {
        auto r = guestfs::open_root(root);
        REQUIRE_MESSAGE(r.ok(), why(r));
        return std::move(*r);
    }
};

const std::string kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const std::string kGroup = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n";
const std::string kShadow =
    "root:*:19000:0:99999:7:::\n"
    "daemon:*:19000:0:99999:7:::\n"
    "nobody:*:19000:0:99999:7:::\n";

// The shadow line of user, or "" when there is none.
std::string shadow_line(const std::string& shadow, const std::string& user) {
    for (const auto& line : sys::split(shadow, '\n'))
        if (line.rfind(user + ":", 0) == 0) return line;
    return {};
}

// Whether hash is password's: crypt with the hash as its setting gives it
// back.
bool hash_matches(const std::string& password, const std::string& hash) {
    crypt_data data{};
    const char* again = ::crypt_r(password.c_str(), hash.c_str(), &data);
    return again && hash == again;
}

}  // namespace

// ---------------------------------------------------------------- parse_userpasswd

TEST_CASE("passwd parse_userpasswd: splits at the first ':'") {
    auto r = parse_userpasswd("alice:" + kSecret);
    REQUIRE_MESSAGE(r.ok(), why(r));
    CHECK(r->first == "alice");
    CHECK(r->second == kSecret);

    for (const char* name : {"_svc", "a", "web-1", "x_y-z9", "abcdefghijklmnopqrstuvwxyz012345"}) {
        INFO(name);
        CHECK(parse_userpasswd(std::string(name) + ":pw").ok());
    }
}

TEST_CASE("passwd parse_userpasswd: bad names are refused, naming the user, not the password") {
    for (const char* name : {"", "Alice", "1abc", "-abc", "a.b", "a b", "a$", "ali\nce",
                             "abcdefghijklmnopqrstuvwxyz0123456"}) {
        INFO("name: " << name);
        std::string msg = parse_error(std::string(name) + ":" + kSecret, kSecret);
        CHECK(msg.find("user name") != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
    }
    CHECK(parse_error("Alice:" + kSecret, kSecret).find("'Alice'") != std::string::npos);
}

TEST_CASE("passwd parse_userpasswd: an empty password, a newline or NUL, or no ':' is refused") {
    CHECK(parse_error("bob:", "").find("'bob'") != std::string::npos);
    CHECK(parse_error("bob:" + kSecret + "\n", kSecret).find("'bob'") != std::string::npos);
    CHECK(parse_error("bob:line1\nline2", "line1").find("newline") != std::string::npos);
    const std::string with_nul("pass\0word", 9);
    CHECK(parse_error("bob:" + with_nul, with_nul).find("'bob'") != std::string::npos);
    // Without a ':' the argument may be the password alone: not echoed.
    std::string msg = parse_error("hunter2hunter2", "hunter2");
    CHECK(msg.find("user:password") != std::string::npos);
}

// ---------------------------------------------------------------- hash_password

TEST_CASE("passwd hash_password: a salted yescrypt (or sha512crypt) hash crypt() reproduces") {
    auto h = hash_password(kSecret);
    REQUIRE_MESSAGE(h.ok(), why(h));
    CHECK((h->rfind("$y$", 0) == 0 || h->rfind("$6$", 0) == 0));
    CHECK(h->find(kSecret) == std::string::npos);
    CHECK(h->find_first_of(":\n") == std::string::npos);
    CHECK(hash_matches(kSecret, *h));
    CHECK(!hash_matches("wrong", *h));

    auto again = hash_password(kSecret);
    REQUIRE(again.ok());
    CHECK(*again != *h);  // a fresh salt each time
    CHECK(hash_matches(kSecret, *again));
}

TEST_CASE("passwd hash_password: an empty password is refused") {
    auto h = hash_password("");
    REQUIRE(!h.ok());
    CHECK(h.error().code() == Errc::bad_value);
}

// ---------------------------------------------------------------- set_shadow_entry

TEST_CASE("passwd set_shadow_entry: replaces hash and change day, keeps the rest verbatim") {
    const std::string shadow =
        "root:*:19000:0:99999:7:::\n"
        "\n"
        "bob:$6$old$hash:18000:1:90:14:30:20000:\n"
        "carol:!:19500:0:99999:7:::\n";
    CHECK(set_shadow_entry(shadow, "bob", "$y$new", 20100) ==
          "root:*:19000:0:99999:7:::\n"
          "\n"
          "bob:$y$new:20100:1:90:14:30:20000:\n"
          "carol:!:19500:0:99999:7:::\n");
}

TEST_CASE("passwd set_shadow_entry: a missing user is appended with Debian's defaults") {
    CHECK(set_shadow_entry("", "bob", "$y$h", 20100) == "bob:$y$h:20100:0:99999:7:::\n");
    CHECK(set_shadow_entry("root:*:1:0:99999:7:::\n", "bob", "$y$h", 20100) ==
          "root:*:1:0:99999:7:::\nbob:$y$h:20100:0:99999:7:::\n");
    // A name that only starts like the user's is another user.
    CHECK(set_shadow_entry("bobby:!:1::::::\n", "bob", "$y$h", 5) ==
          "bobby:!:1::::::\nbob:$y$h:5:0:99999:7:::\n");
}

TEST_CASE("passwd set_shadow_entry: a missing final newline, and a short line") {
    CHECK(set_shadow_entry("root:*:1:0:99999:7:::", "bob", "$y$h", 9) ==
          "root:*:1:0:99999:7:::\nbob:$y$h:9:0:99999:7:::\n");
    CHECK(set_shadow_entry("root:*:1:0:99999:7:::\nbob:x", "bob", "$y$h", 9) ==
          "root:*:1:0:99999:7:::\nbob:$y$h:9\n");
}

// ---------------------------------------------------------------- plan_user

TEST_CASE("passwd find_uid") {
    const std::string passwd =
        kPasswd + "alice:x:1000:1000::/home/alice:/bin/bash\nodd:x:zz:1::/:\n";
    CHECK(find_uid(passwd, "alice") == 1000u);
    CHECK(find_uid(passwd, "nobody") == 65534u);
    CHECK(find_uid(passwd, "root") == 0u);
    CHECK(!find_uid(passwd, "ali").has_value());
    CHECK(!find_uid(passwd, "odd").has_value());
    CHECK(!find_uid("", "root").has_value());
}

TEST_CASE("passwd plan_user: the first user gets 1000; nobody and system users do not count") {
    NewUser u = plan_user(kPasswd, kGroup, "alice", true);
    CHECK(u.uid == 1000);
    CHECK(u.gid == 1000);
    CHECK(u.home == "/home/alice");
    CHECK(u.shell == "/bin/bash");
    CHECK(plan_user("", "", "alice", false).shell == "/bin/sh");
}

TEST_CASE("passwd plan_user: one above the highest regular uid; gid follows when free") {
    const std::string passwd = kPasswd +
                               "a:x:1000:1000::/home/a:/bin/sh\n"
                               "b:x:1005:1005::/home/b:/bin/sh\n"
                               "lxd:x:100000:100000::/:/bin/false\n"
                               "c:x:1002:1002::/home/c:/bin/sh\n";
    const std::string group = kGroup + "a:x:1000:\nb:x:1005:\nc:x:1002:\n";
    NewUser u = plan_user(passwd, group, "dave", true);
    CHECK(u.uid == 1006);
    CHECK(u.gid == 1006);
}

TEST_CASE("passwd plan_user: a taken gid falls back to the lowest free one from 1000") {
    const std::string group = kGroup + "users:x:1000:\nstaff:x:1001:\ndocker:x:1003:\n";
    NewUser u = plan_user(kPasswd, group, "dave", true);
    CHECK(u.uid == 1000);
    CHECK(u.gid == 1002);
}

TEST_CASE("passwd plan_user: a group of the user's own name becomes the primary group") {
    NewUser u = plan_user(kPasswd, kGroup + "dave:x:1234:\n", "dave", true);
    CHECK(u.uid == 1000);
    CHECK(u.gid == 1234);
}

// ---------------------------------------------------------------- add_*_entry

TEST_CASE("passwd add_passwd_entry and add_group_entry append one line") {
    NewUser u{1001, 1002, "/home/eve", "/bin/sh"};
    CHECK(add_passwd_entry(kPasswd, "eve", u) == kPasswd + "eve:x:1001:1002::/home/eve:/bin/sh\n");
    CHECK(add_passwd_entry("root:x:0:0::/root:/bin/sh", "eve", u) ==
          "root:x:0:0::/root:/bin/sh\neve:x:1001:1002::/home/eve:/bin/sh\n");
    CHECK(add_passwd_entry("", "eve", u) == "eve:x:1001:1002::/home/eve:/bin/sh\n");
    CHECK(add_group_entry(kGroup, "eve", 1002) == kGroup + "eve:x:1002:\n");
    CHECK(add_group_entry("root:x:0:", "eve", 7) == "root:x:0:\neve:x:7:\n");
    CHECK(add_group_entry("", "eve", 7) == "eve:x:7:\n");
}

// ---------------------------------------------------------------- set_password

TEST_CASE("passwd set_password: a new user gets passwd, group, shadow lines and a home") {
    Sandbox sb;
    sb.put_etc("passwd", kPasswd);
    sb.put_etc("group", kGroup);
    sb.put_etc("shadow", kShadow, 0640);
    sb.put_etc("gshadow", "root:*::\n", 0640);
    // Root may chown: shift ids as a user-namespaced VPS would. Otherwise
    // plan the new user onto our own ids, so no chown is needed.
    const bool privileged = ::geteuid() == 0;
    const uint32_t offset = privileged ? 100000 : 0;
    uint32_t want_uid = 1000, want_gid = 1000;
    if (!privileged) {
        want_uid = ::getuid();
        want_gid = ::getgid();
        if (want_uid < 1001 || want_uid > 59999) {
            MESSAGE("skipped: needs root or a uid in [1001, 59999]");
            return;
        }
        sb.put_etc("passwd", kPasswd + "prev:x:" + std::to_string(want_uid - 1) +
                                 ":100::/home/prev:/bin/sh\n");
        sb.put_etc("group", kGroup + "frank:x:" + std::to_string(want_gid) + ":\n");
    }
    const std::string passwd_before = sb.in_root("etc/passwd");
    const std::string group_before = sb.in_root("etc/group");
    guestfs::Root r = sb.open();

    auto s = set_password(r, "frank", kSecret, offset);
    REQUIRE_MESSAGE(s.ok(), why(s));

    const std::string ids = std::to_string(want_uid) + ":" + std::to_string(want_gid);
    CHECK(sb.in_root("etc/passwd") == passwd_before + "frank:x:" + ids + "::/home/frank:/bin/sh\n");
    if (privileged) {
        CHECK(sb.in_root("etc/group") == group_before + "frank:x:1000:\n");
        CHECK(sb.in_root("etc/gshadow") == "root:*::\nfrank:!::\n");
    } else {
        CHECK(sb.in_root("etc/group") == group_before);  // frank's group was there
        CHECK(sb.in_root("etc/gshadow") == "root:*::\n");
    }
    const std::string shadow = sb.in_root("etc/shadow");
    CHECK(shadow.rfind(kShadow, 0) == 0);
    const std::string line = shadow_line(shadow, "frank");
    auto f = sys::split(line, ':');
    REQUIRE(f.size() == 9);
    CHECK(hash_matches(kSecret, f[1]));
    CHECK(std::stol(f[2]) == static_cast<long>(::time(nullptr) / 86400));
    CHECK(std::vector<std::string>(f.begin() + 3, f.end()) ==
          std::vector<std::string>{"0", "99999", "7", "", "", ""});
    CHECK((sb.lstat_in_root("etc/shadow").st_mode & 07777) == 0640);

    struct stat home = sb.lstat_in_root("home/frank");
    CHECK(S_ISDIR(home.st_mode));
    CHECK((home.st_mode & 07777) == 0700);
    CHECK(home.st_uid == want_uid + offset);
    CHECK(home.st_gid == want_gid + offset);
}

TEST_CASE("passwd set_password: an existing user only has its shadow line changed") {
    Sandbox sb;
    const std::string passwd = kPasswd + "gina:x:1000:1000::/home/gina:/bin/bash\n";
    const std::string shadow = kShadow + "gina:$6$old$old:19000:0:99999:7:::\n";
    sb.put_etc("passwd", passwd);
    sb.put_etc("group", kGroup + "gina:x:1000:\n");
    sb.put_etc("shadow", shadow, 0600);
    guestfs::Root r = sb.open();
    struct stat passwd_before = sb.lstat_in_root("etc/passwd");

    auto s = set_password(r, "gina", kSecret, 0);
    REQUIRE_MESSAGE(s.ok(), why(s));
    CHECK(sb.in_root("etc/passwd") == passwd);
    CHECK(sb.lstat_in_root("etc/passwd").st_ino == passwd_before.st_ino);  // not rewritten
    CHECK(sb.in_root("etc/group") == kGroup + "gina:x:1000:\n");
    CHECK(!sys::exists(sb.root + "/home/gina"));
    const std::string after = sb.in_root("etc/shadow");
    CHECK(after.rfind(kShadow, 0) == 0);
    CHECK(hash_matches(kSecret, sys::split(shadow_line(after, "gina"), ':')[1]));
    CHECK((sb.lstat_in_root("etc/shadow").st_mode & 07777) == 0600);
}

TEST_CASE("passwd set_password: a password in /etc/passwd itself is pointed at the shadow") {
    Sandbox sb;
    sb.put_etc("passwd", kPasswd + "hal:$1$old$old:1000:1000::/home/hal:/bin/sh\n");
    sb.put_etc("shadow", kShadow, 0640);
    guestfs::Root r = sb.open();
    REQUIRE(set_password(r, "hal", kSecret, 0).ok());
    CHECK(sb.in_root("etc/passwd") == kPasswd + "hal:x:1000:1000::/home/hal:/bin/sh\n");
    CHECK(!shadow_line(sb.in_root("etc/shadow"), "hal").empty());
}

TEST_CASE("passwd set_password: a missing /etc/shadow is created 0640") {
    Sandbox sb;
    sb.put_etc("passwd", kPasswd + "ivy:x:1000:1000::/home/ivy:/bin/sh\n");
    guestfs::Root r = sb.open();
    REQUIRE(set_password(r, "ivy", kSecret, 0).ok());
    struct stat st = sb.lstat_in_root("etc/shadow");
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(sb.in_root("etc/shadow").rfind("ivy:$", 0) == 0);
}

TEST_CASE("passwd set_password: a /etc/shadow symlink to a host file is replaced, not followed") {
    Sandbox sb;
    sb.put_etc("passwd", kPasswd + "jo:x:1000:1000::/home/jo:/bin/sh\n");
    // Absolute, and relative enough to reach the host file from etc/.
    for (const std::string& target : {sb.sentinel, std::string("../../outside/sentinel")}) {
        INFO("target: " << target);
        (void)sys::unlink(sb.root + "/etc/shadow");
        REQUIRE(::symlink(target.c_str(), (sb.root + "/etc/shadow").c_str()) == 0);
        guestfs::Root r = sb.open();
        auto s = set_password(r, "jo", kSecret, 0);
        REQUIRE_MESSAGE(s.ok(), why(s));
        CHECK(sys::read_file(sb.sentinel).value() == kSentinel);
        struct stat st = sb.lstat_in_root("etc/shadow");
        CHECK(S_ISREG(st.st_mode));
        const std::string shadow = sb.in_root("etc/shadow");
        CHECK(shadow.find("SENTINEL") == std::string::npos);
        CHECK(shadow.rfind("jo:$", 0) == 0);
    }
    auto out = sys::list_dir(sb.outside);
    REQUIRE(out.ok());
    CHECK(*out == std::vector<std::string>{"sentinel"});
}

TEST_CASE("passwd set_password: a planted /home/<user> symlink is neither followed nor chowned") {
    Sandbox sb;
    sb.put_etc("passwd", kPasswd);
    REQUIRE(::symlink(sb.outside.c_str(), (sb.root + "/home/kim").c_str()) == 0);
    struct stat before {};
    REQUIRE(::stat(sb.outside.c_str(), &before) == 0);
    guestfs::Root r = sb.open();
    auto s = set_password(r, "kim", kSecret, 100000);
    REQUIRE_MESSAGE(s.ok(), why(s));
    struct stat after {};
    REQUIRE(::stat(sb.outside.c_str(), &after) == 0);
    CHECK(after.st_uid == before.st_uid);
    CHECK(after.st_gid == before.st_gid);
    CHECK((after.st_mode & 07777) == (before.st_mode & 07777));
    CHECK(S_ISLNK(sb.lstat_in_root("home/kim").st_mode));
}

TEST_CASE("passwd set_password: bad input is refused before any file is touched") {
    Sandbox sb;
    guestfs::Root r = sb.open();
    auto bad_name = set_password(r, "Bad:name", kSecret, 0);
    REQUIRE(!bad_name.ok());
    CHECK(bad_name.error().code() == Errc::bad_value);
    auto bad_pw = set_password(r, "lee", "pw\nroot::0:0:::", 0);
    REQUIRE(!bad_pw.ok());
    CHECK(bad_pw.error().message().find("root::0") == std::string::npos);
    CHECK(!sys::exists(sb.root + "/etc/passwd"));
    CHECK(!sys::exists(sb.root + "/etc/shadow"));
}

TEST_CASE("passwd set_password: errors name the file and the user, never the password") {
    Sandbox sb;
    REQUIRE(::mkdir((sb.root + "/etc/shadow").c_str(), 0755) == 0);
    sb.put_etc("passwd", kPasswd + "mo:x:1000:1000::/home/mo:/bin/sh\n");
    guestfs::Root r = sb.open();
    auto s = set_password(r, "mo", kSecret, 0);
    REQUIRE(!s.ok());
    const std::string msg = s.error().message();
    CHECK(msg.find("/etc/shadow in VPS root " + sb.root) != std::string::npos);
    CHECK(msg.find("'mo'") != std::string::npos);
    CHECK(msg.find(kSecret) == std::string::npos);
}
