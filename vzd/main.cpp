// vzd: the VPS daemon. See vzd(8).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "daemon.hpp"
#include "vps/crash.hpp"

int main(int argc, char** argv) {
    CLI::App app{"vzd - the daemon that owns every VPS of a storage root", "vzd"};
    vzd::Options opts;
    app.add_option("--root", opts.root, "storage root holding vz.yaml, conf/, private/ ...")
        ->capture_default_str();
    app.add_option("--socket", opts.socket, "control socket (overrides vz.yaml's 'socket')");
    app.add_flag("--stop-all", opts.stop_all,
                 "stop every running VPS of the root (or suspend it, with vz.yaml stop_mode: suspend) and "
                 "exit (host shutdown: vz.service); the next boot starts or restores them again");
    bool crash_points = false;
    app.add_flag("--crash-points", crash_points,
                 "list the crash points VZD_CRASH_AT can name (for crash-consistency tests) and exit");
    bool keeper = false;
    // Internal: the process that holds vzd's systemd scope (see vzd(8)).
    app.add_flag("--cgroup-keeper", keeper)->group("");
    app.set_version_flag("--version", "vzd 0.1.0");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 20;
    }
    if (crash_points) {
        for (const auto& p : vps::crash::points())
            std::printf("%-18s %s\n", std::string(p.name).c_str(), std::string(p.what).c_str());
        return 0;
    }
    if (keeper) return vzd::run_cgroup_keeper();
    vps::crash::arm_from_environment();
    if (opts.stop_all) {
        signal(SIGPIPE, SIG_IGN);
        return vzd::run_stop_all(opts);
    }
    // Signals are taken through a signalfd; block them before any thread
    // exists so that every thread inherits the mask. A client that hangs up
    // mid-reply must not kill the daemon.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    auto daemon = vzd::Daemon::create(opts);
    if (!daemon) {
        std::fprintf(stderr, "vzd: %s\n", daemon.error().message().c_str());
        return vps::exit_code(daemon.error().code());
    }
    if (auto r = (*daemon)->run(); !r) {
        std::fprintf(stderr, "vzd: %s\n", r.error().message().c_str());
        return 3;
    }
    return 0;
}
