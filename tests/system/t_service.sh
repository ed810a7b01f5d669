#!/bin/bash
# vzd as a systemd service, with the units the project installs
# (vzd/vzd.service and vzd/vz.service, their commands pointed at this build
# and storage root):
#   - `systemctl start` returns once the socket answers (Type=notify);
#   - VPS cgroups live in the delegated scope machine.slice/<base>.scope,
#     so `systemctl restart` and a SIGKILL of vzd (Restart=on-failure)
#     leave the VPSes running, with the same init, and listed;
#   - the VPS's console log goes on after those (systemd's fd store keeps
#     the console masters for the next vzd);
#   - vzd's errors reach the journal with priority err, its news with info;
#   - stopping vz.service (what a host shutdown does) stops every VPS
#     through its own init, whether vzd is running or was stopped by hand;
#   - the next boot starts the onboot VPS and the one that ran with onboot
#     unset, not the one with onboot no.
# Runs only in the guest booted with systemd as PID 1 (tests/guest/run --systemd).
VZT_NO_ISOLATE=1 # systemctl and the vzd it starts live in the machine's namespaces
. "$(dirname "$0")/lib.sh"

need_guest "it installs systemd units"
[ -d /run/systemd/system ] || skip "systemd is not PID 1 here (tests/guest/run --systemd)"
need_root

# A storage root as start_vzd makes it, but vzd is systemd's to start.
parent=${VZ_GUEST_STORAGE:-/var/tmp}
R=$(mktemp -d "$parent/vzt.XXXXXX")
chmod 0711 "$R"
VZT_ROOT=$R VZT_SOCK=$R/vzd.sock VZT_CGBASE=vzt-service
cat >"$R/vz.yaml" <<YAML
socket: $VZT_SOCK
runtime_dir: $R/run
cgroup_base: $VZT_CGBASE
stop_timeout: 10
YAML
vzt_template
unit=vzt-vzd.service
host_unit=vzt-vz.service
scope=machine.slice/$VZT_CGBASE.scope
sed -e "s|^ExecStart=.*|ExecStart=$VZD_BIN --root $R|" -e "s|^Also=.*|Also=$host_unit|" \
    "$VZT_REPO/vzd/vzd.service" >"/run/systemd/system/$unit"
sed -e "s|^ExecStop=.*|ExecStop=$VZD_BIN --root $R --stop-all|" -e "s|vzd\.service|$unit|g" \
    "$VZT_REPO/vzd/vz.service" >"/run/systemd/system/$host_unit"
at_exit sh -c "systemctl stop $host_unit $unit $VZT_CGBASE.scope >/dev/null 2>&1; rm -f /run/systemd/system/$unit /run/systemd/system/$host_unit; systemctl daemon-reload"
systemctl daemon-reload

main_pid() { systemctl show -p MainPID --value "$unit"; }
# shutdown_marker CTID: the busybox init of CTID touches /shutdown-ran when it
# runs its shutdown actions, which it does only when it stops cleanly.
shutdown_marker() {
    echo "::shutdown:/bin/touch /shutdown-ran" >>"$R/private/$1/etc/inittab"
}
vzd_is_up() { "$VZCTL_BIN" --socket "$VZT_SOCK" list >/dev/null 2>&1; }

