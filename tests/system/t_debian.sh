#!/bin/bash
# A Debian VPS as its user sees it: systemd boots as its init and reaches
# "running" with no failed unit, journald runs, it has its own machine-id,
# hostname and routed address; a user made with --userpasswd logs in over
# ssh with that password from the host; `vzctl stop` powers systemd off
# cleanly within the timeout; a /etc/shadow symlink planted inside does not
# make vzd write outside the VPS; the password is in no config or log.
# Runs in the qemu guest (pure cgroup v2) with the templates t_template_debian.sh
# built on the host ($VZT_DEBIAN_CACHE, default /var/cache/vz-test-templates).
. "$(dirname "$0")/lib.sh"

need_guest "systemd in a VPS needs pure cgroup v2"
SHARED=${VZT_DEBIAN_CACHE:-/var/cache/vz-test-templates}
[ -s "$SHARED/debian-12-standard.tar.zst" ] ||
    skip "no debian-12-standard template in $SHARED (t_template_debian.sh on the host builds it)"
command -v ssh >/dev/null || skip "no ssh client (Debian package openssh-client)"

start_vzd
R=$VZT_ROOT
# systemd's shutdown under software emulation takes longer than lib.sh's
# 10 s: give it what a slow host would.
STOP_TIMEOUT=90
stop_vzd
sed -i "s/^stop_timeout: .*/stop_timeout: $STOP_TIMEOUT/" "$R/vz.yaml"
launch_vzd
cp "$SHARED"/debian-12-standard.* "$R/template/cache/" || fatal "cannot copy the Debian template"
IP=10.91.0.2
PASSWORD="Vz-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

# --- create, a user, start ------------------------------------------------------------------
assert_ok vzctl create 201 --ostemplate debian-12-standard --ipadd "$IP" --hostname deb201.test || fatal "cannot create the Debian VPS 201"
mid=$(cat "$R/private/201/etc/machine-id")
assert_match "$mid" '^[0-9a-f]{32}$' "/etc/machine-id of a new Debian VPS"
# The password comes from stdin here, so it is in no process's arguments.
run sh -c "printf '%s\n' '$PASSWORD' | '$VZCTL_BIN' --socket '$VZT_SOCK' set 201 --userpasswd alice"
assert_eq 0 "$RC" "set --userpasswd alice (password on stdin); stderr: $(vzt_short "$ERR")"
assert_match "$(grep '^alice:' "$R/private/201/etc/shadow")" '^alice:\$(y|6)\$' "alice's line in /etc/shadow"
start_vps 201

state=
for _ in $(seq 1 60); do
    state=$(vzctl exec 201 systemctl is-system-running 2>/dev/null)
    case $state in running | degraded) break ;; esac
    sleep 2
done
assert_ok vzctl exec 201 systemctl --failed --no-legend --plain
assert_eq "running" "$state" "systemctl is-system-running inside VPS 201 (failed units: $(vzt_short "$OUT"))"

assert_ok vzctl exec 201 ps -e -o pid=,comm=
assert_match "$OUT" '(^|'$'\n'') *1 systemd('$'\n''|$)' "PID 1 in VPS 201"
assert_contains "$OUT" "systemd-journal" "processes of VPS 201"
assert_ok vzctl exec 201 journalctl -b --no-pager -n 5
assert_ne "" "$OUT" "journalctl -b inside VPS 201"
assert_ok vzctl exec 201 hostname
assert_eq deb201.test "$OUT" "hostname inside VPS 201"
assert_ok vzctl exec 201 cat /etc/machine-id
assert_eq "$mid" "$OUT" "machine-id as systemd sees it"
assert_ok vzctl exec 201 ip -o -4 addr show dev venet0
assert_contains "$OUT" "$IP/32" "venet0 inside VPS 201"
assert_ok vzctl exec 201 ping -c 1 -W 3 169.254.0.1
# systemd made its units' groups in the VPS's delegated cgroup.
assert_ok vzctl exec 201 sh -c 'ls /sys/fs/cgroup'
assert_contains "$OUT" "system.slice" "/sys/fs/cgroup inside VPS 201"

# --- ssh with the password from the host -------------------------------------------------------
askpass=$VZT_TMP/askpass
printf '#!/bin/sh\necho %s\n' "$PASSWORD" >"$askpass"
chmod 700 "$askpass"
ssh_alice() {
    SSH_ASKPASS=$askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none setsid -w timeout 30 \
        ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -o PreferredAuthentications=password -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
        -o ConnectTimeout=10 "alice@$IP" "$@" </dev/null
}
wait_for 60 ssh_alice true || fail "ssh alice@$IP with the password set by --userpasswd: $(ssh_alice true 2>&1 | tail -2)"
assert_ok ssh_alice 'id -un; echo $HOME; hostname'
assert_eq "alice /home/alice deb201.test" "$(echo $OUT)" "id, home and hostname over ssh"
# Each VPS made its own ssh host keys.
assert_ok vzctl exec 201 sh -c 'ls /etc/ssh/ssh_host_*_key.pub'
tar --zstd -tf "$R/template/cache/debian-12-standard.tar.zst" | grep -q 'ssh_host_.*key' &&
    fail "the template itself holds ssh host keys"

# --- the password is nowhere but in /etc/shadow ------------------------------------------------
for f in "$R/conf/201.yaml" "$R/vzd.log"; do
    grep -qF "$PASSWORD" "$f" && fail "the password appears in $f"
done

# --- a /etc/shadow symlink planted inside -------------------------------------------------------
host_file=$VZT_TMP/host-shadow-target
echo "host file" >"$host_file"
assert_ok vzctl exec 201 ln -sf "$host_file" /etc/shadow
run sh -c "printf '%s\n' 'Other-pw-1' | '$VZCTL_BIN' --socket '$VZT_SOCK' set 201 --userpasswd alice"
assert_eq 0 "$RC" "set --userpasswd after /etc/shadow became a symlink; stderr: $(vzt_short "$ERR")"
assert_eq "host file" "$(cat "$host_file")" "the host file a planted /etc/shadow symlink named"
[ -L "$R/private/201/etc/shadow" ] && fail "/etc/shadow of VPS 201 is still a symlink after --userpasswd"
assert_match "$(grep '^alice:' "$R/private/201/etc/shadow")" '^alice:\$(y|6)\$' "alice in the rewritten /etc/shadow"

# --- stop: systemd powers off ------------------------------------------------------------------
t0=$SECONDS
assert_ok vzctl stop 201
took=$((SECONDS - t0))
log "vzctl stop of the Debian VPS took $took s"
[ "$took" -lt "$STOP_TIMEOUT" ] || fail "vzctl stop of a systemd VPS took $took s (stop_timeout is $STOP_TIMEOUT s)"
grep -q "killed" <<<"$(tail -3 "$R/vzd.log")" && fail "vzd killed VPS 201 instead of a clean power-off: $(tail -3 "$R/vzd.log")"
assert_contains "$(tail -5 "$R/vzd.log")" "VPS 201 stopped (init exited with status 0)" "vzd log after stop"
console=$(cat "$R/run/201.console" 2>/dev/null)
log "console of VPS 201 (end): $(tail -c 2500 <<<"$console" | sed 's/\x1b\[[0-9;]*m//g' | tr '\n' '|')"
assert_contains "$console" "Welcome to" "systemd's boot banner in the console log"
assert_match "$console" "System Power Off|Power-Off|powering off" "systemd's power-off in the console log"

vzt_exit
