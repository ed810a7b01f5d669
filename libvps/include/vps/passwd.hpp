// `vzctl set <id> --userpasswd user:password`: create a user inside a VPS,
// or set its password, by rewriting the VPS's /etc/passwd, /etc/group and
// /etc/shadow from the host.
//
// The VPS's root may have planted symlinks anywhere, so every file is read
// and replaced through the guestfs primitives, never by host paths; and no
// chpasswd or usermod runs, so the password never appears in a process's
// arguments. It never appears in an Error either: errors name the user.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "vps/error.hpp"
#include "vps/guestfs.hpp"

namespace vps::passwd {

// "user:password", split at the first ':' (the password may hold more).
// The user must match ^[a-z_][a-z0-9_-]{0,31}$; the password must be
// non-empty and hold no newline or NUL, which would end its shadow line.
// Errc::bad_value otherwise.
Result<std::pair<std::string, std::string>> parse_userpasswd(std::string_view arg);

// A crypt(3) hash of password with a fresh random salt: yescrypt ("$y$"),
// or sha512crypt ("$6$") where libxcrypt lacks yescrypt.
Result<std::string> hash_password(std::string_view password);

// ---- Pure text transforms (no syscalls) ----
// Each takes a file's current text ("" when it is missing), keeps every
// line it does not own byte for byte and in order, and returns text that
// ends in a newline.

// /etc/shadow with the user's hash (field 2) and last-change day (field 3)
// replaced, or "user:hash:days:0:99999:7:::" appended when the user has no
// line.
std::string set_shadow_entry(std::string_view shadow, std::string_view user, std::string_view hash,
                             long days_since_epoch);

// What a new user gets: ids as seen inside the VPS, home and login shell.
struct NewUser {
    uint32_t uid;
    uint32_t gid;
    std::string home;
    std::string shell;
};

// The uid of the user's /etc/passwd line; nullopt when there is none or
// its uid field is not a number.
std::optional<uint32_t> find_uid(std::string_view passwd, std::string_view user);

// Debian's adduser rules for a regular user: uid 1000, or one above the
// highest uid in [1000, 59999] (system ids such as nobody's 65534 do not
// count). The primary group is an existing group of the user's own name;
// else gid = uid when that gid is free, else the lowest free gid from
// 1000. Home /home/<user>; shell /bin/bash when the VPS has it, /bin/sh
// otherwise.
NewUser plan_user(std::string_view passwd, std::string_view group, std::string_view user,
                  bool has_bash);

// passwd + "user:x:uid:gid::home:shell".
std::string add_passwd_entry(std::string_view passwd, std::string_view user, const NewUser& u);
// group + "user:x:gid:".
std::string add_group_entry(std::string_view group, std::string_view user, uint32_t gid);

// ---- The I/O ----

// Set the user's password in the VPS at root, creating the user first when
// /etc/passwd lacks it: a passwd line (and a group line, unless a group of
// that name exists), a "user:!::" /etc/gshadow line when that file exists,
// and an empty home directory, 0700, owned by the new user. An existing
// user's passwd line only has its password field pointed at the shadow
// ("x"); an existing home directory is left alone.
//
// host_id_offset is added to an id seen inside the VPS to get the id
// stored on disk: 0 for privileged VPSes and for idmapped mounts, the id
// base for VPSes whose files carry shifted ids.
//
// Existing files keep their owner and mode; a missing /etc/shadow is
// created 0640. The user's name and password are checked as
// parse_userpasswd does.
Result<void> set_password(const guestfs::Root& root, std::string_view user,
                          std::string_view password, uint32_t host_id_offset);

}  // namespace vps::passwd
