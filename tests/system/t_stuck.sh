#!/bin/bash
# A stuck VPS does not hold up vzd. While the stop of one VPS waits (its
# init ignores the stop signal; in the guest also a process of it stuck in
# uninterruptible sleep, state D, that SIGKILL cannot end), requests for
# other VPSes and for the list are answered, a second request for the stuck
# VPS is told "busy", and every wait ends within its bound: stop_timeout,
# then SIGKILL, then at most 30 s before the stop reports failure.
. "$(dirname "$0")/lib.sh"

start_vzd
# A stop timeout long enough that the requests below, even under emulation,
# clearly end while the stop still waits.
sed -i 's/^stop_timeout: .*/stop_timeout: 30/' "$VZT_ROOT/vz.yaml"
stop_vzd
launch_vzd

create_vps 101
create_vps 102
# 101's init ignores every signal that asks an init to stop.
priv=$VZT_ROOT/private/101
rm -f "$priv/sbin/init"
cat >"$priv/sbin/init" <<'EOF'
#!/bin/sh
trap '' TERM INT HUP QUIT USR1 USR2 PWR
echo stubborn init up
while :; do sleep 1; done
EOF
chmod 0755 "$priv/sbin/init"
chown --reference="$priv/sbin" "$priv/sbin/init"
start_vps 101
start_vps 102

# others_answer WHAT: with 101's stop under way, every request about other
# VPSes (and the list) is answered, and 101's stop is still waiting after.
others_answer() {
    local what=$1
    assert_ok vzctl exec 102 echo served
    assert_eq served "$OUT" "$what: exec in VPS 102"
    assert_ok vzctl list -a -H -o ctid,status
    assert_contains "$OUT" "102 running" "$what: list"
    assert_ok vzctl status 101
    assert_contains "$OUT" "running" "$what: status of the VPS being stopped"
    assert_ok vzctl create 103 --ostemplate busybox
    assert_ok vzctl start 103
    assert_ok vzctl stop 103
    assert_ok vzctl destroy 103
    # The same VPS: busy, at once.
    assert_exit 9 vzctl stop 101
    assert_error 'busy|locked|stop'
    kill -0 "$stopper" 2>/dev/null ||
        fail "$what: the stop of 101 ended before the other requests were done; the test proves nothing"
}

# wait_until_busy: the stop running in the background holds 101's lock.
# The probe is a restore, which, if it got the lock first, would only say
# that 101 runs (32) and change nothing.
wait_until_busy() {
    wait_for 20 sh -c "timeout 10 '$VZCTL_BIN' --socket '$VZT_SOCK' restore 101 >/dev/null 2>&1; [ \$? = 9 ]"
}

# stop_101_meanwhile WHAT [STOP-ARGS...]: stop 101 in the background; while
# it waits, everything else is served (others_answer); then wait for it.
# Sets STOP_RC, STOP_OUT and STOP_SECONDS.
stop_101_meanwhile() {
    local what=$1 started=$SECONDS
    shift
    # The probe may hold the lock for a moment: a stop told busy tries again.
    (
        while :; do
            vzctl stop 101 "$@" >"$VZT_TMP/stop.out" 2>&1
            rc=$?
            [ "$rc" = 9 ] || break
            sleep 0.1
        done
        echo "$rc" >"$VZT_TMP/stop.rc"
    ) &
    stopper=$!
    wait_until_busy || fail "$what: 101 was never busy while its stop waited"
    others_answer "$what"
    wait "$stopper"
    STOP_SECONDS=$((SECONDS - started))
    STOP_RC=$(cat "$VZT_TMP/stop.rc")
    STOP_OUT=$(cat "$VZT_TMP/stop.out")
}

# --- init ignores the stop signal ------------------------------------------------------------------
stop_101_meanwhile "init ignoring its stop signal"
elapsed=$STOP_SECONDS
assert_eq 0 "$STOP_RC" "exit status of the stop of a VPS whose init ignores it"
[ "$elapsed" -ge 25 ] || fail "the stop of 101 took ${elapsed}s: it should have waited stop_timeout (30 s) first"
[ "$elapsed" -le 90 ] || fail "the stop of 101 took ${elapsed}s: more than stop_timeout and the kill allow"
grep -q "VPS 101 did not stop within 30 s; killing it" "$VZT_ROOT/vzd.log" ||
    fail "vzd's log does not say it killed 101 after stop_timeout"
assert_contains "$(vps_status 101)" down "status of 101 after the stop"

# --- a process in uninterruptible sleep (guest only) -----------------------------------------------
dm_ready() {
    command -v dmsetup >/dev/null && command -v losetup >/dev/null || return 1
    modprobe dm-mod 2>/dev/null
    [ -e /dev/mapper/control ] || return 1
}
if [ "${VZ_GUEST:-0}" != 1 ]; then
    note_skip "a process in state D (device-mapper suspend) is made only in the qemu guest"
elif ! dm_ready; then
    note_skip "no device-mapper here (dmsetup, dm-mod): no process in state D"
else
    truncate -s 16M "$VZT_TMP/disk"
    loopdev=$(losetup -f --show "$VZT_TMP/disk") || fatal "losetup"
    dm=vzt-stuck-$$
    dmsetup create "$dm" --table "0 32768 linear $loopdev 0" || fatal "dmsetup create"
    dev=/dev/mapper/$dm
    [ -b "$dev" ] || dev=/dev/dm-$(dmsetup info -c --noheadings -o minor "$dm")
    at_exit sh -c "dmsetup resume $dm 2>/dev/null; dmsetup remove $dm; losetup -d $loopdev"
    start_vps 101
    init=$(vps_init_pid 101) || fatal "no init pid for 101"
    dmsetup suspend "$dm"
    # A reader in 101's PID namespace waits for the suspended device in
    # state D: SIGKILL to 101's init cannot finish until the device resumes.
    nsenter --target "$init" --pid -- dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null &
    stuck=
    for _ in $(seq 100); do
        for p in $(pgrep -x dd); do
            [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = D ] && stuck=$p
        done
        [ -n "$stuck" ] && break
        sleep 0.1
    done
    [ -n "$stuck" ] || fatal "no dd in state D on the suspended device"
    stop_101_meanwhile "a process in state D" --fast
    elapsed=$STOP_SECONDS
    # SIGKILL cannot end it: the stop gives up after its bound, and says so.
    assert_eq 3 "$STOP_RC" "exit status of a stop SIGKILL cannot finish"
    assert_contains "$STOP_OUT" "did not die" "error of a stop SIGKILL cannot finish"
    [ "$elapsed" -le 90 ] || fail "the stop of 101 took ${elapsed}s: more than its 30 s bound after SIGKILL"
    # Once the device answers, the VPS ends and vzd clears up after it.
    dmsetup resume "$dm"
    wait_for 30 sh -c "'$VZCTL_BIN' --socket '$VZT_SOCK' status 101 | grep -q down" ||
        fail "101 did not end once its stuck process could"
    if find_cgroup pids 101; then
        fail "cgroup of 101 left after its stuck process ended: $CG_DIR"
    fi
    start_vps 101
    assert_ok vzctl stop 101 --fast
fi

assert_ok vzctl stop 102
