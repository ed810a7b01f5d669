#!/bin/bash
# What a process inside a running VPS can see of the host: processes,
# hostname, files, network interfaces, capabilities, seccomp, inherited fds.
# Runs natively and in the qemu guest.
. "$(dirname "$0")/lib.sh"

start_vzd
R=$VZT_ROOT
host_hostname=$(hostname)
rand=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')

create_vps 101 --hostname iso101.example
start_vps 101

# --- processes ----------------------------------------------------------------------
assert_ok vzctl exec 101 ps
ps_out=$OUT
init_line=$(awk '$1 == "1"' <<<"$ps_out")
assert_match "$init_line" 'init' "PID 1 in 'ps' inside the VPS"
nproc=$(tail -n +2 <<<"$ps_out" | grep -c .)
if [ "$nproc" -lt 2 ] || [ "$nproc" -gt 4 ]; then
    fail "ps inside the VPS lists $nproc processes (expected init, ps and at most a helper): $(vzt_short "$ps_out")"
fi
for host_proc in vzd process_api "$VZT_NAME" unshare kthreadd; do
    assert_not_contains "$ps_out" "$host_proc" "ps inside the VPS (host process '$host_proc' visible)"
done
assert_ok vzctl exec 101 sh -c 'tr "\0" " " </proc/1/cmdline'
assert_match "$OUT" '(^|/)init( |$)' "/proc/1/cmdline inside the VPS"
# No host PID is reachable: our own vzd's pid is not a process in there
# (pid namespaces number from 1, so compare the command, not the number).
assert_ok vzctl exec 101 sh -c 'for p in /proc/[0-9]*; do cat $p/comm; done'
assert_not_contains "$OUT" "vzd" "process names inside the VPS"

# --- hostname ----------------------------------------------------------------------
assert_ok vzctl exec 101 hostname
assert_eq iso101.example "$OUT" "hostname inside the VPS"
assert_eq "$host_hostname" "$(hostname)" "host's hostname after starting a VPS"

# --- files --------------------------------------------------------------------------
host_marker=${TMPDIR:-/tmp}/vzt-hostmark-$rand
root_marker=$R/vzt-hostmark-$rand
touch "$host_marker" "$root_marker"
at_exit rm -f "$host_marker"
assert_ok vzctl exec 101 touch "/vps-marker-$rand"

assert_ok vzctl exec 101 ls -a /
vps_root_ls=$OUT
assert_contains "$vps_root_ls" "vps-marker-$rand" "ls / inside the VPS"
assert_ok vzctl exec 101 sh -c 'cd / && ls -a ../../../..'
assert_eq "$vps_root_ls" "$OUT" "ls ../../../.. from / inside the VPS"
assert_ok vzctl exec 101 ls -a /proc/1/root/
assert_eq "$vps_root_ls" "$OUT" "/proc/1/root inside the VPS is the VPS root"
assert_ok vzctl exec 101 ls -a /proc/self/root/../../..
assert_eq "$vps_root_ls" "$OUT" "/proc/self/root/../../.. inside the VPS"
for m in "$host_marker" "$root_marker"; do
    assert_exit 1 vzctl exec 101 test -e "$m"
done
assert_ok vzctl exec 101 ls -a /tmp
assert_not_contains "$OUT" "vzt-hostmark" "/tmp inside the VPS"
# The storage root itself (where configs and other VPSes live) is not there.
assert_exit 1 vzctl exec 101 test -e "$R/vz.yaml"

# chroot escape with busybox alone: chroot into a subdirectory and climb.
assert_ok vzctl exec 101 sh -c '
    mkdir -p /esc/bin && cp /bin/busybox /esc/bin/ && ln -sf busybox /esc/bin/sh &&
    cd /esc && chroot /esc /bin/sh -c "cd ../../../..; ls -a"'
assert_eq $'.\n..\nbin' "$OUT" "busybox chroot escape attempt (must stay in /esc)"
assert_not_contains "$OUT" "vzt-hostmark" "busybox chroot escape attempt"
assert_not_contains "$OUT" "vz.yaml" "busybox chroot escape attempt"

# The classic chroot escape in C (chroot without chdir, climb "..", chroot
# "."): it must land in the VPS root.
if command -v gcc >/dev/null &&
    gcc -O2 -static -o "$VZT_TMP/escape" "$VZT_LIB_DIR/escape.c" 2>"$VZT_TMP/gcc.log"; then
    assert_ok vzctl exec 101 sh -c 'cat > /root/escape && chmod 0755 /root/escape' <"$VZT_TMP/escape"
    assert_ok vzctl exec 101 sh -c 'cd /root && ./escape "$@"' sh \
        "$host_marker" "$root_marker" "/vps-marker-$rand" "$R/vz.yaml"
    assert_contains "$OUT" "FOUND /vps-marker-$rand" "chroot escape program (still sees the VPS root)"
    assert_not_contains "$OUT" "FOUND $host_marker" "chroot escape program (host /tmp marker)"
    assert_not_contains "$OUT" "FOUND $root_marker" "chroot escape program (storage root marker)"
    assert_not_contains "$OUT" "FOUND $R/vz.yaml" "chroot escape program (host vz.yaml)"
