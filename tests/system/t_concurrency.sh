#!/bin/bash
# Requests that reach vzd at the same time: starts and stops of different
# VPSes by eight clients at once all finish, in bounded time, with every
# VPS where it was asked to be (a start's child once hung for ever in
# glibc's setresgid when another vzd thread was being made at the clone);
# two requests for the same VPS are serialised or answered "busy", never
# both done; vzd keeps serving throughout.
. "$(dirname "$0")/lib.sh"

start_vzd
ids=$(seq 201 208)
for id in $ids; do create_vps "$id"; done

# each_at_once CMD...: CMD CTID for every VPS, eight at a time; prints the
# exit status of each, one "CTID STATUS" a line.
each_at_once() {
    printf '%s\n' $ids | xargs -P 8 -I{} sh -c \
        'timeout -k 5 60 "$0" --socket "$1" "$2" {} $3 >/dev/null 2>&1; echo "{} $?"' \
        "$VZCTL_BIN" "$VZT_SOCK" "$@"
}

for round in 1 2 3; do
    out=$(each_at_once start)
    bad=$(awk '$2 != 0' <<<"$out" | tr '\n' ' ')
    [ -z "$bad" ] || fail "round $round: parallel starts that failed or hung (CTID status): $bad"
    for id in $ids; do
        assert_contains "$(vps_status "$id")" running "round $round: VPS $id after the parallel starts" || break
    done
    out=$(each_at_once stop --fast)
    bad=$(awk '$2 != 0' <<<"$out" | tr '\n' ' ')
    [ -z "$bad" ] || fail "round $round: parallel stops that failed or hung (CTID status): $bad"
    for id in $ids; do
        assert_contains "$(vps_status "$id")" down "round $round: VPS $id after the parallel stops" || break
    done
done

# The same VPS twice at once: one start does it, the other finds it busy
# (9) or already running (32).
for round in 1 2 3; do
    codes=$(for _ in 1 2; do
        (timeout -k 5 60 "$VZCTL_BIN" --socket "$VZT_SOCK" start 201 >/dev/null 2>&1; echo $?) &
    done; wait)
    codes=$(sort <<<"$codes" | tr '\n' ' ')
    [[ $codes == "0 9 " || $codes == "0 32 " ]] ||
        fail "round $round: two starts of VPS 201 at once ended with '$codes' (want one 0 and one 9 or 32)"
    assert_contains "$(vps_status 201)" running "VPS 201 after two starts at once"
    assert_ok vzctl stop 201 --fast
done

kill -0 "$VZT_VZD_PID" 2>/dev/null || fail "vzd died under concurrent requests"
assert_ok vzctl list -a -H -o ctid
assert_eq "$(echo $ids)" "$(echo $OUT | tr -s ' ')" "VPSes at the end"
vzt_exit
