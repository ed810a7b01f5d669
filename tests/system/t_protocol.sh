#!/bin/bash
# Hostile input on vzd's socket: garbage, an oversized frame, a truncated
# frame, a wrong protocol version, an unknown operation, wrong field types
# and a client that connects and never sends. Each gets an error answer (or
# is dropped) and vzd keeps serving.
. "$(dirname "$0")/lib.sh"

start_vzd
create_vps 101

# shellcheck disable=SC2016
client='
import json, socket, struct, sys, time
mode = sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body
if mode == "garbage":
    body = b"\x00\xffnot json at all{{{"
    s.sendall(struct.pack(">I", len(body)) + body)
elif mode == "oversized":
    s.sendall(struct.pack(">I", 64 << 20))
elif mode == "truncated":
    s.sendall(struct.pack(">I", 100) + b"{\"version\": 1")
    s.shutdown(socket.SHUT_WR)
elif mode == "version":
    s.sendall(frame({"version": 99, "op": "list", "target": "", "args": {}}))
elif mode == "op":
    s.sendall(frame({"version": 1, "op": "format-disk", "target": "101", "args": {}}))
elif mode == "types":
    s.sendall(frame({"version": 1, "op": "set", "target": "101", "args": {"params": {"numproc": 5}}}))
elif mode == "flagtype":
    s.sendall(frame({"version": 1, "op": "stop", "target": "101", "args": {"fast": "yes"}}))
elif mode == "argstype":
    s.sendall(frame({"version": 1, "op": "chkpnt", "target": "101", "args": {"pre_dump": [1], "dumpfile": 7}}))
elif mode == "migtype":
    s.sendall(frame({"version": 1, "op": "migrate_in", "target": "150", "args": {"phase": "prepare", "online": "x", "config": {}}}))
elif mode == "silent":
    pass
t0 = time.time()
try:
    hdr = s.recv(4)
    if len(hdr) < 4:
        print("closed after %.0fs" % (time.time() - t0))
        sys.exit(0)
    n = struct.unpack(">I", hdr)[0]
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            break
        body += chunk
    r = json.loads(body)
    print("ok" if r.get("ok") else "error %s: %s" % (r["error"]["code"], r["error"]["message"]))
    print("after %.0fs" % (time.time() - t0))
except socket.timeout:
    print("no answer within 30s")
'

answer() {
    run timeout 60 "$VZT_PY" -c "$client" "$VZT_SOCK" "$1"
    assert_eq 0 "$RC" "protocol client ($1)"
}

answer garbage
assert_match "$OUT" '^error protocol: .*(JSON|json|parse)' "answer to a frame of garbage"
answer oversized
assert_match "$OUT" '^error protocol: .*exceeds' "answer to a 64 MiB frame header"
answer truncated
assert_match "$OUT" '^(error protocol: .*truncated|closed)' "answer to a truncated frame"
answer version
assert_match "$OUT" '^error protocol: .*version 99' "answer to protocol version 99"
answer op
assert_match "$OUT" '^error bad_argument: .*format-disk' "answer to an unknown operation"
answer types
assert_match "$OUT" "^error protocol: .*numproc" "answer to a number where a string belongs"
assert_not_contains "$(cat "$VZT_ROOT/conf/101.yaml")" "numproc" "a malformed set changed nothing"
# A flag that is not a boolean, arguments of the wrong JSON type.
for mode in flagtype argstype migtype; do
    answer "$mode"
    assert_match "$OUT" "^error (protocol|bad_argument|not_running|bad_config): " "answer to $mode"
    kill -0 "$VZT_VZD_PID" 2>/dev/null || fatal "vzd died on a request with wrongly typed arguments ($mode)"
done

# A client that never sends is dropped after vzd's request timeout (10 s),
# and other clients are served meanwhile.
timeout 60 "$VZT_PY" -c "$client" "$VZT_SOCK" silent >"$VZT_TMP/silent.out" 2>&1 &
silent=$!
sleep 1
assert_ok vzctl status 101
assert_eq "CTID 101 exist unmounted down" "$OUT" "status while a silent client holds a connection"
wait "$silent"
silent_out=$(cat "$VZT_TMP/silent.out")
assert_match "$silent_out" '(timed out|closed after)' "what a silent client gets"

# vzd is still there and still right.
kill -0 "$VZT_VZD_PID" 2>/dev/null || fail "vzd died on hostile input"
start_vps 101
assert_ok vzctl exec 101 echo alive
assert_eq alive "$OUT" "exec after hostile input"
assert_ok vzctl stop 101 --fast
