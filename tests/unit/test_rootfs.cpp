// The order of the root filesystem steps the VPS init's child replays.
#include <doctest/doctest.h>

#include <sys/mount.h>

#include <algorithm>

#include "rootfs/rootfs.hpp"

using namespace vps;

namespace {
plan::Plan sample_plan() {
    plan::Plan p;
    p.ctid = 101;
    p.private_dir = "/vz/private/101";
    p.root_dir = "/vz/root/101";
    return p;
}

long index_of(const std::vector<rootfs::Step>& steps, rootfs::StepKind kind,
              const std::string& target) {
    auto it = std::find_if(steps.begin(), steps.end(), [&](const rootfs::Step& s) {
        return s.kind == kind && s.target == target;
    });
    return it == steps.end() ? -1 : it - steps.begin();
}
}  // namespace

TEST_CASE("mounts are made private before anything is mounted") {
    auto steps = rootfs::plan_steps(sample_plan());
    REQUIRE(!steps.empty());
    CHECK(steps[0].kind == rootfs::StepKind::mount);
    CHECK(steps[0].target == "/");
    CHECK((steps[0].flags & MS_PRIVATE) != 0);
    CHECK((steps[0].flags & MS_REC) != 0);
}

TEST_CASE("the private area is bound on the root mount point, then pivot_root is last") {
    auto steps = rootfs::plan_steps(sample_plan());
    CHECK(steps[1].source == "/vz/private/101");
    CHECK(steps[1].target == "/vz/root/101");
    CHECK((steps[1].flags & MS_BIND) != 0);
    CHECK(steps.back().kind == rootfs::StepKind::pivot_root);
    CHECK(steps.back().target == "/vz/root/101");
}

TEST_CASE("every mount lands beneath the VPS root, never on a host path") {
    auto steps = rootfs::plan_steps(sample_plan());
    for (size_t i = 1; i < steps.size(); ++i) {
        INFO(steps[i].describe());
        CHECK(steps[i].target.rfind("/vz/root/101", 0) == 0);
    }
}

TEST_CASE("proc, a read-only sys, dev, pts, shm, run and tmp are all there") {
    auto steps = rootfs::plan_steps(sample_plan());
    using K = rootfs::StepKind;
    for (const char* t : {"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/run", "/tmp"})
        CHECK_MESSAGE(index_of(steps, K::mount, std::string("/vz/root/101") + t) > 0, t);
    long sys = index_of(steps, K::mount, "/vz/root/101/sys");
    CHECK((steps[sys].flags & MS_RDONLY) != 0);
    // /dev/pts must be a new instance, or the VPS would see the host's ptys.
    long pts = index_of(steps, K::mount, "/vz/root/101/dev/pts");
    CHECK(steps[pts].data.find("newinstance") != std::string::npos);
    for (const char* d : {"null", "zero", "full", "random", "urandom", "tty", "console"})
        CHECK_MESSAGE(index_of(steps, K::mount, std::string("/vz/root/101/dev/") + d) > 0, d);
    // The tmpfs on /dev comes before the nodes bound into it.
    CHECK(index_of(steps, K::mount, "/vz/root/101/dev") <
          index_of(steps, K::mount, "/vz/root/101/dev/null"));
}

TEST_CASE("step descriptions name the step and its path for errors") {
    auto steps = rootfs::plan_steps(sample_plan());
    long proc = index_of(steps, rootfs::StepKind::mount, "/vz/root/101/proc");
    CHECK(steps[proc].describe() == "mount 'proc' on '/vz/root/101/proc'");
}

TEST_CASE("host /proc files are masked and host-wide sysctls read-only, after the IPC knobs are written") {
    auto p = sample_plan();
    p.ipc_sysctls = {{"kernel/shmmni", "7"}};
    auto steps = rootfs::plan_steps(p);
    const long proc = index_of(steps, rootfs::StepKind::mount, "/vz/root/101/proc");
    const long knob = index_of(steps, rootfs::StepKind::write, "/vz/root/101/proc/sys/kernel/shmmni");
    REQUIRE(proc >= 0);
    REQUIRE(knob > proc);
    CHECK(steps[knob].data == "7");
    const long kcore = index_of(steps, rootfs::StepKind::mount, "/vz/root/101/proc/kcore");
    REQUIRE(kcore > proc);
    CHECK(steps[kcore].source == "/dev/null");
    CHECK(steps[kcore].optional);  // not every kernel has every file
    CHECK(index_of(steps, rootfs::StepKind::mount, "/vz/root/101/proc/sysrq-trigger") > proc);

    // /proc/sys/kernel: a bind, then a read-only remount, after the knobs.
    long remount = -1;
    for (size_t i = 0; i < steps.size(); ++i)
        if (steps[i].target == "/vz/root/101/proc/sys/kernel" && (steps[i].flags & MS_REMOUNT)) remount = static_cast<long>(i);
    REQUIRE(remount > knob);
    CHECK((steps[remount].flags & MS_RDONLY) != 0);
    // The VPS's own network sysctls stay writable.
    CHECK(index_of(steps, rootfs::StepKind::mount, "/vz/root/101/proc/sys/net") == -1);
}

TEST_CASE("device nodes on the VPS's own files do not work") {
    auto steps = rootfs::plan_steps(sample_plan());
    const long bind = index_of(steps, rootfs::StepKind::mount, "/vz/root/101");
    REQUIRE(bind >= 0);
    REQUIRE(static_cast<size_t>(bind + 1) < steps.size());
    CHECK(steps[bind + 1].target == "/vz/root/101");
    CHECK((steps[bind + 1].flags & MS_REMOUNT) != 0);
    CHECK((steps[bind + 1].flags & MS_NODEV) != 0);
}
