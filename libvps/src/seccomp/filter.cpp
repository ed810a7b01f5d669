#include "seccomp/filter.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "vps/fd.hpp"
#include "vps/sys.hpp"

namespace vps::seccomp {
namespace {

struct CtxDeleter {
    void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Result<void> add_compat_arches(scmp_filter_ctx ctx) {
#if defined(__x86_64__)
    for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
        int r = seccomp_arch_add(ctx, arch);
        if (r < 0 && r != -EEXIST) return Error::sys("seccomp_arch_add", {}, -r);
    }
#else
    (void)ctx;
#endif
    return ok();
}

// libseccomp 2.5 can only export to an fd; a memfd keeps it off the disk.
Result<std::vector<sock_filter>> export_bpf(scmp_filter_ctx ctx) {
    int mfd = ::memfd_create("vps-seccomp", MFD_CLOEXEC);
    if (mfd < 0) return Error::sys("memfd_create");
    Fd fd(mfd);
    if (int r = seccomp_export_bpf(ctx, fd.get()); r < 0)
        return Error::sys("seccomp_export_bpf", {}, -r);
    if (::lseek(fd.get(), 0, SEEK_SET) < 0) return Error::sys("lseek");
    auto bytes = sys::read_fd(fd.ref(), 1 << 20);
    if (!bytes) return std::move(bytes).error();
    std::vector<sock_filter> insns(bytes->size() / sizeof(sock_filter));
    std::memcpy(insns.data(), bytes->data(), insns.size() * sizeof(sock_filter));
    return insns;
}

}  // namespace

Result<Program> compile(const std::vector<std::string>& deny) {
    Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
    if (!ctx) return Error::make(Errc::system, "seccomp_init failed");
    if (auto r = add_compat_arches(ctx.get()); !r) return std::move(r).error();
    Program prog;
    for (const auto& name : deny) {
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) {
            prog.skipped.push_back(name);
            continue;
        }
        int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0);
        // -EDOM/-EINVAL: not a syscall on one of the ABIs; the others keep it.
        if (r < 0 && r != -EDOM && r != -EINVAL) return Error::sys("seccomp_rule_add", name, -r);
    }
    auto insns = export_bpf(ctx.get());
    if (!insns) return std::move(insns).error();
    prog.insns = std::move(*insns);
    return prog;
}

int load(const Program& prog) noexcept {
    sock_fprog fprog{static_cast<unsigned short>(prog.insns.size()),
                     const_cast<sock_filter*>(prog.insns.data())};
    return static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog));
}

}  // namespace vps::seccomp
