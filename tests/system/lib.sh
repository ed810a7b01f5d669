# shellcheck shell=bash
# Helpers for the system tests (tests/system/t_*.sh). Source it first thing:
#
#   . "$(dirname "$0")/lib.sh"
#
# The tests drive the real vzd and vzctl as root on the real kernel. Each
# test re-executes itself in private mount, PID and network namespaces
# (unless VZT_NO_ISOLATE=1 is set before sourcing this file): whatever the
# product mounts lands in a mount namespace the test owns, the interfaces
# and routes it makes in a network namespace that holds only loopback, and
# when the test ends the kernel kills every process it left behind and
# removes that network namespace with everything in it. The leak checks of the
# teardown run before that, so a leak is still reported as a failure.
#
# Environment (all optional):
#   VZT_BUILD            build tree holding vzd/vzd and vzctl/vzctl (default
#                        <repo>/build)
#   VZT_TEMPLATE_CACHE   where the busybox template is built once and reused
#   VZT_TIMEOUT          seconds the whole test may take (default 600)
#   VZT_CMD_TIMEOUT      seconds one vzctl call may take (default 120)
#   VZT_RUN_DIR          set by ./run: per-run directory for results
#   VZ_GUEST=1           we are inside the qemu guest (pure cgroup v2)
#   VZ_GUEST_STORAGE     directory for storage roots (default $TMPDIR or /tmp)
#   VZT_KEEP=1           keep the storage root (for debugging)
#   VZT_HOST_NET=1       (set by a test) run in the machine's network namespace

# --- isolation -----------------------------------------------------------------
if [ "${VZT_NO_ISOLATE:-0}" != 1 ] && [ "${VZT_ISOLATED:-0}" != 1 ]; then
    if [ "$(id -u)" = 0 ]; then
        export VZT_ISOLATED=1
        # --net: the test, and the vzd it starts, get a network namespace of
        # their own holding only loopback; the bridges, veth pairs and routes
        # vzd makes stay in it and vanish with it.
        # --kill-child: if this process dies, the test's PID 1 and with it
        # every process of the namespace dies too.
        # A test that fetches packages sets VZT_HOST_NET=1 before sourcing
        # this file and keeps the machine's network (it makes no interfaces).
        net=--net
        [ "${VZT_HOST_NET:-0}" = 1 ] && net=
        exec unshare --mount --propagation private --pid $net --fork --mount-proc \
            --kill-child "$BASH" "$0" "$@"
    fi
fi
if [ "${VZT_ISOLATED:-0}" = 1 ] && [ "${VZT_NO_ISOLATE:-0}" != 1 ] && [ "${VZT_HOST_NET:-0}" != 1 ]; then
    # A new network namespace starts with lo down.
    ip link set lo up 2>/dev/null || echo "--- lib.sh: cannot bring up lo in the test's network namespace" >&2
fi

set -u
set -o pipefail
export LC_ALL=C

VZT_NAME=$(basename "$0" .sh)
VZT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VZT_REPO=$(cd "$VZT_LIB_DIR/../.." && pwd)
VZT_BUILD=${VZT_BUILD:-$VZT_REPO/build}
VZD_BIN=${VZD_BIN:-$VZT_BUILD/vzd/vzd}
VZCTL_BIN=${VZCTL_BIN:-$VZT_BUILD/vzctl/vzctl}
VZT_CMD_TIMEOUT=${VZT_CMD_TIMEOUT:-120}
VZT_FAILS=0
VZT_SKIPPED=0
VZT_ROOT=
VZT_SOCK=
VZT_CGBASE=
VZT_VZD_PID=
VZT_WATCHDOG=
VZT_AT_EXIT=()
VZT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vzt-tmp.XXXXXX")
# Debian's python3 (json only); any python3 on PATH otherwise.
if [ -x /usr/bin/python3 ]; then VZT_PY=/usr/bin/python3; else VZT_PY=python3; fi
export VZT_PY

