# shellcheck shell=bash
# Per-attack host actions of the escape suite (sourced by tests/security/run).
# For an attack shown as DISPLAY, `plan` calls, when defined:
#   pre_DISPLAY CTID          before the attack starts
#   during_DISPLAY CTID PID   while it runs in the background (PID: its vzctl exec)
#   post_DISPLAY CTID         after it ended, before the generic host checks
#   repair_DISPLAY CTID       after the generic checks: put the host back
# They record evidence with escaped/inconclusive/note (host.sh) and may
# settle A_WORD/A_DETAIL when the attack cannot print its own verdict.

# new_log_lines FROM: the listener log from line FROM on.
new_log_lines() {
    tail -n +"$(($1 + 1))" "$LISTEN_LOG"
}
log_lines() {
    local n=0
    while IFS= read -r _; do n=$((n + 1)); done <"$LISTEN_LOG"
    echo "$n"
}

# vzsec_helper CTID NAME ARGS...: a helper of the vzsec binary (not an attack).
vzsec_helper() {
    local ctid=$1
    shift
    timeout -k 5 60 "$VZCTL_BIN" --socket "$VZT_SOCK" exec "$ctid" /root/attacks/vzsec "$@" \
        </dev/null >/dev/null 2>&1
}

# repair_private_etc CTID: from the host, undo planted links in a stopped
# VPS's /etc (without following them).
repair_private_etc() {
    local etc=$R/private/$1/etc f
    if [ -L "$etc" ] && [ -d "$R/private/$1/etc.vzsec-saved" ]; then
        rm -f "$etc" && mv "$R/private/$1/etc.vzsec-saved" "$etc"
    fi
    for f in resolv.conf hostname hosts; do
        [ -L "$etc/$f" ] && rm -f "$etc/$f" && : >"$etc/$f"
    done
    return 0
}

# --- the filesystem: vzd writing /etc files through planted links ---------------------------------
# The host makes vzd write the VPS's resolv.conf, hostname and hosts.
vzd_writes() { # CTID
    run vzctl set "$1" --nameserver 10.1.2.3 --hostname x.y
    note "vzctl set --nameserver 10.1.2.3 --hostname x.y: exit $RC${ERR:+, $(short "$ERR")}"
}

post_fs_symlink_files() {
    vzd_writes "$1"
    vzsec_helper "$1" _restore_etc
}
post_fs_symlink_etc_root() { post_fs_symlink_files "$@"; }
post_fs_symlink_etc_hostdir() { post_fs_symlink_files "$@"; }

during_fs_symlink_race() { # CTID PID
    local i fails=0 n=0
    sleep 2
    for i in 1 2 3 4 5 6 7 8; do
        kill -0 "$2" 2>/dev/null || break
        run vzctl set "$1" --nameserver "10.1.2.$i" --hostname "race$i.example"
        n=$((n + 1))
        [ "$RC" = 0 ] || fails=$((fails + 1))
    done
    note "$n vzctl set --nameserver/--hostname during the race, $fails refused"
}
post_fs_symlink_race() { vzsec_helper "$1" _restore_etc; }

# Planted links, then a restart: vzd writes the files again at start.
# (--fast: a clean shutdown runs the VPS's own shutdown actions, which
# mnt_shutdown_remount looks at on its own.)
post_fs_symlink_start() {
    run vzctl stop "$1" --fast
    run vzctl set "$1" --nameserver 10.1.2.4 --hostname start.example --save
    note "set --save while stopped: exit $RC"
    run vzctl start "$1"
    note "start with planted links: exit $RC${ERR:+, $(short "$ERR")}"
    if [ "$RC" != 0 ]; then
        repair_private_etc "$1"
        return
    fi
    refresh_vps
    vzsec_helper "$1" _restore_etc
}

# --- devices and mounts ---------------------------------------------------------------------
post_dev_mount_disk() {
    local f=$R/vzsec-written-by-vps c
    if [ -e "$f" ]; then
        slurp c "$f"
        escaped "host file $f was created through the VPS's mount of the disk ('$(short "$c")')"
        rm -f "$f"
    fi
}