else
    log "no static gcc: the C chroot escape attempt is not run ($(head -1 "$VZT_TMP/gcc.log" 2>/dev/null))"
fi

# --- network ------------------------------------------------------------------------
assert_ok vzctl exec 101 ls /sys/class/net
assert_eq lo "$(tr '\n' ' ' <<<"$OUT" | sed 's/ *$//')" "network interfaces in /sys/class/net inside the VPS"
assert_ok vzctl exec 101 ip -o link
assert_eq lo "$(awk -F': ' '{ print $2 }' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')" \
    "interfaces in 'ip link' inside the VPS"
assert_ok vzctl exec 101 cat /proc/net/dev
assert_eq lo "$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')" \
    "interfaces in /proc/net/dev inside the VPS"

# --- capabilities and seccomp -------------------------------------------------------
check_caps() { # WHAT STATUS-TEXT
    local bnd eff bit name
    bnd=$(awk '/^CapBnd:/ { print $2 }' <<<"$2")
    eff=$(awk '/^CapEff:/ { print $2 }' <<<"$2")
    assert_match "$bnd" '^[0-9a-f]{16}$' "$1 CapBnd" || return
    for bit in 16:cap_sys_module 17:cap_sys_rawio 22:cap_sys_boot 25:cap_sys_time; do
        name=${bit#*:}
        bit=${bit%%:*}
        [ $(((0x$bnd >> bit) & 1)) = 0 ] || fail "$1: $name (bit $bit) is in the bounding set (CapBnd $bnd)"
        [ $(((0x${eff:-0} >> bit) & 1)) = 0 ] || fail "$1: $name (bit $bit) is effective (CapEff $eff)"
    done
    # Root in a VPS keeps what it needs to run a system.
    for bit in 0:cap_chown 7:cap_setuid; do
        name=${bit#*:}
        bit=${bit%%:*}
        [ $(((0x$bnd >> bit) & 1)) = 1 ] || fail "$1: $name (bit $bit) is missing from CapBnd $bnd"
    done
    assert_match "$2" $'(^|\n)Seccomp:[ \t]*2($|\n)' "$1 Seccomp mode (2 = filter)"
}
assert_ok vzctl exec 101 cat /proc/self/status
check_caps "exec'd process" "$OUT"
assert_ok vzctl exec 101 cat /proc/1/status
check_caps "init of the VPS" "$OUT"

# --- inherited file descriptors -----------------------------------------------------
# Only stdio, and none pointing at a host file (runc CVE-2024-21626).
ok_target='^(/dev/(null|console|tty[0-9]*|pts/[0-9]+)|pipe:\[[0-9]+\]|socket:\[[0-9]+\])$'
assert_ok vzctl exec 101 sh -c 'for f in /proc/1/fd/*; do echo "${f##*/} $(readlink $f)"; done'
fds=$(awk '{ print $1 }' <<<"$OUT" | sort -n | tr '\n' ' ' | sed 's/ $//')
assert_eq "0 1 2" "$fds" "open fds of the VPS's init"
while read -r fd target; do
    [ -n "$fd" ] || continue
    [[ $target =~ $ok_target ]] || fail "init's fd $fd points at '$target' (not a device, pipe or socket of the VPS)"
done <<<"$OUT"

# An exec'd process has the caller's stdio (vzctl passes its own fds 0-2,
# which may well be host files) and nothing else.
assert_ok vzctl exec 101 ls -l /proc/self/fd/
while read -r fd target; do
    [ -n "$fd" ] || continue
    [[ $target =~ ^/proc/[0-9]+/fd$ ]] && continue  # ls reading the directory
    [[ $fd =~ ^[012]$ ]] || fail "exec'd process has fd $fd open (-> $target)"
done <<<"$(sed -n 's/.* \([0-9][0-9]*\) -> \(.*\)$/\1 \2/p' <<<"$OUT")"
assert_ok vzctl exec 101 pwd
assert_match "$OUT" '^/' "cwd of exec'd process"
# The cwd is reachable by its path inside the VPS (not a host directory).
assert_ok vzctl exec 101 sh -c 'p=$(pwd -P) && [ "$(stat -c %d:%i .)" = "$(stat -c %d:%i "$p")" ] && echo same'
assert_eq same "$OUT" "cwd of the exec'd process is inside the VPS"
