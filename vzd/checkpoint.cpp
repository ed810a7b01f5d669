// vzctl chkpnt / restore (OpenVZ's suspend / resume): the VPS's processes
// frozen into CRIU images and brought back later, with their memory, open
// files, terminals and TCP connections.
//
// chkpnt dumps the whole process tree, its namespaces with it, and stops
// the VPS; a dump that fails leaves it running as before (CRIU thaws what
// it froze). The images dir also keeps the VPS's config as it was
// (vps.yaml). restore makes what the VPS runs in as start does (cgroup with
// limits, console), mounts its root where CRIU can see it in a mount
// namespace of its own, and lets CRIU rebuild the processes and their
// network namespace there, with each veth's host end named as at start;
// vzd then wires those host ends and watches the restored init as an
// adopted one.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "console.hpp"
#include "daemon.hpp"
#include "vps/crash.hpp"
#include "vps/criu.hpp"
#include "vps/idmap.hpp"
#include "vps/net.hpp"
#include "vps/sys.hpp"

namespace vzd {
namespace {

namespace sys = vps::sys;
using nlohmann::json;

// The console's CRIU key, from the pty bound on the VPS's /dev/console.
std::string console_key(pid_t init) {
    struct stat st {};
    const std::string path = "/proc/" + std::to_string(init) + "/root/dev/console";
    if (::stat(path.c_str(), &st) < 0 || !S_ISCHR(st.st_mode)) return {};
    return vps::criu::tty_key(st.st_rdev, st.st_dev);
}

// What the restore needs to know of the dump besides the images.
constexpr const char* kManifest = "/vps-dump.json";

// The group's path from the hierarchy's root, as CRIU's --cgroup-root
// wants it ("/vz/101"); cgroup v2 groups describe themselves by their
// directory.
std::string hierarchy_path(const cgroups::Group& g) {
    const std::string dir = g.describe();
    const std::string mount = "/sys/fs/cgroup";
    return dir.rfind(mount, 0) == 0 ? dir.substr(mount.size()) : dir;
}

// CRIU's reason for a failure: its log's error lines, else what run() saw.
std::string criu_reason(const std::string& log_path, const Error& e) {
    auto log = sys::read_file(log_path, 16u << 20);
    std::string why = log ? vps::criu::log_errors(*log) : std::string();
    return why.empty() ? e.message() : why;
}

// An unprivileged VPS's restored processes read parts of their images
// themselves, as the VPS's root: the images (a flat directory, and those of
// the pre-dumps its "parent" link leads to) become that root's, as the
// VPS's own data, still unreadable to anyone else.
Result<void> give_images_to(const std::string& dir, uid_t uid, gid_t gid, int depth = 0) {
    auto fd = sys::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!fd) return std::move(fd).error();
    if (::fchown(fd->get(), uid, gid) < 0) return Error::sys("chown", dir);
    DIR* d = ::fdopendir(::dup(fd->get()));
    if (!d) return Error::sys("opendir", dir);
    Result<void> out = vps::ok();
    while (dirent* e = ::readdir(d)) {
        if (e->d_type != DT_REG) continue;
        if (::fchownat(fd->get(), e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
            out = Error::sys("chown", dir + "/" + e->d_name);
            break;
        }
    }
    ::closedir(d);
    // CRIU links each dump to its predecessor as "parent"; the chain of a
    // migration is a handful long.
    struct stat st {};
    if (out && depth < 64 && ::stat((dir + "/parent").c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        return give_images_to(dir + "/parent", uid, gid, depth + 1);
    return out;
}

struct RestoreChild {
    std::vector<std::string> argv;
    std::string dir;
    std::string private_dir;
    std::string root_dir;
    int tree_fd = -1;  // an idmapped copy of the private area, or -1 to bind it
    std::vector<int> inherit;
};

// CRIU in a mount namespace of its own where the VPS's root is mounted at
// root_dir, as start mounts it; the restored VPS gets its own mount
// namespace from there. Returns the wait status.
Result<int> run_restore(const RestoreChild& c) {
    std::vector<char*> args;
    for (const auto& a : c.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const std::string out = c.dir + "/restore.out";
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork", "criu restore");
    if (pid == 0) {
        int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int devnull = ::open("/dev/null", O_RDWR);
        if (fd < 0 || devnull < 0) ::_exit(126);
        ::dup2(devnull, 0);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        if (::unshare(CLONE_NEWNS) < 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
            ::_exit(125);
        if (c.tree_fd >= 0) {
            if (::syscall(SYS_move_mount, c.tree_fd, "", AT_FDCWD, c.root_dir.c_str(), 0x4 /*F_EMPTY_PATH*/) < 0)
                ::_exit(124);
        } else if (::mount(c.private_dir.c_str(), c.root_dir.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
            ::_exit(124);
        }
        for (int i : c.inherit) ::fcntl(i, F_SETFD, 0);
        if (::chdir(c.dir.c_str()) < 0) ::_exit(123);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

}  // namespace

std::string Daemon::dump_dir_for(uint32_t ctid, const json& args) const {
    std::string dir = str_arg(args, "dumpfile");
    return dir.empty() ? layout_.dump_dir() + "/" + std::to_string(ctid) : dir;
}

Result<json> Daemon::op_chkpnt(uint32_t ctid, const json& args) {
    const std::string id = std::to_string(ctid);
    const std::string dir = dump_dir_for(ctid, args);
    if (dir.empty() || dir[0] != '/')
        return Error::make(Errc::bad_argument, "--dumpfile must be an absolute path, got '" + dir + "'");
    const bool pre_dump = args.value("pre_dump", false);
    const std::string parent = str_arg(args, "parent");
    // CRIU resolves it from the images dir, which may not exist yet.
    if (!parent.empty() &&
        !sys::exists((std::filesystem::path(dir) / parent).lexically_normal().string() + "/inventory.img"))
        return Error::make(Errc::bad_argument, "no pre-dump images in " + parent + " (relative to " + dir + ")");
    auto v = entry(ctid);
    auto lock = OpLock::take(*v, pre_dump ? "pre-dump" : "chkpnt");
    if (!lock) return std::move(lock).error();
    pid_t init = 0;
    bool console_held = false;
    {
        std::lock_guard g(v->m);
        if (!v->running) return Error::make(Errc::not_running, "VPS " + id + " is not running");
        init = v->running->pid;
        console_held = v->running->console != nullptr;
    }
    // CRIU dumps the console's slave with the VPS but cannot restore it
    // once its master is gone: refuse rather than end a VPS that could
    // not come back.
    if (!console_held)
        return Error::make(Errc::chkpnt_failed,
                           "checkpoint of VPS " + id + ": its console went with the vzd that started it (this vzd "
                           "adopted it after a restart, without systemd's fd store), and CRIU cannot restore a "
                           "terminal whose other end is gone; restart the VPS to checkpoint it; the VPS runs on");
    if (sys::exists(dir + "/inventory.img"))
        return Error::make(Errc::vps_exists, "a checkpoint of VPS " + id + " is in " + dir +
                                                 " already: restore it, or remove it first");
    // What a failed dump removes must be its own: never a directory that
    // held anything else.
    if (auto present = sys::list_dir(dir); present && !present->empty())
        return Error::make(Errc::bad_argument, "--dumpfile " + dir + " is not empty: give a new or empty directory");
    if (auto r = vps::criu::check(); !r)
        return Error::make(Errc::chkpnt_failed, "checkpoint of VPS " + id + ": " + r.error().message());
    auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::chkpnt, dir);
    if (!record) return std::move(record).error();
    auto failed = [&](const Error& e) {
        return Error::make(Errc::chkpnt_failed, "checkpoint of VPS " + id + ": " + e.message() + "; the VPS runs on");
    };
    if (auto r = sys::mkdir_p(dir, 0700); !r) return failed(r.error());
    vps::criu::DumpSpec spec{init, dir, console_key(init), pre_dump, parent};
    if (!pre_dump) {
        // The config as it is now travels with the images.
        auto conf = sys::read_file(layout_.conf(ctid));
        if (!conf) return failed(conf.error());
        if (auto r = sys::write_file_atomic(dir + "/vps.yaml", *conf, 0600); !r) return failed(r.error());
        const json manifest{
            {"ctid", ctid}, {"tty", spec.tty_key}, {"created_at", static_cast<int64_t>(::time(nullptr))}};
        if (auto r = sys::write_file_atomic(dir + kManifest, manifest.dump() + "\n", 0600); !r)
            return failed(r.error());
    }

    vps::crash::at("chkpnt.prepared");
    const char* what = pre_dump ? "pre-dump" : "dump";
    log("VPS " + id + ": " + (pre_dump ? "pre-dump of memory into " : "checkpoint into ") + dir);
    const auto t0 = std::chrono::steady_clock::now();
    if (auto r = sys::run(vps::criu::dump_argv(spec)); !r) {
        const std::string log_name = std::string("/") + what + ".log";
        const std::string why = criu_reason(dir + log_name, r.error());
        // Keep CRIU's log where the next checkpoint does not trip on it.
        const std::string kept = layout_.runtime_dir() + "/" + id + "." + what + ".log";
        (void)::rename((dir + log_name).c_str(), kept.c_str());
        (void)sys::remove_tree(dir);
        return Error::make(Errc::chkpnt_failed, "checkpoint of VPS " + id + " failed: " + why + " (CRIU log: " + kept +
                                                    "); the VPS runs on");
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    vps::crash::at("chkpnt.dumped");
    if (pre_dump) {
        log("VPS " + id + ": memory pre-dumped in " + std::to_string(ms.count()) + " ms; it runs on");
        return json{{"ctid", ctid}, {"status", "running"}, {"dumpfile", dir}, {"dump_ms", ms.count()}};
    }
    // CRIU ended the processes; wait for the watcher to tidy up as after a stop.
    {
        std::unique_lock g(v->m);
        v->changed.wait_for(g, std::chrono::seconds(30), [&] { return !v->running.has_value(); });
    }
    log("VPS " + id + " checkpointed in " + std::to_string(ms.count()) + " ms");
    return json{{"ctid", ctid}, {"status", "suspended"}, {"dumpfile", dir}, {"dump_ms", ms.count()}};
}

Result<json> Daemon::op_restore(uint32_t ctid, const json& args) {
    auto v = entry(ctid);
    auto lock = OpLock::take(*v, "restore");
    if (!lock) return std::move(lock).error();
    auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::restore);
    if (!record) return std::move(record).error();
    return restore_locked(*v, ctid, dump_dir_for(ctid, args));
}

Result<json> Daemon::restore_locked(Vps& v, uint32_t ctid, const std::string& dir) {
    const std::string id = std::to_string(ctid);
    if (is_running(v)) return Error::make(Errc::running, "VPS " + id + " is already running");
    if (!sys::exists(dir + "/inventory.img"))
        return Error::make(Errc::restore_failed, "no checkpoint of VPS " + id + " in " + dir);
    if (auto r = vps::criu::check(); !r)
        return Error::make(Errc::restore_failed, "restore of VPS " + id + ": " + r.error().message());
    vps::config::VpsConfig cfg;
    auto plan = load_plan(ctid, &cfg);
    if (!plan) return std::move(plan).error();
    if (auto r = sys::mkdir_p(plan->root_dir); !r) return std::move(r).error();
    if (auto r = check_reachable(*plan); !r) return std::move(r).error();
    clean_host_side(ctid, plan->net);
    if (auto r = check_network(ctid, plan->net, nullptr); !r) return std::move(r).error();
    if (auto r = apply_disk_quota(*plan); !r) return std::move(r).error();
    auto group = prepare_group(*plan);
    if (!group) return std::move(group).error();
    vps::crash::at("restore.group");
    auto fail = [&](Error e) -> Error {
        discard_group(**group);
        clean_host_side(ctid, plan->net);
        return e;
    };
    auto console = console_for(*plan);
    auto hub = ConsoleHub::create();
    if (!console || !hub) return fail((console ? std::move(hub).error() : std::move(console).error()).with_context("console"));

    vps::Fd tree;
    if (plan->idmapped_root) {
        auto userns = vps::idmap::make_userns(plan->uid_map, plan->gid_map);
        auto t = userns ? vps::idmap::mapped_tree(plan->private_dir, userns->ref()) : Result<vps::Fd>(userns.error());
        if (!t) return fail(std::move(t).error().with_context("idmapped root"));
        tree = std::move(*t);
    }
    auto manifest_text = sys::read_file(dir + kManifest, 1 << 16);
    auto manifest = manifest_text ? vps::proto::parse_json(*manifest_text) : Result<json>(manifest_text.error());
    if (!manifest || !manifest->is_object())
        return fail(Error::make(Errc::restore_failed, "restore of VPS " + id + ": " + dir + kManifest +
                                                          " is missing or not JSON: not a checkpoint vzd made"));
    const std::string pidfile = dir + "/restored.pid";
    (void)sys::unlink(pidfile);
    if (!plan->uid_map.empty())
        if (auto r = give_images_to(dir, plan->uid_map.front().outside, plan->gid_map.front().outside); !r)
            return fail(std::move(r).error().with_context("restore of VPS " + id));
    vps::criu::RestoreSpec spec{dir,     plan->root_dir, hierarchy_path(**group), str_arg(*manifest, "tty"),
                                console->slave.get(), pidfile, {}};
    if (!plan->net.addresses.empty()) spec.veths.emplace_back(vps::plan::kVenetInside, plan->net.venet_host);
    for (const auto& veth : plan->net.veths) spec.veths.emplace_back(veth.ifname, veth.host_ifname);
    RestoreChild child{vps::criu::restore_argv(spec), dir, plan->private_dir, plan->root_dir,
                       tree ? tree.get() : -1, std::vector<int>{console->slave.get()}};
    log("VPS " + id + ": restore from " + dir);
    const auto t0 = std::chrono::steady_clock::now();
    auto status = run_restore(child);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    auto pid_text = sys::read_file(pidfile, 64);
    const pid_t pid = pid_text ? static_cast<pid_t>(std::atoi(pid_text->c_str())) : 0;
    if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0 || pid <= 0) {
        const std::string why = criu_reason(dir + "/restore.log", status ? Error::make(Errc::system, "criu restore exited with " + std::to_string(*status)) : status.error());
        return fail(Error::make(Errc::restore_failed, "restore of VPS " + id + " failed: " + why + " (CRIU log: " +
                                                          dir + "/restore.log)"));
    }
    vps::crash::at("restore.restored");
    std::vector<std::string> notes;
    if (auto r = vps::net::wire_host_side(plan->net, &notes); !r) {
        ::kill(pid, SIGKILL);
        return fail(Error::make(Errc::restore_failed, "restore of VPS " + id + ": " + r.error().message()));
    }
    for (const auto& n : notes) log("VPS " + id + ": " + n);
    if (auto r = take_over(v, pid, std::move(*group), std::move(*plan), std::move(cfg), std::move(*console), *hub); !r)
        return r.error();
    // The images are spent: the VPS's files have moved on since.
    (void)sys::remove_tree(dir);
    log("VPS " + id + " restored in " + std::to_string(ms.count()) + " ms, init pid " + std::to_string(pid));
    return json{{"ctid", ctid}, {"status", "running"}, {"restore_ms", ms.count()}};
}

}  // namespace vzd
