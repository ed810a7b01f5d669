// vzctl: the command users type. It only talks to vzd; it never touches
// the kernel itself. See vzctl(8).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "client.hpp"
#include "commands.hpp"
#include "vps/params.hpp"

namespace {

const char* default_socket() {
    const char* env = std::getenv("VZCTL_SOCKET");
    return env && *env ? env : "/run/vzd.sock";
}

void add_param_options(CLI::App* cmd, std::map<std::string, std::string>& params) {
    for (const auto& info : vps::params::known_params()) {
        std::string name(info.name);
        cmd->add_option_function<std::string>(
            "--" + name, [&params, name](const std::string& v) { params[name] = v; },
            std::string(info.help));
    }
}

// Network options; each may be given several times.
struct NetOption {
    const char* name;
    const char* help;
    bool on_create;
};
constexpr NetOption kNetOptions[] = {
    {"ipadd", "add a routed IP address ADDR[/PREFIX] (IPv4 or IPv6) on venet0", true},
    {"ipdel", "remove a routed IP address, or 'all'", false},
    {"netif_add", "add a bridged veth: IFNAME[,MAC,HOST_IFNAME,HOST_MAC,BRIDGE]", true},
    {"netif_del", "remove a veth interface by its name inside the VPS, or 'all'", false},
    {"nameserver", "DNS server for the VPS's /etc/resolv.conf (replaces the list)", true},
    {"searchdomain", "DNS search domain for /etc/resolv.conf (replaces the list)", true},
    {"ifname", "the bridged interface --mac_filter and --ip_filter change", false},
    {"mac_filter", "on|off: drop frames from the VPS whose source MAC is not the interface's (default on)", false},
    {"ip_filter", "ADDR: an address the VPS may send from on --ifname (repeatable); 'none': any", false},
};

void add_net_options(CLI::App* cmd, std::map<std::string, std::vector<std::string>>& net, bool create) {
    for (const auto& n : kNetOptions) {
        if (create && !n.on_create) continue;
        std::string name(n.name);
        cmd->add_option_function<std::vector<std::string>>(
               "--" + name,
               [&net, name](const std::vector<std::string>& v) {
                   auto& list = net[name];
                   list.insert(list.end(), v.begin(), v.end());
               },
               n.help)
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
            ->expected(1);
    }
}

void add_boot_options(CLI::App* cmd, vzctl::Options& o) {
    cmd->add_option("--onboot", o.onboot, "yes|no: start the VPS when vzd first starts after a host boot");
    cmd->add_option("--bootorder", o.bootorder, "N: onboot VPSes with a higher number start first (default 0)");
}

void add_capability_option(CLI::App* cmd, std::vector<std::string>& caps) {
    cmd->add_option("--capability", caps,
                    "NAME:on|off (as capabilities(7), e.g. sys_admin:on); applied at the next start")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->expected(1);
}

bool has_subcommand(CLI::App& app, const std::string& name) {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (sub->check_name(name)) return true;
    return false;
}

// Where the first argument that is neither an option nor an option's value
// stands (the command), or argc if there is none.
int first_word_at(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--socket") {
            ++i;
            continue;
        }
        if (!a.empty() && a[0] != '-') return i;
    }
    return argc;
}

std::string first_word(int argc, char** argv) {
    int i = first_word_at(argc, argv);
    return i < argc ? argv[i] : std::string();
}

}  // namespace

