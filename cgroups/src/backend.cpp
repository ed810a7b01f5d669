// open_backend(): tell v2 from v1 and hand over to the matching factory.
#include <linux/magic.h>
#include <sys/vfs.h>

#include <unistd.h>

#include "backends.hpp"
#include "cgroup_dir.hpp"
#include "parse.hpp"
#include "vps/sys.hpp"

namespace cgroups {
namespace {

using vps::Error;

// statfs of the cgroup root says which layout the host runs: cgroup2 there
// means unified; a tmpfs (or anything else) holds v1 per-controller mounts,
// possibly beside a controller-less cgroup2 at unified/ (hybrid), which we
// ignore because the controllers we need live on the v1 side.
vps::Result<Mode> detect_mode(const Options& opts) {
    if (opts.mode != Mode::automatic) return opts.mode;
    struct statfs st {};
    if (::statfs(opts.root.c_str(), &st) < 0) return Error::sys("statfs", opts.root);
    return st.f_type == CGROUP2_SUPER_MAGIC ? Mode::v2 : Mode::v1;
}

std::string under_root(const Options& opts, const std::string& path) {
    return path == "/" ? opts.root : opts.root + path;
}

}  // namespace

vps::Result<void> enter_leaf(const Options& opts, std::string_view leaf) {
    const std::string ctx = "enter cgroup leaf " + std::string(leaf);
    if (!detail::valid_name(leaf, false))
        return Error::make(vps::Errc::bad_value, "invalid cgroup name '" + std::string(leaf) + "'").with_context(ctx);
    auto self_text = vps::sys::read_file(opts.proc_self_cgroup);
    if (!self_text) return std::move(self_text).error().with_context(ctx);
    auto own = detail::v2_own_path(detail::parse_proc_cgroup(*self_text));
    if (!own)
        return Error(vps::Errc::system, "parse", opts.proc_self_cgroup, ENOENT, "no cgroup v2 line (0::/path)")
            .with_context(ctx);
    auto dir = detail::CgroupDir::open(under_root(opts, *own));
    if (!dir) return std::move(dir).error().with_context(ctx);
    auto child = detail::CgroupDir::make_child(*dir, leaf);
    if (!child) return std::move(child).error().with_context(ctx);
    if (auto r = child->write("cgroup.procs", std::to_string(::getpid())); !r) return std::move(r).error().with_context(ctx);
    return vps::ok();
}

bool holds_processes(const Options& opts, const std::string& path) {
    auto procs = vps::sys::read_file(under_root(opts, path) + "/cgroup.procs", 1 << 20);
    return procs && procs->find_first_not_of(" \n") != std::string::npos;
}

vps::Result<std::unique_ptr<Backend>> open_backend(const Options& opts) {
    auto mode = detect_mode(opts);
    if (!mode) return std::move(mode).error().with_context("open cgroups");
    auto self_text = vps::sys::read_file(opts.proc_self_cgroup);
    if (!self_text) return std::move(self_text).error().with_context("open cgroups");
    auto self = detail::parse_proc_cgroup(*self_text);
    if (*mode == Mode::v2) return detail::open_v2(opts, self);

    auto mounts_text = vps::sys::read_file(opts.proc_self_mountinfo);
    if (!mounts_text) return std::move(mounts_text).error().with_context("open cgroups");
    return detail::open_v1(opts, self, detail::parse_mountinfo(*mounts_text));
}

}  // namespace cgroups
