// OS templates: what goes into a Debian template built with mmdebstrap,
// where its packages come from, and the metadata kept beside each tarball
// in the template cache:
//
//   <cache>/debian-12.tar.zst   the root file system
//   <cache>/debian-12.yaml      what it is (dump_info / parse_info)
//
// Everything here but host_sources() and list() is pure, so a build can be
// planned and checked without root, network or mmdebstrap.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "vps/error.hpp"

namespace vps::templates {

// What to bootstrap for one template name.
struct BuildSpec {
    std::string name;                   // "debian-12": the cache file's base name
    std::string distribution;           // "debian"
    std::string version;                // "12"
    std::string codename;               // "bookworm": the suite mmdebstrap installs
    std::string variant;                // "minimal" or "standard"
    std::vector<std::string> packages;  // on top of mmdebstrap's minbase
};

// name: debian-11, debian-12 or debian-13; variant: minimal (also when
// empty) or standard. Anything else is Errc::bad_value naming the choices.
Result<BuildSpec> build_spec(std::string_view name, std::string_view variant);

// The host's apt sources (deb822 stanzas or one-line style entries) for
// the target release: every suite that is host_codename or
// host_codename-<something> becomes target_codename(-<something>). Source
// package entries and stanzas with "Enabled: no" are dropped; everything
// else, comments included, is kept as written.
std::string rewrite_sources(std::string_view text, std::string_view host_codename,
                            std::string_view target_codename);

// One-line style entries ("deb [signed-by=/k.gpg] URI SUITE COMPONENT...")
// as deb822 stanzas, one per entry, options turned into their fields
// (signed-by -> Signed-By, arch -> Architectures, ...). Comments go.
std::string to_deb822(std::string_view one_line_text);

// The host's configured apt sources (<root>/etc/apt/sources.list and
// sources.list.d/*.list and *.sources), as one deb822 text rewritten from
// the host's release (VERSION_CODENAME in <root>/etc/os-release) to
// target_codename. This is how a template gets its packages from the
// mirrors the host already uses. Fails when no source names the target
// suite itself (a host whose sources say "stable" cannot be retargeted).
// root is "" outside tests.
Result<std::string> host_sources(std::string_view target_codename, const std::string& root = "");

// The mmdebstrap command building spec into target_tarball (a .tar.zst:
// mmdebstrap picks the compression from the name) from the deb822 file
// sources_file (name it *.sources). The installed packages are written to
// packages_list_out as "name version" lines, and /etc/machine-id is left
// empty so that every VPS made from the template gets its own.
std::vector<std::string> mmdebstrap_argv(const BuildSpec& spec, const std::string& sources_file,
                                         const std::string& target_tarball,
                                         const std::string& packages_list_out);

// What packages_list_out holds, as sorted "name version" entries.
std::vector<std::string> parse_package_list(std::string_view text);

// A cached template. name, path and size come from the tarball; the rest
// from <cache>/<name>.yaml, and stay empty for a template without one
// (such as busybox).
struct Info {
    std::string name;
    std::string path;
    uint64_t size = 0;
    std::string distribution, version, codename, variant, arch;
    std::string build_date;             // ISO 8601, UTC: 2025-05-20T10:00:00Z
    std::vector<std::string> packages;  // "name version"
    std::string init;                   // "systemd", "busybox", ...
};

// "2025-05-20T10:00:00Z".
std::string utc_timestamp(std::time_t t);

// <name>.yaml: every field of Info but path and size.
std::string dump_info(const Info& info);
// Keys other than Info's are ignored (builders record more); missing ones
// stay empty; malformed YAML is Errc::bad_config naming origin and line.
Result<Info> parse_info(std::string_view yaml, std::string_view origin);

// Every template tarball (.tar.gz, .tar.xz, .tar.zst, .tar) in cache_dir,
// sorted by name; hidden and *.partial files are builds in progress and
// skipped. A missing cache_dir holds no templates.
Result<std::vector<Info>> list(const std::string& cache_dir);

}  // namespace vps::templates