int main(int argc, char** argv) {
    std::string prog = argv[0];
    prog = prog.substr(prog.rfind('/') + 1);
    CLI::App app{"vzctl - create, run and manage VPSes through vzd", "vzctl"};
    app.require_subcommand(1);
    app.fallthrough();  // --socket and -q also after the command, as vzctl allowed
    vzctl::Options o;
    o.socket = default_socket();
    app.add_option("--socket", o.socket, "vzd control socket (default $VZCTL_SOCKET or /run/vzd.sock)");
    app.add_flag("-q,--quiet", o.quiet, "print only errors");
    app.set_version_flag("--version", "vzctl 0.1.0");

    auto* create = app.add_subcommand("create", "create a VPS from an OS template");
    create->add_option("ctid", o.target, "numeric VPS id (CTID)")->required();
    create->add_option("--ostemplate", o.ostemplate, "OS template from the template cache")->required();
    create->add_option("--hostname", o.hostname, "hostname inside the VPS");
    create->add_option("--name", o.name, "unique name usable instead of the CTID");
    create->add_option("--config", o.sample, "config sample: parameters from <root>/conf/samples/NAME.yaml");
    create->add_option("--userns", o.userns,
                       "yes: own user namespace, root inside is not root on the host (default); "
                       "no: a privileged VPS");
    add_param_options(create, o.params);
    add_net_options(create, o.net, true);
    add_capability_option(create, o.capability);
    add_boot_options(create, o);

    for (const char* name : {"start", "restart", "destroy", "enter", "console"}) {
        auto* c = app.add_subcommand(name, std::string(name) + " a VPS");
        c->add_option("ctid", o.target, "CTID or name")->required();
    }
    app.get_subcommand("destroy")->alias("delete");
    app.get_subcommand("enter")->description("open an interactive shell inside a running VPS");
    app.get_subcommand("console")->description("attach to the console of a running VPS (Esc . detaches)");

    auto* chkpnt = app.add_subcommand("chkpnt", "checkpoint a running VPS into CRIU images and stop it");
    chkpnt->alias("suspend");
    auto* restore = app.add_subcommand("restore", "bring a checkpointed VPS back, processes and connections");
    restore->alias("resume");
    for (auto* c : {chkpnt, restore}) {
        c->add_option("ctid", o.target, "CTID or name")->required();
        c->add_option("--dumpfile", o.dumpfile, "images directory (default <root>/dump/CTID)");
    }

    auto* migrate = app.add_subcommand("migrate", "move a VPS to another host over ssh (as vzmigrate)");
    migrate->add_option("ctid", o.target, "CTID or name")->required();
    migrate->add_option("destination", o.destination, "[user@]host: where to, reached with ssh as root")->required();
    migrate->add_flag("--online", o.online,
                      "move it running: pre-dumps of its memory while it runs, then a short freeze "
                      "(CRIU on both hosts)");
    migrate->add_option("--iterations", o.iterations, "N: pre-dumps before the freeze (online; default 2, 0 = none)");
    migrate->add_flag("--keep-dst", o.keep_dst, "keep what was copied to the destination when the migration fails");
    migrate->add_option("--remove-area", o.remove_area,
                        "yes|no: remove the private area here after the move (default yes; no keeps it and "
                        "leaves the config as CTID.yaml.migrated)");
    migrate->add_option("--ssh", o.ssh_opts, "OPTIONS: extra ssh options, e.g. \"-p 2222 -i KEY\"");
    migrate->add_option("--rsync", o.rsync_opts, "OPTIONS: extra rsync options, e.g. \"--bwlimit=50000\"");
    migrate->add_flag("--json", o.json, "print the figures (sizes, times, downtime) as JSON");

    // The destination's side of migrate, run there over ssh.
    auto* migrate_in = app.add_subcommand("migrate-in", "");
    migrate_in->group("");
    migrate_in->add_option("ctid", o.target)->required();
    migrate_in->add_option("--phase", o.phase)->required()->check(CLI::IsMember({"prepare", "commit", "abort"}));
    migrate_in->add_flag("--online", o.online);
    migrate_in->add_option("--mode", o.mode);
    migrate_in->add_option("--dump", o.dumpfile);

    auto* stop = app.add_subcommand("stop", "stop a VPS (ask its init, then kill after a timeout)");
    stop->add_option("ctid", o.target, "CTID or name")->required();
    stop->add_flag("--fast", o.fast, "kill at once instead of asking init to stop");

    auto* status = app.add_subcommand("status", "show whether a VPS exists and runs");
    status->add_option("ctid", o.target, "CTID or name")->required();
    status->add_flag("--json", o.json, "print JSON");

    auto* ubc = app.add_subcommand("ubc", "show beancounters: held, maxheld, barrier, limit, failcnt");
    ubc->add_option("ctid", o.target, "CTID or name")->required();
    ubc->add_flag("--json", o.json, "print JSON");

    auto* list = app.add_subcommand("list", "list VPSes (as vzlist)");
    list->add_flag("-a,--all", o.all, "include stopped VPSes");
    list->add_option("-o,--output", o.columns, "columns: ctid,numproc,status,ip,hostname,name,ostemplate");
    list->add_flag("-H,--no-header", o.no_header, "omit the header line");
    list->add_flag("--json", o.json, "print JSON");

    auto* set = app.add_subcommand("set", "change parameters; applied live to a running VPS");
    set->add_option("ctid", o.target, "CTID or name")->required();
    set->add_option("--hostname", o.hostname, "hostname inside the VPS");
    set->add_flag("--save", o.save, "also write the change to the VPS config");
    add_param_options(set, o.params);
    add_net_options(set, o.net, false);
    add_capability_option(set, o.capability);
    add_boot_options(set, o);
    set->add_option("--userpasswd", o.userpasswd,
                    "USER:PASSWORD: create USER inside the VPS or set its password; USER alone reads the "
                    "password from stdin (kept out of the process list); never saved in the config")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->expected(1);

    auto* tmpl = app.add_subcommand("template", "build and list OS templates");
    tmpl->require_subcommand(1);
    auto* tbuild = tmpl->add_subcommand("build", "build a Debian template with mmdebstrap from the host's apt sources");
    tbuild->add_option("name", o.target, "debian-11, debian-12 or debian-13")->required();
    tbuild->add_option("--variant", o.variant,
                       "minimal (systemd, iproute2, ping, procps; the default) or standard (also openssh-server, "
                       "cron, vim-tiny ...; cached as NAME-standard)");
    tbuild->add_flag("--force", o.force, "rebuild a template that is cached already");
    auto* tlist = tmpl->add_subcommand("list", "list the cached templates");
    tlist->add_flag("--json", o.json, "print JSON");
    tlist->add_flag("-H,--no-header", o.no_header, "omit the header line");

    auto* exec = app.add_subcommand("exec", "run a command inside a running VPS");
    exec->add_option("ctid", o.target, "CTID or name")->required();
    exec->prefix_command();
    exec->fallthrough(false);  // everything after the CTID is the command

    // `vzctl exec 101 -- ls -l`, as with lxc-attach and nsenter: CLI11 would
    // take the "--" itself, so drop it before parsing.
    std::vector<char*> argl(argv, argv + argc);
    if (int at = first_word_at(argc, argv); first_word(argc, argv) == "exec" && at + 2 < argc &&
                                            std::string(argv[at + 2]) == "--")
        argl.erase(argl.begin() + at + 2);
    argc = static_cast<int>(argl.size());
    argv = argl.data();
    try {
        if (prog == "vzlist") {
            // Installed as a link: `vzlist -a` is `vzctl list -a`.
            std::vector<std::string> args{argv + 1, argv + argc};
            args.insert(args.begin(), "list");
            std::reverse(args.begin(), args.end());  // CLI11 takes them last first
            app.parse(args);
        } else {
            app.parse(argc, argv);
        }
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --version
        if (app.get_subcommands().empty()) {
            if (auto word = first_word(argc, argv); !word.empty() && !has_subcommand(app, word)) {
                std::fprintf(stderr, "vzctl: unknown command '%s' (see vzctl --help)\n", word.c_str());
                return 20;
            }
        }
        // One line, as for every other error; exit code 20 as OpenVZ's
        // "invalid command line parameter".
        std::fprintf(stderr, "vzctl: %s (see vzctl --help)\n", e.what());
        return 20;
    }
    CLI::App* cmd = app.get_subcommands().front();
    o.command = cmd->get_name();
    if (o.command == "template") o.subcommand = cmd->get_subcommands().front()->get_name();
    if (o.command == "exec") {
        o.argv = cmd->remaining();
    }
    return vzctl::run(o);
}
