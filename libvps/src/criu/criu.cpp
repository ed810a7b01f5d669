#include "vps/criu.hpp"

#include <atomic>
#include <cinttypes>
#include <cstdio>

#include "vps/sys.hpp"

namespace vps::criu {
namespace {

// Options both directions share: established TCP connections, file locks,
// Unix sockets whose peer is outside, and the cgroup tree below the VPS's
// own group (systemd in a VPS makes one). Host mounts bound into the VPS
// are found at the same paths on restore (ext-mount-map auto).
const std::vector<std::string>& common() {
    static const std::vector<std::string> opts = {
        "--tcp-established", "--file-locks", "--ext-unix-sk", "--ext-mount-map", "auto",
        "--enable-external-sharing", "--enable-external-masters", "--manage-cgroups=soft",
    };
    return opts;
}

}  // namespace

std::string tty_key(dev_t rdev, dev_t dev) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "tty[%" PRIx64 ":%" PRIx64 "]", static_cast<uint64_t>(rdev),
                  static_cast<uint64_t>(dev));
    return buf;
}

std::vector<std::string> dump_argv(const DumpSpec& spec) {
    const char* action = spec.pre_dump ? "pre-dump" : "dump";
    std::vector<std::string> argv = {"criu", action, "--tree", std::to_string(spec.init), "--images-dir", spec.dir,
                                     "--log-file", std::string(action) + ".log", "-v4"};
    argv.insert(argv.end(), common().begin(), common().end());
    // Memory is tracked from the first pre-dump on, so that each later
    // pass (and the final dump) writes only the pages dirtied since.
    if (spec.pre_dump || !spec.parent.empty()) argv.push_back("--track-mem");
    if (!spec.parent.empty()) {
        argv.push_back("--prev-images-dir");
        argv.push_back(spec.parent);
    }
    if (!spec.tty_key.empty()) {
        argv.push_back("--external");
        argv.push_back(spec.tty_key);
    }
    return argv;
}

std::vector<std::string> restore_argv(const RestoreSpec& spec) {
    std::vector<std::string> argv = {"criu",     "restore", "--images-dir",     spec.dir, "--log-file", "restore.log",
                                     "-v4",      "--root",  spec.root,          "--restore-detached",
                                     "--pidfile", spec.pidfile};
    argv.insert(argv.end(), common().begin(), common().end());
    argv.push_back("--cgroup-root");
    argv.push_back(spec.cgroup_root);
    for (const auto& [inside, outside] : spec.veths) {
        argv.push_back("--external");
        argv.push_back("veth[" + inside + "]:" + outside);
    }
    if (!spec.tty_key.empty()) {
        argv.push_back("--inherit-fd");
        argv.push_back("fd[" + std::to_string(spec.tty_fd) + "]:" + spec.tty_key);
    }
    return argv;
}

Result<void> check() {
    // `criu check` probes the kernel for seconds; once it passed, the
    // kernel does not change under a running process.
    static std::atomic<bool> passed{false};
    if (passed) return ok();
    auto r = sys::run({"criu", "check"});
    if (r) {
        passed = true;
        return ok();
    }
    return Error(Errc::system, "criu check", {}, 0,
                 "CRIU cannot checkpoint on this host: " + r.error().message());
}

std::string log_errors(const std::string& log_text, size_t max) {
    std::vector<std::string> found;
    for (const auto& line : sys::split(log_text, '\n')) {
        auto at = line.find("Error (");
        if (at == std::string::npos) continue;
        found.push_back(sys::trim(line.substr(at)));
    }
    std::string out;
    const size_t from = found.size() > max ? found.size() - max : 0;
    for (size_t i = from; i < found.size(); ++i) out += (out.empty() ? "" : "; ") + found[i];
    return out;
}

}  // namespace vps::criu
