#!/bin/bash
# The man pages format without a single groff warning and document what
# users look up: every command, parameter and exit code. Needs no vzd and
# no root.
export VZT_NO_ISOLATE=1
. "$(dirname "$0")/lib.sh"

command -v groff >/dev/null || skip "groff is not installed (Debian package groff-base)"
man_dir=$VZT_REPO/man
pages=("$man_dir"/*.8 "$man_dir"/*.5)
for p in vzctl.8 vzd.8 vz.yaml.5; do
    assert_exists "$man_dir/$p" "man page"
done

for page in "${pages[@]}"; do
    [ -f "$page" ] || continue
    name=${page##*/}
    warnings=$(groff -man -ww -z "$page" 2>&1)
    assert_eq "" "$warnings" "groff -man -ww -z $name"
    if command -v man >/dev/null; then
        warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
        assert_eq "" "$warnings" "man --warnings -l $name"
    fi
    # Every page has the sections a reader expects.
    for section in NAME SYNOPSIS DESCRIPTION FILES "SEE ALSO"; do
        grep -q "^\.SH \"\{0,1\}$section" "$page" || fail "$name has no $section section"
    done
done

text() { LC_ALL=C MANWIDTH=200 man -l "$1" 2>/dev/null | col -bx; }
if command -v man >/dev/null && command -v col >/dev/null; then
    vzctl8=$(text "$man_dir/vzctl.8")
    for cmd in create start stop restart destroy delete status list set exec enter; do
        grep -qE "^   ([a-z].*[ ,])?$cmd( |,|$)" <<<"$vzctl8" || fail "vzctl.8 has no subsection for '$cmd'"
    done
    for param in physpages swappages numproc cpuunits cpulimit cpus ram swap; do
        grep -qE "^ +$param( |$)" <<<"$vzctl8" || fail "vzctl.8 does not document parameter '$param'"
    done
    for file in memory.max memory.limit_in_bytes memory.high memory.soft_limit_in_bytes \
        memory.swap.max memory.memsw.limit_in_bytes pids.max cpu.weight cpu.shares cpu.max \
        cpu.cfs_quota_us; do
        assert_contains "$vzctl8" "$file" "vzctl.8 PARAMETERS (cgroup file)"
    done
    exits=$(sed -n '/^EXIT STATUS/,/^[A-Z]/p' <<<"$vzctl8")
    for code in 0 3 9 12 20 21 31 32 43 44 91; do
        grep -qE "^ +$code( |$)" <<<"$exits" || fail "vzctl.8 EXIT STATUS does not list $code"
    done
    for section in OPTIONS COMMANDS PARAMETERS "EXIT STATUS" EXAMPLES; do
        grep -q "^$section" <<<"$vzctl8" || fail "vzctl.8 has no $section section"
    done

    vzd8=$(text "$man_dir/vzd.8")
    for word in --root --socket SO_PEERCRED admin_group cgroup_base SIGTERM SIGKILL "STATE RECOVERY"; do
        assert_contains "$vzd8" "$word" "vzd.8"
    done

    vzyaml5=$(text "$man_dir/vz.yaml.5")
    for key in socket runtime_dir cgroup_base admin_group cgroup_mode stop_timeout defaults \
        ctid name ostemplate hostname description onboot; do
        grep -qE "^ +$key:" <<<"$vzyaml5" || fail "vz.yaml.5 does not document key '$key'"
    done
else
    note_skip "content checks need man and col"
fi

# With a built product, the pages and the programs agree: every command
# and parameter vzctl accepts and every key vz.yaml takes is documented.
if [ -x "$VZCTL_BIN" ] && [ -n "${vzctl8:-}" ]; then
    cmds=$("$VZCTL_BIN" --help 2>&1 | sed -n '/^Subcommands:/,$p' | tail -n +2 |
        sed 's/^ *//; s/  .*//; s/,/ /g')
    [ -n "$cmds" ] || fail "vzctl --help lists no commands"
    for cmd in $cmds; do
        grep -qE "^   ([a-z].*[ ,])?$cmd( |,|$)" <<<"$vzctl8" ||
            fail "vzctl accepts command '$cmd' but vzctl.8 has no subsection for it"
    done
    params=$("$VZCTL_BIN" set --help 2>&1 | sed -n 's/^ *--\([a-z0-9]*\) TEXT.*/\1/p' | grep -vx hostname)
    [ -n "$params" ] || fail "vzctl set --help lists no parameters"
    for param in $params; do
        # Resource parameters are documented under PARAMETERS, network
        # options with the set command.
        grep -qw -- "--$param" <<<"$(sed -n '/^COMMANDS/,/^EXIT STATUS/p' <<<"$vzctl8")" ||
            grep -qw -- "$param" <<<"$(sed -n '/^PARAMETERS/,/^EXIT STATUS/p' <<<"$vzctl8")" ||
            fail "vzctl set accepts --$param but vzctl.8 does not document it"
    done
fi
if [ -x "$VZD_BIN" ] && [ -n "${vzyaml5:-}" ]; then
    # vzd names its known keys when vz.yaml has an unknown one; it stops
    # there, before it touches anything.
    scratch=$VZT_TMP/vzd-root
    mkdir -p "$scratch"
    echo "no_such_key_vzt: 1" >"$scratch/vz.yaml"
    run timeout 20 "$VZD_BIN" --root "$scratch"
    assert_eq 21 "$RC" "vzd with an unknown key in vz.yaml"
    keys=$(sed -n 's/.*(known: \([^)]*\)).*/\1/p' <<<"$ERR" | tr ',' ' ')
    if [ -z "$keys" ]; then
        fail "vzd's error for an unknown vz.yaml key lists no known keys: $(vzt_short "$ERR")"
    fi
    for key in $keys; do
        grep -qE "^ +$key:" <<<"$vzyaml5" || fail "vzd accepts vz.yaml key '$key' but vz.yaml.5 does not document it"
    done
fi
