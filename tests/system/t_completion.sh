#!/bin/bash
# bash completion of vzctl (vzctl/completion/vzctl): commands, options of
# each command, the ids and names of existing VPSes, cached templates.
# Runs natively and in the qemu guest.
. "$(dirname "$0")/lib.sh"

start_vzd
create_vps 101 --name web
create_vps 102

# shellcheck source=../../vzctl/completion/vzctl
. "$VZT_REPO/vzctl/completion/vzctl"
complete_words() { # WORD...: what completing the last word offers, on one line
    COMP_WORDS=("$VZCTL_BIN" --socket "$VZT_SOCK" "$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _vzctl
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}

assert_eq "set start status stop suspend " "$(complete_words s)" "completing 's'"
assert_eq "chkpnt " "$(complete_words ch)" "completing 'ch'"
assert_eq "101 102 web " "$(complete_words restore "")" "completing the VPS of 'restore'"
assert_eq "101 102 web " "$(complete_words start "")" "completing the VPS of 'start'"
assert_eq "101 " "$(complete_words enter 10 | tr ' ' '\n' | grep -x 101 | tr '\n' ' ')" "completing '10' after enter"
assert_eq "101 102 web " "$(complete_words console "")" "completing the VPS of 'console'"
assert_eq "console " "$(complete_words con)" "completing 'con'"
assert_contains "$(complete_words create 103 --ostemplate "")" "busybox" "completing --ostemplate"
assert_contains "$(complete_words set 101 --num)" "--numproc" "completing '--num' after set"
assert_contains "$(complete_words set 101 --ipa)" "--ipadd" "completing '--ipa' after set"
assert_eq "no yes " "$(complete_words create 103 --userns "")" "completing --userns"
assert_eq "build list " "$(complete_words template "")" "completing 'template'"

vzt_exit
