#!/bin/bash
# Unprivileged and privileged VPSes as an admin checks them: each
# unprivileged VPS gets its own range of host ids; root inside owns / but is
# an unprivileged id on the host; files are stored with the ids seen inside
# under an idmapped mount where the file system takes one, and shifted into
# the range otherwise (vz.yaml idmapped_mounts: false); a privileged VPS
# (--userns no) runs as the host's root but without CAP_SYS_ADMIN unless
# its config grants it (--capability sys_admin:on).
# Runs natively and in the qemu guest.
. "$(dirname "$0")/lib.sh"

# systemd makes / a shared mount: vzd's copies of VPS roots must not stay in
# its peer group, or a VPS's mounts would appear on the host (teardown
# checks for mounts left beneath the storage root). This mount namespace is
# the test's own (lib.sh), so the change goes nowhere else.
mount --make-rshared / || fail "cannot make / shared in the test's mount namespace"
start_vzd
R=$VZT_ROOT

conf_value() { # CTID KEY: a top-level value of the VPS's config
    sed -n "s/^$2: *\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" "$R/conf/$1.yaml" | head -1
}
host_uid_of_init() { # CTID
    local pid
    pid=$(vps_init_pid "$1") || return 1
    awk '$1 == "Uid:" { print $2 }' "/proc/$pid/status"
}
cap_bit_set() { # CTID BIT: whether init's bounding set has capability BIT
    local pid hex
    pid=$(vps_init_pid "$1") || return 2
    hex=$(awk '$1 == "CapBnd:" { print $2 }' "/proc/$pid/status")
    (((0x$hex >> $2) & 1))
}
CAP_SYS_ADMIN=21

# --- the default: unprivileged, with an id range of its own --------------------------
create_vps 101
create_vps 102
base1=$(conf_value 101 id_base)
base2=$(conf_value 102 id_base)
assert_match "$base1" '^[1-9][0-9]*$' "id_base of VPS 101 in its config"
assert_match "$base2" '^[1-9][0-9]*$' "id_base of VPS 102 in its config"
if [ -n "$base1" ] && [ -n "$base2" ]; then
    gap=$((base2 > base1 ? base2 - base1 : base1 - base2))
    [ "$gap" -ge 65536 ] || fail "the id ranges of VPS 101 ($base1) and 102 ($base2) overlap"
fi
mapping=$(conf_value 101 id_mapping)
assert_match "$mapping" '^(mount|shift)$' "id_mapping of VPS 101"
[ "$mapping" = mount ] ||
    note_skip "idmapped mounts: the storage file system under $R takes none here (vzd log: $(grep -m1 'idmapped' "$R/vzd.log"))"

start_vps 101
pid=$(vps_init_pid 101) || fatal "no init pid for VPS 101"
assert_eq "$base1" "$(host_uid_of_init 101)" "host uid of VPS 101's init"
assert_match "$(tr -s ' ' <"/proc/$pid/uid_map")" "^ *0 $base1 65536\$" "uid_map of VPS 101"
assert_match "$(tr -s ' ' <"/proc/$pid/gid_map")" "^ *0 $base1 65536\$" "gid_map of VPS 101"

assert_ok vzctl exec 101 id -u
assert_eq 0 "$OUT" "uid inside VPS 101"
assert_ok vzctl exec 101 stat -c %u:%g / /etc/passwd /bin
assert_eq "0:0 0:0 0:0" "$(echo $OUT)" "owners of /, /etc/passwd and /bin inside VPS 101"
# Root of the user namespace keeps CAP_SYS_ADMIN over its own namespaces.
cap_bit_set 101 $CAP_SYS_ADMIN || fail "VPS 101's init lacks sys_admin in its bounding set"
assert_ok vzctl exec 101 sh -c 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && umount /mnt/t'

# Files made inside, as root and as another user, land on the host with the
# ids the mapping says.
assert_ok vzctl exec 101 sh -c 'echo a >/made-by-root && echo b >/made-by-1000 && chown 1000:1000 /made-by-1000'
if [ "$mapping" = mount ]; then
    want_root=0:0 want_user=1000:1000
else
    want_root=$base1:$base1 want_user=$((base1 + 1000)):$((base1 + 1000))
