// vzctl template build / list: Debian templates made with mmdebstrap from
// the host's own apt sources, cached as <cache>/<name>.tar.zst with their
// metadata in <cache>/<name>.yaml.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "daemon.hpp"
#include "vps/sys.hpp"
#include "vps/templates.hpp"

namespace vzd {
namespace {

namespace sys = vps::sys;

using json = nlohmann::json;

// Debian's name for the machine (dpkg --print-architecture).
std::string debian_arch() {
    struct utsname u {};
    ::uname(&u);
    const std::string m = u.machine;
    if (m == "x86_64") return "amd64";
    if (m == "aarch64") return "arm64";
    if (m == "i686" || m == "i586" || m == "i386") return "i386";
    if (m == "ppc64le") return "ppc64el";
    return m;
}

void say(vps::FdRef out, const std::string& line) {
    const std::string text = "vzd: " + line + "\n";
    (void)!::write(out.get(), text.data(), text.size());
}

// mmdebstrap in a session of its own, its output on the caller's terminal
// (the progress a long build owes the user), stdin from /dev/null.
Result<vps::PidFd> spawn_builder(const std::vector<std::string>& argv, vps::FdRef out) {
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork", argv[0]);
    if (pid == 0) {
        ::setsid();
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(out.get(), 1);
        ::dup2(out.get(), 2);
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "vzd: cannot run %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    vps::Fd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!fd) return Error::sys("pidfd_open", argv[0]);
    return vps::PidFd(pid, std::move(fd));
}


std::string cache_name(const vps::templates::BuildSpec& spec) {
    return spec.variant == "minimal" ? spec.name : spec.name + "-" + spec.variant;
}

json info_json(const vps::templates::Info& t) {
    json j{{"name", t.name}, {"path", t.path}, {"size", t.size}};
    for (auto [key, value] : {std::pair{"distribution", &t.distribution}, std::pair{"version", &t.version},
                              std::pair{"codename", &t.codename}, std::pair{"variant", &t.variant},
                              std::pair{"arch", &t.arch}, std::pair{"build_date", &t.build_date},
                              std::pair{"init", &t.init}})
        if (!value->empty()) j[key] = *value;
    if (!t.packages.empty()) j["packages"] = t.packages.size();
    return j;
}

}  // namespace

Result<json> Daemon::op_template_list() const {
    auto list = vps::templates::list(layout_.template_cache());
    if (!list) return std::move(list).error();
    json out = json::array();
    for (const auto& t : *list) out.push_back(info_json(t));
    return json{{"templates", out}};
}

Result<json> Daemon::op_template_build(const json& args, std::vector<vps::Fd>& fds, vps::FdRef conn) {
    if (fds.size() != 1) return Error::make(Errc::protocol, "template build needs the caller's stderr for progress");
    auto spec = vps::templates::build_spec(str_arg(args, "name"), str_arg(args, "variant"));
    if (!spec) return std::move(spec).error();
    const std::string name = cache_name(*spec);
    const std::string cache = layout_.template_cache();
    const vps::FdRef progress = fds[0].ref();
    const bool force = args.value("force", false);
    if (auto cached = layout_.find_template(name); cached && !force)
        return json{{"name", name}, {"path", *cached}, {"built", false}};
    std::unique_lock busy(template_build_m_, std::try_to_lock);
    if (!busy.owns_lock()) return Error::make(Errc::busy, "another template is being built; try again when it is done");

    auto sources = vps::templates::host_sources(spec->codename);
    if (!sources) return std::move(sources).error().with_context("template " + name);
    if (auto r = sys::mkdir_p(cache); !r) return std::move(r).error();
    // Work in a hidden directory of the cache (same file system: the final
    // rename is atomic, and `template list` skips it).
    const std::string work = cache + "/." + name + ".partial";
    (void)sys::remove_tree(work);
    if (auto r = sys::mkdir(work, 0700); !r) return std::move(r).error();
    vps::ScopeExit cleanup([&] { (void)sys::remove_tree(work); });
    const std::string sources_file = work + "/apt.sources";
    if (auto r = sys::write_file_atomic(sources_file, *sources, 0644); !r) return std::move(r).error();
    const std::string tarball = work + "/" + name + ".tar.zst";
    const std::string packages_file = work + "/packages";

    say(progress, "building " + name + " (Debian " + spec->version + " " + spec->codename + ", " + spec->variant +
                      ", " + std::to_string(spec->packages.size()) +
                      " packages on top of minbase) with mmdebstrap from the host's apt sources");
    const auto t0 = std::chrono::steady_clock::now();
    auto builder = spawn_builder(vps::templates::mmdebstrap_argv(*spec, sources_file, tarball, packages_file), progress);
    if (!builder) return std::move(builder).error();
    fds.clear();  // the builder holds the caller's stderr now
    // A client that hangs up (Ctrl-C) stops the build: SIGTERM to its whole
    // session lets mmdebstrap clean up after itself.
    const int status = wait_or_hangup(*builder, conn, [&] { ::kill(-builder->pid(), SIGTERM); });
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return Error::make(Errc::system, "mmdebstrap failed building template " + name + " (" +
                                             (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                                                : "killed by signal " + std::to_string(WTERMSIG(status))) +
                                             "; its output is above)");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    vps::templates::Info info;
    info.name = name;
    info.distribution = spec->distribution;
    info.version = spec->version;
    info.codename = spec->codename;
    info.variant = spec->variant;
    info.arch = debian_arch();
    info.build_date = vps::templates::utc_timestamp(std::time(nullptr));
    info.init = "systemd";
    if (auto listed = sys::read_file(packages_file, 16u << 20); listed)
        info.packages = vps::templates::parse_package_list(*listed);
    const std::string final_tarball = cache + "/" + name + ".tar.zst";
    if (auto r = sys::write_file_atomic(cache + "/" + name + ".yaml", vps::templates::dump_info(info), 0644); !r)
        return std::move(r).error();
    // A template of the same name in another format would shadow this one.
    for (const char* ext : {".tar.gz", ".tar.xz", ".tar"}) (void)::unlink((cache + "/" + name + ext).c_str());
    if (::rename(tarball.c_str(), final_tarball.c_str()) < 0) return Error::sys("rename", final_tarball);
    struct stat st {};
    const uint64_t size = ::stat(final_tarball.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    log("template " + name + " built in " + std::to_string(static_cast<int>(seconds)) + " s");
    return json{{"name", name},
                {"path", final_tarball},
                {"built", true},
                {"seconds", seconds},
                {"size", size},
                {"packages", info.packages.size()}};
}

}  // namespace vzd
