// Users and passwords inside a VPS, written from the host.
//
// The files are read and replaced only through guestfs::read_file and
// write_file; the one thing those cannot do, making a home directory, is
// done here the same way: one openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) to the parent, then *at calls on single names
// without following a symlink.
#include "vps/passwd.hpp"

#include <crypt.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <set>
#include <vector>

#include "vps/sys.hpp"

namespace vps::passwd {
namespace {

constexpr size_t kMaxEtcFile = 4u << 20;
// Debian's FIRST_UID..LAST_UID: below are system users, above are
// ranges for containers and nobody (65534).
constexpr uint32_t kFirstId = 1000;
constexpr uint32_t kLastId = 59999;

// ---- names and passwords ----

bool is_valid_user(std::string_view s) {
    auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (s.empty() || s.size() > 32 || (!lower(s[0]) && s[0] != '_')) return false;
    for (char c : s.substr(1))
        if (!lower(c) && !digit(c) && c != '_' && c != '-') return false;
    return true;
}

// A rejected name is echoed in the error; control characters in it could
// forge lines in a log.
std::string printable(std::string_view s) {
    constexpr size_t kMax = 64;
    std::string out;
    for (char c : s.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (s.size() > kMax) out += "...";
    return out;
}

Result<void> check_user(std::string_view user) {
    if (is_valid_user(user)) return ok();
    return Error::make(Errc::bad_value,
                       "user name '" + printable(user) +
                           "' is not valid: 1 to 32 of a-z, 0-9, '_' and '-', not starting "
                           "with a digit or '-'");
}

// Never quotes the password: the error may be logged or shown to others.
Result<void> check_password(std::string_view user, std::string_view password) {
    const std::string whose = "the password for user '" + printable(user) + "'";
    if (password.empty()) return Error::make(Errc::bad_value, whose + " is empty");
    if (password.find_first_of(std::string_view("\n\0", 2)) != std::string_view::npos)
        return Error::make(Errc::bad_value, whose + " holds a newline or NUL character");
    return ok();
}

// ---- lines and fields ----

// Lines without their '\n'; a final line without one still counts.
std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        out.emplace_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, char sep, bool trailing) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += sep;
        out += parts[i];
    }
    if (trailing && !parts.empty()) out += sep;
    return out;
}

std::vector<std::string> fields(std::string_view line) { return sys::split(line, ':'); }

std::optional<uint32_t> parse_id(std::string_view s) {
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// The first line whose name field is name, split into fields.
std::optional<std::vector<std::string>> entry(std::string_view text, std::string_view name) {
    for (const auto& line : split_lines(text)) {
        auto f = fields(line);
        if (!f.empty() && f[0] == name) return f;
    }
    return std::nullopt;
}

// The numeric third field (uid or gid) of every line that has one.
std::set<uint32_t> ids_in(std::string_view text) {
    std::set<uint32_t> out;
    for (const auto& line : split_lines(text)) {
        auto f = fields(line);
        if (f.size() < 3) continue;
        if (auto id = parse_id(f[2])) out.insert(*id);
    }
    return out;
}

std::string with_line(std::string_view text, const std::string& line) {
    std::string out(text);
    if (!out.empty() && out.back() != '\n') out += '\n';
    return out + line + '\n';
}

// An existing user's password field set to "x", so that the shadow hash is
// the one checked (as passwd(1) does): a hash or "" there would win.
std::string passwd_pointing_at_shadow(std::string_view passwd, std::string_view user) {
    auto lines = split_lines(passwd);
    for (auto& line : lines) {
        auto f = fields(line);
        if (f.size() < 2 || f[0] != user || f[1] == "x") continue;
        f[1] = "x";
        line = join(f, ':', false);
    }
    return join(lines, '\n', true);
}

}  // namespace

// ---- parsing and hashing ----

Result<std::pair<std::string, std::string>> parse_userpasswd(std::string_view arg) {
    size_t colon = arg.find(':');
    // Without a ':' the whole argument may be a password: not echoed.
    if (colon == std::string_view::npos)
        return Error::make(Errc::bad_value, "--userpasswd wants user:password; no ':' given");
    std::string_view user = arg.substr(0, colon), password = arg.substr(colon + 1);
    if (auto c = check_user(user); !c) return std::move(c).error();
    if (auto c = check_password(user, password); !c) return std::move(c).error();
    return std::pair(std::string(user), std::string(password));
}

