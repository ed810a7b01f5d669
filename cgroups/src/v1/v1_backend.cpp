// cgroup v1: each controller (or co-mounted set, such as cpu,cpuacct) is
// its own hierarchy with its own idea of where we run. A group is one
// directory per hierarchy: <mount>/<own path there>/<base>/<name>.
#include <algorithm>
#include <array>

#include "../backends.hpp"
#include "../parse.hpp"
#include "v1.hpp"
#include "vps/sys.hpp"

namespace cgroups::detail {
namespace {

using v1::Member;
using vps::Error;
using vps::Result;

// The controllers we put groups in. blkio carries the I/O weight, the
// per-device throttles and the I/O counters.
constexpr std::array<std::string_view, 6> kControllers{"memory",  "pids",   "cpu",
                                                       "cpuacct", "cpuset", "blkio"};

class V1Backend final : public Backend {
  public:
    V1Backend(std::string base, std::vector<Member> bases)
        : base_(std::move(base)), bases_(std::move(bases)) {}

    std::string_view name() const override { return "v1"; }

    std::string describe() const override {
        std::string out = "cgroup v1:";
        for (const auto& m : bases_) out += " " + v1::controller_label(m) + "=" + m.dir.path();
        return out;
    }

    // In the interface's terms: cpuacct rides along with cpu, blkio is io.
    std::vector<std::string> controllers() const override {
        std::vector<std::string> out;
        for (const auto& m : bases_)
            for (const auto& c : m.controllers)
                if (c != "cpuacct") out.push_back(c == "blkio" ? "io" : c);
        return out;
    }

    Result<std::unique_ptr<Group>> create(std::string_view name) override {
        return make(name, true);
    }
    Result<std::unique_ptr<Group>> open(std::string_view name) override {
        return make(name, false);
    }

    // Present in any hierarchy: a half-made group counts, so it gets
    // re-created or destroyed rather than forgotten.
    bool exists(std::string_view name) const override {
        if (!valid_name(name, false)) return false;
        return std::any_of(bases_.begin(), bases_.end(),
                           [&](const Member& m) { return m.dir.has(name); });
    }

  private:
    Result<std::unique_ptr<Group>> make(std::string_view name, bool create) const;
    Result<Member> make_member(const Member& base, std::string_view name, bool create) const;

    std::string base_;
    std::vector<Member> bases_;
};

Result<Member> V1Backend::make_member(const Member& base, std::string_view name,
                                      bool create) const {
    auto dir =
        create ? CgroupDir::make_child(base.dir, name) : CgroupDir::open_child(base.dir, name);
    if (!dir) return std::move(dir).error();
    if (create && v1::serves(base, "cpuset"))
        if (auto r = v1::inherit_cpuset(base.dir, *dir); !r) return std::move(r).error();
    return Member{base.controllers, std::move(dir).value()};
}

Result<std::unique_ptr<Group>> V1Backend::make(std::string_view name, bool create) const {
    std::string label = base_ + "/" + std::string(name);
    if (!valid_name(name, false))
        return Error::make(vps::Errc::bad_value, "invalid cgroup name '" + std::string(name) + "'");
    std::vector<Member> members;
    for (const auto& base : bases_) {
        auto m = make_member(base, name, create);
        if (!m)
            return std::move(m).error().with_context((create ? "create cgroup " : "open cgroup ") +
                                                     label);
        members.push_back(std::move(m).value());
    }
    return v1::make_group(std::string(name), std::move(label), std::move(members));
}

// Our own directory in the hierarchy mounted as m.
Result<CgroupDir> own_dir(const MountInfo& m, const std::vector<ProcCgroupLine>& self,
                          std::string_view controller, const std::string& proc_self_cgroup) {
    auto own = v1_own_path(self, controller);
    if (!own)
        return Error(vps::Errc::system, "parse", proc_self_cgroup, ENOENT,
                     "no line for the " + std::string(controller) + " hierarchy");
    auto rel = path_in_mount(m.root, *own);
    if (!rel)
        return Error(vps::Errc::system, "open", m.mount_point, ENOENT,
                     "our " + std::string(controller) + " cgroup " + *own +
                         " lies outside the mounted part " + m.root);
    return CgroupDir::open(join_path(m.mount_point, *rel));
}

// <own>/<base>, created level by level; cpuset levels get cpus and mems.
Result<CgroupDir> make_base(CgroupDir own, const std::string& base, bool cpuset) {
    CgroupDir dir = std::move(own);
    for (const auto& part : vps::sys::split(base, '/')) {
        auto child = CgroupDir::make_child(dir, part);
        if (!child) return std::move(child).error();
        if (cpuset)
            if (auto r = v1::inherit_cpuset(dir, *child); !r) return std::move(r).error();
        dir = std::move(child).value();
    }
    return dir;
}

// One Member per mounted hierarchy carrying a controller of ours, its dir
// being the base. Co-mounted controllers share one Member.
Result<std::vector<Member>> find_bases(const Options& opts, const std::vector<ProcCgroupLine>& self,
                                       const std::vector<MountInfo>& mounts) {
    std::vector<Member> bases;
    std::vector<std::string> seen_mounts;
    for (auto c : kControllers) {
        auto m = find_v1_mount(mounts, opts.root, c);
        if (!m) continue;
        auto seen = std::find(seen_mounts.begin(), seen_mounts.end(), m->mount_point);
        if (seen != seen_mounts.end()) {
            bases[static_cast<size_t>(seen - seen_mounts.begin())].controllers.emplace_back(c);
            continue;
        }
        auto own = own_dir(*m, self, c, opts.proc_self_cgroup);
        if (!own) return std::move(own).error();
        bool cpuset = std::find(m->super_options.begin(), m->super_options.end(), "cpuset") !=
                      m->super_options.end();
        auto base = make_base(std::move(own).value(), opts.base, cpuset);
        if (!base) return std::move(base).error();
        seen_mounts.push_back(m->mount_point);
        bases.push_back(Member{{std::string(c)}, std::move(base).value()});
    }
    if (bases.empty())
        return Error(vps::Errc::system, "find", opts.root, ENOENT,
                     "no cgroup v1 controller (memory, pids, cpu, cpuset) is mounted there");
    return bases;
}

}  // namespace

Result<std::unique_ptr<Backend>> open_v1(const Options& opts,
                                         const std::vector<ProcCgroupLine>& self,
                                         const std::vector<MountInfo>& mounts) {
    const std::string ctx = "open cgroup v1 at " + opts.root;
    if (!valid_name(opts.base, true))
        return Error::make(vps::Errc::bad_value, "invalid base name '" + opts.base + "'")
            .with_context(ctx);
    auto bases = find_bases(opts, self, mounts);
    if (!bases) return std::move(bases).error().with_context(ctx);
    return std::unique_ptr<Backend>(
        std::make_unique<V1Backend>(opts.base, std::move(bases).value()));
}

}  // namespace cgroups::detail