fi
assert_eq "$want_root" "$(stat -c %u:%g "$R/private/101/made-by-root")" "host owner of a file root made in VPS 101 ($mapping)"
assert_eq "$want_user" "$(stat -c %u:%g "$R/private/101/made-by-1000")" "host owner of a file uid 1000 made in VPS 101 ($mapping)"
assert_eq "$want_root" "$(stat -c %u:%g "$R/private/101/etc/passwd")" "host owner of VPS 101's /etc/passwd ($mapping)"
# A file vzd writes from outside (the hostname) belongs to root inside.
assert_ok vzctl set 101 --hostname uns101 --save
assert_ok vzctl exec 101 stat -c %u:%g /etc/hostname
assert_eq 0:0 "$OUT" "owner of /etc/hostname written by vzd, inside VPS 101"
# Set-id programs work inside (busybox su runs setuid root).
assert_ok vzctl exec 101 sh -c 'chmod u+s /bin/busybox; stat -c %a /bin/busybox'
assert_match "$OUT" '^4[0-7]{3}$' "mode of a setuid binary inside VPS 101"

assert_ok vzctl stop 101
start_vps 101
assert_ok vzctl exec 101 cat /made-by-root
assert_eq a "$OUT" "a file made inside VPS 101, after a restart"
assert_ok vzctl stop 101

# --- shifted ownership when idmapped mounts are turned off ---------------------------
stop_vzd
echo "idmapped_mounts: false" >>"$R/vz.yaml"
launch_vzd
create_vps 103
base3=$(conf_value 103 id_base)
assert_eq shift "$(conf_value 103 id_mapping)" "id_mapping of VPS 103 with idmapped_mounts: false"
assert_eq "$base3:$base3" "$(stat -c %u:%g "$R/private/103/etc/passwd")" "host owner of VPS 103's /etc/passwd (shifted)"
start_vps 103
assert_ok vzctl exec 103 stat -c %u:%g / /etc/passwd
assert_eq "0:0 0:0" "$(echo $OUT)" "owners of / and /etc/passwd inside VPS 103 (shifted)"
assert_eq "$base3" "$(host_uid_of_init 103)" "host uid of VPS 103's init"
assert_ok vzctl stop 103
# VPS 101 was made with an idmapped mount and keeps it.
start_vps 101
assert_ok vzctl exec 101 stat -c %u /etc/passwd
assert_eq 0 "$OUT" "owner of /etc/passwd in VPS 101 after the host turned idmapped mounts off"
assert_ok vzctl stop 101

# --- privileged: root is the host's root, without CAP_SYS_ADMIN -----------------------
assert_ok vzctl create 104 --ostemplate busybox --userns no
assert_contains "$ERR" "privileged" "warning of create --userns no"
assert_eq "" "$(conf_value 104 id_base)" "id_base of the privileged VPS 104"
start_vps 104
assert_eq 0 "$(host_uid_of_init 104)" "host uid of VPS 104's init"
if cap_bit_set 104 $CAP_SYS_ADMIN; then fail "VPS 104 (privileged) holds sys_admin by default"; fi
assert_exit 1 vzctl exec 104 sh -c 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t'
assert_exit 1 vzctl exec 104 hostname other
assert_ok vzctl exec 104 hostname
assert_eq 104 "$OUT" "hostname of VPS 104 after a refused change"

# sys_admin:on is taken with a warning and applies at the next start.
assert_ok vzctl set 104 --capability sys_admin:on --save
assert_contains "$ERR" "next start" "warning of set --capability on a running VPS"
assert_contains "$ERR" "trusted" "warning about sys_admin in a privileged VPS"
assert_contains "$(cat "$R/conf/104.yaml")" "sys_admin:on" "VPS 104's config"
assert_ok vzctl restart 104
cap_bit_set 104 $CAP_SYS_ADMIN || fail "VPS 104 lacks sys_admin after --capability sys_admin:on"
assert_ok vzctl exec 104 sh -c 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && umount /mnt/t'
# A capability can also be taken away from an unprivileged VPS.
assert_ok vzctl set 102 --capability CAP_NET_RAW:off --save
assert_contains "$(cat "$R/conf/102.yaml")" "net_raw:off" "VPS 102's config"
start_vps 102
if cap_bit_set 102 13; then fail "VPS 102 holds net_raw after --capability net_raw:off"; fi

# --- bad capabilities -----------------------------------------------------------------
assert_exit 21 vzctl set 104 --capability sys_module:on --save
assert_error 'sys_module.*never'
assert_exit 21 vzctl set 104 --capability flying:on --save
assert_error "unknown capability 'flying'"
assert_exit 21 vzctl set 104 --capability sys_admin:maybe --save
assert_error 'on or off'
assert_exit 21 vzctl create 105 --ostemplate busybox --capability bpf:on
assert_error 'bpf.*never'
assert_missing "$R/conf/105.yaml" "config of VPS 105 after a refused create"
assert_not_contains "$(cat "$R/conf/104.yaml")" "sys_module" "VPS 104's config after refused capabilities"

vzt_exit
