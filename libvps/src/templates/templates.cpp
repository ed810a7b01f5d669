// Which Debian releases and package sets a template name stands for, and
// the mmdebstrap command that builds one.
#include "vps/templates.hpp"

#include <algorithm>
#include <array>

#include "vps/sys.hpp"

namespace vps::templates {
namespace {

struct Release {
    std::string_view name;
    std::string_view version;
    std::string_view codename;
};

constexpr std::array<Release, 3> kReleases{{
    {"debian-11", "11", "bullseye"},
    {"debian-12", "12", "bookworm"},
    {"debian-13", "13", "trixie"},
}};

// On top of minbase: an init that boots inside a VPS and the tools to see
// its network. No ifupdown: vzd configures the VPS's interfaces from
// outside.
constexpr std::array<std::string_view, 8> kMinimal{
    "systemd-sysv", "dbus",    "iproute2",        "iputils-ping",
    "procps",       "netbase", "ca-certificates", "less",
};

// What an admin expects to log in to. No rsyslog: journald keeps the logs.
constexpr std::array<std::string_view, 6> kStandard{
    "openssh-server", "bash-completion", "cron", "vim-tiny", "logrotate", "curl",
};

std::string known_names() {
    std::string out;
    for (const auto& r : kReleases) out += (out.empty() ? "" : ", ") + std::string(r.name);
    return out;
}

// A word for sh -c: single quotes, with each ' spelled '\''.
std::string shell_quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : std::string(sep)) + i;
    return out;
}

}  // namespace

Result<BuildSpec> build_spec(std::string_view name, std::string_view variant) {
    auto release = std::find_if(kReleases.begin(), kReleases.end(),
                                [&](const Release& r) { return r.name == name; });
    if (release == kReleases.end())
        return Error::make(Errc::bad_value, "unknown OS template '" + std::string(name) +
                                                "' (known: " + known_names() + ")");
    if (variant.empty()) variant = "minimal";
    if (variant != "minimal" && variant != "standard")
        return Error::make(Errc::bad_value, "unknown template variant '" + std::string(variant) +
                                                "' (minimal|standard)");
    BuildSpec spec{std::string(name),
                   "debian",
                   std::string(release->version),
                   std::string(release->codename),
                   std::string(variant),
                   {}};
    spec.packages.assign(kMinimal.begin(), kMinimal.end());
    if (variant == "standard")
        spec.packages.insert(spec.packages.end(), kStandard.begin(), kStandard.end());
    return spec;
}

std::vector<std::string> mmdebstrap_argv(const BuildSpec& spec, const std::string& sources_file,
                                         const std::string& target_tarball,
                                         const std::string& packages_list_out) {
    // Hooks run under sh with the new root as $1. dpkg-query runs inside it
    // so the list is what the template's own dpkg database says.
    std::string list_hook =
        "--customize-hook=chroot \"$1\" dpkg-query -W -f='${Package} ${Version}\\n' > " +
        shell_quote(packages_list_out);
    // An empty machine-id makes systemd generate one on a VPS's first boot;
    // a filled one would be shared by every VPS made from the template.
    std::string machine_id_hook = "--customize-hook=: > \"$1/etc/machine-id\"";
    // Host keys made at install time would be shared by every VPS made from
    // the template: remove them, and let each VPS make its own before its
    // first sshd start (the drop-in replaces the unit's ExecStartPre list).
    std::string ssh_keys_hook =
        "--customize-hook=if [ -d \"$1/etc/ssh\" ]; then rm -f \"$1\"/etc/ssh/ssh_host_*; "
        "mkdir -p \"$1/etc/systemd/system/ssh.service.d\"; "
        "printf '[Service]\\nExecStartPre=\\nExecStartPre=/usr/bin/ssh-keygen -A\\nExecStartPre=/usr/sbin/sshd -t\\n' "
        "> \"$1/etc/systemd/system/ssh.service.d/vz-host-keys.conf\"; fi";
    return {"mmdebstrap",    "--variant=minbase", "--include=" + join(spec.packages, ","),
            list_hook,       machine_id_hook,     ssh_keys_hook,
            spec.codename,   target_tarball,      sources_file};
}

std::vector<std::string> parse_package_list(std::string_view text) {
    std::vector<std::string> out;
    for (const auto& line : sys::split(text, '\n')) {
        std::string entry = sys::trim(line);
        if (!entry.empty()) out.push_back(std::move(entry));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace vps::templates
