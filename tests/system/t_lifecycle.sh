#!/bin/bash
# Lifecycle of one VPS through the CLI: create, status, list, start, exec,
# stop, restart, destroy. Runs natively and in the qemu guest.
. "$(dirname "$0")/lib.sh"

start_vzd
R=$VZT_ROOT

# --- create -----------------------------------------------------------------------
create_vps 101 --hostname lc101.example --name web1
assert_ok vzctl status 101
assert_eq "CTID 101 exist unmounted down" "$OUT" "status after create"

assert_exists "$R/conf/101.yaml" "config of 101"
assert_match "$(cat "$R/conf/101.yaml" 2>/dev/null)" $'(^|\n)ctid: *"?101"?' "conf/101.yaml ctid"
assert_contains "$(cat "$R/conf/101.yaml" 2>/dev/null)" "lc101.example" "conf/101.yaml hostname"
assert_exists "$R/private/101" "private area of 101"
# The private area holds the unpacked template.
[ -n "$(find "$R/private/101" -path '*/sbin/init' 2>/dev/null | head -1)" ] ||
    fail "private/101 does not contain the template (no sbin/init below it)"
[ -n "$(find "$R/private/101" -path '*/etc/inittab' 2>/dev/null | head -1)" ] ||
    fail "private/101 does not contain the template (no etc/inittab below it)"

# A stopped VPS is listed only with -a.
assert_ok vzctl list -H
assert_not_contains "$OUT" "101" "list (running only) while 101 is stopped"
assert_ok vzctl list -a -H
line=$(awk '$1 == "101"' <<<"$OUT")
assert_ne "" "$line" "list -a line of 101"
assert_contains "$line" "stopped" "list -a STATUS of stopped 101"

# The name works wherever a CTID does.
assert_ok vzctl status web1
assert_eq "CTID 101 exist unmounted down" "$OUT" "status by name"

# --- start ----------------------------------------------------------------------------
start_vps 101
assert_ok vzctl status 101
assert_eq "CTID 101 exist mounted running" "$OUT" "status after start"

assert_ok vzctl list
header=$(head -1 <<<"$OUT")
for col in CTID NPROC STATUS IP_ADDR HOSTNAME; do
    assert_contains "$header" "$col" "list header"
done
line=$(awk '$1 == "101"' <<<"$OUT")
assert_ne "" "$line" "list line of running 101"
read -r l_ctid l_nproc l_status _ <<<"$line"
assert_eq 101 "${l_ctid:-}" "list CTID column"
assert_match "${l_nproc:-}" '^[1-9][0-9]*$' "list NPROC of running 101"
assert_eq running "${l_status:-}" "list STATUS column"
assert_contains "$line" "lc101.example" "list HOSTNAME column"

assert_ok vzctl list -H -o ctid,hostname,name
assert_eq "101 lc101.example web1" "$(awk '$1 == "101" { $1 = $1; print }' <<<"$OUT")" \
    "list -H -o ctid,hostname,name"
assert_not_contains "$OUT" "CTID" "list -H prints no header"

assert_ok vzctl list --json
json_check=$("$VZT_PY" -c '
import json, sys
data = json.load(sys.stdin)
if isinstance(data, dict):
    data = data.get("vps", data.get("list", []))
found = [v for v in data if str(v.get("ctid")) == "101"]
if len(found) != 1:
    print("ctid 101 appears %d times" % len(found)); sys.exit(1)
v = found[0]
if v.get("hostname") != "lc101.example":
    print("hostname is %r" % v.get("hostname")); sys.exit(1)
if "status" in v and v["status"] != "running":
    print("status is %r" % v["status"]); sys.exit(1)
print("ok")
' <<<"$OUT" 2>&1)
assert_eq ok "$json_check" "list --json (ctid 101, hostname, status)"

# --- exec -----------------------------------------------------------------------------
assert_ok vzctl exec 101 echo hi
assert_eq hi "$OUT" "exec echo hi"
assert_ok vzctl exec web1 hostname
assert_eq lc101.example "$OUT" "exec by name: hostname"

assert_exit 5 vzctl exec 101 sh -c 'exit 5'
assert_exit 0 vzctl exec 101 true
assert_exit 1 vzctl exec 101 false
# A command killed by a signal reports 128+signal, as a shell does.
assert_exit 137 vzctl exec 101 sh -c 'kill -9 $$'

run vzctl exec 101 cat <<<"abc"
assert_eq 0 "$RC" "exec cat exit status"
assert_eq abc "$OUT" "exec carries stdin"

run vzctl exec 101 sh -c 'echo to-out; echo to-err >&2; exit 3'
assert_eq 3 "$RC" "exec exit status with output"
assert_eq to-out "$OUT" "exec stdout"
assert_eq to-err "$ERR" "exec stderr (kept apart from stdout)"

# Binary data through stdin and stdout, unchanged.
head -c 1048576 /dev/urandom >"$VZT_TMP/blob"
vzctl exec 101 cat <"$VZT_TMP/blob" >"$VZT_TMP/blob.back"
rc=$?
assert_eq 0 "$rc" "exec cat of 1 MiB"
cmp -s "$VZT_TMP/blob" "$VZT_TMP/blob.back" ||
    fail "1 MiB of binary data through 'vzctl exec 101 cat' came back changed ($(stat -c %s "$VZT_TMP/blob.back") bytes)"

# A command that does not exist in the VPS is an error, not a hang.
run vzctl exec 101 /no/such/command
assert_ne 0 "$RC" "exec of a missing command"

# --- stop -------------------------------------------------------------------------------
assert_ok vzctl stop 101
assert_ok vzctl status 101
assert_eq "CTID 101 exist unmounted down" "$OUT" "status after stop"
assert_ok vzctl list -H
assert_not_contains "$OUT" "101" "list (running only) after stop"
if find_cgroup pids 101; then
    assert_eq "" "$(cg_procs "$CG_DIR")" "processes in the cgroup of 101 after stop"
fi

# Start again after a stop, then restart.
start_vps 101
boot1=$(vzctl exec 101 cut -d' ' -f22 /proc/1/stat)
assert_ok vzctl restart 101
assert_ok vzctl status 101
assert_eq "CTID 101 exist mounted running" "$OUT" "status after restart"
boot2=$(vzctl exec 101 cut -d' ' -f22 /proc/1/stat)
assert_ne "" "$boot2" "init start time after restart"
assert_ne "$boot1" "$boot2" "init start time (restart must boot a new init)"
assert_ok vzctl exec 101 echo again
assert_eq again "$OUT" "exec after restart"
assert_ok vzctl stop 101

# --- destroy ----------------------------------------------------------------------------
assert_ok vzctl destroy 101
assert_missing "$R/private/101" "private area after destroy"
assert_missing "$R/conf/101.yaml" "config after destroy"
assert_missing "$R/root/101" "root mount point after destroy"
run vzctl status 101
# The exit status for an unknown VPS is t_badinput's topic.
assert_eq "CTID 101 deleted unmounted down" "$OUT" "status after destroy"
assert_ok vzctl list -a -H
assert_not_contains "$OUT" "101" "list -a after destroy"

# "delete" is an alias of destroy; the name is free again afterwards.
create_vps 102 --name web1
assert_ok vzctl delete 102
assert_missing "$R/private/102" "private area after delete"
assert_missing "$R/conf/102.yaml" "config after delete"
