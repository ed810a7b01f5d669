#!/bin/bash
# The busybox OS template (templates/busybox/build): what the tarball holds,
# that it is a working userland, and the build script's idempotence and
# errors. Needs no vzd; the chroot part needs root. Runs natively and in the
# qemu guest.
. "$(dirname "$0")/lib.sh"

build=$VZT_REPO/templates/busybox/build
[ -x /bin/busybox ] || skip "/bin/busybox is missing (Debian package busybox-static)"
out=$VZT_TMP/tpl
mkdir -p "$out"

# --- build -------------------------------------------------------------------------
assert_ok "$build" "$out"
assert_contains "$OUT" "built" "first build"
tarball=$out/busybox.tar.gz
assert_exists "$tarball" "template tarball"
assert_exists "$out/busybox.yaml" "template metadata"

meta=$(cat "$out/busybox.yaml" 2>/dev/null)
assert_match "$meta" $'(^|\n)distribution: busybox($|\n)' "busybox.yaml distribution"
bbver=$(/bin/busybox | sed -n '1s/^BusyBox v\([^ ]*\).*/\1/p')
assert_match "$meta" $'(^|\n)version: "?'"${bbver//./\\.}"$'"?($|\n)' "busybox.yaml version"
assert_match "$meta" $'(^|\n)arch: [a-z0-9_]+($|\n)' "busybox.yaml arch"
assert_match "$meta" $'(^|\n)build_date: "?[0-9]{4}-[0-9]{2}-[0-9]{2}' "busybox.yaml build_date"

# --- contents -------------------------------------------------------------------------
listing=$(tar tzf "$tarball")
for path in bin/busybox bin/sh sbin/init usr/bin/env etc/inittab etc/init.d/rcS etc/passwd \
    etc/group etc/shadow etc/hostname etc/hosts etc/profile proc/ sys/ dev/ run/ tmp/ root/ \
    var/log/ home/ mnt/; do
    grep -qxF "$path" <<<"$listing" || fail "template lacks $path"
done
for applet in $(/bin/busybox --list-full); do
    [ "$applet" = linuxrc ] && continue
    grep -qxF "$applet" <<<"$listing" || fail "template lacks the applet link $applet"
done
# Owned by root, with the modes a system expects.
verbose=$(tar tzvf "$tarball" --numeric-owner)
notroot=$(awk '$2 != "0/0"' <<<"$verbose")
assert_eq "" "$notroot" "entries not owned by 0/0"
mode_of() { awk -v p="$1" '$6 == p { print $1 }' <<<"$verbose"; }
assert_eq drwxrwxrwt "$(mode_of tmp/)" "mode of /tmp"
assert_eq drwx------ "$(mode_of root/)" "mode of /root"
assert_eq -rw------- "$(mode_of etc/shadow)" "mode of /etc/shadow"
assert_eq -rwxr-xr-x "$(mode_of etc/init.d/rcS)" "mode of /etc/init.d/rcS"
assert_match "$(mode_of sbin/init)" '^l' "sbin/init is a symlink"
assert_match "$(tar xzf "$tarball" -O etc/hostname)" '^(localhost)?$' "/etc/hostname (empty or localhost)"

inittab=$(tar xzf "$tarball" -O etc/inittab)
assert_match "$inittab" $'(^|\n)::sysinit:/etc/init.d/rcS($|\n)' "inittab sysinit"
assert_match "$inittab" $'(^|\n)::shutdown:' "inittab shutdown action"
assert_not_contains "$inittab" "getty" "inittab (the VPS has no console getty)"
assert_not_contains "$inittab" "respawn" "inittab"
passwd=$(tar xzf "$tarball" -O etc/passwd)
assert_match "$passwd" $'(^|\n)root:x:0:0:root:/root:/bin/sh($|\n)' "/etc/passwd root"
assert_match "$passwd" $'(^|\n)nobody:' "/etc/passwd nobody"
assert_match "$(tar xzf "$tarball" -O etc/shadow)" $'(^|\n)root:[!*]' "/etc/shadow (root locked)"
rcs=$(tar xzf "$tarball" -O etc/init.d/rcS)
assert_contains "$rcs" "busybox VPS up" "rcS"
assert_not_contains "$(grep -v '^#' <<<"$rcs")" "mount" "rcS (mounts nothing; the runtime did)"

# --- a working userland (chroot in our private mount namespace) -------------------------
if [ "$(id -u)" = 0 ]; then
    tree=$VZT_TMP/tree
    mkdir -p "$tree"
    tar -C "$tree" --numeric-owner -xzf "$tarball" || fail "cannot unpack the template"
    run chroot "$tree" /bin/sh -c 'ls /bin | wc -l'
    assert_eq 0 "$RC" "chroot /bin/sh"
    want=$(/bin/busybox --list-full | grep -c '^bin/')
    assert_eq "$want" "$(tr -d ' ' <<<"$OUT")" "applets in /bin inside the template"
    run chroot "$tree" /bin/sh -c '. /etc/profile; echo "$PATH"; id -un; env | grep -c . >/dev/null'
    assert_eq 0 "$RC" "chroot: /etc/profile and id"
    assert_contains "$OUT" "/usr/bin" "PATH from /etc/profile"
    assert_contains "$OUT" "root" "id -un in the template (passwd)"
    run chroot "$tree" /etc/init.d/rcS
    assert_eq 0 "$RC" "rcS exit status"
    assert_eq "busybox VPS up" "$OUT" "rcS output"
    assert_ok chroot "$tree" /usr/bin/env true
else
    note_skip "chroot into the template needs root"
fi

# --- idempotence and errors ---------------------------------------------------------------
before=$(stat -c %Y.%i "$tarball")
assert_ok "$build" "$out"
assert_contains "$OUT" "busybox template up to date" "second build"
assert_eq "$before" "$(stat -c %Y.%i "$tarball")" "tarball after an up-to-date build (untouched)"
sleep 1.1
assert_ok "$build" --force "$out"
assert_contains "$OUT" "built" "build --force"
assert_ne "$before" "$(stat -c %Y.%i "$tarball")" "tarball after --force (rebuilt)"
tar tzf "$tarball" >/dev/null || fail "tarball after --force is not readable"

run env BUSYBOX=/nonexistent/busybox "$build" "$VZT_TMP/none"
assert_eq 2 "$RC" "build without busybox"
assert_contains "$OUT$ERR" "install Debian package busybox-static" "build without busybox"
assert_missing "$VZT_TMP/none/busybox.tar.gz" "tarball of a failed build"
assert_exit 2 "$build"
