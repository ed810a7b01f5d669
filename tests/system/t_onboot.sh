#!/bin/bash
# Boot-time behaviour: VPSes with --onboot yes start when vzd first starts
# after a host boot (simulated by emptying runtime_dir's marker, as a
# reboot empties /run), in --bootorder order, highest first; a vzd restart
# later never starts a VPS the admin stopped; vzd tells systemd it is ready
# (sd_notify READY=1) and stopping. Runs natively and in the qemu guest.
. "$(dirname "$0")/lib.sh"

start_vzd
R=$VZT_ROOT

create_vps 101 --onboot yes --bootorder 1
create_vps 102 --onboot yes --bootorder 5
create_vps 103
assert_match "$(cat "$R/conf/101.yaml")" $'onboot: true\nbootorder: 1' "conf/101.yaml"
assert_ok vzctl set 103 --onboot no --bootorder 9 --save
assert_match "$(cat "$R/conf/103.yaml")" $'onboot: false\nbootorder: 9' "conf/103.yaml"
assert_exit 21 vzctl set 103 --onboot maybe --save
assert_error "onboot 'maybe'"
assert_exit 21 vzctl set 103 --bootorder -3 --save
assert_error "bootorder '-3'"
assert_exists "$R/run/onboot.done" "the boot marker after vzd's first start"

# --- a host boot: the marker is gone, vzd starts the onboot VPSes -----------------------------
notify=$VZT_TMP/notify.sock
notes=$VZT_TMP/notify.log
"$VZT_PY" - "$notify" "$notes" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
s.settimeout(120)
try:
    while True:
        out.write(s.recv(4096).decode() + "\n--\n")
except socket.timeout:
    pass
PY
listener=$!
wait_for 10 test -S "$notify" || fail "the notify listener did not start"
stop_vzd
rm -f "$R/run/onboot.done"
export NOTIFY_SOCKET=$notify
launch_vzd
unset NOTIFY_SOCKET
wait_for 60 grep -q "onboot VPSes started" "$R/vzd.log" || fail "vzd did not report the onboot start: $(tail -3 "$R/vzd.log")"
assert_contains "$(vps_status 101)" running "status of onboot VPS 101 after the boot"
assert_contains "$(vps_status 102)" running "status of onboot VPS 102 after the boot"
assert_contains "$(vps_status 103)" down "status of VPS 103 (not onboot) after the boot"
order=$(grep -o 'boot: VPS [0-9]* started' "$R/vzd.log" | awk '{print $3}' | tr '\n' ' ')
assert_eq "102 101 " "$order" "order the onboot VPSes started in (bootorder 5 before 1)"
assert_contains "$(cat "$notes")" "READY=1" "what vzd told the service manager"

# --- a vzd restart is no boot: a VPS the admin stopped stays stopped --------------------------
assert_ok vzctl stop 101
stop_vzd KILL
export NOTIFY_SOCKET=$notify
launch_vzd
unset NOTIFY_SOCKET
sleep 2
assert_contains "$(vps_status 101)" down "status of 101 (stopped by the admin) after a vzd restart"
assert_contains "$(vps_status 102)" running "status of 102 after a vzd restart (adopted)"
stop_vzd
sleep 0.5
assert_contains "$(cat "$notes")" "STOPPING=1" "what vzd told the service manager when it stopped"
kill "$listener" 2>/dev/null
launch_vzd

vzt_exit
