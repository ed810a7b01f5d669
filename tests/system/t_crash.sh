#!/bin/bash
# Crash consistency. vzd is killed (SIGKILL, by itself: VZD_CRASH_AT) at
# each of its crash points in turn (`vzd --crash-points`), in the middle of
# the operation the point belongs to. The next vzd must finish or undo that
# operation: the VPS is whole (there and usable, or gone with its name and
# addresses free), and nothing is left behind: no record of the operation,
# no cgroup, host-side interface, route, state file or mount of a VPS that
# does not run, no half-unpacked, half-destroyed or staged files.
#
# Then vzd is restarted (SIGTERM) while six clients create, start, stop and
# destroy VPSes, with the same checks after.
#
# Checkpoint and restore points need a working CRIU (the qemu guest); the
# rest run on the build host too. Prints how many points were injected and
# how many left something wrong.
. "$(dirname "$0")/lib.sh"

start_vzd

have_criu=0
if command -v criu >/dev/null && criu check >/dev/null 2>&1; then have_criu=1; fi

mapfile -t POINTS < <("$VZD_BIN" --crash-points | awk '{ print $1 }')
[ "${#POINTS[@]}" -ge 20 ] || fatal "vzd --crash-points lists ${#POINTS[@]} points, expected at least 20"

injected=0
failed_points=()
skipped_points=()

# ip_of CTID: the address each VPS of this test gets.
ip_of() { echo "10.79.$(($1 / 250)).$(($1 % 250 + 2))"; }

# crash_during POINT VZCTL-ARGS...: restart vzd armed for POINT, run
# $CRASH_PREP (if set) and then vzctl (which loses its vzd), check that vzd
# died at POINT, start a new vzd.
CRASH_PREP=
crash_during() {
    local point=$1 before
    shift
    stop_vzd TERM
    before=$(wc -l <"$VZT_ROOT/vzd.log")
    VZD_CRASH_AT=$point launch_vzd
    [ -z "$CRASH_PREP" ] || $CRASH_PREP
    CRASH_PREP=
    run vzctl "$@"
    local rc=$RC err=$ERR
    if ! vzd_gone_within 10; then
        fail "$point: vzd still runs after vzctl $* (exit $rc)"
        kill -KILL "$VZT_VZD_PID"
    fi
    wait "$VZT_VZD_PID" 2>/dev/null
    VZT_VZD_PID=
    tail -n +"$((before + 1))" "$VZT_ROOT/vzd.log" | grep -q "crash point $point reached" ||
        fail "$point: vzctl $* did not reach the crash point (exit $rc: $err)"
    # The caller never hears "done" from a vzd that died first.
    [ "$rc" != 0 ] || fail "$point: vzctl $* exited 0 although vzd died before answering"
    launch_vzd
}

# state CTID: running, stopped or deleted, as vzctl status says.
state() {
    local s
    s=$(vzctl status "$1" 2>/dev/null)
    case $s in
        *deleted*) echo deleted ;;
        *" running") echo running ;;
        *" down") echo stopped ;;
        *) echo "unknown($s)" ;;
    esac
}

# cgroup_dirs CTID: directories named CTID below our cgroup_base.
cgroup_dirs() {
    local key dir
    cg_base_dirs | while read -r key dir; do
        [ -d "$dir" ] && find "$dir" -mindepth 1 -type d -name "$1" 2>/dev/null
    done
}

