#!/bin/bash
# vzctl enter: an interactive shell on a pseudo-terminal inside the VPS,
# driven through a terminal as a user would: window size, Ctrl-C, exit.
. "$(dirname "$0")/lib.sh"

start_vzd
create_vps 101 --hostname enter101
start_vps 101

# Without a terminal: commands from a pipe, end of input ends the shell.
run timeout 30 "$VZCTL_BIN" --socket "$VZT_SOCK" enter 101 <<<$'hostname\ntty\nexit'
assert_eq 0 "$RC" "enter with commands from a pipe"
assert_contains "$OUT" "enter101" "hostname seen through enter"
assert_match "$OUT" '/dev/pts/[0-9]+' "the shell's terminal is a pty of the VPS's devpts"

# Through a real terminal of our own (python's pty): the window size comes
# across, Ctrl-C interrupts the foreground command but not the shell, and
# `exit` ends vzctl with status 0.
# shellcheck disable=SC2016
driver='
import fcntl, os, pty, select, struct, sys, termios, time
vzctl, sock = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    os.execv(vzctl, [vzctl, "--socket", sock, "enter", "101"])
out = b""
def expect(token, timeout=20):
    global out
    end = time.time() + timeout
    while token.encode() not in out:
        left = end - time.time()
        if left <= 0:
            print("TIMEOUT waiting for %r; got %r" % (token, out[-300:]))
            sys.exit(1)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                print("EOF waiting for %r; got %r" % (token, out[-300:]))
                sys.exit(1)
            out += data
            # Answer the cursor position query of busybox line editing, as a
            # real terminal does.
            for _ in range(data.count(b"\x1b[6n")):
                os.write(fd, b"\x1b[1;1R")
def send(s):
    os.write(fd, s.encode())
# Markers are computed by the shell so that the terminal echo of what we
# type never matches them.
send("stty size; echo $((40000+1))\n")
expect("40001")
print("winsize ok" if b"33 111" in out else "winsize wrong: %r" % out[-200:])
send("sleep 100; echo $((50000+2))\n")
time.sleep(1)
send("\x03")
send("echo $((60000+3))\n")
expect("60003", timeout=10)
print("ctrl-c ok" if b"50002" not in out else "sleep was not interrupted")
send("exit\n")
_, status = os.waitpid(pid, 0)
print("exit status %d" % os.waitstatus_to_exitcode(status))
'
run timeout 60 "$VZT_PY" -c "$driver" "$VZCTL_BIN" "$VZT_SOCK"
assert_eq 0 "$RC" "interactive enter session"
assert_contains "$OUT" "winsize ok" "window size inside (stty size)"
assert_contains "$OUT" "ctrl-c ok" "Ctrl-C interrupts the command inside, not the shell"
assert_contains "$OUT" "exit status 0" "vzctl enter ends with the shell"

# Nothing of the session is left inside.
assert_ok vzctl exec 101 ps
assert_not_contains "$OUT" "sleep 100" "processes of the enter session after exit"

# enter of a stopped or unknown VPS.
assert_ok vzctl stop 101 --fast
assert_exit 31 vzctl enter 101 </dev/null
assert_exit 43 vzctl enter 999 </dev/null