namespace {

// A fresh random salt: yescrypt, the default of current Debian and
// Fedora, else sha512crypt, which every libxcrypt and glibc can check.
Result<std::string> new_setting() {
    int err = 0;
    for (const char* prefix : {"$y$", "$6$"}) {
        char* s = ::crypt_gensalt_ra(prefix, 0, nullptr, 0);
        if (s) {
            std::string out(s);
            std::free(s);
            return out;
        }
        err = errno;
    }
    return Error::sys("crypt_gensalt", "a yescrypt or sha512crypt salt", err);
}

// crypt_ra's scratch area, which holds the password's hash state: wiped
// before it is freed.
struct CryptScratch {
    void* data = nullptr;
    int size = 0;
    CryptScratch() = default;
    CryptScratch(const CryptScratch&) = delete;
    CryptScratch& operator=(const CryptScratch&) = delete;
    ~CryptScratch() {
        if (!data) return;
        ::explicit_bzero(data, static_cast<size_t>(size));
        std::free(data);
    }
};

}  // namespace

Result<std::string> hash_password(std::string_view password) {
    if (password.empty() || password.find('\0') != std::string_view::npos)
        return Error::make(Errc::bad_value, "the password is empty or holds a NUL character");
    auto setting = new_setting();
    if (!setting) return std::move(setting).error();

    std::string phrase(password);  // crypt wants it NUL-terminated
    ScopeExit wipe([&] { ::explicit_bzero(phrase.data(), phrase.size()); });
    CryptScratch scratch;
    errno = 0;
    const char* h = ::crypt_ra(phrase.c_str(), setting->c_str(), &scratch.data, &scratch.size);
    // A failed crypt may also hand back a "*..." token instead of null.
    if (!h || h[0] != '$')
        return Error::sys("crypt", "the password with salt " + setting->substr(0, 3) + "...",
                          errno ? errno : EINVAL);
    return std::string(h);
}

// ---- text transforms ----

std::string set_shadow_entry(std::string_view shadow, std::string_view user, std::string_view hash,
                             long days_since_epoch) {
    const std::string days = std::to_string(days_since_epoch);
    auto lines = split_lines(shadow);
    bool found = false;
    for (auto& line : lines) {
        auto f = fields(line);
        if (f.empty() || f[0] != user) continue;
        found = true;
        if (f.size() < 3) f.resize(3);
        f[1] = hash;
        f[2] = days;
        line = join(f, ':', false);
    }
    if (!found)
        lines.push_back(std::string(user) + ":" + std::string(hash) + ":" + days + ":0:99999:7:::");
    return join(lines, '\n', true);
}

std::optional<uint32_t> find_uid(std::string_view passwd, std::string_view user) {
    auto f = entry(passwd, user);
    if (!f || f->size() < 3) return std::nullopt;
    return parse_id((*f)[2]);
}

namespace {

uint32_t primary_gid(std::string_view group, std::string_view user, uint32_t uid) {
    if (auto own = entry(group, user); own && own->size() >= 3)
        if (auto gid = parse_id((*own)[2])) return *gid;
    const auto gids = ids_in(group);
    if (!gids.count(uid)) return uid;
    uint32_t gid = kFirstId;
    while (gids.count(gid)) ++gid;
    return gid;
}

}  // namespace

NewUser plan_user(std::string_view passwd, std::string_view group, std::string_view user,
                  bool has_bash) {
    const auto uids = ids_in(passwd);
    uint32_t uid = kFirstId;
    for (uint32_t id : uids)
        if (id >= kFirstId && id <= kLastId && id >= uid) uid = id + 1;
    // Past kLastId the range is shared; skip whatever is taken there.
    while (uids.count(uid)) ++uid;

    return NewUser{uid, primary_gid(group, user, uid), "/home/" + std::string(user),
                   has_bash ? "/bin/bash" : "/bin/sh"};
}

std::string add_passwd_entry(std::string_view passwd, std::string_view user, const NewUser& u) {
    return with_line(passwd, std::string(user) + ":x:" + std::to_string(u.uid) + ":" +
                                 std::to_string(u.gid) + "::" + u.home + ":" + u.shell);
}

