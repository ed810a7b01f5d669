#include "commands.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "client.hpp"
#include "terminal.hpp"
#include "vps/console.hpp"
#include "vps/sys.hpp"

namespace vzctl {

using vps::proto::Json;
using vps::proto::Op;
using vps::proto::Request;

int fail(const Error& e) {
    std::fprintf(stderr, "vzctl: %s\n", e.message().c_str());
    return vps::exit_code(e.code());
}

Result<Json> call(const Options& o, const Request& req, const std::vector<int>& fds) {
    auto client = Client::connect(o.socket);
    if (!client) return std::move(client).error();
    return client->call(req, fds);
}

namespace {

// Warnings never change the exit status; they say what was accepted but
// is not (or cannot be) enforced.
void print_warnings(const Json& r) {
    if (r.contains("warning")) std::fprintf(stderr, "vzctl: warning: %s\n", r["warning"].get<std::string>().c_str());
    for (const auto& w : r.value("warnings", Json::array()))
        if (w.is_string()) std::fprintf(stderr, "vzctl: warning: %s\n", w.get<std::string>().c_str());
}

Json params_json(const Options& o) {
    Json p = Json::object();
    for (const auto& [k, v] : o.params) p[k] = v;
    return p;
}

Json net_json(const Options& o) {
    Json n = Json::object();
    for (const auto& [k, v] : o.net) n[k] = v;
    return n;
}

int cmd_create(const Options& o) {
    Request req{Op::create, o.target,
                Json{{"ostemplate", o.ostemplate}, {"params", params_json(o)}, {"net", net_json(o)}}};
    if (!o.hostname.empty()) req.args["hostname"] = o.hostname;
    if (!o.name.empty()) req.args["name"] = o.name;
    if (!o.sample.empty()) req.args["config"] = o.sample;
    if (!o.userns.empty()) req.args["userns"] = o.userns;
    if (!o.capability.empty()) req.args["capability"] = o.capability;
    if (!o.onboot.empty()) req.args["onboot"] = o.onboot;
    if (!o.bootorder.empty()) req.args["bootorder"] = o.bootorder;
    auto r = call(o, req);
    if (!r) return fail(r.error());
    print_warnings(*r);
    if (!o.quiet) std::printf("VPS %s created (private area %s)\n", o.target.c_str(),
                              r->value("private", std::string()).c_str());
    return 0;
}

int cmd_simple(const Options& o, Op op, const char* done) {
    Request req{op, o.target, Json::object()};
    if (op == Op::stop) req.args["fast"] = o.fast;
    auto r = call(o, req);
    if (!r) return fail(r.error());
    print_warnings(*r);
    if (!o.quiet) std::printf("VPS %s %s\n", o.target.c_str(), done);
    return 0;
}

// chkpnt and restore: the images directory travels as "dumpfile"; vzd
// answers with how long CRIU took.
int cmd_checkpoint(const Options& o, Op op) {
    Request req{op, o.target, Json::object()};
    if (!o.dumpfile.empty()) req.args["dumpfile"] = o.dumpfile;
    auto r = call(o, req);
    if (!r) return fail(r.error());
    if (o.quiet) return 0;
    if (op == Op::chkpnt)
        std::printf("VPS %s checkpointed into %s (%lld ms)\n", o.target.c_str(),
                    r->value("dumpfile", std::string()).c_str(), static_cast<long long>(r->value("dump_ms", 0)));
    else
        std::printf("VPS %s restored (%lld ms)\n", o.target.c_str(), static_cast<long long>(r->value("restore_ms", 0)));
    return 0;
}

int cmd_status(const Options& o) {
    auto r = call(o, Request{Op::status, o.target, Json::object()});
    if (!r) return fail(r.error());
    if (o.json) {
        std::cout << vps::proto::to_text(*r, 2) << "\n";
        return 0;
    }
    // OpenVZ's format, which scripts grep.
    std::printf("CTID %u %s %s %s\n", r->value("ctid", 0u),
                r->value("exist", false) ? "exist" : "deleted",
                r->value("mounted", false) ? "mounted" : "unmounted",
                r->value("running", false) ? "running" : "down");
    // Then, for a VPS down because its last start failed, why: as the
    // start said it, with the last lines of that start's console.
    if (auto why = r->find("start_error"); why != r->end() && why->is_string()) {
        std::vector<std::string> lines;
        for (const auto& l : r->value("console_tail", Json::array()))
            if (l.is_string()) lines.push_back(l.get<std::string>());
        Error e = Error::make(Errc::system, "last start failed: " + why->get<std::string>());
        std::printf("%s\n", vps::console::with_tail(std::move(e), lines).message().c_str());
    }
    return 0;
}

// --userpasswd entries as vzd takes them: USER alone gets its password
// from a line of stdin.
Result<Json> userpasswd_json(const Options& o) {
    Json list = Json::array();
    for (const auto& entry : o.userpasswd) {
        if (entry.find(':') != std::string::npos) {
            list.push_back(entry);
            continue;
        }
        if (::isatty(0)) std::fprintf(stderr, "Password for %s in VPS %s: ", entry.c_str(), o.target.c_str());
        std::string password;
        if (!std::getline(std::cin, password) || password.empty())
            return Error::make(Errc::bad_argument, "--userpasswd " + entry + ": no password on stdin");
        list.push_back(entry + ":" + password);
    }
    return list;
}

int cmd_set(const Options& o) {
    if (o.params.empty() && o.hostname.empty() && o.net.empty() && o.capability.empty() && o.userpasswd.empty() &&
        o.onboot.empty() && o.bootorder.empty()) {
        std::fprintf(stderr, "vzctl: set: no parameter given\n");
        return 20;
    }
    Request req{Op::set, o.target,
                Json{{"params", params_json(o)}, {"net", net_json(o)}, {"save", o.save}}};
    if (!o.hostname.empty()) req.args["hostname"] = o.hostname;
    if (!o.capability.empty()) req.args["capability"] = o.capability;
    if (!o.onboot.empty()) req.args["onboot"] = o.onboot;
    if (!o.bootorder.empty()) req.args["bootorder"] = o.bootorder;
    if (!o.userpasswd.empty()) {
        auto users = userpasswd_json(o);
        if (!users) return fail(users.error());
        req.args["userpasswd"] = *users;
    }
    auto r = call(o, req);
    if (!r) return fail(r.error());
    print_warnings(*r);
    for (const auto& u : r->value("users", Json::array()))
        if (!o.quiet && u.is_string()) std::printf("Password for user %s in VPS %s set\n", u.get<std::string>().c_str(), o.target.c_str());
    if (!o.quiet && r->value("saved", false)) std::printf("Saved parameters for VPS %s\n", o.target.c_str());
    return 0;
}

// One argument holding shell syntax runs through /bin/sh -c, as OpenVZ's
// `vzctl exec 101 "ps ax | grep init"` did; several arguments are an argv.
std::vector<std::string> exec_argv(const std::vector<std::string>& args) {
    if (args.size() == 1 && args[0].find_first_of(" \t|&;<>()$`\\\"'*?[]#~=%") != std::string::npos)
        return {"/bin/sh", "-c", args[0]};
    return args;
}

Json client_env() {
    Json env = Json::array();
    if (const char* term = std::getenv("TERM")) env.push_back(std::string("TERM=") + term);
    return env;
}

int cmd_exec(const Options& o) {
    if (o.argv.empty()) {
        std::fprintf(stderr, "vzctl: exec: no command given\n");
        return 20;
    }
    Request req{Op::exec, o.target, Json{{"argv", exec_argv(o.argv)}, {"env", client_env()}}};
    auto r = call(o, req, {0, 1, 2});
    if (!r) return fail(r.error());
    return r->value("exit_status", 255);
}

int cmd_enter(const Options& o) {
    auto client = Client::connect(o.socket);
    if (!client) return fail(client.error());
    auto frame = client->call_frame(Request{Op::enter, o.target, Json{{"env", client_env()}}});
    if (!frame) return fail(frame.error());
    auto r = result_of(*frame);
    if (!r) return fail(r.error());
    if (frame->fds.empty()) return fail(Error::make(Errc::protocol, "vzd sent no terminal"));
    if (!o.quiet && ::isatty(2)) std::fprintf(stderr, "entered into VPS %s\r\n", o.target.c_str());
    relay(frame->fds[0].ref(), client->fd());
    if (!o.quiet && ::isatty(2)) std::fprintf(stderr, "exited from VPS %s\n", o.target.c_str());
    return 0;
}

// vzd closes a console when the VPS stops, and when vzd itself goes away:
// ask which it was.
int console_closed(const Options& o) {
    auto r = call(o, Request{Op::status, o.target, Json::object()});
    if (!r) {
        Error e = r.error();
        return fail(e.add_context("the console of VPS " + o.target + " closed; asking vzd why"));
    }
    if (r->value("running", false))
        return fail(Error::make(Errc::system, "vzd closed the console of VPS " + o.target + ", which still runs"));
    if (!o.quiet) std::fprintf(stderr, "\nVPS %s stopped\n", o.target.c_str());
    return 0;
}

// vzd copies the VPS's console to one end of a socket pair we make, and
// types into the console what we write to our end.
int cmd_console(const Options& o) {
    auto pair = vps::sys::socketpair(SOCK_STREAM);
    if (!pair) return fail(pair.error());
    auto r = call(o, Request{Op::console, o.target, Json::object()}, {pair->second.get()});
    if (!r) return fail(r.error());
    pair->second.reset();  // vzd's copy alone: its closing is our end of file
    if (!o.quiet) std::fprintf(stderr, "Attached to VPS %s (type Esc . to detach)\n", o.target.c_str());
    if (relay_console(pair->first.ref()) == ConsoleEnd::closed) return console_closed(o);
    if (!o.quiet) std::fprintf(stderr, "\nDetached from VPS %s\n", o.target.c_str());
    return 0;
}

}  // namespace

int cmd_template(const Options& o);  // template.cpp
int cmd_list(const Options& o);  // list.cpp
int cmd_ubc(const Options& o);   // list.cpp

int run(const Options& o) {
    const std::string& c = o.command;
    if (c == "create") return cmd_create(o);
    if (c == "start") return cmd_simple(o, Op::start, "started");
    if (c == "stop") return cmd_simple(o, Op::stop, "stopped");
    if (c == "restart") return cmd_simple(o, Op::restart, "restarted");
    if (c == "destroy") return cmd_simple(o, Op::destroy, "destroyed");
    if (c == "status") return cmd_status(o);
    if (c == "list") return cmd_list(o);
    if (c == "ubc") return cmd_ubc(o);
    if (c == "set") return cmd_set(o);
    if (c == "exec") return cmd_exec(o);
    if (c == "enter") return cmd_enter(o);
    if (c == "console") return cmd_console(o);
    if (c == "chkpnt") return cmd_checkpoint(o, Op::chkpnt);
    if (c == "restore") return cmd_checkpoint(o, Op::restore);
    if (c == "template") return cmd_template(o);
    if (c == "migrate") return cmd_migrate(o);
    if (c == "migrate-in") return cmd_migrate_in(o);
    std::fprintf(stderr, "vzctl: unknown command '%s'\n", c.c_str());
    return 20;
}

}  // namespace vzctl
