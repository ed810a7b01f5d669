#!/bin/bash
# Debian templates as an admin builds them: `vzctl template build` runs
# mmdebstrap from the host's own apt sources, shows its progress, stores a
# tarball and its metadata in the template cache; `template list` shows it;
# a cached template is not rebuilt; bad names and variants are refused.
# The templates built here are also copied to $VZT_DEBIAN_CACHE (default
# /var/cache/vz-test-templates), where the guest's t_debian.sh finds them:
# the guest has no network to build from.
# Runs on the build host only (it needs the host's package archive, so it
# keeps the machine's network namespace; it makes no interfaces).
VZT_HOST_NET=1
. "$(dirname "$0")/lib.sh"

[ "${VZ_GUEST:-0}" = 1 ] && skip "building needs the host's package archive; the guest has no network"
command -v mmdebstrap >/dev/null || skip "no mmdebstrap (Debian package mmdebstrap)"
SHARED=${VZT_DEBIAN_CACHE:-/var/cache/vz-test-templates}

start_vzd
R=$VZT_ROOT
CACHE=$R/template/cache

# --- bad input first: nothing is built, nothing is left ------------------------------------
assert_exit 21 vzctl template build debian-7
assert_error "unknown OS template 'debian-7'.*debian-12"
assert_exit 21 vzctl template build debian-12 --variant huge
assert_error "variant 'huge'.*minimal"
assert_exit 20 vzctl template frobnicate
assert_eq "" "$(ls -A "$CACHE" | grep -v '^busybox')" "template cache after refused builds"

# --- a real build ---------------------------------------------------------------------------
t0=$SECONDS
assert_ok vzctl template build debian-12
took=$((SECONDS - t0))
assert_match "$OUT" 'Template debian-12 built in [0-9]+ s: .*debian-12\.tar\.zst \([0-9.]+M, [0-9]+ packages\)' \
    "vzctl template build debian-12"
assert_contains "$ERR" "with mmdebstrap from the host's apt sources" "progress of the build"
assert_contains "$ERR" "I: " "mmdebstrap's own progress lines on stderr"
assert_exists "$CACHE/debian-12.tar.zst" "the built template"
assert_missing "$CACHE/.debian-12.partial" "the build's work directory after the build"
meta=$(cat "$CACHE/debian-12.yaml" 2>/dev/null)
for want in 'distribution: "debian"' 'version: "12"' 'codename: "bookworm"' 'variant: "minimal"' 'init: "systemd"'; do
    assert_contains "$meta" "$want" "debian-12.yaml"
done
assert_match "$meta" 'build_date: "[0-9]{4}-[0-9]{2}-[0-9]{2}T' "debian-12.yaml build_date"
assert_match "$meta" '"systemd-sysv [^"]+"' "debian-12.yaml package list"
# The template carries no identity of its own.
listing=$(tar --zstd -tf "$CACHE/debian-12.tar.zst")
grep -qxE '\./(usr/)?sbin/init' <<<"$listing" || fail "no sbin/init in debian-12.tar.zst"
assert_eq "" "$(tar --zstd -xOf "$CACHE/debian-12.tar.zst" ./etc/machine-id)" "/etc/machine-id in the template"
# Its apt sources are the host's, not an address written in the project.
sources=$(tar --zstd -xOf "$CACHE/debian-12.tar.zst" --wildcards "./etc/apt/sources.list*" 2>/dev/null)
host_uri=$(sed -n 's/^URIs: *//p; s/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1)
[ -n "$host_uri" ] && assert_contains "$sources" "$host_uri" "apt sources inside the template"

# --- cached: not rebuilt --------------------------------------------------------------------
t0=$SECONDS
assert_ok vzctl template build debian-12
assert_contains "$OUT" "cached already" "a second build of debian-12"
[ $((SECONDS - t0)) -le 5 ] || fail "a build of a cached template took $((SECONDS - t0)) s (the first took $took s)"

# --- list -----------------------------------------------------------------------------------
assert_ok vzctl template list
assert_match "$OUT" $'(^|\n)debian-12 +debian +12 +minimal +[a-z0-9]+ +[0-9.]+M +[0-9]{4}-' "vzctl template list"
assert_match "$OUT" $'(^|\n)busybox ' "vzctl template list (the busybox template)"
assert_ok vzctl template list --json
assert_contains "$OUT" '"codename": "bookworm"' "vzctl template list --json"

# --- the standard variant, for the guest's tests: reuse a copy when there is one -------------
mkdir -p "$SHARED"
if [ -s "$SHARED/debian-12-standard.tar.zst" ] && [ -s "$SHARED/debian-12-standard.yaml" ]; then
    cp "$SHARED"/debian-12-standard.* "$CACHE/"
    assert_ok vzctl template build debian-12 --variant standard
    assert_contains "$OUT" "cached already" "build of a standard template copied into the cache"
else
    assert_ok vzctl template build debian-12 --variant standard
    assert_contains "$(cat "$CACHE/debian-12-standard.yaml")" '"openssh-server ' "debian-12-standard.yaml package list"
fi
# Each file replaced by a rename: a guest reading the shared copy never sees
# half a tarball.
for f in "$CACHE"/debian-12.* "$CACHE"/debian-12-standard.*; do
    cp "$f" "$SHARED/.${f##*/}.tmp" && mv -f "$SHARED/.${f##*/}.tmp" "$SHARED/${f##*/}" ||
        fail "cannot copy $f to $SHARED"
done

vzt_exit