# --- reporting ------------------------------------------------------------------
# Reasons go to stderr (the test's log) and, under ./run, to a file the
# runner prints the first line of.
vzt_reason() {
    local msg=$*
    msg=${msg//$'\n'/\\n}
    set -- "$msg"
    echo "$*" >&2
    if [ -n "${VZT_RUN_DIR:-}" ]; then
        echo "$*" >>"$VZT_RUN_DIR/$VZT_NAME.reasons"
    fi
}

log() { echo "--- $*" >&2; }

# Record a failure and go on (the test still finishes and tears down).
fail() {
    VZT_FAILS=$((VZT_FAILS + 1))
    vzt_reason "FAIL: $*"
    return 1
}

# A failure after which the rest of the test makes no sense.
fatal() {
    fail "$@"
    exit 1
}

# A missing prerequisite: the test is reported as skipped.
skip() {
    VZT_SKIPPED=1
    vzt_reason "SKIP: $*"
    exit 77
}

# Skip unless we run inside the qemu guest: for tests that could hurt the
# host (fork bombs, memory exhaustion).
need_guest() {
    [ "${VZ_GUEST:-0}" = 1 ] ||
        skip "$1: runs only inside the qemu guest (VZ_GUEST=1), it could hurt the build host"
}

# note_skip REASON: part of the test is not run here; the test can still
# pass, and ./run prints the reason next to PASS.
note_skip() {
    vzt_reason "SKIP-PART: $*"
}

need_root() {
    [ "$(id -u)" = 0 ] || skip "needs root (system tests drive vzd as root)"
}

# --- running commands ----------------------------------------------------------
# run CMD...: run a command, keep its stdout in $OUT, stderr in $ERR and exit
# status in $RC. Never fails itself.
run() {
    "$@" >"$VZT_TMP/out" 2>"$VZT_TMP/err"
    RC=$?
    OUT=$(cat "$VZT_TMP/out")
    ERR=$(cat "$VZT_TMP/err")
    return 0
}

# Quote a command for messages.
vzt_q() {
    local s='' a
    for a in "$@"; do s+="${s:+ }$(printf '%q' "$a")"; done
    echo "$s"
}

# vzctl ARGS...: the product's CLI against our private vzd, bounded in time
# so that a hang fails the test instead of stalling it.
vzctl() {
    timeout -k 5 "$VZT_CMD_TIMEOUT" "$VZCTL_BIN" --socket "$VZT_SOCK" "$@"
}

# Describe an exit status for humans.
vzt_rc_text() {
    case $1 in
        124) echo "124 (timed out after ${VZT_CMD_TIMEOUT}s)" ;;
        137) echo "137 (killed)" ;;
        *) echo "$1" ;;
    esac
}

# --- assertions ------------------------------------------------------------------
# Each returns 0 or records a failure and returns 1, so a test can write
# `assert_... || fatal "..."` where going on makes no sense.

assert_eq() { # EXPECTED ACTUAL [WHAT]
    [ "$1" == "$2" ] && return 0
    fail "${3:-value}: expected '$1', got '$2'"
}

assert_ne() { # UNEXPECTED ACTUAL [WHAT]
    [ "$1" != "$2" ] && return 0
    fail "${3:-value}: expected anything but '$1'"
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]
    [[ $1 == *"$2"* ]] && return 0
    fail "${3:-output}: expected to contain '$2', got: $(vzt_short "$1")"
}

assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
    [[ $1 != *"$2"* ]] && return 0
    fail "${3:-output}: must not contain '$2', got: $(vzt_short "$1")"
}

assert_match() { # STRING ERE [WHAT]
    [[ $1 =~ $2 ]] && return 0
    fail "${3:-output}: expected to match /$2/, got: $(vzt_short "$1")"
}

assert_exists() { # PATH [WHAT]
    [ -e "$1" ] || [ -L "$1" ] && return 0
    fail "${2:-path}: $1 does not exist"
}

assert_missing() { # PATH [WHAT]
    [ ! -e "$1" ] && [ ! -L "$1" ] && return 0
    fail "${2:-path}: $1 exists but should not"
}

