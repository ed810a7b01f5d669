#include "vps/crash.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vps::crash {
namespace {

// Set once by arm_from_environment() before threads start; read-only after.
const std::string* armed = nullptr;
bool power_cut = false;

// The machine stops at once, as if its power went: no sync, no shutdown.
// Only for a throw-away test machine (the qemu guest).
void cut_power() {
    int fd = ::open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) (void)!::write(fd, "b", 1);
}

}  // namespace

const std::vector<Point>& points() {
    static const std::vector<Point> all{
        {"create.reserved", "name and host ids reserved, nothing on disk yet"},
        {"create.unpacked", "private area unpacked under its name, no config yet"},
        {"create.saved", "config saved, the answer not yet sent"},
        {"start.group", "cgroup made with its limits, no process yet"},
        {"start.wired", "init cloned into the cgroup, network wired, init not yet running"},
        {"start.running", "init runs, its state file not yet written"},
        {"start.saved", "state file written, the answer not yet sent"},
        {"stop.signalled", "init told to stop, not yet gone"},
        {"stop.exited", "init gone and its cgroup removed, host-side network not yet cleaned"},
        {"set.applied", "a change applied to the running VPS, the config not yet saved"},
        {"destroy.renamed", "private area renamed to .destroying, config still there"},
        {"destroy.unlinked", "config removed, private area not yet removed"},
        {"chkpnt.prepared", "images directory holds the config, CRIU not yet run"},
        {"chkpnt.dumped", "CRIU wrote the images and ended the VPS's processes"},
        {"restore.group", "cgroup made for the restore, CRIU not yet run"},
        {"restore.restored", "CRIU restored the processes, vzd not yet watching them"},
        {"migrate.prepared", "incoming staging directory made, the answer not yet sent"},
        {"migrate.moved", "incoming private area moved in, no config yet"},
        {"migrate.saved", "incoming config saved, the VPS not yet started"},
        {"migrate.committed", "incoming VPS registered here (and running, unless it came stopped), the answer not yet sent"},
    };
    return all;
}

void arm_from_environment() {
    const char* name = std::getenv("VZD_CRASH_AT");
    if (!name || !*name) return;
    const auto& all = points();
    if (std::none_of(all.begin(), all.end(), [&](const Point& p) { return p.name == name; })) {
        std::fprintf(stderr, "vzd: VZD_CRASH_AT=%s names no crash point (vzd --crash-points lists them)\n", name);
        std::exit(20);
    }
    armed = new std::string(name);
    const char* how = std::getenv("VZD_CRASH_HOW");
    power_cut = how && std::string(how) == "power";
    std::fprintf(stderr, "vzd: armed to %s at %s\n", power_cut ? "cut the machine's power" : "crash", name);
}

void at(std::string_view name) {
    if (!armed || *armed != name) return;
    // One write, so the line is whole even with threads logging around it.
    const std::string line = "vzd: crash point " + std::string(name) + " reached: " +
                             (power_cut ? "cutting the power" : "killing vzd") + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
    if (power_cut) cut_power();
    ::kill(::getpid(), SIGKILL);
    ::pause();
}

}  // namespace vps::crash
