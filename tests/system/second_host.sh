# shellcheck shell=bash
# A second "host" on this machine for migration tests and benchmarks: a
# network namespace joined to the caller's by a veth pair, with its own vzd
# (own storage root, socket, runtime dir and cgroup_base) and its own sshd,
# where root logs in with a key made here and finds the given vzctl talking
# to that vzd. Source it, then:
#
#   second_host_up WORKDIR VZD VZCTL CGBASE TEMPLATE_CACHE [PATH_PREFIX]
#       || echo "$SECOND_HOST_ERROR"
#   vzctl migrate 101 "root@$DST_ADDR" --ssh "$SSH_OPTS"
#   dst_vzctl status 101
#   second_host_down
#
# PATH_PREFIX goes before PATH for the second vzd (a fake criu, say).
# Sets DST_ROOT, DST_SOCK, SRC_ADDR, DST_ADDR and SSH_OPTS. Needs root,
# iproute2, nsenter, sshd and ssh-keygen.

SRC_ADDR=192.168.77.1
DST_ADDR=192.168.77.2
SECOND_HOST_NETNS=vz-second-host
SECOND_HOST_ERROR=
DST_ROOT=
DST_SOCK=
DST_VZCTL=
SSH_OPTS=
SECOND_HOST_VZD=

# nsenter, not `ip netns exec`: that one also remounts /sys, which would
# leave the second vzd without /sys/fs/cgroup.
in_second_host() { nsenter --net="/run/netns/$SECOND_HOST_NETNS" "$@"; }

dst_vzctl() { timeout -k 5 120 "$DST_VZCTL" --socket "$DST_SOCK" "$@"; }

second_host_fail() {
    SECOND_HOST_ERROR=$*
    return 1
}

second_host_wait() { # SECONDS CMD...
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || return 1
        sleep 0.2
    done
}

second_host_up() {
    local work=$1 vzd=$2 vzctl=$3 cgbase=$4 cache=$5 prefix=${6:-}
    DST_VZCTL=$vzctl
    ip netns add "$SECOND_HOST_NETNS" || second_host_fail "cannot make the network namespace $SECOND_HOST_NETNS" || return
    ip link add vz-sh-src type veth peer name vz-sh-dst netns "$SECOND_HOST_NETNS" ||
        second_host_fail "cannot make the veth pair between the hosts" || return
    ip addr add "$SRC_ADDR/24" dev vz-sh-src && ip link set vz-sh-src up
    in_second_host ip addr add "$DST_ADDR/24" dev vz-sh-dst
    in_second_host ip link set vz-sh-dst up
    in_second_host ip link set lo up
    # It routes to its VPSes for the first host's clients.
    in_second_host sysctl -qw net.ipv4.ip_forward=1

    DST_ROOT=$work/vz
    DST_SOCK=$DST_ROOT/vzd.sock
    mkdir -p "$DST_ROOT/template/cache"
    chmod 0711 "$work"
    cat >"$DST_ROOT/vz.yaml" <<EOF
socket: $DST_SOCK
runtime_dir: $DST_ROOT/run
cgroup_base: $cgbase
stop_timeout: 10
EOF
    cp "$cache"/* "$DST_ROOT/template/cache/"
    in_second_host env PATH="${prefix:+$prefix:}$PATH" "$vzd" --root "$DST_ROOT" </dev/null >>"$work/vzd.log" 2>&1 &
    SECOND_HOST_VZD=$!
    second_host_wait 60 dst_vzctl list ||
        second_host_fail "the second host's vzd does not answer; log: $(tail -5 "$work/vzd.log")" || return

    local s=$work/ssh
    mkdir -p "$s" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$s/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$s/client_key"
    cp "$s/client_key.pub" "$s/authorized_keys"
    cat >"$s/sshd_config" <<EOF
ListenAddress $DST_ADDR
HostKey $s/host_key
AuthorizedKeysFile $s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
PidFile $s/sshd.pid
SetEnv VZCTL_SOCKET=$DST_SOCK PATH=$(dirname "$vzctl"):/usr/sbin:/usr/bin:/sbin:/bin
EOF
    in_second_host /usr/sbin/sshd -f "$s/sshd_config" -E "$s/sshd.log" ||
        second_host_fail "sshd does not start: $(cat "$s/sshd.log")" || return
    SSH_OPTS="-i $s/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
    # shellcheck disable=SC2086
    second_host_wait 30 ssh $SSH_OPTS "root@$DST_ADDR" true ||
        second_host_fail "cannot log in to the second host: $(tail -3 "$s/sshd.log")" || return
}

# Stops its VPSes, its vzd and its sshd; removes the namespace and the link.
second_host_down() {
    local id
    if [ -n "$DST_SOCK" ]; then
        for id in $(dst_vzctl list -H -o ctid 2>/dev/null); do dst_vzctl stop "$id" --fast >/dev/null 2>&1; done
    fi
    [ -n "$SECOND_HOST_VZD" ] && kill "$SECOND_HOST_VZD" 2>/dev/null
    [ -n "$DST_ROOT" ] && [ -f "$DST_ROOT/../ssh/sshd.pid" ] && kill "$(cat "$DST_ROOT/../ssh/sshd.pid")" 2>/dev/null
    ip link del vz-sh-src 2>/dev/null
    ip netns del "$SECOND_HOST_NETNS" 2>/dev/null
    return 0
}
