// Where VPS cgroups live when systemd runs vzd.
//
// Not in vzd.service's own cgroup: systemd (before 254's DelegateSubgroup=)
// puts a restarted service's main process into the unit's cgroup, and
// cgroup v2 refuses that (EBUSY) once controllers are enabled there for the
// VPS groups beneath it, so `systemctl restart vzd` would fail while any
// VPS runs. Instead the VPS groups live in a transient scope delegated to
// us, machine.slice/<base>.scope, as systemd-nspawn's and libvirt's machines
// do. A keeper process (vzd --cgroup-keeper) sits in the scope's leaf
// "keeper" so the scope outlives vzd and survives while no VPS runs, and
// the scope is ordered after vzd's unit, so at shutdown vzd (and vz.service
// before it) stops the VPSes before systemd kills what is left in it.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "daemon.hpp"
#include "vps/sys.hpp"

namespace vzd {
namespace {

namespace sys = vps::sys;

constexpr const char* kSlice = "machine.slice";
constexpr const char* kKeeperLeaf = "keeper";
constexpr auto kKeeperWait = std::chrono::seconds(15);

// The unit systemd runs us as ("vzd.service"), when it does and the host
// is cgroup v2 only: /proc/self/cgroup is then the single line
// "0::/system.slice/vzd.service".
std::string own_service_unit() {
    const char* invocation = std::getenv("INVOCATION_ID");
    if (!invocation || !*invocation || !sys::exists("/run/systemd/system")) return {};
    struct statfs st {};
    if (::statfs("/sys/fs/cgroup", &st) < 0 || st.f_type != CGROUP2_SUPER_MAGIC) return {};
    auto self = sys::read_file("/proc/self/cgroup", 1 << 16);
    if (!self || self->rfind("0::/", 0) != 0) return {};
    std::string path = sys::trim(*self);
    if (path.find('\n') != std::string::npos) return {};
    std::string unit = path.substr(path.rfind('/') + 1);
    const std::string suffix = ".service";
    if (unit.size() <= suffix.size() || unit.compare(unit.size() - suffix.size(), suffix.size(), suffix) != 0)
        return {};
    return unit;
}

std::string scope_unit(const std::string& cgroup_base) {
    std::string name = cgroup_base;
    for (char& c : name)
        if (c == '/') c = '-';
    return name + ".scope";
}

// systemd-run registers the scope with systemd, moves itself in and execs
// the keeper. Double fork: the keeper is nobody's child but systemd's.
Result<void> spawn_keeper(const std::string& unit, const std::string& after_unit, const std::string& root) {
    auto exe = sys::read_link("/proc/self/exe");
    if (!exe) return std::move(exe).error();
    const std::vector<std::string> argv = {
        "systemd-run", "--scope", "--quiet", "--collect", "--unit=" + unit, std::string("--slice=") + kSlice,
        "--description=vz: VPSes of " + root, "--property=Delegate=yes", "--property=Before=" + after_unit,
        "--", *exe, "--cgroup-keeper"};
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork", "systemd-run");
    if (pid == 0) {
        ::setsid();
        if (::fork() != 0) ::_exit(0);
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return vps::ok();
}

}  // namespace

std::string systemd_scope(const std::string& cgroup_base, const std::string& root, bool may_create) {
    const std::string service = own_service_unit();
    if (service.empty()) return {};
    const std::string unit = scope_unit(cgroup_base);
    const std::string path = std::string("/") + kSlice + "/" + unit;
    cgroups::Options probe;
    if (cgroups::holds_processes(probe, path + "/" + kKeeperLeaf)) return path;
    if (!may_create) return {};
    if (auto r = spawn_keeper(unit, service, root); !r) {
        log("warning: " + r.error().message() + ": VPS cgroups stay in " + service +
            ", which `systemctl restart` cannot re-enter while a VPS runs");
        return {};
    }
    const auto deadline = std::chrono::steady_clock::now() + kKeeperWait;
    while (std::chrono::steady_clock::now() < deadline) {
        if (cgroups::holds_processes(probe, path + "/" + kKeeperLeaf)) return path;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    log("warning: systemd-run did not make the scope " + unit + " within " +
        std::to_string(kKeeperWait.count()) + " s: VPS cgroups stay in " + service +
        ", which `systemctl restart` cannot re-enter while a VPS runs");
    return {};
}

int run_cgroup_keeper() {
    if (auto r = cgroups::enter_leaf(cgroups::Options{}, kKeeperLeaf); !r) {
        std::fprintf(stderr, "vzd --cgroup-keeper: %s\n", r.error().message().c_str());
        return 1;
    }
    // Nothing to do but exist until systemd stops the scope (SIGTERM).
    for (;;) ::pause();
}

}  // namespace vzd
