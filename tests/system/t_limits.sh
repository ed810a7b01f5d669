#!/bin/bash
# Resource limits: what create and set write into the VPS's cgroup, read
# back on the host side from our own cgroup_base (v1: memory.limit_in_bytes,
# cpu.shares, ...; v2: memory.max, cpu.weight, ...).
#
# The limit and config checks run natively and in the qemu guest. The fork
# bomb and the memory hog run ONLY inside the qemu guest (VZ_GUEST=1): on the
# build host they are skipped, with the reason printed next to the result.
. "$(dirname "$0")/lib.sh"

start_vzd
R=$VZT_ROOT

create_vps 101 --physpages 0:64M --numproc 64
start_vps 101

# The hierarchy (v1 or v2) each controller lives in for this VPS.
find_cgroup memory 101
MEMVER=$CG_VER
find_cgroup cpu 101
CPUVER=$CG_VER
log "cgroup versions: memory ${MEMVER:-none}, cpu ${CPUVER:-none}"

# cgfile CONTROLLER V1-FILE V2-FILE: path of the VPS's cgroup file for a
# controller, in whichever hierarchy vzd used.
cgfile() {
    local ver dir
    if ! find_cgroup "$1" 101; then
        fail "no cgroup of VPS 101 for controller $1 beneath $VZT_CGBASE ($(cg_base_dirs | tr '\n' ' '))"
        return 1
    fi
    ver=$CG_VER
    dir=$CG_DIR
    if [ "$ver" = v1 ]; then echo "$dir/$2"; else echo "$dir/$3"; fi
}

# cgread CONTROLLER V1-FILE V2-FILE
cgread() {
    local f
    f=$(cgfile "$@") || return 1
    cat "$f" 2>/dev/null || echo "(cannot read $f)"
}

# --- the VPS's processes are in its cgroups -----------------------------------------
own_pidns=$(readlink /proc/self/ns/pid)
for c in memory pids; do
    if find_cgroup "$c" 101; then
        dir=$CG_DIR
        procs=$(cg_procs "$dir")
        assert_ne "" "$procs" "processes in the $c cgroup of running VPS 101 ($dir)"
        for p in $procs; do
            ns=$(readlink "/proc/$p/ns/pid" 2>/dev/null) || continue
            [ "$ns" != "$own_pidns" ] ||
                fail "host-side process $p ($(cat "/proc/$p/comm")) is in the $c cgroup of VPS 101"
        done
    else
        fail "VPS 101 has no $c cgroup beneath $VZT_CGBASE ($(cg_base_dirs | tr '\n' ' '))"
    fi
