// Device access on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program,
// attached to the group, that the kernel asks on every open and mknod of a
// device node. It returns 1 (allow) for the listed devices and 0 otherwise.
#include "devices.hpp"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace cgroups::v2 {
namespace {

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

bpf_insn load_ctx(uint8_t dst, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, off, 0); }
bpf_insn jump_ne(uint8_t reg, int32_t value, int16_t skip) { return insn(BPF_JMP | BPF_JNE | BPF_K, reg, 0, skip, value); }
bpf_insn mov(uint8_t reg, int32_t value) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, reg, 0, 0, value); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// r2 = device type, r3 = major, r4 = minor; then one block per rule:
//   if r2 != type goto next; if r3 != major goto next;
//   [if r4 != minor goto next;] r0 = 1; exit
// and at the end r0 = 0; exit.
std::vector<bpf_insn> program(const std::vector<DeviceRule>& allow) {
    std::vector<bpf_insn> p;
    p.push_back(load_ctx(BPF_REG_2, offsetof(bpf_cgroup_dev_ctx, access_type)));
    p.push_back(insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff));
    p.push_back(load_ctx(BPF_REG_3, offsetof(bpf_cgroup_dev_ctx, major)));
    p.push_back(load_ctx(BPF_REG_4, offsetof(bpf_cgroup_dev_ctx, minor)));
    for (const auto& r : allow) {
        const int type = r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
        const bool any_minor = r.minor < 0;
        const int16_t rest = any_minor ? 3 : 4;  // instructions after the first jump
        p.push_back(jump_ne(BPF_REG_2, type, rest));
        p.push_back(jump_ne(BPF_REG_3, r.major, static_cast<int16_t>(rest - 1)));
        if (!any_minor) p.push_back(jump_ne(BPF_REG_4, r.minor, 2));
        p.push_back(mov(BPF_REG_0, 1));
        p.push_back(exit_insn());
    }
    p.push_back(mov(BPF_REG_0, 0));
    p.push_back(exit_insn());
    return p;
}

long bpf(int cmd, bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

}  // namespace

Result<void> attach_device_filter(vps::FdRef cgroup_dir, const std::string& path, const std::vector<DeviceRule>& allow) {
    auto insns = program(allow);
    static const char license[] = "GPL";
    char log[4096] = {};
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<uint64_t>(insns.data());
    load.insn_cnt = static_cast<uint32_t>(insns.size());
    load.license = reinterpret_cast<uint64_t>(license);
    load.log_buf = reinterpret_cast<uint64_t>(log);
    load.log_size = sizeof log;
    load.log_level = 1;
    vps::Fd prog(static_cast<int>(bpf(BPF_PROG_LOAD, load)));
    if (!prog) {
        int e = errno;
        return vps::Error(vps::Errc::system, "load device filter (BPF_PROG_LOAD)", path, e, log[0] ? std::string(log) : "");
    }
    bpf_attr attach{};
    attach.target_fd = static_cast<uint32_t>(cgroup_dir.get());
    attach.attach_bpf_fd = static_cast<uint32_t>(prog.get());
    attach.attach_type = BPF_CGROUP_DEVICE;
    // Replaced on a second call (set at every start of the group).
    attach.attach_flags = 0;
    if (bpf(BPF_PROG_ATTACH, attach) < 0) return vps::Error::sys("attach device filter (BPF_PROG_ATTACH)", path);
    return vps::ok();
}

}  // namespace cgroups::v2
