// Resource limits that need host facts: the disk under the storage area
// (for io.max), project quotas (for diskspace/diskinodes), NUMA nodes and
// the kernel's open-file ceiling.
#include <sys/statfs.h>
#include <unistd.h>

#include "daemon.hpp"
#include "vps/disk.hpp"
#include "vps/runtime.hpp"
#include "vps/sys.hpp"

namespace vzd {

namespace sys = vps::sys;

namespace {

uint32_t count_numa_nodes() {
    auto names = sys::list_dir("/sys/devices/system/node");
    if (!names) return 1;
    uint32_t n = 0;
    for (const auto& name : *names)
        if (name.rfind("node", 0) == 0 && name.size() > 4 && std::isdigit(name[4])) ++n;
    return n ? n : 1;
}

uint64_t read_nr_open() {
    auto text = sys::read_file("/proc/sys/fs/nr_open", 64);
    if (!text) return 1048576;
    try {
        return std::stoull(sys::trim(*text));
    } catch (...) {
        return 1048576;
    }
}

vps::disk::QuotaLimits quota_limits(const vps::plan::Plan& plan) {
    vps::disk::QuotaLimits q;  // zero: no limit
    if (!plan.disk_quota) return q;
    if (plan.disk_quota->blocks) {
        q.space_soft_kb = plan.disk_quota->blocks->barrier;
        q.space_hard_kb = plan.disk_quota->blocks->limit;
    }
    if (plan.disk_quota->inodes) {
        q.inodes_soft = plan.disk_quota->inodes->barrier;
        q.inodes_hard = plan.disk_quota->inodes->limit;
    }
    return q;
}

}  // namespace

void Daemon::probe_host() {
    host_cpus_ = static_cast<uint32_t>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
    numa_nodes_ = count_numa_nodes();
    nr_open_ = read_nr_open();
    const std::string area = layout_.root() + "/private";
    if (auto disk = vps::disk::backing_disk(area)) {
        io_device_ = *disk;
    } else {
        io_device_error_ = disk.error().message();
    }
    auto quota = vps::disk::project_quota_enabled(area);
    quota_enabled_ = quota && *quota;
    if (!quota_enabled_) {
        auto m = vps::disk::mount_of(area);
        quota_off_reason_ = m ? "the " + m->fstype + " filesystem at " + m->mount_point +
                                    " has no project quotas (mount it with prjquota)"
                              : "no project quotas on the storage area";
    }
    log(std::string("disk quotas: ") + (quota_enabled_ ? "project quotas on " + area : quota_off_reason_));
    log("io limits: " + (io_device_.empty() ? io_device_error_ : "device " + io_device_));
}

vps::plan::HostFacts Daemon::facts() const {
    vps::plan::HostFacts f;
    f.cpus = host_cpus_;
    f.storage_root = layout_.root();
    f.numa_nodes = numa_nodes_;
    f.nr_open = nr_open_;
    f.cgroup2 = cgroups_ && cgroups_->name() == "v2";
    return f;
}

cgroups::Limits Daemon::limits_for(const vps::plan::Plan& plan) const {
    cgroups::Limits l = vps::params::to_cgroup_limits(plan.resources);
    if (!io_device_.empty()) l.io_device = io_device_;
    return l;
}

std::vector<std::string> Daemon::warnings_for(const vps::plan::Plan& plan) const {
    std::vector<std::string> w = plan.warnings;
    if (auto io = vps::params::io_device_warning(plan.resources, limits_for(plan)))
        w.push_back(*io + (io_device_error_.empty() ? "" : " (" + io_device_error_ + ")"));
    if (plan.disk_quota && !quota_enabled_)
        w.push_back("diskspace/diskinodes are not enforced: " + quota_off_reason_);
    return w;
}

Result<void> Daemon::apply_disk_quota(const vps::plan::Plan& plan) const {
    if (!quota_enabled_) return vps::ok();
    auto r = vps::disk::set_limits(plan.private_dir, plan.ctid, quota_limits(plan));
    if (!r) return std::move(r).error().with_context("disk quota");
    return vps::ok();
}

// lxcfs is looked for at each start: it may have been started (or have
// died) since vzd came up. Only a FUSE mount counts, so an empty directory
// left at the path is never bound over a VPS's /proc.
vps::runtime::Lxcfs Daemon::lxcfs_mounts() const {
    vps::runtime::Lxcfs l;
    if (cfg_.lxcfs.empty()) return l;
    const std::string proc = cfg_.lxcfs + "/proc";
    struct statfs st {};
    constexpr long kFuseMagic = 0x65735546;
    if (::statfs(proc.c_str(), &st) < 0 || st.f_type != kFuseMagic) return l;
    for (const char* f : {"cpuinfo", "diskstats", "loadavg", "meminfo", "stat", "swaps", "uptime"})
        if (sys::exists(proc + "/" + f)) l.files.emplace_back(f);
    if (!l.files.empty()) l.proc_dir = proc;
    return l;
}

Result<void> Daemon::tag_private_area(const std::string& dir, uint32_t ctid) const {
    if (!quota_enabled_) return vps::ok();
    return vps::disk::assign_project(dir, ctid);
}

}  // namespace vzd
