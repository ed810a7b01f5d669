// The seccomp filter that keeps a VPS away from host-wide syscalls. It is
// compiled with libseccomp in the parent into a BPF program; the child
// loads that program with one raw syscall, last before exec.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "vps/error.hpp"

namespace vps::seccomp {

struct Program {
    std::vector<sock_filter> insns;
    std::vector<std::string> skipped;  // names this kernel/arch does not have
};

// Every named syscall fails with EPERM, on the native ABI and on the
// compat ABIs of the architecture (x86: i386 and x32) so that a 32-bit
// binary cannot reach them by another syscall number.
Result<Program> compile(const std::vector<std::string>& deny);

// Child side, allocation-free: install the program. -1 with errno on failure.
int load(const Program& prog) noexcept;

}  // namespace vps::seccomp