done
# A process started with exec counts against the VPS's limits too.
vzctl exec 101 sleep 300 >/dev/null 2>&1 &
execpid=$!
if find_cgroup pids 101; then
    dir=$CG_DIR
    wait_for 20 sh -c "for p in \$(find '$dir' -name cgroup.procs -exec cat {} +); do
        [ \"\$(cat /proc/\$p/comm 2>/dev/null)\" = sleep ] && exit 0; done; exit 1" ||
        fail "a process started by 'vzctl exec 101 sleep 300' is not in the pids cgroup of 101"
fi
vzctl exec 101 killall sleep >/dev/null 2>&1
wait "$execpid" 2>/dev/null

# --- limits given at create ------------------------------------------------------------
assert_eq 67108864 "$(cgread memory memory.limit_in_bytes memory.max)" "memory limit from --physpages 0:64M"
if [ "${MEMVER:-}" = v2 ]; then
    # OpenVZ's vSwap convention: a physpages barrier of 0 means no barrier;
    # memory.high 0 would throttle every allocation of the VPS.
    high=$(cgread memory memory.soft_limit_in_bytes memory.high)
    [ "$high" = max ] || { [[ $high =~ ^[0-9]+$ ]] && [ "$high" -ge 67108864 ]; } ||
        fail "memory.high is '$high' for --physpages 0:64M (barrier 0 must not throttle the VPS)"
fi
assert_eq 64 "$(cgread pids pids.max pids.max)" "pids.max from --numproc 64"

# --- set, live, without --save -------------------------------------------------------------
cp "$R/conf/101.yaml" "$VZT_TMP/conf.before"
assert_ok vzctl set 101 --numproc 100
assert_eq 100 "$(cgread pids pids.max pids.max)" "pids.max after 'set --numproc 100'"
cmp -s "$VZT_TMP/conf.before" "$R/conf/101.yaml" ||
    fail "'set 101 --numproc 100' without --save changed conf/101.yaml: $(diff "$VZT_TMP/conf.before" "$R/conf/101.yaml" | tr '\n' ' ')"

assert_ok vzctl set 101 --physpages 0:128M
assert_eq 134217728 "$(cgread memory memory.limit_in_bytes memory.max)" "memory limit after 'set --physpages 0:128M'"
assert_ok vzctl set 101 --ram 96M
assert_eq 100663296 "$(cgread memory memory.limit_in_bytes memory.max)" "memory limit after 'set --ram 96M'"
assert_ok vzctl set 101 --physpages 32768
assert_eq 134217728 "$(cgread memory memory.limit_in_bytes memory.max)" "memory limit after 'set --physpages 32768' (pages)"

assert_ok vzctl set 101 --cpuunits 2000
w=$(cgread cpu cpu.shares cpu.weight)
if [ "${CPUVER:-}" = v1 ]; then
    assert_eq 2048 "$w" "cpu.shares after 'set --cpuunits 2000'"
else
    assert_eq 200 "$w" "cpu.weight after 'set --cpuunits 2000'"
fi
assert_ok vzctl set 101 --cpulimit 50
if [ "${CPUVER:-}" = v1 ]; then
    assert_eq 50000 "$(cgread cpu cpu.cfs_quota_us cpu.max)" "cpu.cfs_quota_us after 'set --cpulimit 50'"
    assert_eq 100000 "$(cgread cpu cpu.cfs_period_us cpu.max)" "cpu.cfs_period_us"
else
    assert_eq "50000 100000" "$(cgread cpu cpu.cfs_quota_us cpu.max)" "cpu.max after 'set --cpulimit 50'"
fi
assert_ok vzctl set 101 --cpulimit 0 --cpus 1
if [ "${CPUVER:-}" = v1 ]; then
    assert_eq 100000 "$(cgread cpu cpu.cfs_quota_us cpu.max)" "cpu.cfs_quota_us after 'set --cpulimit 0 --cpus 1'"
else
    assert_eq "100000 100000" "$(cgread cpu cpu.cfs_quota_us cpu.max)" "cpu.max after 'set --cpulimit 0 --cpus 1'"
fi
cmp -s "$VZT_TMP/conf.before" "$R/conf/101.yaml" ||
    fail "set without --save changed conf/101.yaml"

# --- set --save ---------------------------------------------------------------------------
assert_ok vzctl set 101 --numproc 100 --save
assert_match "$(cat "$R/conf/101.yaml")" $'(^|\n)[ \t]*numproc:[ \t]*["\']?(100|100:100)["\']?[ \t]*($|\n)' \
    "numproc in conf/101.yaml after 'set --numproc 100 --save'"
assert_eq 100 "$(cgread pids pids.max pids.max)" "pids.max after 'set --numproc 100 --save'"

# What was saved survives a restart; what was not is gone.
assert_ok vzctl stop 101
start_vps 101
assert_eq 100 "$(cgread pids pids.max pids.max)" "pids.max after restart (saved numproc 100)"
assert_eq 67108864 "$(cgread memory memory.limit_in_bytes memory.max)" "memory limit after restart (config says 0:64M)"

# --- stress: only in the qemu guest ------------------------------------------------------
if [ "${VZ_GUEST:-0}" != 1 ]; then
    note_skip "fork bomb and memory hog run only inside the qemu guest (VZ_GUEST=1)"
    exit 0
fi

pids_dir=$(dirname "$(cgfile pids pids.max pids.max)")
assert_ok vzctl set 101 --numproc 64
limit=$(cat "$pids_dir/pids.max")
assert_eq 64 "$limit" "pids.max before the fork bomb"
events_before=$(awk '$1 == "max" { print $2 }' "$pids_dir/pids.events" 2>/dev/null)

# A bounded bomb: 200 sleepers against a limit of 64.
timeout 180 "$VZCTL_BIN" --socket "$VZT_SOCK" exec 101 \
    sh -c 'i=0; while [ $i -lt 200 ]; do sleep 20 & i=$((i+1)); done; wait' \
    >"$VZT_TMP/bomb.out" 2>&1 &
bomb=$!
peak=0
list_ok=1
for ((i = 0; i < 50; i++)); do
    cur=$(cat "$pids_dir/pids.current" 2>/dev/null || echo 0)
    [ "$cur" -gt "$peak" ] && peak=$cur
    sleep 0.2
done
timeout 30 "$VZCTL_BIN" --socket "$VZT_SOCK" list >/dev/null 2>&1 || list_ok=0
/bin/true || fail "the host cannot start a process during the fork bomb"
events_after=$(awk '$1 == "max" { print $2 }' "$pids_dir/pids.events" 2>/dev/null)
log "fork bomb: peak pids.current $peak, pids.max $limit, pids.events max ${events_before:-?} -> ${events_after:-?}"
[ "$peak" -le "$limit" ] || fail "pids.current reached $peak, above pids.max $limit"
[ "$peak" -ge $((limit - 8)) ] ||
    fail "the fork bomb never came near the limit (peak $peak of $limit): it did not run"
[ "${events_after:-0}" -gt "${events_before:-0}" ] ||
    fail "pids.events 'max' did not grow (${events_before:-?} -> ${events_after:-?}): no fork was refused"
[ "$list_ok" = 1 ] || fail "vzctl list did not answer during the fork bomb"
wait "$bomb"
# busybox sh gives up at the first refused fork and returns at once; the
# sleepers it started live on (reparented to init) until their 20 s end.
wait_for 60 sh -c "[ \$(cat '$pids_dir/pids.current') -le 8 ]" ||
    fail "the fork bomb's sleepers did not go away (pids.current $(cat "$pids_dir/pids.current"))"
# Once the sleepers are gone the VPS works again.
wait_for 60 sh -c "[ \"\$(timeout 20 '$VZCTL_BIN' --socket '$VZT_SOCK' exec 101 echo alive)\" = alive ]" ||
    fail "VPS 101 does not answer exec after the fork bomb"

# Memory: a process that allocates beyond the limit is killed, the VPS stays.
mem_dir=$(dirname "$(cgfile memory memory.limit_in_bytes memory.max)")
assert_ok vzctl set 101 --physpages 0:64M --swappages 0
if [ "${MEMVER:-}" = v2 ]; then
    [ -f "$mem_dir/memory.swap.max" ] &&
        assert_eq 0 "$(cat "$mem_dir/memory.swap.max")" "memory.swap.max after --swappages 0"
    oom_before=$(awk '$1 == "oom_kill" { print $2 }' "$mem_dir/memory.events")
else
    oom_before=$(awk '$1 == "oom_kill" { print $2 }' "$mem_dir/memory.oom_control")
fi
# busybox tail keeps a line without newline whole: 200 MiB of zeros in RAM.
# (busybox head and dd take no M suffix: sizes in plain numbers.)
run timeout 180 "$VZCTL_BIN" --socket "$VZT_SOCK" exec 101 \
    sh -c 'dd if=/dev/zero bs=1048576 count=200 2>/dev/null | tail >/dev/null'
assert_eq 137 "$RC" "exit status of a 200M allocation under a 64M limit (killed); stderr: $ERR"
if [ "${MEMVER:-}" = v2 ]; then
    oom_after=$(awk '$1 == "oom_kill" { print $2 }' "$mem_dir/memory.events")
else
    oom_after=$(awk '$1 == "oom_kill" { print $2 }' "$mem_dir/memory.oom_control")
fi
[ "${oom_after:-0}" -gt "${oom_before:-0}" ] ||
    fail "oom_kill count of VPS 101 did not grow (${oom_before:-?} -> ${oom_after:-?})"
assert_ok vzctl exec 101 echo alive
assert_eq alive "$OUT" "VPS 101 after the memory hog"
assert_ok vzctl status 101
assert_eq "CTID 101 exist mounted running" "$OUT" "status after the memory hog"
