#!/bin/bash
# Beancounters: each parameter shown working from inside a VPS, the
# accounting view (vzctl ubc), live changes and bad values. Parts that need
# a stock kernel with pure cgroup v2, project quotas or a block device under
# the storage area (io limits, disk quota, lxcfs) run only in the qemu guest.
. "$(dirname "$0")/lib.sh"

start_vzd
R=$VZT_ROOT

# --- numfile: the per-process open-file limit ---------------------------------------
create_vps 101 --numfile 100:200 --numshm 5 --nummsgqueues 3 --ram 128M --numproc 64
start_vps 101
assert_ok vzctl exec 101 sh -c 'ulimit -n; ulimit -Hn'
assert_eq $'100\n200' "$OUT" "soft and hard open-file limits inside (numfile 100:200)"

# --- IPC beancounters: enforced by the VPS's own IPC namespace -----------------------
assert_ok vzctl exec 101 cat /proc/sys/kernel/shmmni /proc/sys/kernel/msgmni
assert_eq $'5\n3' "$OUT" "shmmni and msgmni inside the VPS"
[ "$(cat /proc/sys/kernel/shmmni)" != 5 ] || fail "the host's shmmni changed to the VPS's value"
if command -v gcc >/dev/null && gcc -O2 -static -o "$VZT_TMP/ipc" "$VZT_LIB_DIR/ipc.c" 2>"$VZT_TMP/gcc.log"; then
    assert_ok vzctl exec 101 sh -c 'cat > /root/ipc && chmod 0755 /root/ipc' <"$VZT_TMP/ipc"
    assert_ok vzctl exec 101 /root/ipc shm 20
    assert_eq $'created 5\nrefused ENOSPC' "$OUT" "shared memory segments past numshm 5"
    assert_ok vzctl exec 101 /root/ipc msg 20
    assert_eq $'created 3\nrefused ENOSPC' "$OUT" "message queues past nummsgqueues 3"
    assert_ok vzctl ubc 101 --json
    held=$(python3 -c 'import json,sys; b={r["resource"]: r for r in json.load(sys.stdin)["beancounters"]}; print(b["numshm"]["held"], b["numshm"]["limit"], b["nummsgqueues"]["held"], b["shmpages"]["held"])' <<<"$OUT")
    assert_eq "5 5 3 5" "$held" "ubc numshm held/limit, nummsgqueues held, shmpages held"
    # Live: raising numshm lets one more segment in without a restart.
    assert_ok vzctl set 101 --numshm 6
    assert_ok vzctl exec 101 /root/ipc shm 20
    assert_eq $'created 1\nrefused ENOSPC' "$OUT" "one more segment after a live set --numshm 6"
else
    log "no static gcc: the IPC creation checks are not run ($(head -1 "$VZT_TMP/gcc.log" 2>/dev/null))"
fi

# --- the accounting view ----------------------------------------------------------
assert_ok vzctl ubc 101
assert_match "$OUT" '^ +uid +resource +held +maxheld +barrier +limit +failcnt' "ubc header"
assert_match "$OUT" '101: +kmemsize +[0-9]+' "ubc first row carries the CTID"
line=$(grep -E '^ +physpages ' <<<"$OUT")
read -r _ held maxheld barrier limit failcnt <<<"$line"
assert_eq 32768 "$limit" "physpages limit (128M in pages)"
[ "$held" -gt 0 ] && [ "$held" -le "$limit" ] || fail "physpages held '$held' not in 1..$limit"
[ "$maxheld" = - ] || [ "$maxheld" -ge "$held" ] || fail "physpages maxheld '$maxheld' below held '$held'"
line=$(grep -E '^ +numproc ' <<<"$OUT")
read -r _ held _ _ limit _ <<<"$line"
assert_eq 64 "$limit" "numproc limit"
[ "$held" -ge 1 ] || fail "numproc held '$held'"
create_vps 102
assert_exit 31 vzctl ubc 102
assert_exit 43 vzctl ubc 999

# --- CPU: weight, cap and mask land in the cgroup -------------------------------------
assert_ok vzctl set 101 --cpuunits 2000 --cpulimit 50 --cpumask 0
find_cgroup cpu 101 || fail "no cpu cgroup for 101"
if [ "$CG_VER" = v2 ]; then
    assert_eq 200 "$(cat "$CG_DIR/cpu.weight")" "cpu.weight for cpuunits 2000"
    assert_eq "50000 100000" "$(cat "$CG_DIR/cpu.max")" "cpu.max for cpulimit 50"
else
    assert_eq 2048 "$(cat "$CG_DIR/cpu.shares")" "cpu.shares for cpuunits 2000"
    assert_eq 50000 "$(cat "$CG_DIR/cpu.cfs_quota_us")" "cfs quota for cpulimit 50"
fi
find_cgroup cpuset 101 || fail "no cpuset cgroup for 101"
assert_eq 0 "$(cat "$CG_DIR/cpuset.cpus")" "cpuset.cpus for cpumask 0"