post_dev_kmsg_inject() {
    local line
    line=$(dmesg 2>/dev/null | grep -m1 "vzsec-kmsg-$ATOKEN")
    [ -n "$line" ] && escaped "the host's dmesg shows the forged line: '$(short "$line")'"
}

post_mnt_tracefs() {
    [ "$A_WORD" = ESCAPED ] || return 0
    local t=$VZT_TMP/tracefs
    mkdir -p "$t"
    if mount -t tracefs tracefs "$t" 2>/dev/null; then
        local line
        line=$(grep -m1 "vzsec-trace-$ATOKEN" "$t/trace" 2>/dev/null)
        [ -n "$line" ] && escaped "the host's trace buffer holds: '$(short "${line##* }")'"
        umount "$t"
    fi
}

# A clean stop runs the VPS's shutdown actions (busybox init: inittab's
# ::shutdown lines) as VPS root; the generic checks then compare the host's
# mount table.
post_mnt_shutdown_remount() {
    run vzctl stop "$1"
    note "vzctl stop (clean): exit $RC"
    run vzctl start "$1"
    refresh_vps
}

# --- the kernel --------------------------------------------------------------------------------
post_kern_keyctl() {
    grep -q "vzsec-key-$ATOKEN" /proc/keys 2>/dev/null &&
        escaped "/proc/keys on the host lists vzsec-key-$ATOKEN"
    return 0
}

post_kern_reboot() {
    local i
    i=$(vps_index A)
    if [ -z "$A_WORD" ] && ! kill -0 "${VPS_INIT[i]:-0}" 2>/dev/null; then
        A_WORD=BLOCKED
        A_DETAIL="reboot(RESTART) killed only the VPS's init (its pid namespace); the host kept running"
    fi
}

# binfmt_misc (before Linux 6.7) is one table for the whole host: look at
# it from the host and remove what the attack registered.
post_kern_binfmt_misc() {
    local b=$VZT_TMP/binfmt entry=vzsec-$ATOKEN
    mkdir -p "$b"
    mount -t binfmt_misc binfmt_misc "$b" 2>/dev/null || { note "the host cannot mount binfmt_misc to look"; return 0; }
    if [ -e "$b/$entry" ]; then
        escaped "the host's binfmt_misc has entry $entry ($(short "$(head -3 "$b/$entry")")) (removed)"
        echo -1 >"$b/$entry"
    fi
    umount "$b"
}

# drop_caches is not namespaced: show what it did to the host's page cache.
meminfo_cached() { awk '$1 == "Cached:" { print $2 }' /proc/meminfo; }
pre_sysctl_drop_caches() { CACHED_BEFORE=$(meminfo_cached); }
post_sysctl_drop_caches() { note "host /proc/meminfo Cached: $CACHED_BEFORE kB -> $(meminfo_cached) kB"; }

# --- cgroups ------------------------------------------------------------------------------------
post_cg_v1_release_agent() {
    local m=$HS/release-agent-ran c
    if [ -e "$m" ]; then
        slurp c "$m"
        escaped "the release agent ran on the host: '$(short "$c")'"
        rm -f "$m"
    fi
}

# --- the network ---------------------------------------------------------------------------------
pre_net_spoof() { LOG_FROM=$(log_lines); }
post_net_spoof() {
    sleep 1
    local got line
    got=$(new_log_lines "$LOG_FROM")
    [[ $got == *"vzsec-$TOKEN-own-raw"* ]] ||
        inconclusive "the control datagram from the VPS's own address ($IP_A) never reached the host listener"
    while IFS= read -r line; do
        [[ $line == *"vzsec-$TOKEN-"* ]] || continue
        [[ $line == *"-own-"* ]] && continue
        escaped "the host received '$line'"
    done <<<"$got"
    [[ $got == *"vzsec-$TOKEN-own-l2"* ]] && note "own-address frames sent with a packet socket arrived too"
    return 0
}

pre_net_host_loopback() { LOG_FROM=$(log_lines); }
post_net_host_loopback() {
    sleep 1
    local line
    while IFS= read -r line; do
        case $line in
            lo-udp*vzsec-$TOKEN-loopback* | lo-tcp\ connect*) escaped "the host's loopback listener got: '$line'" ;;
        esac
    done <<<"$(new_log_lines "$LOG_FROM")"
    return 0
}

