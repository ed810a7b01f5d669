# shellcheck shell=bash
# The host side of the escape suite (sourced by tests/security/run): the
# fixtures attacks aim at (sentinel files, a sentinel process holding a
# secret, listeners), and the state taken before every attack and compared
# after it. Anything that changed is evidence of an escape; what can be put
# back is put back, so one escape does not spill into the next attack.
#
# Reads and comparisons use bash builtins only: under software emulation
# every fork costs milliseconds.

# slurp VAR FILE: FILE's content into VAR ("" when unreadable).
slurp() {
    local __s=
    IFS= read -r -d '' __s <"$2" 2>/dev/null
    printf -v "$1" '%s' "$__s"
}

# now_ms VAR: wall-clock milliseconds into VAR.
now_ms() {
    local t=${EPOCHREALTIME/./}
    printf -v "$1" '%s' "$((t / 1000))"
}

# --- verdict bookkeeping (reset by run_attack) --------------------------------------
ESC=()   # evidence of escapes found on the host
INC=()   # reasons the attack proves nothing
NOTES=() # context worth printing

escaped() { ESC+=("$*"); }
inconclusive() { INC+=("$*"); }
note() { NOTES+=("$*"); }
vlog() { [ "${VZ_SEC_VERBOSE:-0}" = 1 ] && echo "--- $*" >&2; return 0; }