# check_left POINT CTID STATE: nothing the operation may leave is left.
check_left() {
    local point=$1 ct=$2 st=$3 f
    for f in "$VZT_ROOT"/intent/*; do
        [ -e "$f" ] && fail "$point: record of an interrupted operation left: $f ($(cat "$f"))"
    done
    for f in "$VZT_ROOT/private/$ct.partial" "$VZT_ROOT/private/$ct.destroying"; do
        [ -e "$f" ] && fail "$point: $f left"
    done
    grep -q " $VZT_ROOT/" /proc/self/mountinfo &&
        fail "$point: mounts left below the storage root: $(grep " $VZT_ROOT/" /proc/self/mountinfo | awk '{ print $5 }' | tr '\n' ' ')"
    [ "$st" = running ] && return 0
    local dirs
    dirs=$(cgroup_dirs "$ct")
    [ -z "$dirs" ] || fail "$point: cgroup of the $st VPS $ct left: $dirs"
    host_has_link "venet$ct" && fail "$point: host-side interface venet$ct of the $st VPS $ct left"
    [ -z "$(ip route show "$(ip_of "$ct")" 2>/dev/null)" ] ||
        fail "$point: host route to $(ip_of "$ct") of the $st VPS $ct left"
    [ -e "$VZT_ROOT/run/$ct.state" ] && fail "$point: state file of the $st VPS $ct left"
    if [ "$st" = deleted ]; then
        [ -e "$VZT_ROOT/conf/$ct.yaml" ] && fail "$point: config of the deleted VPS $ct left"
        [ -e "$VZT_ROOT/private/$ct" ] && fail "$point: private area of the deleted VPS $ct left"
    fi
    return 0
}

# expect_state POINT CTID ALLOWED...: the VPS ended in one of ALLOWED.
expect_state() {
    local point=$1 ct=$2 st
    shift 2
    st=$(state "$ct")
    [[ " $* " == *" $st "* ]] || fail "$point: VPS $ct is $st after recovery, expected: $*"
    check_left "$point" "$ct" "$st"
    STATE=$st
}

# usable POINT CTID: whatever state the VPS is in, it can be used (and is
# destroyed at the end, so the next point starts clean); a deleted VPS's
# CTID, name and address can be taken again.
usable() {
    local point=$1 ct=$2
    case $(state "$ct") in
        deleted)
            assert_ok vzctl create "$ct" --ostemplate busybox --name "crash$ct" --ipadd "$(ip_of "$ct")" ||
                fail "$point: CTID, name or address of VPS $ct not free again"
            ;;
        running)
            assert_ok vzctl exec "$ct" echo alive || fail "$point: exec in the running VPS $ct"
            assert_ok vzctl stop "$ct" || fail "$point: stop of VPS $ct"
            ;;
    esac
    if [ "$(state "$ct")" = stopped ]; then
        assert_ok vzctl start "$ct" || fail "$point: start of VPS $ct after recovery"
        assert_ok vzctl exec "$ct" echo alive
        assert_eq alive "$OUT" "$point: exec in VPS $ct after recovery"
        assert_ok vzctl stop "$ct"
        check_left "$point" "$ct" stopped
        assert_ok vzctl destroy "$ct"
    fi
    check_left "$point" "$ct" deleted
}

new_vps() { # CTID: created, stopped
    assert_ok vzctl create "$1" --ostemplate busybox --name "crash$1" --ipadd "$(ip_of "$1")" ||
        fatal "cannot create VPS $1"
}

ct=300
for point in "${POINTS[@]}"; do
    ct=$((ct + 1))
    fails_before=$VZT_FAILS
    dump=$VZT_TMP/dump.$ct
    case $point in
        chkpnt.* | restore.*)
            if [ "$have_criu" != 1 ]; then
                skipped_points+=("$point")
                continue
            fi
            ;;
    esac
    log "crash point $point (VPS $ct)"
    case $point in
        create.*)
            crash_during "$point" create "$ct" --ostemplate busybox --name "crash$ct" --ipadd "$(ip_of "$ct")"
            expect_state "$point" "$ct" deleted stopped
            ;;
        start.*)
            new_vps "$ct"
            crash_during "$point" start "$ct"
            expect_state "$point" "$ct" running stopped
            ;;
        stop.*)
            new_vps "$ct"
            start_vps "$ct"
            crash_during "$point" stop "$ct"
            expect_state "$point" "$ct" running stopped
            ;;
        set.*)
            new_vps "$ct"
            start_vps "$ct"
            crash_during "$point" set "$ct" --numproc 77 --save
            expect_state "$point" "$ct" running
            if find_cgroup pids "$ct"; then
                assert_eq 77 "$(cat "$CG_DIR/pids.max")" "$point: pids.max the crashed set applied"
            fi
            ;;
        destroy.*)
            new_vps "$ct"
            crash_during "$point" destroy "$ct"
            # Once the files are renamed away, the destroy is finished.
            expect_state "$point" "$ct" deleted
            ;;
        chkpnt.*)
            new_vps "$ct"
            # Started by the vzd that dumps it: one restarted since holds no
            # console for it (outside systemd's fd store), and refuses.
            CRASH_PREP="start_vps $ct"
            crash_during "$point" chkpnt "$ct" --dumpfile "$dump"
            if [ "$point" = chkpnt.prepared ]; then
                expect_state "$point" "$ct" running
                [ -e "$dump" ] && fail "$point: the unfinished images directory $dump was left"
            else
                expect_state "$point" "$ct" stopped
                assert_exists "$dump/inventory.img" "$point: the finished checkpoint"
                assert_ok vzctl restore "$ct" --dumpfile "$dump" || fail "$point: restore of the finished checkpoint"
                expect_state "$point" "$ct" running
            fi
            ;;
        restore.*)
            new_vps "$ct"
            start_vps "$ct"
            assert_ok vzctl chkpnt "$ct" --dumpfile "$dump" || fatal "$point: chkpnt before the restore"
            crash_during "$point" restore "$ct" --dumpfile "$dump"
            expect_state "$point" "$ct" running stopped
            if [ "$STATE" = stopped ]; then
                assert_exists "$dump/inventory.img" "$point: the images of a restore that was undone"
                assert_ok vzctl restore "$ct" --dumpfile "$dump" || fail "$point: a second restore"
                expect_state "$point" "$ct" running
            fi
            ;;
        migrate.*)
            # What a source would send: a VPS's config and files, its CTID
            # free here.
            new_vps "$ct"
            cp "$VZT_ROOT/conf/$ct.yaml" "$VZT_TMP/incoming.yaml"
            rm -rf "$VZT_TMP/incoming"
            cp -a "$VZT_ROOT/private/$ct" "$VZT_TMP/incoming"
            assert_ok vzctl destroy "$ct"
            staging=$VZT_ROOT/migrate/$ct
            if [ "$point" = migrate.prepared ]; then
                crash_during "$point" migrate-in "$ct" --phase prepare <"$VZT_TMP/incoming.yaml"
                [ -e "$staging" ] && fail "$point: staging of the unanswered prepare left: $staging"
            else
                assert_ok vzctl migrate-in "$ct" --phase prepare <"$VZT_TMP/incoming.yaml" ||
                    fatal "$point: prepare"
                cp -a "$VZT_TMP/incoming/." "$staging/private/"
                crash_during "$point" migrate-in "$ct" --phase commit --mode start
                # The source never heard the commit succeed: it still owns
                # the VPS, so here it is back in staging for an abort or a
                # second commit.
                expect_state "$point" "$ct" deleted
                assert_exists "$staging/private/bin/busybox" "$point: the incoming files back in staging"
                assert_ok vzctl migrate-in "$ct" --phase commit --mode start ||
                    fail "$point: a second commit after recovery"
                expect_state "$point" "$ct" running
                [ -e "$staging" ] && fail "$point: staging left after the second commit"
            fi
            ;;
        *)
            fail "no scenario for crash point $point: add one to $(basename "$0")"
            continue
            ;;
    esac
    injected=$((injected + 1))
    usable "$point" "$ct"
    [ "$VZT_FAILS" = "$fails_before" ] || failed_points+=("$point")
done

# --- vzd restarted while clients create, start, stop and destroy ---------------------------------
# A restart (SIGTERM, as systemctl restart sends) lets the operations under
# way finish; whatever it could not wait for, the next vzd finishes or
# undoes. Either way every VPS ends whole and nothing is left behind.
client() { # CTID: create, start, stop, destroy, three times over; errors are expected
    local r
    for r in 1 2 3; do
        vzctl create "$1" --ostemplate busybox --name "crash$1" --ipadd "$(ip_of "$1")" >/dev/null 2>&1
        vzctl start "$1" >/dev/null 2>&1
        vzctl stop "$1" >/dev/null 2>&1
        vzctl destroy "$1" >/dev/null 2>&1
    done
}
clients=()
for ct in 401 402 403 404 405 406; do
    client "$ct" &
    clients+=($!)
done
sleep 1
stop_vzd TERM
launch_vzd
wait "${clients[@]}"
grep -q "operation(s) under way to finish" "$VZT_ROOT/vzd.log" &&
    log "the restart waited for operations under way: $(grep -c "operation(s) under way" "$VZT_ROOT/vzd.log")"
for ct in 401 402 403 404 405 406; do
    expect_state "restart under load" "$ct" deleted stopped running
    usable "restart under load" "$ct"
done

[ "${#skipped_points[@]}" = 0 ] ||
    note_skip "no working CRIU here: crash points ${skipped_points[*]} not injected"
log "crash points: ${#POINTS[@]} listed, $injected injected, ${#failed_points[@]} failed${failed_points[*]:+: ${failed_points[*]}}"
echo "crash points: ${#POINTS[@]} listed, $injected injected, ${#failed_points[@]} failed"