pre_net_abstract_unix() { LOG_FROM=$(log_lines); }
post_net_abstract_unix() {
    local line
    while IFS= read -r line; do
        [[ $line == "unix connect"* ]] && escaped "the host's abstract socket @$ABSTRACT accepted a connection"
    done <<<"$(new_log_lines "$LOG_FROM")"
    return 0
}

# The host's neighbour entry for VPS D's address must keep D's MAC.
neigh_mac() { # ADDR
    ip neigh show "$1" dev vzbr0 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'
}
pre_net_arp_poison() {
    MAC_C=$(vzctl exec "$CT_C" cat /sys/class/net/eth0/address 2>/dev/null)
    MAC_D=$(vzctl exec "$CT_D" cat /sys/class/net/eth0/address 2>/dev/null)
    wait_for 20 /bin/busybox ping -c 1 -W 2 "$BR_D" ||
        inconclusive "the host cannot ping VPS D ($BR_D) on vzbr0"
    NEIGH_BEFORE=$(neigh_mac "$BR_D")
    [ -n "$MAC_D" ] && [ "$NEIGH_BEFORE" = "$MAC_D" ] ||
        inconclusive "the host's entry for $BR_D is '$NEIGH_BEFORE', not VPS D's MAC '$MAC_D' before the attack"
}
post_net_arp_poison() {
    sleep 1
    local after
    after=$(neigh_mac "$BR_D")
    if [ -n "$MAC_C" ] && [ "$after" = "$MAC_C" ]; then
        escaped "the host's neighbour entry for $BR_D (VPS $CT_D, MAC $MAC_D) now holds VPS $CT_C's MAC $MAC_C: the host's traffic for $CT_D goes to $CT_C"
    else
        note "the host's entry for $BR_D: '$NEIGH_BEFORE' -> '$after'"
    fi
}
repair_net_arp_poison() { ip neigh flush dev vzbr0 2>/dev/null; return 0; }

# --- resources: the host stays responsive, the limits hold ---------------------------------------
# monitor PID: while PID runs, time /bin/true on the host every half second
# and `vzctl list` once; follow the VPS's pids.current and memory.current.
monitor() {
    local pid=$1 i t0 t1 v n=0 cg=${VPS_CG[0]}
    MON_TRUE=0 MON_LIST=-1 MON_PIDS=0 MON_MEM=0
    while kill -0 "$pid" 2>/dev/null; do
        now_ms t0
        /bin/true
        now_ms t1
        [ $((t1 - t0)) -gt "$MON_TRUE" ] && MON_TRUE=$((t1 - t0))
        slurp v "$cg/pids.current"
        v=${v%$'\n'}
        [ "${v:-0}" -gt "$MON_PIDS" ] && MON_PIDS=$v
        slurp v "$cg/memory.current"
        v=${v%$'\n'}
        [ "${v:-0}" -gt "$MON_MEM" ] && MON_MEM=$v
        n=$((n + 1))
        if [ "$n" = 1 ]; then
            now_ms t0
            timeout 60 "$VZCTL_BIN" --socket "$VZT_SOCK" list >/dev/null 2>&1
            i=$?
            now_ms t1
            MON_LIST=$((t1 - t0))
            [ "$i" = 0 ] || escaped "vzctl list failed (exit $i) during the attack"
        fi
        sleep 0.5
    done
}

