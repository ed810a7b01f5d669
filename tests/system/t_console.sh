#!/bin/bash
# vzctl console: attach a terminal to the VPS's console (a shell that init
# keeps on it), type into it and see its output, detach with Esc . while the
# VPS runs on; two clients at once; clients that vanish or stop reading do
# not hold up the console log; a VPS that stops ends the session. A start
# whose init dies shows the console's last lines, and so does status.
. "$(dirname "$0")/lib.sh"

start_vzd
R=$VZT_ROOT
create_vps 101 --hostname con101
# The busybox template keeps nothing on its console; this VPS gets a shell
# there, as a getty would give a login prompt.
echo "console::respawn:-/bin/sh" >>"$R/private/101/etc/inittab"
start_vps 101

# Sessions through terminals of our own (python's pty). Markers are
# computed by the shell so that the echo of what we type never matches.
# shellcheck disable=SC2016
driver='
import os, pty, select, signal, subprocess, sys, time
vzctl, sock, scenario = sys.argv[1], sys.argv[2], sys.argv[3]

class Session:
    def __init__(self):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(vzctl, [vzctl, "--socket", sock, "console", "101"])
        self.out = b""
    def read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        self.out += data
        return bool(data)
    def expect(self, token, timeout=20):
        end = time.time() + timeout
        while token.encode() not in self.out:
            if time.time() > end or not self.read(end - time.time()):
                print("TIMEOUT/EOF waiting for %r; got %r" % (token, self.out[-300:]))
                sys.exit(1)
    def send(self, s):
        os.write(self.fd, s.encode())
    def finish(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self.read(0.2):
                    pass
                return os.waitstatus_to_exitcode(status)
            self.read(0.2)
        print("vzctl console did not end; got %r" % self.out[-300:])
        os.kill(self.pid, signal.SIGKILL)
        sys.exit(1)

if scenario == "single":
    a = Session()
    a.expect("Esc . to detach")
    a.send("echo $((40000+1))\n")
    a.expect("40001")
    print("typed ok")
    # Esc and "." as two reads: the detach sequence spans them.
    a.send("\x1b")
    time.sleep(0.2)
    a.send(".")
    print("exit status %d" % a.finish())
    print("detached" if b"Detached from VPS 101" in a.out else "no detach message: %r" % a.out[-200:])
elif scenario == "two":
    a, b = Session(), Session()
    a.expect("Esc . to detach")
    b.expect("Esc . to detach")
    a.send("echo $((50000+2))\n")
    a.expect("50002")
    b.expect("50002")
    print("both see it")
    b.send("\x1b.")
    print("b exit status %d" % b.finish())
    a.send("echo $((60000+3))\n")
    a.expect("60003")
    print("a goes on")
    a.send("\x1b.")
    print("a exit status %d" % a.finish())
elif scenario == "stop":
    a = Session()
    a.expect("Esc . to detach")
    subprocess.run([vzctl, "--socket", sock, "stop", "101"], stdout=subprocess.DEVNULL)
    print("exit status %d" % a.finish(60))
    print("stopped message" if b"VPS 101 stopped" in a.out else "no stopped message: %r" % a.out[-200:])
'
console_session() { # SCENARIO
    run timeout 120 "$VZT_PY" -c "$driver" "$VZCTL_BIN" "$VZT_SOCK" "$1"
}

# --- one client: type, see, detach ------------------------------------------------
console_session single
assert_eq 0 "$RC" "console session (single): $OUT"
assert_contains "$OUT" "typed ok" "a command typed into the console runs and its output shows"
assert_contains "$OUT" "exit status 0" "vzctl console after Esc ."
assert_contains "$OUT" "detached" "detach message"
assert_ok vzctl status 101
assert_eq "CTID 101 exist mounted running" "$OUT" "101 after detaching"
assert_contains "$(cat "$R/run/101.console")" "40001" "console log (output goes to the log as well)"

# Without a terminal: what stdin holds is typed, its end detaches once the
# output settled; -q prints no hint.
piped_console() {
    # shellcheck disable=SC2016
    (printf 'echo $((70000+4))\n'; sleep 1) | timeout 20 "$VZCTL_BIN" --socket "$VZT_SOCK" -q console 101
}
run piped_console
assert_eq 0 "$RC" "vzctl -q console with commands from a pipe"
assert_contains "$OUT" "70004" "output of a command piped into the console"
assert_not_contains "$ERR" "Esc" "-q: no hint"

# --- two clients at once -----------------------------------------------------------
console_session two
assert_eq 0 "$RC" "console session (two): $OUT"
assert_contains "$OUT" "both see it" "output reaches every attached client"
assert_contains "$OUT" "b exit status 0" "second client detaches"
assert_contains "$OUT" "a goes on" "the other client keeps working"
assert_contains "$OUT" "a exit status 0" "first client detaches"

# --- clients that vanish or stop reading --------------------------------------------
# One killed outright, one stopped (it never reads again) while the VPS
# floods its console: the log keeps up and the VPS runs on. Their stdin is
# a FIFO that never ends nor says anything.
mkfifo "$VZT_TMP/quiet"
exec 7<>"$VZT_TMP/quiet"
"$VZCTL_BIN" --socket "$VZT_SOCK" console 101 <&7 >/dev/null 2>&1 &
gone=$!
"$VZCTL_BIN" --socket "$VZT_SOCK" console 101 <&7 >/dev/null 2>&1 &
stuck=$!
sleep 1
kill -KILL "$gone"
kill -STOP "$stuck"
assert_ok vzctl exec 101 sh -c 'yes flood-flood-flood | head -c 3000000 >/dev/console; echo $((80000+5)) >/dev/console'
wait_for 20 grep -q 80005 "$R/run/101.console" ||
    fail "the console log stalls behind a client that does not read: $(tail -c 200 "$R/run/101.console")"
size=$(stat -c %s "$R/run/101.console")
[ "$size" -le 1048576 ] || fail "console log grew past its bound: $size bytes"
kill -KILL "$stuck"
kill -CONT "$stuck"
wait "$gone" "$stuck" 2>/dev/null
assert_ok vzctl status 101
assert_eq "CTID 101 exist mounted running" "$OUT" "101 after clients vanished"
console_session single
assert_contains "$OUT" "typed ok" "console after clients vanished"

# --- vzd goes away under a client; a VPS adopted later has no console ------------------
"$VZCTL_BIN" --socket "$VZT_SOCK" console 101 <&7 >/dev/null 2>"$VZT_TMP/client.err" &
client=$!
sleep 1
stop_vzd KILL
wait "$client"
assert_eq 3 "$?" "vzctl console when vzd is killed (not 'VPS stopped')"
assert_contains "$(cat "$VZT_TMP/client.err")" "vzctl: the console of VPS 101 closed; asking vzd why: " \
    "vzctl console when vzd is killed"
assert_not_contains "$(cat "$VZT_TMP/client.err")" "stopped" "vzctl console when vzd is killed"
exec 7>&-
launch_vzd
assert_exit 3 vzctl console 101 </dev/null
assert_error "console of VPS 101 is not available"
assert_ok vzctl restart 101
console_session single
assert_contains "$OUT" "typed ok" "console after a restart of the adopted VPS"

# --- the VPS stops while a client is attached ----------------------------------------
console_session stop
assert_eq 0 "$RC" "console session (stop): $OUT"
assert_contains "$OUT" "exit status 0" "vzctl console when the VPS stops"
assert_contains "$OUT" "stopped message" "message when the VPS stops"

# --- a stopped or unknown VPS ---------------------------------------------------------
assert_exit 31 vzctl console 101 </dev/null
assert_error "not running"
assert_exit 43 vzctl console 999 </dev/null

# --- a start whose init dies: the console's last lines --------------------------------
create_vps 102
init=$R/private/102/sbin/init
saved=$(readlink "$init")
rm -f "$init"
cat >"$init" <<'EOF'
#!/bin/sh
i=0
while [ $i -lt 12 ]; do echo "boot step $i"; i=$((i + 1)); done
printf 'init: cannot mount /data: \033[31mno such device\033[0m\r\n'
exit 1
EOF
chmod 0755 "$init"
# The start itself does not wait for init to fail (that would slow every
# start); status tells what happened.
assert_ok vzctl start 102
wait_for 10 sh -c "'$VZCTL_BIN' --socket '$VZT_SOCK' status 102 | grep -q 'last start failed'" ||
    fail "status of 102 does not tell that its init failed: $(vzctl status 102; echo "$OUT")"
assert_ok vzctl status 102
assert_eq "CTID 102 exist unmounted down" "$(head -1 <<<"$OUT")" "status line of 102"
assert_contains "$OUT" $'last start failed: init exited with status 1 while no stop was asked\nconsole:\n  boot step 3' \
    "status of a VPS whose init failed"
assert_contains "$OUT" $'\n  boot step 11\n  init: cannot mount /data: no such device' \
    "the console's last lines, indented, without colour codes"
assert_not_contains "$OUT" "boot step 2" "only the last 10 lines"
assert_ok vzctl status 102 --json
tail_json=$("$VZT_PY" -c 'import json,sys; print(json.load(sys.stdin)["console_tail"][-1])' <<<"$OUT")
assert_eq "init: cannot mount /data: no such device" "$tail_json" "console_tail in status --json"
assert_missing "$R/run/102.state" "state file of a failed start"

# An init that cannot even be run: the start says why, status too.
rm -f "$init"
assert_exit 3 vzctl start 102
assert_contains "$ERR" "exec '/sbin/init'" "start error of a missing init"
assert_ok vzctl status 102
assert_contains "$OUT" "last start failed: exec '/sbin/init'" "status after a missing init"

# A good start forgets the failure.
ln -s "$saved" "$init"
start_vps 102
assert_ok vzctl status 102
assert_eq "CTID 102 exist mounted running" "$OUT" "status of 102 after a good start"
assert_ok vzctl stop 102
assert_ok vzctl status 102
assert_eq "CTID 102 exist unmounted down" "$OUT" "status of 102 after a good start and a stop"

vzt_exit