# --- start: ready means the socket answers ----------------------------------------------------
assert_ok systemctl start "$unit"
assert_ok vzctl list -a
assert_eq active "$(systemctl is-active "$unit")" "state of $unit after start"
VZT_VZD_PID=$(main_pid)
# The unit's bounding set: no power over the host that no VPS gets either
# (sys_module is bit 16, sys_time 25, syslog 34).
bnd=$(awk '$1 == "CapBnd:" { print $2 }' "/proc/$VZT_VZD_PID/status")
for bit in 16 25 34; do
    [ $(((16#$bnd >> bit) & 1)) = 0 ] || fail "vzd under systemd holds capability bit $bit in its bounding set ($bnd)"
done
[ $(((16#$bnd >> 21) & 1)) = 1 ] || fail "vzd under systemd lacks sys_admin (bit 21) in its bounding set ($bnd)"
create_vps 101 --onboot yes
create_vps 102
create_vps 103 --onboot no
for id in 101 102 103; do shutdown_marker $id; done
# The first start after boot has passed; a fresh /run for this root makes
# the next start a boot again.
rm -f "$R/run/onboot.done"
assert_ok systemctl restart "$unit"
wait_for 30 sh -c "'$VZCTL_BIN' --socket '$VZT_SOCK' status 101 | grep -q running" ||
    fail "the onboot VPS 101 did not start with the service: $(journalctl -u $unit -n 5 --no-pager 2>&1)"
assert_contains "$(vps_status 102)" down "VPS 102 (onboot unset, never ran) at boot"
start_vps 102
start_vps 103
init1=$(vps_init_pid 101)
assert_contains "$(cat /proc/$init1/cgroup)" "0::/$scope/$VZT_CGBASE/101" "cgroup of VPS 101's init (in vzd's scope)"
assert_eq active "$(systemctl is-active $VZT_CGBASE.scope)" "state of the scope holding the VPS cgroups"

# --- restart and crash leave the VPS running ---------------------------------------------------
assert_ok systemctl restart "$unit"
assert_eq active "$(systemctl is-active "$unit")" "state of $unit after a restart with VPSes running"
assert_contains "$(vzctl list -a)" "101" "vzctl list after systemctl restart"
assert_contains "$(vps_status 101)" running "VPS 101 after systemctl restart"
assert_eq "$init1" "$(vps_init_pid 101)" "init of VPS 101 after systemctl restart (the same process)"
assert_ok systemctl restart "$unit"
assert_eq active "$(systemctl is-active "$unit")" "state of $unit after a second restart"
old=$(main_pid)
kill -KILL "$old"
wait_for 20 sh -c "[ \"\$(systemctl show -p MainPID --value $unit)\" != $old ] && [ \"\$(systemctl show -p MainPID --value $unit)\" != 0 ]" ||
    fail "systemd did not restart vzd after SIGKILL"
wait_for 20 vzd_is_up || fail "vzd does not answer after its restart"
assert_contains "$(vps_status 101)" running "VPS 101 after vzd was killed and restarted"
assert_eq "$init1" "$(vps_init_pid 101)" "init of VPS 101 after the crash (the same process)"
# The console master came back from systemd's fd store: what the VPS
# writes on its console still reaches the log.
assert_ok vzctl exec 101 sh -c "echo console-after-restarts >/dev/console"
wait_for 10 grep -q console-after-restarts "$R/run/101.console" ||
    fail "the console of VPS 101 is not served after vzd's restarts: $(tail -c 300 "$R/run/101.console")"

# --- the journal gets priorities ---------------------------------------------------------------
vzctl destroy 101 >/dev/null 2>&1 && fail "vzctl destroy of the running VPS 101 succeeded"
errs=$(journalctl -u "$unit" -p err --no-pager -o cat 2>&1)
assert_contains "$errs" "destroy 101: VPS 101 is running" "vzd's errors in the journal at priority err"
assert_not_contains "$errs" "listening on" "vzd's info lines kept out of priority err"
assert_contains "$(journalctl -u "$unit" -p info --no-pager -o cat 2>&1)" "listening on" "vzd's info lines in the journal"

# --- shutdown with vzd stopped by hand ---------------------------------------------------------
assert_ok systemctl start "$host_unit"
assert_ok systemctl stop "$unit"
kill -0 "$init1" 2>/dev/null || fail "VPS 101's init died when the service stopped"
# What a host shutdown does: vz.service is stopped, before vzd.service.
assert_ok systemctl stop "$host_unit"
for id in 101 102 103; do
    assert_exists "$R/private/$id/shutdown-ran" "VPS $id ran its shutdown actions (a clean stop, vzd not running)"
    rm -f "$R/private/$id/shutdown-ran"
done
kill -0 "$init1" 2>/dev/null && fail "VPS 101's init still runs after vz.service stopped"
assert_eq "101 102 103" "$(sort -n "$R/running-at-shutdown" | tr '\n' ' ' | sed 's/ $//')" "VPSes noted as running at shutdown"
assert_contains "$(journalctl -u "$host_unit" --no-pager -o cat 2>&1)" "VPS 102 stopped" "vz.service's log"

# --- the next boot -----------------------------------------------------------------------------
rm -f "$R/run/onboot.done"
assert_ok systemctl start "$unit"
VZT_VZD_PID=$(main_pid)
for id in 101 102; do
    wait_for 30 sh -c "'$VZCTL_BIN' --socket '$VZT_SOCK' status $id | grep -q running" ||
        fail "VPS $id did not come back at boot: $(journalctl -u $unit -n 5 --no-pager 2>&1)"
done
sleep 1
assert_contains "$(vps_status 103)" down "VPS 103 (onboot no) after boot, though it ran at shutdown"
assert_missing "$R/running-at-shutdown" "the shutdown list once the boot used it"

# --- shutdown with vzd serving -----------------------------------------------------------------
assert_ok systemctl start "$host_unit"
assert_ok systemctl stop "$host_unit"
for id in 101 102; do
    assert_exists "$R/private/$id/shutdown-ran" "VPS $id ran its shutdown actions (stopped through vzd)"
    assert_contains "$(vps_status $id)" down "VPS $id after vz.service stopped"
done
assert_eq "101 102" "$(sort -n "$R/running-at-shutdown" | tr '\n' ' ' | sed 's/ $//')" "VPSes noted the second time"
assert_eq active "$(systemctl is-active "$unit")" "vzd after vz.service stopped (it keeps serving)"

vzt_exit