# assert_exit CODE CMD...: run CMD (see run()) and check its exact exit status.
assert_exit() {
    local want=$1
    shift
    run "$@"
    [ "$RC" = "$want" ] && return 0
    fail "$(vzt_q "$@"): exit status $(vzt_rc_text "$RC"), expected $want; stdout: $(vzt_short "$OUT"); stderr: $(vzt_short "$ERR")"
}

# assert_ok CMD...: assert_exit 0.
assert_ok() { assert_exit 0 "$@"; }

# assert_error REGEX: the last run() printed one error line on stderr that
# starts with "vzctl: " or "error: " and matches REGEX (case-insensitive),
# i.e. it names the problem.
assert_error() {
    local re=$1 lines
    lines=$(printf '%s\n' "$ERR" | grep -c .)
    if [ "$lines" != 1 ]; then
        fail "expected a one-line error on stderr, got $lines lines: $(vzt_short "$ERR")"
        return 1
    fi
    if ! [[ $ERR =~ ^(vzctl|error):\  ]]; then
        fail "error line must start with 'vzctl: ' or 'error: ', got: $(vzt_short "$ERR")"
        return 1
    fi
    if ! grep -qiE -- "$re" <<<"$ERR"; then
        fail "error line does not name the problem (/$re/): $(vzt_short "$ERR")"
        return 1
    fi
}

