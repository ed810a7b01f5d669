#include "caps/caps.hpp"

#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace vps::caps {

Result<Prepared> prepare(const std::vector<int>& drop) {
    Prepared p;
    p.drop = drop;
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    if (::syscall(SYS_capget, &hdr, p.data) < 0) return Error::sys("capget");
    for (int cap : drop) {
        const unsigned word = static_cast<unsigned>(cap) / 32;
        const uint32_t bit = 1u << (static_cast<unsigned>(cap) % 32);
        if (word >= _LINUX_CAPABILITY_U32S_3) continue;
        p.data[word].effective &= ~bit;
        p.data[word].permitted &= ~bit;
        p.data[word].inheritable &= ~bit;
    }
    return p;
}

int apply(const Prepared& p) noexcept {
    for (int cap : p.drop) {
        // EINVAL: the running kernel does not know this capability; nothing
        // to drop then.
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -1;
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -1;
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) data[i] = p.data[i];
    if (::syscall(SYS_capset, &hdr, data) < 0) return -1;
    return 0;
}

std::string name_of(int cap) {
    std::unique_ptr<char, decltype(&cap_free)> name(cap_to_name(static_cast<cap_value_t>(cap)),
                                                     &cap_free);
    if (!name) return std::to_string(cap);
    std::string s = name.get();
    if (s.rfind("cap_", 0) == 0) s = s.substr(4);
    return s;
}

}  // namespace vps::caps