# judge_responsive: the host answered while the VPS was under attack.
judge_responsive() {
    note "host: /bin/true took at most ${MON_TRUE} ms, vzctl list ${MON_LIST} ms"
    [ "$MON_TRUE" -le 5000 ] || escaped "the host was unresponsive: /bin/true took ${MON_TRUE} ms"
    [ "$MON_LIST" -le 30000 ] || escaped "vzd was unresponsive: vzctl list took ${MON_LIST} ms"
}

cg_value() { # FILE [KEY]: a value of a VPS A cgroup file
    local v
    slurp v "${VPS_CG[0]}/$1"
    if [ -n "${2:-}" ]; then
        v=$(awk -v k="$2" '$1 == k { print $2 }' <<<"$v")
    fi
    echo "${v%$'\n'}"
}

pre_res_forkbomb() { PIDS_EVENTS=$(cg_value pids.events max); }
during_res_forkbomb() { monitor "$2"; }
post_res_forkbomb() {
    local max events
    max=$(cg_value pids.max)
    events=$(cg_value pids.events max)
    judge_responsive
    note "pids.current peaked at $MON_PIDS of pids.max $max; pids.events max $PIDS_EVENTS -> $events"
    [ "$max" = max ] && escaped "the VPS has no pids.max (numproc $NUMPROC was set)"
    # The pids controller charges a fork first and takes the charge back
    # when it is over the limit: a reader can see one extra per CPU that
    # is forking at that moment (those forks fail). More than that is real.
    local ncpu
    ncpu=$(nproc)
    [ "$max" != max ] && [ "$MON_PIDS" -gt $((max + ncpu)) ] &&
        escaped "pids.current reached $MON_PIDS, above pids.max $max plus one transient charge per CPU ($ncpu)"
    local made
    made=$(sed -n 's/.* after \([0-9]*\) processes.*/\1/p' <<<"$A_DETAIL")
    [ -n "$made" ] && [ "$made" -gt "$NUMPROC" ] && escaped "the bomb made $made processes under numproc $NUMPROC"
    return 0
}

pre_res_memhog() { OOM_BEFORE=$(cg_value memory.events oom_kill); }
during_res_memhog() { monitor "$2"; }
post_res_memhog() {
    local max oom peak mb
    max=$(cg_value memory.max)
    oom=$(cg_value memory.events oom_kill)
    peak=$(cg_value memory.peak)
    judge_responsive
    note "memory.max $max, peak ${peak:-$MON_MEM}, oom_kill $OOM_BEFORE -> $oom"
    [ "$max" = max ] && escaped "the VPS has no memory.max (physpages 0:${MEM_MB}M was set)"
    mb=$(sed -n 's/.* touching \([0-9]*\) MiB.*/\1/p; s/.* after \([0-9]*\) MiB.*/\1/p' <<<"$A_DETAIL")
    [ -n "$mb" ] && [ "$mb" -gt $((MEM_MB + 16)) ] &&
        escaped "the hog touched $mb MiB under a ${MEM_MB} MiB limit"
    [ "${oom:-0}" -gt "${OOM_BEFORE:-0}" ] || note "the VPS's oom_kill count did not grow"
    return 0
}

during_res_diskfill() { monitor "$2"; }
post_res_diskfill() {
    judge_responsive
    local kib
    kib=$(sed -n 's/.* after \([0-9]*\) KiB.*/\1/p' <<<"$A_DETAIL")
    [ -n "$kib" ] && [ "$kib" -gt $((DISK_MB * 1024 + 1024)) ] &&
        escaped "wrote $kib KiB under a diskspace limit of ${DISK_MB} MiB"
    local avail
    avail=$(df -k --output=avail "$STORAGE_MNT" | tail -1)
    note "the host's storage keeps ${avail} KiB free"
    return 0
}

during_res_inodefill() { monitor "$2"; }
post_res_inodefill() {
    judge_responsive
    local n
    n=$(sed -n 's/.* after \([0-9]*\) files.*/\1/p' <<<"$A_DETAIL")
    [ -n "$n" ] && [ "$n" -gt "$INODES" ] && escaped "created $n files under a diskinodes limit of $INODES"
    return 0
}