vzt_short() {
    local s=${1//$'\n'/\\n}
    [ ${#s} -gt 400 ] && s="${s:0:400}..."
    echo "'$s'"
}

# wait_for SECONDS CMD...: poll until CMD succeeds; fails after SECONDS.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

# --- cgroups ----------------------------------------------------------------------
# cg_own_dirs: for every hierarchy this process belongs to, print
# "<controllers or v2> <directory of our own cgroup>". The directory is found
# through /proc/self/cgroup and the mount table, so it works on v1, hybrid
# and v2 hosts and with cgroup namespaces.
cg_own_dirs() {
    local id ctrls path
    while IFS=: read -r id ctrls path; do
        local key fstype pf qf cs
        if [ "$id" = 0 ] && [ -z "$ctrls" ]; then
            key=v2
            fstype=cgroup2
        else
            key=$ctrls
            fstype=cgroup
        fi
        # mountinfo: id parent maj:min root mountpoint opts - fstype source superopts
        local line root mnt sopts found=
        while IFS= read -r line; do
            local pre=${line%% - *} post=${line#* - }
            read -r -a pf <<<"$pre"
            read -r -a qf <<<"$post"
            [ "${qf[0]}" = "$fstype" ] || continue
            root=${pf[3]}
            mnt=${pf[4]}
            sopts=,${qf[2]},
            if [ "$fstype" = cgroup ]; then
                local c ok=1
                IFS=, read -r -a cs <<<"$ctrls"
                for c in "${cs[@]}"; do
                    [[ $sopts == *",$c,"* ]] || ok=
                done
                [ -n "$ok" ] || continue
            fi
            # The mount shows the hierarchy from `root` down.
            if [ "$root" = / ]; then
                found=$mnt$path
            elif [ "$path" = "$root" ] || [[ $path == "$root"/* ]]; then
                found=$mnt${path#"$root"}
            else
                continue
            fi
            break
        done </proc/self/mountinfo
        [ -n "$found" ] && echo "$key ${found%/}"
    done </proc/self/cgroup
}

# cg_base_dirs: our cgroup_base directory in every hierarchy (whether or not
# it exists).
cg_base_dirs() {
    local key dir
    [ -n "$VZT_CGBASE" ] || return 0
    cg_own_dirs | while read -r key dir; do
        echo "$key $dir/$VZT_CGBASE"
    done
}

# cg_controller_dir CONTROLLER: the directory of our own cgroup in the
# hierarchy that has CONTROLLER: its v1 hierarchy if it is mounted as v1
# (hybrid hosts), else the v2 one if the controller is available there.
# Prints "v1 DIR" or "v2 DIR".
cg_controller_dir() {
    local c=$1 key dir v2dir=
    while read -r key dir; do
        if [ "$key" = v2 ]; then
            v2dir=$dir
        elif [[ ,$key, == *",$c,"* ]]; then
            echo "v1 $dir"
            return 0
        fi
    done <<<"$(cg_own_dirs)"
    if [ -n "$v2dir" ]; then
        local top=$v2dir
        # cgroup.controllers of our own cgroup lists what can be enabled below.
        if grep -qw "$c" "$top/cgroup.controllers" 2>/dev/null; then
            echo "v2 $v2dir"
            return 0
        fi
    fi
    return 1
}

# vps_cgroup CONTROLLER CTID: the VPS's cgroup directory in the hierarchy of
# CONTROLLER, beneath our cgroup_base. Prints "v1 DIR" or "v2 DIR".
vps_cgroup() {
    local c=$1 ctid=$2 ver dir found line
    line=$(cg_controller_dir "$c") || return 1
    read -r ver dir <<<"$line"
    [ -n "${dir:-}" ] || return 1
    dir=$dir/$VZT_CGBASE
    if [ -d "$dir/$ctid" ]; then
        echo "$ver $dir/$ctid"
        return 0
    fi
    found=$(find "$dir" -mindepth 1 -type d -name "$ctid" 2>/dev/null | head -1)
    [ -n "$found" ] || return 1
    echo "$ver $found"
}

# find_cgroup CONTROLLER CTID: like vps_cgroup, but sets CG_VER and CG_DIR
# (no process substitution: the guest's /dev may lack /dev/fd).
find_cgroup() {
    local line
    CG_VER=
    CG_DIR=
    line=$(vps_cgroup "$1" "$2") || return 1
    # shellcheck disable=SC2034 # for the caller
    read -r CG_VER CG_DIR <<<"$line"
}

# cg_procs DIR: every pid in the cgroup DIR and its descendants.
cg_procs() {
    find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null
}

# --- template ---------------------------------------------------------------------
# Build the busybox template once per run (the build script skips when up
# to date) and copy it into the storage root.
vzt_template() {
    local cache=${VZT_TEMPLATE_CACHE:-${TMPDIR:-/tmp}/vzt-template-cache}
    mkdir -p "$cache"
    if ! "$VZT_REPO/templates/busybox/build" "$cache" >"$VZT_TMP/template.log" 2>&1; then
        fatal "templates/busybox/build failed: $(tail -3 "$VZT_TMP/template.log")"
    fi
    mkdir -p "$VZT_ROOT/template/cache"
    cp "$cache/busybox.tar.gz" "$VZT_ROOT/template/cache/" ||
        fatal "cannot copy the busybox template"
    cp "$cache/busybox.yaml" "$VZT_ROOT/template/cache/" 2>/dev/null
    return 0
}

# --- vzd ------------------------------------------------------------------------------
# start_vzd: make a private storage root with its own vz.yaml, put the
# busybox template in it and start vzd on it. Sets VZT_ROOT, VZT_SOCK,
# VZT_CGBASE and VZT_VZD_PID.
start_vzd() {
    need_root
    [ -x "$VZD_BIN" ] || fatal "vzd not built: $VZD_BIN is missing (build, or pass --build DIR to run)"
    [ -x "$VZCTL_BIN" ] || fatal "vzctl not built: $VZCTL_BIN is missing"
    local parent=${VZ_GUEST_STORAGE:-${TMPDIR:-/tmp}}
    mkdir -p "$parent"
    VZT_ROOT=$(mktemp -d "$parent/vzt.XXXXXX") || fatal "cannot make a storage root in $parent"
    VZT_SOCK=$VZT_ROOT/vzd.sock
    VZT_CGBASE=vzt-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
    if [ -n "${VZT_RUN_DIR:-}" ]; then
        echo "$VZT_CGBASE" >>"$VZT_RUN_DIR/$VZT_NAME.cgbase"
        echo "$VZT_ROOT" >>"$VZT_RUN_DIR/$VZT_NAME.roots"
    fi
    cat >"$VZT_ROOT/vz.yaml" <<EOF
# written by tests/system/lib.sh for $VZT_NAME
socket: $VZT_SOCK
runtime_dir: $VZT_ROOT/run
cgroup_base: $VZT_CGBASE
stop_timeout: 10
EOF
    vzt_template
    log "storage root $VZT_ROOT, cgroup_base $VZT_CGBASE"
    launch_vzd
}

# launch_vzd: (re)start vzd on the existing storage root and wait until it
# answers.
launch_vzd() {
    "$VZD_BIN" --root "$VZT_ROOT" </dev/null >>"$VZT_ROOT/vzd.log" 2>&1 &
    VZT_VZD_PID=$!
    echo "$VZT_VZD_PID" >"$VZT_TMP/vzd.pid"
    local deadline=$((SECONDS + 60))
    while :; do
        if ! kill -0 "$VZT_VZD_PID" 2>/dev/null; then
            wait "$VZT_VZD_PID"
            local rc=$?
            VZT_VZD_PID=
            fatal "vzd exited with status $rc at startup; log: $(tail -5 "$VZT_ROOT/vzd.log" | tr '\n' '|')"
        fi
        if [ -S "$VZT_SOCK" ] && timeout 10 "$VZCTL_BIN" --socket "$VZT_SOCK" list >/dev/null 2>&1; then
            break
        fi
        [ $SECONDS -lt $deadline ] ||
            fatal "vzd does not answer 'vzctl list' within 60s; log: $(tail -5 "$VZT_ROOT/vzd.log" | tr '\n' '|')"
        sleep 0.1
    done
    log "vzd running, pid $VZT_VZD_PID"
}

# vzd_gone_within SECONDS: wait until our vzd has exited; fails if it has
# not by then.
vzd_gone_within() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        kill -0 "$VZT_VZD_PID" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$VZT_VZD_PID" 2>/dev/null
}

# stop_vzd [SIGNAL]: stop our vzd (SIGTERM by default) and wait for it.
stop_vzd() {
    local sig=${1:-TERM}
    [ -n "$VZT_VZD_PID" ] || return 0
    kill -"$sig" "$VZT_VZD_PID" 2>/dev/null
    if ! vzd_gone_within 15; then
        fail "vzd (pid $VZT_VZD_PID) did not exit within 15s of SIG$sig"
        kill -KILL "$VZT_VZD_PID" 2>/dev/null
    fi
    wait "$VZT_VZD_PID" 2>/dev/null
    VZT_VZD_PID=
}

# create_vps CTID [ARGS...]: create a busybox VPS or fail the test.
create_vps() {
    local ctid=$1
    shift
    assert_ok vzctl create "$ctid" --ostemplate busybox "$@" ||
        fatal "cannot create VPS $ctid; the rest of the test depends on it"
}

# start_vps CTID: start a VPS or fail the test.
start_vps() {
    assert_ok vzctl start "$1" || fatal "cannot start VPS $1; the rest of the test depends on it"
}

# vps_status CTID: the status line.
vps_status() {
    vzctl status "$1" 2>/dev/null
}

# --- network ---------------------------------------------------------------------------
# The tests run in a network namespace of their own (see the isolation at
# the top): "the host" below is that namespace, where vzd makes its bridges,
# veth pairs and routes.

# link_names: the interface names in `ip -o link` output on stdin (iproute2
# or busybox), without the "@peer" suffix, one a line, sorted.
link_names() {
    awk -F': ' 'NF > 1 { sub(/@.*/, "", $2); print $2 }' | sort
}

# host_links: the interfaces on the host side, one a line, sorted.
host_links() {
    ip -o link show 2>/dev/null | link_names
}

# host_has_link NAME: the host side has an interface NAME.
host_has_link() {
    ip link show dev "$1" >/dev/null 2>&1
}

# make_plain_link NAME: an interface that is not a bridge (a dummy, or one
# end of a veth pair where the kernel has no dummy driver), up.
make_plain_link() {
    ip link add "$1" type dummy 2>/dev/null ||
        ip link add "$1" type veth peer name "${1:0:12}-p" 2>/dev/null ||
        return 1
    ip link set "$1" up
}

# vps_init_pid CTID: the host pid of the VPS's init, from vzd's state file
# (runtime_dir/CTID.state), else the process of its cgroup that is PID 1 of
# its own PID namespace.
vps_init_pid() {
    local ctid=$1 pid p
    pid=$(sed -n 's/.*"init_pid": *\([0-9][0-9]*\).*/\1/p' "$VZT_ROOT/run/$ctid.state" 2>/dev/null | head -1)
    if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
        echo "$pid"
        return 0
    fi
    find_cgroup pids "$ctid" || return 1
    for p in $(cg_procs "$CG_DIR"); do
        if awk '$1 == "NSpid:" && NF > 2 && $NF == 1 { found = 1 } END { exit !found }' \
            "/proc/$p/status" 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# --- teardown -------------------------------------------------------------------------
# Stop every VPS, stop vzd, then check nothing leaked: no cgroup beneath
# our cgroup_base, no process whose root or cwd is in the storage root, no
# mount beneath it. Whatever leaked is reported, then cleaned up.
teardown() {
    [ -n "$VZT_ROOT" ] || return 0
    local ctid
    if [ -n "$VZT_VZD_PID" ] && kill -0 "$VZT_VZD_PID" 2>/dev/null; then
        for ctid in $(vzctl list -H -o ctid 2>/dev/null); do
            vzctl stop "$ctid" --fast >/dev/null 2>&1 ||
                vzctl stop "$ctid" >/dev/null 2>&1 ||
                log "teardown: cannot stop VPS $ctid"
        done
    fi
    stop_vzd TERM

    # Processes still inside our cgroups or rooted in the storage root.
    local key dir leaks=() pids=() p
    while read -r key dir; do
        [ -d "$dir" ] || continue
        while IFS= read -r d; do
            [ -n "$d" ] || continue
            leaks+=("$d")
            while read -r p; do pids+=("$p"); done <"$d/cgroup.procs" 2>/dev/null
        done <<<"$(find "$dir" -mindepth 1 -type d 2>/dev/null | sort -r)"
    done <<<"$(cg_base_dirs)"
    local roots=()
    local d
    for d in "$VZT_ROOT"/root/* "$VZT_ROOT"/private/*; do
        [ -d "$d" ] && roots+=("$(stat -c %d:%i "$d")")
    done
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = $$ ] && continue
        local r c id
        r=$(readlink "/proc/$p/root" 2>/dev/null) || continue
        c=$(readlink "/proc/$p/cwd" 2>/dev/null)
        id=$(stat -L -c %d:%i "/proc/$p/root" 2>/dev/null)
        if [[ $r == "$VZT_ROOT"/* || $c == "$VZT_ROOT"/* ]] ||
            { [ -n "$id" ] && [[ " ${roots[*]} " == *" $id "* ]]; }; then
            pids+=("$p")
        fi
    done
    if [ ${#pids[@]} -gt 0 ]; then
        local desc=
        for p in $(printf '%s\n' "${pids[@]}" | sort -un); do
            desc+=" $p($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-40))"
        done
        fail "processes left after teardown:$desc"
        for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
        sleep 0.5
    fi
    if [ ${#leaks[@]} -gt 0 ]; then
        fail "cgroups left beneath cgroup_base $VZT_CGBASE: ${leaks[*]}"
    fi
    # Remove what is left, deepest first, and the base itself.
    while read -r key dir; do
        [ -d "$dir" ] || continue
        find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null
        [ -d "$dir" ] && log "teardown: cannot remove cgroup $dir"
    done <<<"$(cg_base_dirs)"

    # Mounts beneath the storage root (in our own mount namespace).
    local mnts
    mnts=$(awk -v r="$VZT_ROOT/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    if [ -n "$mnts" ]; then
        fail "mounts left beneath the storage root: $(echo "$mnts" | tr '\n' ' ')"
        local m
        for m in $mnts; do umount -l "$m" 2>/dev/null; done
    fi

    if [ "${VZT_KEEP:-0}" = 1 ] || [ "$VZT_FAILS" -gt 0 ]; then
        if [ -f "$VZT_ROOT/vzd.log" ]; then
            log "vzd log (last 30 lines):"
            tail -30 "$VZT_ROOT/vzd.log" >&2
        fi
    fi
    if [ "${VZT_KEEP:-0}" = 1 ]; then
        log "keeping storage root $VZT_ROOT"
    else
        rm -rf --one-file-system "$VZT_ROOT"
    fi
    VZT_ROOT=
}

# tcp_client ADDR DIR [SOURCE]: in the background, a client on the host
# that keeps one connection to ADDR:5000 open (from SOURCE, when given): it
# sends "one" and writes the echo to DIR/first, then waits for DIR/go to
# send "two" and writes that echo to DIR/second (DIR/error on a failure).
# Checkpoint and migration tests hold it across a freeze.
tcp_client() {
    "$VZT_PY" - "$1" "$2" "${3:-}" <<'PY' &
import os, socket, sys, time
addr, d, source = sys.argv[1], sys.argv[2], sys.argv[3]
def say(name, text):
    with open(os.path.join(d, name), "w") as f: f.write(text)
try:
    s = socket.socket()
    if source: s.bind((source, 0))
    s.settimeout(10)
    s.connect((addr, 5000))
    s.sendall(b"one\n")
    say("first", s.recv(100).decode().strip())
    for _ in range(1800):
        if os.path.exists(os.path.join(d, "go")): break
        time.sleep(0.1)
    s.settimeout(30)
    s.sendall(b"two\n")
    say("second", s.recv(100).decode().strip())
except Exception as e:
    say("error", repr(e))
PY
}

# at_exit CMD...: run CMD when the test ends, after the teardown.
at_exit() {
    VZT_AT_EXIT+=("$(vzt_q "$@")")
}

vzt_exit() {
    local rc=$? c
    trap - EXIT INT TERM
    [ -n "$VZT_WATCHDOG" ] && kill "$VZT_WATCHDOG" 2>/dev/null
    teardown
    for c in "${VZT_AT_EXIT[@]}"; do eval "$c"; done
    rm -rf "$VZT_TMP"
    if [ "$VZT_FAILS" -gt 0 ]; then
        exit 1
    elif [ "$VZT_SKIPPED" = 1 ]; then
        exit 77
    elif [ "$rc" != 0 ]; then
        vzt_reason "FAIL: test script ended with status $rc"
        exit 1
    fi
    exit 0
}

vzt_timeout() {
    fail "test timed out after ${VZT_TIMEOUT:-600}s"
    exit 1
}

trap vzt_exit EXIT
trap 'fail "interrupted"; exit 1' INT
trap vzt_timeout TERM
# Watchdog: after VZT_TIMEOUT seconds send ourselves SIGTERM, so a hang
# still ends in a teardown. bash runs the trap only once the foreground
# command returns, so that command (a child of ours other than vzd) is
# sent SIGTERM too.
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "${VZT_TIMEOUT:-600}" &
    sp=$!
    wait "$sp" || exit 0
    kill -TERM $$ 2>/dev/null
    vzd_pid=$(cat "$VZT_TMP/vzd.pid" 2>/dev/null)
    for st in /proc/[0-9]*/stat; do
        read -r pid _ _ ppid _ <"$st" 2>/dev/null || continue
        [ "$ppid" = $$ ] && [ "$pid" != "$BASHPID" ] && [ "$pid" != "${vzd_pid:-}" ] &&
            kill -TERM "$pid" 2>/dev/null
    done
) </dev/null >/dev/null 2>&1 &
VZT_WATCHDOG=$!