# --- fixtures ---------------------------------------------------------------------------
# HS: a host directory of sentinels, absent from every VPS.
setup_fixtures() {
    HS=$VZT_TMP/host
    mkdir -p "$HS/etcdir"
    local f
    for f in resolv hostname hosts marker; do
        echo "host sentinel $f $TOKEN" >"$HS/sentinel-$f"
    done
    for f in resolv.conf hostname hosts; do
        echo "host sentinel etcdir/$f $TOKEN" >"$HS/etcdir/$f"
    done
    # On the storage disk, next to the VPS areas (found through a mount of
    # the raw disk).
    SECRET="vzsec-secret-$TOKEN"
    echo "disk sentinel $SECRET" >"$R/vzsec-disk-sentinel"
    STORAGE_MNT=$(stat -c %m "$R")
    DISK_REL=${R#"$STORAGE_MNT"}
    DISK_REL=${DISK_REL#/}
    # A host process with a secret in its memory (argv[0]) and a name no
    # VPS process has.
    cp "$(command -v sleep)" "$HS/vzsec-sentry"
    bash -c "exec -a '$SECRET' '$HS/vzsec-sentry' 100000" </dev/null >/dev/null 2>&1 &
    SENTRY_PID=$!
    at_exit kill "$SENTRY_PID"
    local stat_line fields
    wait_for 10 test -r "/proc/$SENTRY_PID/stat"
    sleep 0.2
    slurp stat_line "/proc/$SENTRY_PID/stat"
    read -r -a fields <<<"${stat_line##*) }"
    # Fields after "(comm) ": state is field 3, arg_start field 48.
    # shellcheck disable=SC2034 # used by run
    SECRET_ADDR=${fields[45]:-0}
    SNAP_FILES=("$HS/sentinel-resolv" "$HS/sentinel-hostname" "$HS/sentinel-hosts" "$HS/sentinel-marker"
        "$HS/etcdir/resolv.conf" "$HS/etcdir/hostname" "$HS/etcdir/hosts"
        /etc/resolv.conf /etc/hostname /etc/hosts "$R/vz.yaml" "$R/vzsec-disk-sentinel")
    SNAP_DIRS=(/ "$HS" "$HS/etcdir" "$R")
    start_listeners
}

# Listeners in the host's network namespace (the test's): UDP on all
# addresses for spoofed packets, TCP and UDP on 127.0.0.1 only, and an
# abstract Unix socket. One line per datagram or connection in $HS/listen.log.
start_listeners() {
    LISTEN_LOG=$HS/listen.log
    : >"$LISTEN_LOG"
    ABSTRACT=vzsec-$TOKEN
    cat >"$HS/listen.py" <<'PY'
import select, socket, sys
log = open(sys.argv[1], "a", buffering=1)
spoof_port, lo_port, abstract = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
socks = {}
def add(kind, fam, typ, addr):
    s = socket.socket(fam, typ)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    if typ == socket.SOCK_STREAM:
        s.listen(16)
    socks[s] = kind
add("udp", socket.AF_INET, socket.SOCK_DGRAM, ("0.0.0.0", spoof_port))
add("lo-udp", socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", lo_port))
add("lo-tcp", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", lo_port))
add("unix", socket.AF_UNIX, socket.SOCK_STREAM, "\0" + abstract)
log.write("ready\n")
while True:
    for s in select.select(list(socks), [], [])[0]:
        kind = socks[s]
        if s.type == socket.SOCK_STREAM:
            c, addr = s.accept()
            log.write("%s connect %s\n" % (kind, addr or "-"))
            c.close()
        else:
            data, addr = s.recvfrom(65535)
            log.write("%s %s %s\n" % (kind, addr[0], data.decode(errors="replace")))
PY
    SPOOF_PORT=40888
    LO_PORT=40889
    "$VZT_PY" "$HS/listen.py" "$LISTEN_LOG" "$SPOOF_PORT" "$LO_PORT" "$ABSTRACT" 2>"$HS/listen.err" &
    LISTEN_PID=$!
    at_exit kill "$LISTEN_PID"
    wait_for 20 grep -q '^ready' "$LISTEN_LOG" ||
        fatal "the host listeners (python3) did not start: $(head -3 "$HS/listen.err")"
}

# NSpid numbers of a host process, all levels (the guest's own pid
# namespace first), space-separated.
nspids_of() {
    local line
    while read -r line; do
        case $line in NSpid:*) echo "${line#NSpid:}" | tr -s '\t ' '  ' | sed 's/^ //'; return ;; esac
    done <"/proc/$1/status"
}

# --- the snapshot -------------------------------------------------------------------------
# Host-wide knobs (plus the host network namespace's own) that no VPS may change.
KNOBS=(
    /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe /proc/sys/kernel/printk
    /proc/sys/kernel/hostname /proc/sys/kernel/domainname /proc/sys/kernel/randomize_va_space
    /proc/sys/kernel/sysrq /proc/sys/kernel/kptr_restrict /proc/sys/kernel/dmesg_restrict
    /proc/sys/kernel/perf_event_paranoid /proc/sys/vm/swappiness /proc/sys/vm/overcommit_memory
    /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/all/rp_filter
    /proc/sys/net/ipv4/conf/all/accept_local
    /sys/kernel/uevent_helper
    /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag
    /sys/module/printk/parameters/time /proc/swaps
)
CG_FILES=(memory.max memory.high memory.swap.max pids.max cpu.max cpu.weight io.max)
declare -A SNAP=()

# The files whose content is checked (sentinels, the host's own /etc
# files, the storage root's config) and the directories whose listings must
# not grow (the host's /, the sentinel dirs, the storage root). Set by
# setup_fixtures.
SNAP_FILES=()
SNAP_DIRS=()
# The cgroup directories whose limits are watched: every VPS's and their
# parents up to our cgroup_base. Set by refresh_vps.
WATCH_CG=()

snap_listing() { # VAR DIR
    local e out=
    for e in "$2"/* "$2"/.[!.]*; do
        [ -e "$e" ] || [ -L "$e" ] || continue
        out+="${e##*/} "
    done
    printf -v "$1" '%s' "$out"
}

snap_mounts() { # VAR: "mountpoint fstype source superopts" of our mount namespace
    local line out='' pre post pf
    while IFS= read -r line; do
        pre=${line%% - *}
        post=${line#* - }
        read -r -a pf <<<"$pre"
        out+="${pf[4]} $post"$'\n'
    done </proc/self/mountinfo
    printf -v "$1" '%s' "$out"
}

cg_watch_dirs() {
    local d
    for d in "${VPS_CG[@]}"; do
        [ -n "$d" ] || continue
        echo "$d"
        while [ "$d" != / ] && [[ $d == */"$VZT_CGBASE"/* ]]; do
            d=${d%/*}
            echo "$d"
        done
    done | sort -u
}

take_snapshot() {
    SNAP=()
    local f v d
    for f in "${KNOBS[@]}" "${SNAP_FILES[@]}"; do
        [ -e "$f" ] || { SNAP[f:$f]="<absent>"; continue; }
        slurp v "$f"
        SNAP[f:$f]=$v
    done
    for d in "${SNAP_DIRS[@]}"; do
        snap_listing v "$d"
        SNAP[d:$d]=$v
    done
    for d in "${WATCH_CG[@]}"; do
        for f in "${CG_FILES[@]}"; do
            [ -e "$d/$f" ] || continue
            slurp v "$d/$f"
            SNAP[f:$d/$f]=$v
        done
    done
    snap_mounts v
    SNAP[mounts]=$v
    local up
    slurp up /proc/uptime
    SNAP[clock]=$(( ${EPOCHREALTIME%.*} - ${up%%.*} ))
}

# Put a changed knob or cgroup file back.
restore_file() { # FILE OLD-CONTENT
    local f=$1 old=$2
    case $f in
        */transparent_hugepage/*)
            old=${old#*[}
            old=${old%%]*}
            ;;
        /proc/swaps)
            local dev rest
            while read -r dev rest; do
                [ "$dev" = Filename ] && continue
                [[ $old == *"$dev"* ]] || swapoff "$dev" 2>/dev/null
            done </proc/swaps
            return
            ;;
        */io.max)
            local l
            while IFS= read -r l; do [ -n "$l" ] && echo "$l" >"$f"; done <<<"$old"
            return
            ;;
        "$HS"/* | /etc/* | "$R"/*)
            printf '%s' "$old" >"$f"
            return
            ;;
    esac
    old=${old%$'\n'}
    printf '%s\n' "$old" >"$f" 2>/dev/null || vlog "cannot restore $f"
}

# restore_mounts: superblocks the attack changed go back to their old
# options (a devpts remount also resets mode= and ptmxmode=); ext4 gets its
# default commit interval and rw back (its quota options cannot be passed
# again while quotas are on). Whatever cannot be repaired is noted.
restore_mounts() {
    local mp fstype opts old
    declare -A before=()
    while read -r mp fstype _ opts; do [ -n "$mp" ] && before[$mp]=$opts; done <"$VZT_TMP/mounts.before"
    while read -r mp fstype _ opts; do
        [ -n "$mp" ] || continue
        old=${before[$mp]:-}
        [ -n "$old" ] && [ "$old" != "$opts" ] || continue
        if [ "$fstype" = ext4 ]; then
            [[ $opts == *commit=* && $old != *commit=* ]] && mount -o remount,commit=0 "$mp" 2>/dev/null
            [[ $old == rw* && $opts == ro* ]] && mount -o remount,rw "$mp" 2>/dev/null
        else
            mount -o "remount,$old" "$mp" 2>/dev/null || mount -o remount,rw "$mp" 2>/dev/null
        fi
    done <"$VZT_TMP/mounts.after"
    local now
    snap_mounts now
    [ "$now" == "${SNAP[mounts]}" ] || note "the host's mount table could not be fully repaired"
}

short() { # TEXT: one line, at most 300 characters
    local s=${1//$'\n'/\\n}
    s=${s//$'\t'/ }
    [ ${#s} -gt 300 ] && s="${s:0:300}..."
    printf '%s' "$s"
}

compare_snapshot() {
    local key f v d
    for key in "${!SNAP[@]}"; do
        case $key in
            f:*)
                f=${key#f:}
                if [ -e "$f" ]; then slurp v "$f"; else v="<absent>"; fi
                [ "$v" == "${SNAP[$key]}" ] && continue
                escaped "host file $f changed: '$(short "${SNAP[$key]}")' -> '$(short "$v")' (restored)"
                restore_file "$f" "${SNAP[$key]}"
                ;;
            d:*)
                d=${key#d:}
                snap_listing v "$d"
                [ "$v" == "${SNAP[$key]}" ] && continue
                local e added=
                for e in $v; do [[ " ${SNAP[$key]} " == *" $e "* ]] || added+=" $e"; done
                [ -n "$added" ] && escaped "new entries in host directory $d:$added"
                ;;
        esac
    done
    snap_mounts v
    if [ "$v" != "${SNAP[mounts]}" ]; then
        local diffs
        # (no process substitution: the guest's /dev may lack /dev/fd)
        sort <<<"${SNAP[mounts]}" >"$VZT_TMP/mounts.before"
        sort <<<"$v" >"$VZT_TMP/mounts.after"
        diffs=$(diff "$VZT_TMP/mounts.before" "$VZT_TMP/mounts.after" | grep '^[<>]' | head -6 | tr '\n' ';')
        escaped "the host's mount table changed: $diffs (repaired)"
        restore_mounts
    fi
    local up now_off
    slurp up /proc/uptime
    now_off=$(( ${EPOCHREALTIME%.*} - ${up%%.*} ))
    local drift=$((now_off - SNAP[clock]))
    [ "${drift#-}" -le 2 ] || escaped "the host's wall clock moved by ${drift}s against its uptime"
}

# Host processes that must survive every attack.
check_host_alive() {
    local p
    for p in "vzd:$VZT_VZD_PID" "sentry:$SENTRY_PID" "listener:$LISTEN_PID"; do
        kill -0 "${p#*:}" 2>/dev/null || escaped "host process ${p%%:*} (pid ${p#*:}) is gone"
    done
}

# The storage area stays writable for the host.
check_storage_writable() {
    if ! { : >"$R/.vzsec-rw-probe"; } 2>/dev/null; then
        escaped "the host's storage filesystem ($STORAGE_MNT) is no longer writable for the host (remounted rw to repair)"
        mount -o remount,rw "$STORAGE_MNT" 2>/dev/null || vlog "cannot remount $STORAGE_MNT rw"
    fi
    rm -f "$R/.vzsec-rw-probe"
}

# Every process in a VPS's pid namespace stays beneath that VPS's cgroup.
check_vps_cgroups() {
    local i p cg ns_ref rel
    for i in "${!VPS_IDS[@]}"; do
        ns_ref=/proc/${VPS_INIT[$i]:-0}/ns/pid
        [ -e "$ns_ref" ] || continue
        rel=${VPS_CG[$i]#"$CG_MOUNT"}
        for p in /proc/[0-9]*; do
            [ "$p/ns/pid" -ef "$ns_ref" ] || continue
            slurp cg "$p/cgroup"
            cg=${cg%%$'\n'*}
            cg=${cg#0::}
            [ -z "$cg" ] && continue
            [ "$cg" = "$rel" ] || [[ $cg == "$rel"/* ]] ||
                escaped "process ${p#/proc/} of VPS ${VPS_IDS[$i]} is in cgroup $cg, outside the VPS's $rel"
        done
    done
}
