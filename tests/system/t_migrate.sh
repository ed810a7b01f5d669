#!/bin/bash
# vzctl migrate between two "hosts": this test's network namespace (the
# source, with the test's vzd) and a second network namespace with its own
# vzd, storage root, sshd and address (the destination), joined by a veth
# pair. The VPS runs a counter that appends to a file and holds an
# established TCP connection with a client on the source host.
#   - an online migration whose destination fails to restore leaves the VPS
#     running on the source (the same counter goes on) and nothing behind
#     on the destination;
#   - an online migration moves it: the counter goes on there from its
#     number, the TCP connection answers once the route points at the new
#     host, and the VPS is gone from the source;
#   - an offline migration moves a running VPS and starts it there;
#   - bad requests: an unknown VPS, an unreachable host, a CTID taken there.
# CRIU works only in the guest, hence guest only.
. "$(dirname "$0")/lib.sh"

need_guest "CRIU needs the guest's kernel"
command -v criu >/dev/null || skip "criu is not installed (Debian package criu)"
criu check >/dev/null 2>&1 || skip "criu check fails here: $(criu check 2>&1 | tail -1)"
command -v rsync >/dev/null || skip "rsync is not installed"
[ -x /usr/sbin/sshd ] || skip "sshd is not installed (Debian package openssh-server)"
start_vzd
R=$VZT_ROOT
. "$VZT_LIB_DIR/second_host.sh"

# --- the destination host ----------------------------------------------------------------------
# Its criu fails restores while $VZT_TMP/fail-restore exists: a destination
# that fails midway, after the source has frozen the VPS.
FAIL_RESTORE=$VZT_TMP/fail-restore
mkdir -p "$VZT_TMP/bin"
cat >"$VZT_TMP/bin/criu" <<EOF
#!/bin/sh
if [ "\$1" = restore ] && [ -e "$FAIL_RESTORE" ]; then
    echo "Error (test): restores fail on this host for now" >restore.log
    exit 1
fi
exec $(command -v criu) "\$@"
EOF
chmod +x "$VZT_TMP/bin/criu"
# On the storage disk, as the source's root: idmapped mounts need it.
dst_work=$(mktemp -d "${VZ_GUEST_STORAGE:-${TMPDIR:-/tmp}}/vzt-dst.XXXXXX")
at_exit second_host_down
at_exit rm -rf --one-file-system "$dst_work"
second_host_up "$dst_work" "$VZD_BIN" "$VZCTL_BIN" "$VZT_CGBASE-dst" "$R/template/cache" "$VZT_TMP/bin" ||
    fatal "$SECOND_HOST_ERROR"
D=$DST_ROOT

# --- the VPS -------------------------------------------------------------------------------------
# A counter started once by init (never restarted) and an echo server.
counter() { # DIR: its private area
    echo "::once:/bin/sh -c 'i=0; while :; do i=\$((i+1)); echo \$i >/count; echo \$i >>/count.log; sleep 0.2; done'" \
        >>"$1/etc/inittab"
    echo "::once:/bin/busybox nc -ll -p 5000 -e /bin/cat" >>"$1/etc/inittab"
}
count_in() { cat "$1/count" 2>/dev/null; }
counts_on() { # DIR WHAT: the count log goes up one by one from 1
    awk 'NR == 1 && $1 != 1 { bad = 1 } NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad }' \
        "$1/count.log" || fail "$2: the count log does not go up one by one: $(tr '\n' ' ' <"$1/count.log" | tail -c 200)"
}
goes_on_from() { # DIR BEFORE WHAT
    wait_for 20 sh -c "[ \"\$(cat '$1/count' 2>/dev/null)\" -gt '$2' ] 2>/dev/null" ||
        fail "$3: the counter does not go on from $2 (now $(count_in "$1"))"
}

migrate() { vzctl migrate "$@" --ssh "$SSH_OPTS"; }

create_vps 101 --ipadd 10.82.0.2 --numproc 100
counter "$R/private/101"
start_vps 101
wait_for 20 test -s "$R/private/101/count" || fail "the counter of VPS 101 does not count"

# --- a destination that fails midway -----------------------------------------------------------
touch "$FAIL_RESTORE"
init=$(vps_init_pid 101)
before=$(count_in "$R/private/101")
assert_exit 17 migrate 101 "root@$DST_ADDR" --online
assert_contains "$ERR" "restores fail on this host" "the destination's reason"
assert_contains "$ERR" "the VPS runs here again" "what became of the VPS"
assert_contains "$(vps_status 101)" running "VPS 101 on the source after a failed migration"
goes_on_from "$R/private/101" "$before" "VPS 101 back on the source"
counts_on "$R/private/101" "VPS 101 back on the source"
assert_contains "$(dst_vzctl status 101)" deleted "VPS 101 on the destination after the failed migration"
assert_missing "$D/private/101" "the destination's private area of 101"
assert_missing "$D/migrate/101" "the destination's staging of 101"
assert_missing "$D/conf/101.yaml" "the destination's config of 101"
rm -f "$FAIL_RESTORE"

