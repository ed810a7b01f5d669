#!/bin/bash
# vzctl chkpnt / restore with CRIU, on an unprivileged and a privileged VPS:
# a counter process inside and a file it appends to go on from where they
# were after the restore (same process, no restart), an established TCP
# connection from the host still answers, the VPS is stopped in between
# with its cgroup gone, limits are back after the restore, and the images
# are spent. A checkpoint that cannot be made leaves the VPS running; bad
# requests get clear errors.
# CRIU works only in the guest (the build host's kernel is too new for
# Debian's criu), hence guest only.
. "$(dirname "$0")/lib.sh"

need_guest "CRIU needs the guest's kernel"
command -v criu >/dev/null || skip "criu is not installed (Debian package criu)"
criu check >/dev/null 2>&1 || skip "criu check fails here: $(criu check 2>&1 | tail -1)"
start_vzd
R=$VZT_ROOT

# counter CTID: a process that counts in /count and appends each number to
# /count.log, started once by init (never restarted).
counter() {
    echo "::once:/bin/sh -c 'i=0; while :; do i=\$((i+1)); echo \$i >/count; echo \$i >>/count.log; sleep 0.2; done'" \
        >>"$R/private/$1/etc/inittab"
    echo "::once:/bin/busybox nc -ll -p 5000 -e /bin/cat" >>"$R/private/$1/etc/inittab"
}
count() { cat "$R/private/$1/count" 2>/dev/null; }

check_cycle() { # CTID ADDR WHAT
    local id=$1 addr=$2 what=$3 d=$VZT_TMP/tcp$1 before pid_before after
    mkdir -p "$d"
    wait_for 20 test -s "$R/private/$id/count" || fail "$what: the counter does not count"
    wait_for 20 sh -c "'$VZT_PY' -c 'import socket; socket.create_connection((\"$addr\", 5000), 2).close()' 2>/dev/null" ||
        fail "$what: nothing listens on $addr:5000"
    # That probe used the echo server's one connection (nc -ll serves on).
    tcp_client "$addr" "$d"
    wait_for 20 test -s "$d/first" || fail "$what: no first echo: $(cat "$d/error" 2>/dev/null)"
    assert_eq one "$(cat "$d/first" 2>/dev/null)" "$what: echo before the checkpoint"
    pid_before=$(vzctl exec "$id" pidof sh | wc -w)

    assert_ok vzctl chkpnt "$id"
    assert_contains "$OUT" "checkpointed into $R/dump/$id" "$what: chkpnt output"
    assert_contains "$(vps_status "$id")" down "$what: status after chkpnt"
    assert_exists "$R/dump/$id/inventory.img" "$what: CRIU images"
    assert_exists "$R/dump/$id/vps.yaml" "$what: the config kept with the images"
    no_cgroup_of "$id" "$what: cgroup after chkpnt"
    before=$(count "$id")
    sleep 1
    assert_eq "$before" "$(count "$id")" "$what: the counter is frozen while checkpointed"

    assert_ok vzctl restore "$id"
    assert_contains "$OUT" "restored" "$what: restore output"
    assert_contains "$(vps_status "$id")" running "$what: status after restore"
    assert_missing "$R/dump/$id/inventory.img" "$what: images after the restore (spent)"
    wait_for 10 sh -c "[ \"\$(cat '$R/private/$id/count')\" -gt '$before' ]" ||
        fail "$what: the counter did not go on after the restore ($(count "$id"), was $before)"
    # Going on, not started again: the log counts up by one, from 1, once.
    awk 'NR == 1 && $1 != 1 { bad = 1 } NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad }' \
        "$R/private/$id/count.log" || fail "$what: the count log does not go up one by one: $(tr '\n' ' ' <"$R/private/$id/count.log" | tail -c 200)"
    touch "$d/go"
    wait_for 40 test -s "$d/second" -o -s "$d/error" || fail "$what: the client got no second echo"
    assert_eq two "$(cat "$d/second" 2>/dev/null)" "$what: the TCP connection answers after the restore ($(cat "$d/error" 2>/dev/null))"
    assert_eq "$pid_before" "$(vzctl exec "$id" pidof sh | wc -w)" "$what: shells inside after the restore"
    find_cgroup pids "$id" || fail "$what: no cgroup after restore"
    assert_eq 100 "$(cat "$CG_DIR/pids.max" 2>/dev/null)" "$what: numproc limit back after the restore"
}

# no_cgroup_of CTID WHAT
no_cgroup_of() {
    if find_cgroup pids "$1" 2>/dev/null; then fail "$2: $CG_DIR still exists"; fi
}

create_vps 101 --ipadd 10.81.0.2 --numproc 100
counter 101
start_vps 101
check_cycle 101 10.81.0.2 "unprivileged VPS 101"
# Its root still rules its network: the restored VPS is in the user
# namespace that owns its network namespace.
assert_ok vzctl exec 101 ip link set lo mtu 1500
assert_contains "$(vzctl exec 101 ip -4 addr show venet0)" "10.81.0.2" "VPS 101's address inside after the restore"
assert_ok vzctl stop 101

create_vps 102 --userns no --ipadd 10.81.0.3 --numproc 100
counter 102
start_vps 102
check_cycle 102 10.81.0.3 "privileged VPS 102"