std::string add_group_entry(std::string_view group, std::string_view user, uint32_t gid) {
    return with_line(group, std::string(user) + ":x:" + std::to_string(gid) + ":");
}

// ---- the I/O ----

namespace {

// openat2 scoped to the VPS root. EAGAIN means a rename raced with a ".."
// lookup; the kernel asks us to try again.
Result<Fd> open_in_root(const guestfs::Root& root, const std::string& rel, uint64_t flags) {
    open_how how{};
    how.flags = flags | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
        long fd = ::syscall(SYS_openat2, root.fd().get(), rel.c_str(), &how, sizeof how);
        if (fd >= 0) return Fd(static_cast<int>(fd));
        int err = errno;
        if ((err == EAGAIN || err == EINTR) && attempt < 32) continue;
        return Error::sys("open", root.describe(rel), err);
    }
}

bool vps_has_bash(const guestfs::Root& root) {
    auto fd = open_in_root(root, "bin/bash", O_PATH);
    struct stat st {};
    return fd && ::fstat(fd->get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

// An id as stored on disk; nullopt when the shift would overflow or hit
// the reserved (uid_t)-1.
std::optional<uint32_t> on_disk(uint32_t id, uint32_t offset) {
    constexpr uint32_t kMax = std::numeric_limits<uint32_t>::max();
    if (id >= kMax - offset) return std::nullopt;
    return id + offset;
}

// The VPS's /home, made (0755, owned like the VPS root) when a minimal
// template has none. A dangling /home symlink fails at the O_NOFOLLOW open.
Result<Fd> open_home_parent(const guestfs::Root& root) {
    auto home = open_in_root(root, "home", O_RDONLY | O_DIRECTORY);
    if (home || home.error().err() != ENOENT) return home;
    auto top = open_in_root(root, ".", O_RDONLY | O_DIRECTORY);
    if (!top) return std::move(top).error();
    struct stat tst {};
    if (::fstat(top->get(), &tst) < 0) return Error::sys("stat", root.describe(""));
    bool made = ::mkdirat(top->get(), "home", 0755) == 0;
    if (!made && errno != EEXIST) return Error::sys("mkdir", root.describe("home"));
    auto dir = sys::openat(top->ref(), "home", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dir) return Error::sys("open", root.describe("home"), dir.error().err());
    if (made &&
        (::fchown(dir->get(), tst.st_uid, tst.st_gid) < 0 || ::fchmod(dir->get(), 0755) < 0))
        return Error::sys("chown/chmod", root.describe("home"));
    return dir;
}

// chown only what changes, so that an unprivileged caller (tests) can run
// this on directories it owns.
int chown_if_needed(int fd, const struct stat& st, uid_t uid, gid_t gid) {
    if (st.st_uid == uid && st.st_gid == gid) return 0;
    return ::fchown(fd, st.st_uid == uid ? static_cast<uid_t>(-1) : uid,
                    st.st_gid == gid ? static_cast<gid_t>(-1) : gid);
}

// /home/<user>, empty, 0700, owned by the new user. One already there is
// the VPS's: it is left as it is, never chowned.
Result<void> make_home(const guestfs::Root& root, std::string_view user, const NewUser& u,
                       uint32_t host_id_offset) {
    const std::string name(user), what = root.describe(u.home);
    auto uid = on_disk(u.uid, host_id_offset), gid = on_disk(u.gid, host_id_offset);
    if (!uid || !gid)
        return Error(Errc::bad_value, "chown", what, 0,
                     "uid " + std::to_string(u.uid) + " or gid " + std::to_string(u.gid) +
                         " plus the VPS's id offset " + std::to_string(host_id_offset) +
                         " is out of range");
    auto parent = open_home_parent(root);
    if (!parent) return std::move(parent).error();
    if (::mkdirat(parent->get(), name.c_str(), 0700) < 0)
        return errno == EEXIST ? ok() : Result<void>(Error::sys("mkdir", what));
    auto dir = sys::openat(parent->ref(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dir) return Error::sys("open", what, dir.error().err());
    struct stat pst {};
    struct stat st {};
    if (::fstat(parent->get(), &pst) < 0 || ::fstat(dir->get(), &st) < 0)
        return Error::sys("stat", what);
    // A running VPS could swap another directory or a mount in between
    // mkdirat and open: only the one we made (ours, same filesystem) is
    // handed to the user.
    if (st.st_dev != pst.st_dev || st.st_uid != ::geteuid())
        return Error(Errc::busy, "chown", what, 0,
                     "was replaced while being created; not changing its owner");
    if (chown_if_needed(dir->get(), st, *uid, *gid) < 0) return Error::sys("chown", what);
    // mkdirat's mode went through the umask; 0700 only loses bits, but be exact.
    if (::fchmod(dir->get(), 0700) < 0) return Error::sys("chmod", what);
    return ok();
}

struct EtcFile {
    const char* rel;
    std::optional<std::string> text;  // nullopt: missing
    std::string next;                 // what to write; starts as text

    std::string_view current() const { return text ? std::string_view(*text) : ""; }
    bool changed() const { return !text || *text != next; }
};

Result<EtcFile> load(const guestfs::Root& root, const char* rel) {
    auto text = guestfs::read_file(root, rel, kMaxEtcFile);
    if (!text) return std::move(text).error();
    EtcFile f{rel, std::move(*text), {}};
    f.next = std::string(f.current());
    return f;
}

Result<void> store(const guestfs::Root& root, const EtcFile& f, mode_t mode_if_new) {
    if (!f.changed()) return ok();
    return guestfs::write_file(root, f.rel, f.next, mode_if_new);
}

// The new user's group and gshadow lines and home directory; the passwd
// line is left to the caller, to be written last, so that a failure before
// it leaves no half-made user behind.
Result<void> create_user(const guestfs::Root& root, std::string_view user, EtcFile& passwd,
                         EtcFile& group, uint32_t host_id_offset) {
    NewUser u = plan_user(passwd.current(), group.current(), user, vps_has_bash(root));
    if (!entry(group.current(), user)) {
        group.next = add_group_entry(group.current(), user, u.gid);
        if (auto w = store(root, group, 0644); !w) return w;
        // gshadow is made only by shadow-utils; where there is one, grpck
        // wants a line for every group.
        auto gshadow = load(root, "etc/gshadow");
        if (!gshadow) return std::move(gshadow).error();
        if (gshadow->text && !entry(gshadow->current(), user)) {
            gshadow->next = with_line(gshadow->current(), std::string(user) + ":!::");
            if (auto w = store(root, *gshadow, 0640); !w) return w;
        }
    }
    if (auto h = make_home(root, user, u, host_id_offset); !h) return h;
    passwd.next = add_passwd_entry(passwd.current(), user, u);
    return ok();
}

Result<void> set_password_in(const guestfs::Root& root, std::string_view user,
                             std::string_view password, uint32_t host_id_offset) {
    auto passwd = load(root, "etc/passwd");
    if (!passwd) return std::move(passwd).error();
    auto group = load(root, "etc/group");
    if (!group) return std::move(group).error();
    auto shadow = load(root, "etc/shadow");
    if (!shadow) return std::move(shadow).error();

    auto hash = hash_password(password);
    if (!hash) return std::move(hash).error();

    if (entry(passwd->current(), user)) {
        passwd->next = passwd_pointing_at_shadow(passwd->current(), user);
    } else if (auto c = create_user(root, user, *passwd, *group, host_id_offset); !c) {
        return c;
    }
    const long days = static_cast<long>(::time(nullptr) / 86400);
    shadow->next = set_shadow_entry(shadow->current(), user, *hash, days);
    if (auto w = store(root, *shadow, 0640); !w) return w;
    return store(root, *passwd, 0644);
}

}  // namespace

Result<void> set_password(const guestfs::Root& root, std::string_view user,
                          std::string_view password, uint32_t host_id_offset) {
    if (auto c = check_user(user); !c) return c;
    if (auto c = check_password(user, password); !c) return c;
    auto r = set_password_in(root, user, password, host_id_offset);
    if (!r)
        return std::move(r).error().with_context("set the password of user '" + std::string(user) +
                                                 "'");
    return ok();
}

}  // namespace vps::passwd
