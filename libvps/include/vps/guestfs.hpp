// Files inside a VPS's root, written by vzd from the host.
//
// The VPS's root user owns everything beneath its root directory and may
// plant symlinks anywhere (/etc -> /, /etc/hosts -> /proc/self/root/etc/
// passwd, /etc/resolv.conf -> ../../../etc/shadow). vzd is root on the host,
// so no path below the VPS root may be resolved by the host's rules: every
// lookup goes through openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from
// an fd of the root, where symlinks resolve as if the root were "/", ".."
// stops at the root and /proc magic links are refused. A kernel without
// openat2 (before Linux 5.6) is refused; there is no fallback.
//
// Writes never open an existing file: they create a fresh temporary beside
// it and rename it over the final name, so a symlink (or FIFO, or device)
// at the final name is replaced, never followed or opened.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vps/error.hpp"
#include "vps/fd.hpp"

namespace vps::guestfs {

// An open VPS root: an O_PATH directory fd everything is resolved against,
// and its host path, kept only to name files in errors.
class Root {
public:
    Root(Fd fd, std::string host_path) : fd_(std::move(fd)), host_path_(std::move(host_path)) {}

    FdRef fd() const { return fd_.ref(); }
    const std::string& host_path() const { return host_path_; }
    // "/etc/hosts in VPS root /var/lib/vz/private/101"
    std::string describe(std::string_view rel) const;

private:
    Fd fd_;
    std::string host_path_;
};

// Open the VPS root (a host path such as /var/lib/vz/private/101). Fails
// when the kernel has no openat2, so callers learn it before any file.
Result<Root> open_root(const std::string& host_path);

// Paths below the root (rel) are relative, such as "etc/hosts"; a leading
// "/" is ignored. Empty, "." and ".." components are refused.

// Where rel leads inside the VPS once every symlink is followed within the
// root ("/usr/lib/systemd/systemd" for "sbin/init"), or nullopt when it
// does not exist.
Result<std::optional<std::string>> resolve(const Root& root, std::string_view rel);

// The contents of a file, or nullopt when it (or a directory on the way)
// does not exist. Symlinks are followed inside the root. Anything but a
// regular file (FIFO, device, socket, directory) is refused without
// reading, and so is a file of more than max bytes.
Result<std::optional<std::string>> read_file(const Root& root, std::string_view rel, size_t max);

// Atomically replace rel with content: a temporary ".vzd-XXXXXX" in the
// parent directory is written, fsynced, chowned and chmoded, then renamed
// over the final name. A regular file there keeps its uid, gid and mode
// (less set-id bits); anything else (nothing, a symlink, a FIFO) is
// replaced by a file owned like the parent directory, with mode. A missing
// parent directory is created (0755, owned like its own parent) when its
// parent exists; deeper missing paths are an error.
Result<void> write_file(const Root& root, std::string_view rel, std::string_view content,
                        mode_t mode = 0644);

// ---- Pure text transforms (no syscalls) ----

// The comment that marks the /etc/hosts lines vzd owns; all others are the
// admin's and are kept, unchanged and in order.
inline constexpr std::string_view kHostsMarker = "# vzd";

// /etc/hosts with vzd's lines replaced. Adds "127.0.0.1 localhost" and
// "::1 localhost ip6-localhost ip6-loopback" when no line of that family
// names localhost; then one "ADDR  fqdn short  # vzd" line per address, or
// "127.0.1.1  fqdn short  # vzd" when there are none (the Debian
// convention), where vzd's old lines were (else after the IPv4 localhost
// line). An empty hostname only removes vzd's lines. Inputs are assumed
// valid (see check_identity); the result is idempotent.
std::string hosts_with(std::string_view old, std::string_view hostname,
                       const std::vector<std::string>& addresses);

// /etc/resolv.conf with every "nameserver" line replaced by the given ones
// (in order, where the first old one was, else at the end), and every
// "search"/"domain" line by one "search a b c" (where the first old one
// was, else before the first nameserver). An empty list leaves its lines
// alone; comments, options and anything else are kept.
std::string resolv_with(std::string_view old, const std::vector<std::string>& nameservers,
                        const std::vector<std::string>& searchdomains);

// ---- The VPS's network identity ----

struct Identity {
    std::string hostname;                    // "" = leave the hostname alone
    std::vector<std::string> addresses;      // routed addresses, textual, no prefix
    std::vector<std::string> nameservers;    // empty = leave resolv.conf's nameservers
    std::vector<std::string> searchdomains;  // empty = leave resolv.conf's search
};

// Errc::bad_value unless the hostname and search domains are DNS names and
// the addresses and nameservers are IPv4/IPv6 literals: nothing may add a
// line to the files it ends up in.
Result<void> check_identity(const Identity& id);

// Write etc/hostname (the full name, as Debian does) and etc/hosts when
// the hostname or the addresses are given, and etc/resolv.conf when
// nameservers or search domains are. Each file is read (at most 1 MiB),
// transformed, and written only when its content changes.
Result<void> apply_identity(const Root& root, const Identity& id);

}  // namespace vps::guestfs