# --- a bridged VPS: its veth comes back on the bridge, filtered ----------------------------------
create_vps 103 --netif_add eth0
start_vps 103
host_if=$(sed -n 's/.*host_ifname: *\([^ ]*\).*/\1/p' "$R/conf/103.yaml" | head -1)
[ -n "$host_if" ] || host_if=$(ip -o link show master vzbr0 | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | head -1)
[ -n "$host_if" ] || fail "no host end of VPS 103's eth0 on vzbr0"
mac_before=$(vzctl exec 103 cat /sys/class/net/eth0/address)
assert_ok vzctl chkpnt 103
assert_ok vzctl restore 103
assert_eq "$mac_before" "$(vzctl exec 103 cat /sys/class/net/eth0/address)" "VPS 103's MAC after the restore"
assert_contains "$(ip -o link show master vzbr0)" "$host_if" "the host end $host_if back on the bridge vzbr0"
assert_contains "$(ip -o link show "$host_if")" "state UP" "the host end $host_if up"
assert_ok vzctl stop 103

# --- a checkpoint that cannot be made leaves the VPS running --------------------------------------
init=$(vps_init_pid 102)
mkdir -p "$VZT_TMP/ro" && chmod 0500 "$VZT_TMP/ro"
mount -t tmpfs -o ro,size=1m none "$VZT_TMP/ro"
assert_exit 16 vzctl chkpnt 102 --dumpfile "$VZT_TMP/ro/d"
assert_contains "$ERR" "checkpoint of VPS 102" "error of a checkpoint into a read-only place"
umount "$VZT_TMP/ro"
assert_contains "$(vps_status 102)" running "VPS 102 after a failed checkpoint"
assert_eq "$init" "$(vps_init_pid 102)" "init of VPS 102 after a failed checkpoint"

# --- bad requests ----------------------------------------------------------------------------------
assert_exit 17 vzctl restore 101
assert_contains "$ERR" "no checkpoint of VPS 101" "restore without images"
assert_exit 32 vzctl restore 102
assert_exit 31 vzctl chkpnt 101
assert_exit 20 vzctl chkpnt 102 --dumpfile relative/dir
# A failed dump removes its directory: one that held anything else is refused.
mkdir -p "$VZT_TMP/full" && echo keep >"$VZT_TMP/full/mine"
assert_exit 20 vzctl chkpnt 102 --dumpfile "$VZT_TMP/full"
assert_contains "$ERR" "not empty" "chkpnt into a directory that holds other files"
assert_eq keep "$(cat "$VZT_TMP/full/mine")" "a file in the refused --dumpfile directory"
assert_ok vzctl stop 102

# --- host shutdown with stop_mode: suspend, and the next boot -------------------------------------
echo "stop_mode: suspend" >>"$R/vz.yaml"
stop_vzd
launch_vzd
create_vps 104
counter 104
start_vps 104
create_vps 105
start_vps 105
wait_for 20 test -s "$R/private/104/count" || fail "the counter of 104 does not count"
assert_ok "$VZD_BIN" --root "$R" --stop-all
assert_contains "$OUT" "VPS 104 suspended" "vzd --stop-all with stop_mode: suspend"
assert_contains "$OUT" "VPS 105 suspended" "vzd --stop-all with stop_mode: suspend"
assert_contains "$(vps_status 104)" down "status of 104 suspended at shutdown"
assert_exists "$R/dump/104/inventory.img" "images of 104 suspended at shutdown"
assert_eq "104 105" "$(sort "$R/suspended-at-shutdown" | tr '\n' ' ' | sed 's/ $//')" "suspended-at-shutdown"
suspended_at=$(count 104)
# 105's images are spoiled: its restore at boot fails and it starts afresh.
rm -f "$R/dump/105/vps-dump.json"
# The next boot: a new vzd, and no onboot.done (the boot empties /run).
stop_vzd
rm -f "$R/run/onboot.done"
launch_vzd
wait_for 90 sh -c "'$VZCTL_BIN' --socket '$VZT_SOCK' status 104 | grep -q running" ||
    fail "104, suspended at shutdown, is not back after the boot"
wait_for 90 sh -c "'$VZCTL_BIN' --socket '$VZT_SOCK' status 105 | grep -q running" ||
    fail "105, whose images were spoiled, did not start afresh at the boot"
wait_for 20 sh -c "[ \"\$(cat '$R/private/104/count')\" -gt '$suspended_at' ]" ||
    fail "the counter of 104 does not go on after the boot"
# Restored, not rebooted: the counter never started again from 1.
assert_eq 1 "$(grep -cx 1 "$R/private/104/count.log")" "times the counter of 104 started"
grep -q "boot: VPS 104 restored" "$R/vzd.log" || fail "vzd's log does not say 104 was restored at boot"
assert_exists "$R/dump/105.failed" "the images of 105 kept aside after its failed restore"
grep -q "VPS 105 suspended at shutdown could not be restored" "$R/vzd.log" ||
    fail "vzd's log does not say why 105 was started afresh"
assert_missing "$R/suspended-at-shutdown" "suspended-at-shutdown after the boot"
assert_ok vzctl stop 104
assert_ok vzctl stop 105

vzt_exit