# --- bad values are refused and change nothing --------------------------------------------
cp "$R/conf/101.yaml" "$VZT_TMP/101.yaml"
assert_exit 21 vzctl set 101 --cpumask 99 --save
assert_exit 21 vzctl set 101 --numfile 0 --save
assert_exit 21 vzctl set 101 --ioprio 9 --save
assert_exit 21 vzctl set 101 --diskspace 5:1 --save
cmp -s "$VZT_TMP/101.yaml" "$R/conf/101.yaml" || fail "a refused set changed conf/101.yaml"
# A legacy beancounter is accepted, kept, and the user is told it is not enforced.
run vzctl set 101 --numtcpsock 100 --save
assert_eq 0 "$RC" "set --numtcpsock"
assert_contains "$ERR" "not enforced" "warning for a legacy beancounter"
assert_contains "$(cat "$R/conf/101.yaml")" "numtcpsock" "legacy beancounter kept in the config"

if [ "${VZ_GUEST:-}" != 1 ]; then
    note_skip "io limits, disk quota and lxcfs run only inside the qemu guest (VZ_GUEST=1)"
    exit 0
fi

# --- iolimit: dd through it runs at the limit (guest: ext4 on a virtio disk) ------------------
assert_ok vzctl set 101 --iolimit 4M
find_cgroup io 101 || fail "no io cgroup for 101"
assert_match "$(cat "$CG_DIR/io.max")" 'rbps=4194304 wbps=4194304' "io.max for iolimit 4M"
t0=$(date +%s%N)
assert_ok vzctl exec 101 dd if=/dev/zero of=/root/io.test bs=1048576 count=12 conv=fsync
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
rate=$((12 * 1048576 * 1000 / (elapsed_ms ? elapsed_ms : 1)))
log "12 MiB through iolimit 4M: ${elapsed_ms} ms, $rate bytes/s"
# A throttle can make I/O slower, never faster: well above the limit means
# it is not applied. (The first second's budget lets a little burst through.)
[ "$rate" -le $((4194304 * 3 / 2)) ] || fail "dd wrote at $rate bytes/s through iolimit 4M"
assert_ok vzctl exec 101 rm /root/io.test
assert_ok vzctl set 101 --iolimit 0

# --- diskspace: writing past it fails with EDQUOT ---------------------------------------------
create_vps 103 --diskspace 20M:20M --diskinodes 2000:2000
start_vps 103
run vzctl exec 103 dd if=/dev/zero of=/root/fill bs=1048576 count=40
assert_ne 0 "$RC" "dd of 40M under diskspace 20M"
assert_contains "$ERR" "quota" "dd's error under diskspace"
assert_ok vzctl ubc 103 --json
used=$(python3 -c 'import json,sys; b={r["resource"]: r for r in json.load(sys.stdin)["beancounters"]}; print(b["diskspace"]["held"], b["diskspace"]["limit"])' <<<"$OUT")
read -r held limit <<<"$used"
assert_eq 20480 "$limit" "ubc diskspace limit (1K blocks)"
[ "$held" -le 20480 ] && [ "$held" -ge 15000 ] || fail "ubc diskspace held $held, expected near the 20480 limit"
run vzctl exec 103 sh -c 'i=0; while [ $i -lt 3000 ]; do touch /root/f$i || break; i=$((i+1)); done; echo $i'
[ "$OUT" -lt 2000 ] || fail "created $OUT files under diskinodes 2000"
assert_ok vzctl stop 103 --fast

# --- lxcfs: the VPS sees its own memory and uptime ---------------------------------------------
if command -v lxcfs >/dev/null; then
    modprobe fuse 2>/dev/null || true
    mkdir -p "$VZT_ROOT/lxcfs"
    lxcfs -p "$VZT_ROOT/lxcfs.pid" "$VZT_ROOT/lxcfs" >"$VZT_ROOT/lxcfs.log" 2>&1 &
    lxcfs_pid=$!
    wait_for 20 test -f "$VZT_ROOT/lxcfs/proc/meminfo" || fail "lxcfs did not come up"
    echo "lxcfs: $VZT_ROOT/lxcfs" >>"$VZT_ROOT/vz.yaml"
    stop_vzd
    launch_vzd
    assert_ok vzctl restart 101
    assert_ok vzctl exec 101 sh -c 'grep MemTotal /proc/meminfo; cut -d. -f1 /proc/uptime'
    assert_match "$OUT" 'MemTotal: +131072 kB' "MemTotal inside a VPS with --ram 128M"
    up=$(tail -1 <<<"$OUT")
    [ "$up" -lt 300 ] || fail "uptime inside a VPS just started is $up s (the host's?)"
    assert_ok vzctl stop 101 --fast
    kill "$lxcfs_pid" 2>/dev/null
    umount -l "$VZT_ROOT/lxcfs" 2>/dev/null || true
else
    fail "lxcfs is not installed in the guest (scripts/setup installs it)"
fi
