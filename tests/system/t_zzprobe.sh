#!/bin/bash
. /work/main/tests/system/lib.sh
cg_own_dirs
echo ---; cg_controller_dir memory; cg_controller_dir pids; cg_controller_dir cpu; cg_controller_dir hugetlb
echo pid $$; readlink /proc/self/ns/pid /proc/self/ns/mnt
assert_eq a b "demo"
