#!/bin/bash
# The Debian package (scripts/package) on a systemd host, as a user gets it:
#   - dpkg -i installs it with its declared dependencies satisfied, enables
#     vzd.service and vz.service and starts them; the socket answers;
#   - the installed vzctl, man pages and bash completion work;
#   - a VPS made with the installed tools survives `systemctl restart vzd`;
#   - dpkg -r stops the VPS cleanly and vzd, and keeps the VPS's files;
#   - dpkg -P keeps a storage root that still holds a VPS, and removes one
#     that holds none.
# Runs only in the guest booted with systemd as PID 1 (tests/guest/run --systemd).
VZT_NO_ISOLATE=1 # dpkg and systemctl act on the machine itself
. "$(dirname "$0")/lib.sh"

need_guest "it installs a package"
[ -d /run/systemd/system ] || skip "systemd is not PID 1 here (tests/guest/run --systemd)"
need_root
deb=$(ls "$VZT_BUILD"/vz_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || skip "no package in $VZT_BUILD (scripts/package builds it)"
[ -e /usr/sbin/vzd ] && skip "vz is installed on this machine already"

# The storage root the package uses, /var/lib/vz, on the guest's ext4 disk.
store=$(mktemp -d "${VZ_GUEST_STORAGE:-/var/tmp}/vzt.XXXXXX")
mkdir -p /var/lib/vz
mount --bind "$store" /var/lib/vz || fatal "cannot bind $store on /var/lib/vz"
at_exit sh -c "dpkg -P vz >/dev/null 2>&1; umount /var/lib/vz; rm -rf '$store'"
vzctl=/usr/sbin/vzctl
# A policy-rc.d that forbids starting services (as container images ship)
# would keep the package from starting vzd; a real host has none.
if [ -e /usr/sbin/policy-rc.d ]; then
    mv /usr/sbin/policy-rc.d "$VZT_TMP/policy-rc.d"
    at_exit mv "$VZT_TMP/policy-rc.d" /usr/sbin/policy-rc.d
fi

# --- install -------------------------------------------------------------------------------------
assert_ok dpkg -i "$deb"
assert_eq active "$(systemctl is-active vzd.service)" "vzd.service after dpkg -i"
assert_eq enabled "$(systemctl is-enabled vzd.service)" "vzd.service enabled"
assert_eq enabled "$(systemctl is-enabled vz.service)" "vz.service enabled"
assert_eq active "$(systemctl is-active vz.service)" "vz.service after dpkg -i"
assert_ok "$vzctl" list -a
assert_eq "" "$(MANWIDTH=80 man --warnings vzctl 2>&1 >/dev/null)" "warnings of man vzctl"
assert_eq "" "$(MANWIDTH=80 man --warnings 5 vz.yaml 2>&1 >/dev/null)" "warnings of man vz.yaml"
assert_contains "$(MANWIDTH=80 man vzd 2>/dev/null)" "BOOT AND SHUTDOWN" "man vzd"
# Compressed, as Debian policy wants them.
assert_contains "$(dpkg -L vz)" "/usr/share/man/man8/vzctl.8.gz" "files of the package"
assert_exists /usr/share/bash-completion/completions/vzctl "bash completion"

# --- a VPS with the installed tools --------------------------------------------------------------
assert_ok /usr/share/vz/templates/busybox/build /var/lib/vz/template/cache
assert_ok "$vzctl" create 101 --ostemplate busybox --onboot yes
echo "::shutdown:/bin/touch /shutdown-ran" >>/var/lib/vz/private/101/etc/inittab
assert_ok "$vzctl" start 101
assert_contains "$("$vzctl" status 101)" running "VPS 101 after start"
init=$(sed -n 's/.*"init_pid": *\([0-9][0-9]*\).*/\1/p' /run/vzd/101.state)
assert_ok systemctl restart vzd.service
assert_contains "$("$vzctl" status 101)" running "VPS 101 after systemctl restart vzd"
assert_eq "$init" "$(sed -n 's/.*"init_pid": *\([0-9][0-9]*\).*/\1/p' /run/vzd/101.state)" "init of VPS 101 after the restart"

# --- remove: the VPS stops cleanly, its files stay ----------------------------------------------
assert_ok dpkg -r vz
[ -n "$init" ] && kill -0 "$init" 2>/dev/null && fail "VPS 101's init still runs after dpkg -r"
assert_exists /var/lib/vz/private/101/shutdown-ran "VPS 101 ran its shutdown actions at dpkg -r"
assert_missing /usr/sbin/vzd "vzd after dpkg -r"
assert_eq inactive "$(systemctl is-active vzd.service)" "vzd.service after dpkg -r"
assert_exists /var/lib/vz/conf/101.yaml "VPS 101's config after dpkg -r"
assert_exists /var/lib/vz/private/101/etc/inittab "VPS 101's files after dpkg -r"
assert_ne active "$(systemctl is-active vz.scope)" "the scope of the VPS cgroups (and its keeper) after dpkg -r"

# --- purge keeps a root with a VPS, removes an empty one -----------------------------------------
assert_ok dpkg -P vz
assert_exists /var/lib/vz/conf/101.yaml "VPS 101's config after dpkg -P"
rm -rf /var/lib/vz/conf/101.yaml
assert_ok dpkg -i "$deb"
assert_eq active "$(systemctl is-active vzd.service)" "vzd.service after installing again"
assert_ok dpkg -P vz
assert_eq "" "$(ls -A /var/lib/vz 2>/dev/null)" "the storage root after dpkg -P with no VPS left"

vzt_exit
