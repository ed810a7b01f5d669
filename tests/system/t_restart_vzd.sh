#!/bin/bash
# vzd dies (kill -9) while a VPS runs; a new vzd on the same storage root
# re-adopts it: the VPS keeps running (not rebooted) and can be managed.
# Runs natively and in the qemu guest.
. "$(dirname "$0")/lib.sh"

start_vzd

create_vps 101 --hostname rs101.example
create_vps 102
start_vps 101
# The start time of the VPS's init tells a re-adopted VPS from a rebooted one.
boot_before=$(vzctl exec 101 cut -d' ' -f22 /proc/1/stat)
assert_match "$boot_before" '^[0-9]+$' "start time of init in 101"
assert_ok vzctl exec 101 sh -c 'echo state-kept > /run/vzt-state'

old_pid=$VZT_VZD_PID
kill -KILL "$old_pid"
wait "$old_pid" 2>/dev/null
VZT_VZD_PID=
log "vzd $old_pid killed with SIGKILL"

# While no vzd runs, vzctl says so (exit 3) and the VPS keeps running.
assert_exit 3 vzctl status 101
assert_error 'vzd|connect|daemon'

launch_vzd
assert_ne "$old_pid" "$VZT_VZD_PID" "pid of the new vzd"

assert_ok vzctl list -H
line=$(awk '$1 == "101"' <<<"$OUT")
assert_ne "" "$line" "list after vzd restart shows 101"
assert_contains "$line" running "list STATUS of 101 after vzd restart"
assert_contains "$line" rs101.example "list HOSTNAME of 101 after vzd restart"
assert_not_contains "$OUT" "102" "list (running only) after vzd restart: 102 is stopped"
assert_ok vzctl status 101
assert_eq "CTID 101 exist mounted running" "$OUT" "status of 101 after vzd restart"
assert_ok vzctl status 102
assert_eq "CTID 102 exist unmounted down" "$OUT" "status of 102 after vzd restart"

assert_ok vzctl exec 101 echo hi
assert_eq hi "$OUT" "exec in 101 after vzd restart"
boot_after=$(vzctl exec 101 cut -d' ' -f22 /proc/1/stat)
assert_eq "$boot_before" "$boot_after" "start time of init in 101 (the VPS must not have been restarted)"
assert_ok vzctl exec 101 cat /run/vzt-state
assert_eq state-kept "$OUT" "state in the VPS's /run after vzd restart"

# Its console went with the vzd that started it (no systemd fd store here):
# a checkpoint could not be restored, so it is refused and the VPS runs on.
assert_exit 16 vzctl chkpnt 101 --dumpfile "$VZT_TMP/refused"
assert_contains "$ERR" "console" "chkpnt of an adopted VPS without its console"
assert_missing "$VZT_TMP/refused" "images of a refused checkpoint"
assert_ok vzctl exec 101 cat /run/vzt-state
assert_eq state-kept "$OUT" "VPS 101 after a refused checkpoint"

# Live changes still reach the adopted VPS's cgroup.
assert_ok vzctl set 101 --numproc 77
if find_cgroup pids 101; then
    dir=$CG_DIR
    assert_eq 77 "$(cat "$dir/pids.max")" "pids.max of the adopted VPS after set --numproc 77"
else
    fail "no pids cgroup for 101 beneath $VZT_CGBASE after vzd restart"
fi

# The new vzd manages everything as before.
assert_exit 32 vzctl start 101
start_vps 102
assert_ok vzctl exec 102 echo two
assert_eq two "$OUT" "exec in 102 started by the new vzd"
assert_ok vzctl stop 101
assert_ok vzctl status 101
assert_eq "CTID 101 exist unmounted down" "$OUT" "status of 101 after stop by the new vzd"
if find_cgroup pids 101; then
    dir=$CG_DIR
    assert_eq "" "$(cg_procs "$dir")" "processes left in the cgroup of 101 after stop"
fi
assert_ok vzctl stop 102

# A second crash while nothing runs: a restart finds both stopped.
kill -KILL "$VZT_VZD_PID"
wait "$VZT_VZD_PID" 2>/dev/null
VZT_VZD_PID=
launch_vzd
assert_ok vzctl list -a -H -o ctid,status
assert_eq "101 stopped|102 stopped" "$(awk '{ print $1, $2 }' <<<"$OUT" | sort | tr '\n' '|' | sed 's/|$//')" \
    "list -a after a second vzd restart"
start_vps 101
assert_ok vzctl exec 101 echo back
assert_eq back "$OUT" "exec after starting 101 again"
assert_ok vzctl stop 101