# --- online ----------------------------------------------------------------------------------------
# A client on the source host with one connection open to the VPS, from
# the address the destination can route back to.
tcp_client 10.82.0.2 "$VZT_TMP" "$SRC_ADDR"
wait_for 20 test -s "$VZT_TMP/first" -o -s "$VZT_TMP/error" || fail "the client got no first echo"
assert_eq one "$(cat "$VZT_TMP/first" 2>/dev/null)" "echo before the migration ($(cat "$VZT_TMP/error" 2>/dev/null))"
before=$(count_in "$R/private/101")
assert_ok migrate 101 "root@$DST_ADDR" --online
for word in "Copied the private area" "Pre-dump 1" "Pre-dump 2" "Freezing" "downtime" "migrated to $DST_ADDR"; do
    assert_contains "$OUT" "$word" "migrate's progress"
done
log "$OUT"
assert_contains "$(vps_status 101)" deleted "VPS 101 on the source after the migration"
assert_missing "$R/private/101" "the source's private area of 101"
assert_missing "$R/dump/101.migrate" "the source's images"
assert_contains "$(dst_vzctl status 101)" running "VPS 101 on the destination"
assert_missing "$D/migrate/101" "the destination's staging after the migration"
goes_on_from "$D/private/101" "$before" "VPS 101 on the destination"
counts_on "$D/private/101" "VPS 101 on the destination"
# Its files count against its diskspace there (project quota id = CTID),
# where the storage has project quotas.
project_of() { lsattr -pd "$1" 2>/dev/null | awk '{ print $1 }'; }
if [ "$(project_of "$D/private")" != "" ] && grep -q "project quotas on $D/private" "$dst_work/vzd.log"; then
    assert_eq 101 "$(project_of "$D/private/101/etc/inittab")" "project id of a file copied to the destination"
else
    note_skip "no project quotas on the destination's storage"
fi
limit=$(dst_vzctl ubc 101 | awk '$1 == "numproc" { print $5 }')
assert_eq 100 "$limit" "numproc limit of VPS 101 on the destination"
# The network learns where the VPS went (an upstream router would).
ip route replace 10.82.0.2/32 via "$DST_ADDR"
touch "$VZT_TMP/go"
wait_for 40 test -s "$VZT_TMP/second" -o -s "$VZT_TMP/error" || fail "the client got no second echo"
assert_eq two "$(cat "$VZT_TMP/second" 2>/dev/null)" \
    "the TCP connection answers from the destination ($(cat "$VZT_TMP/error" 2>/dev/null))"

# --- offline -------------------------------------------------------------------------------------
create_vps 102 --ipadd 10.82.0.3
echo marker-102 >"$R/private/102/marker"
start_vps 102
assert_ok migrate 102 "root@$DST_ADDR" --json
assert_eq False "$(echo "$OUT" | "$VZT_PY" -c 'import json,sys; print(json.load(sys.stdin)["online"])')" "offline migration's report"
assert_contains "$(dst_vzctl status 102)" running "VPS 102 started on the destination"
assert_eq marker-102 "$(dst_vzctl exec 102 cat /marker)" "VPS 102's files on the destination"
assert_contains "$(vps_status 102)" deleted "VPS 102 on the source after an offline migration"

# --- bad requests ----------------------------------------------------------------------------------
assert_exit 43 migrate 199 "root@$DST_ADDR"
create_vps 103 --ipadd 10.82.0.4
start_vps 103
assert_exit 4 vzctl migrate 103 root@192.168.77.99 --ssh "$SSH_OPTS -o ConnectTimeout=3"
assert_contains "$ERR" "cannot reach" "migrating to an unreachable host"
assert_contains "$(vps_status 103)" running "VPS 103 after a migration to an unreachable host"
assert_ok dst_vzctl create 103 --ostemplate busybox
assert_exit 44 migrate 103 "root@$DST_ADDR" --online
assert_contains "$ERR" "exists on the destination" "migrating to a host where the CTID is taken"
assert_contains "$(vps_status 103)" running "VPS 103 after a refused migration"
assert_exit 20 migrate 103 "root@$DST_ADDR" --remove-area maybe
assert_ok vzctl stop 103

vzt_exit
