// vzctl migrate CTID [user@]host: move a VPS to another host, as OpenVZ's
// vzmigrate did. This host's vzctl drives it: ssh runs `vzctl migrate-in`
// on the destination (its vzd checks and receives the VPS), rsync over ssh
// copies the files, and the local vzd stops, checkpoints or destroys the
// VPS here.
//
// Offline: the private area is copied while the VPS runs, the VPS stops,
// what changed since is copied, and the destination starts it.
// Online: the same first copy, then pre-dumps of its memory while it runs
// (each copies only the pages dirtied since the last), then a short
// freeze: the final dump, the last changes of its files and the images go
// across, and the destination restores it. Downtime is from the freeze to
// the end of the restore.
//
// Until the destination has it running, the VPS stays this host's: any
// failure aborts the destination's staging and leaves (or brings back) the
// VPS running here.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <sstream>

#include "client.hpp"
#include "commands.hpp"
#include "vps/sys.hpp"

namespace vzctl {
namespace {

namespace sys = vps::sys;
using vps::proto::Json;
using vps::proto::Op;
using vps::proto::Request;
using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string secs(int64_t ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ms) / 1000);
    return buf;
}

std::string mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    return buf;
}

// Bytes of the regular files beneath dir (its images).
uint64_t tree_size(const std::string& dir) {
    uint64_t total = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
    return total;
}

// A word the remote shell takes as it is.
std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// rsync --stats: "Total transferred file size: 1,234 bytes".
uint64_t stat_bytes(const std::string& out, const std::string& label) {
    auto at = out.find(label + ": ");
    if (at == std::string::npos) return 0;
    uint64_t n = 0;
    for (size_t i = at + label.size() + 2; i < out.size() && out[i] != ' ' && out[i] != '\n'; ++i)
        if (out[i] >= '0' && out[i] <= '9') n = n * 10 + static_cast<uint64_t>(out[i] - '0');
    return n;
}

class Migration {
public:
    Migration(const Options& o, std::string ctid, Json status)
        : o_(o), ctid_(std::move(ctid)), status_(std::move(status)) {
        std::istringstream ssh_opts(o.ssh_opts);
        ssh_ = {"ssh"};
        for (std::string w; ssh_opts >> w;) ssh_.push_back(w);
        // One ssh connection carries every command and copy: a handshake
        // per step would add to the downtime.
        char tmpl[] = "/tmp/vzctl-migrate.XXXXXX";
        if (::mkdtemp(tmpl)) {
            control_dir_ = tmpl;
            const std::vector<std::string> opts{"ControlMaster=auto", "ControlPath=" + control_dir_ + "/ssh",
                                                "ControlPersist=yes"};
            for (const std::string& opt : opts) {
                ssh_.push_back("-o");
                ssh_.push_back(opt);
            }
        }
        ssh_.push_back(o.destination);
        host_ = o.destination.substr(o.destination.find('@') + 1);
        std::string shell = "ssh";
        for (size_t i = 1; i + 1 < ssh_.size(); ++i) shell += " " + ssh_[i];
        rsync_ = {"rsync", "-aHAXS", "--numeric-ids", "--delete", "--stats", "-e", shell};
        std::istringstream rsync_opts(o.rsync_opts);
        for (std::string w; rsync_opts >> w;) rsync_.push_back(w);
    }

    ~Migration() {
        if (control_dir_.empty()) return;
        std::vector<std::string> argv = ssh_;
        argv.insert(argv.end() - 1, {"-O", "exit"});
        (void)sys::run_capture(argv);
        (void)sys::remove_tree(control_dir_);
    }
    Migration(const Migration&) = delete;
    Migration& operator=(const Migration&) = delete;

    int run();

private:
    const Options& o_;
    std::string ctid_;
    Json status_;  // the VPS's here, before it all
    std::vector<std::string> ssh_;
    std::vector<std::string> rsync_;
    std::string host_;
    std::string control_dir_;  // the shared ssh connection's socket
    std::string staging_;  // on the destination
    std::string images_;   // here: the pre-dumps and the final dump
    bool prepared_ = false;
    Json report_ = Json::object();

    void say(const std::string& line) const {
        if (!o_.quiet && !o_.json) std::printf("%s\n", line.c_str()), std::fflush(stdout);
    }
    Result<Json> remote(const std::vector<std::string>& args, const std::string& stdin_path = "/dev/null");
    Result<uint64_t> copy(const std::string& from, const std::string& to, const std::string& what);
    Result<Json> local(Op op, Json args = Json::object()) const {
        return call(o_, Request{op, ctid_, std::move(args)});
    }
    Result<void> prepare(bool online);
    Result<void> offline(bool running);
    Result<void> online();
    void abort_destination();
    void finish_source();
};

// `vzctl migrate-in CTID ...` on the destination, over ssh; its JSON answer.
Result<Json> Migration::remote(const std::vector<std::string>& args, const std::string& stdin_path) {
    std::vector<std::string> argv = ssh_;
    std::string cmd = "vzctl migrate-in " + shell_quote(ctid_);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    argv.push_back(cmd);
    auto out = sys::run_capture(argv, 1 << 20, stdin_path);
    if (!out) return std::move(out).error();
    if (out->status == 255)
        return Error::make(Errc::cant_connect, "cannot reach " + o_.destination + " over ssh: " + sys::trim(out->err));
    if (out->status == 127)
        return Error::make(Errc::cant_connect, "vzctl is not installed on " + host_ + " (ssh: " +
                                                   sys::trim(out->err) + ")");
    if (out->status != 0) {
        std::string why = sys::trim(out->err);
        if (why.rfind("vzctl: ", 0) == 0) why = why.substr(7);
        return Error::make(vps::errc_from_exit(out->status), "on " + host_ + ": " + why);
    }
    auto json = vps::proto::parse_json(out->out);
    if (!json) return Error::make(Errc::protocol, "vzctl migrate-in on " + host_ + " answered '" +
                                                      sys::trim(out->out) + "', not JSON");
    return json;
}

// rsync from a local directory into one of the staging directory; the
// bytes it sent.
Result<uint64_t> Migration::copy(const std::string& from, const std::string& to, const std::string& what) {
    std::vector<std::string> argv = rsync_;
    argv.push_back(from + "/");
    argv.push_back(o_.destination + ":" + staging_ + "/" + to + "/");
    auto out = sys::run_capture(argv);
    if (!out) return std::move(out).error();
    if (out->status != 0)
        return Error::make(Errc::copy_failed, "copying " + what + " to " + host_ + ": rsync " + sys::describe_exit(*out));
    return stat_bytes(out->out, "Total transferred file size");
}

Result<void> Migration::prepare(bool online) {
    std::vector<std::string> args{"--phase", "prepare"};
    if (online) args.push_back("--online");
    // The VPS's config travels on ssh's stdin.
    auto r = remote(args, status_.value("config", std::string()));
    if (!r) return std::move(r).error();
    staging_ = r->value("dir", std::string());
    if (staging_.empty() || staging_[0] != '/')
        return Error::make(Errc::protocol, "vzctl migrate-in on " + host_ + " gave no staging directory");
    prepared_ = true;
    return vps::ok();
}

void Migration::abort_destination() {
    if (!prepared_) return;
    if (o_.keep_dst) {
        say("Keeping what was copied to " + host_ + " in " + staging_ + " (--keep-dst)");
        return;
    }
    if (auto r = remote({"--phase", "abort"}); !r)
        std::fprintf(stderr, "vzctl: warning: cleaning up %s on %s: %s\n", staging_.c_str(), host_.c_str(),
                     r.error().message().c_str());
}

// The VPS runs on the destination: it goes from here.
void Migration::finish_source() {
    Json args = Json::object();
    if (o_.remove_area == "no") args["keep_area"] = true;
    if (auto r = local(Op::destroy, args); !r)
        std::fprintf(stderr, "vzctl: warning: VPS %s runs on %s, but removing it here failed: %s\n", ctid_.c_str(),
                     host_.c_str(), r.error().message().c_str());
    if (!images_.empty()) (void)sys::remove_tree(images_);
}

Result<void> Migration::offline(bool running) {
    const std::string priv = status_.value("private", std::string());
    auto t = Clock::now();
    auto sent = copy(priv, "private", "the private area");
    if (!sent) return std::move(sent).error();
    say("Copied the private area: " + mib(*sent) + " in " + secs(ms_since(t)));
    Clock::time_point down{};
    if (running) {
        say("Stopping VPS " + ctid_);
        down = Clock::now();
        if (auto r = local(Op::stop); !r) return std::move(r).error();
        t = Clock::now();
        sent = copy(priv, "private", "the private area");
        if (!sent) {
            (void)local(Op::start);
            return std::move(sent).error();
        }
        say("Copied what changed since: " + mib(*sent) + " in " + secs(ms_since(t)));
    }
    auto r = remote({"--phase", "commit", "--mode", running ? "start" : "stopped"});
    if (!r) {
        if (running) {
            auto back = local(Op::start);
            if (!back) return Error::make(r.error().code(), r.error().message() + "; starting it here again failed too: " +
                                                                back.error().message());
        }
        return std::move(r).error();
    }
    if (running) {
        report_["downtime_ms"] = ms_since(down);
        say("Started on " + host_ + "; downtime " + secs(ms_since(down)));
    }
    return vps::ok();
}

Result<void> Migration::online() {
    const std::string priv = status_.value("private", std::string());
    images_ = status_.value("dumpdir", std::string()) + ".migrate";
    (void)sys::remove_tree(images_);
    // 0711: an unprivileged VPS restored from here (after a failure) has
    // its tasks open some images themselves.
    if (auto r = sys::mkdir_p(images_, 0711); !r) return std::move(r).error();
    auto t = Clock::now();
    auto sent = copy(priv, "private", "the private area");
    if (!sent) return std::move(sent).error();
    say("Copied the private area while the VPS runs: " + mib(*sent) + " in " + secs(ms_since(t)));
    report_["private_bytes"] = *sent;

    Json passes = Json::array();
    std::string parent;
    for (int i = 1; i <= o_.iterations; ++i) {
        const std::string name = std::to_string(i);
        Json args{{"dumpfile", images_ + "/" + name}, {"pre_dump", true}};
        if (!parent.empty()) args["parent"] = "../" + parent;
        t = Clock::now();
        if (auto r = local(Op::chkpnt, args); !r) return std::move(r).error();
        const int64_t dump_ms = ms_since(t);
        const uint64_t bytes = tree_size(images_ + "/" + name);
        t = Clock::now();
        if (auto c = copy(images_, "dump", "the memory images"); !c) return std::move(c).error();
        say("Pre-dump " + name + ": " + mib(bytes) + " of memory in " + secs(dump_ms) + ", copied in " +
            secs(ms_since(t)));
        passes.push_back(Json{{"bytes", bytes}, {"dump_ms", dump_ms}, {"copy_ms", ms_since(t)}});
        parent = name;
    }
    report_["pre_dumps"] = passes;

    // The freeze: from here the VPS runs nowhere until the restore.
    say("Freezing VPS " + ctid_);
    const auto down = Clock::now();
    Json args{{"dumpfile", images_ + "/final"}};
    if (!parent.empty()) args["parent"] = "../" + parent;
    if (auto r = local(Op::chkpnt, args); !r) return std::move(r).error();
    const int64_t dump_ms = ms_since(down);
    const uint64_t dump_bytes = tree_size(images_ + "/final");
    // From here a failure brings the VPS back here from the final dump.
    auto back_here = [&](Error e) -> Error {
        abort_destination();
        prepared_ = false;
        auto r = local(Op::restore, Json{{"dumpfile", images_ + "/final"}});
        if (!r)
            return Error::make(e.code(), e.message() + "; restoring the VPS here failed too: " + r.error().message() +
                                             " (its images stay in " + images_ + ")");
        (void)sys::remove_tree(images_);
        return Error::make(e.code(), e.message() + "; the VPS runs here again");
    };
    // The last file changes and the images go at the same time, each on
    // its own channel of the shared ssh connection.
    int64_t files_ms = 0;
    auto files = std::async(std::launch::async, [&] {
        const auto t_files = Clock::now();
        auto sent_files = copy(priv, "private", "the private area");
        files_ms = ms_since(t_files);
        return sent_files;
    });
    t = Clock::now();
    auto images = copy(images_, "dump", "the images");
    const int64_t images_ms = ms_since(t);
    auto last = files.get();
    if (!last) return back_here(std::move(last).error());
    if (!images) return back_here(std::move(images).error());
    say("Dumped " + mib(dump_bytes) + " in " + secs(dump_ms) + "; copied the last file changes (" + mib(*last) +
        ") in " + secs(files_ms) + " and the images in " + secs(images_ms));
    t = Clock::now();
    auto r = remote({"--phase", "commit", "--mode", "restore", "--dump", "dump/final"});
    if (!r) return back_here(std::move(r).error());
    const int64_t downtime = ms_since(down);
    say("Restored on " + host_ + " in " + secs(ms_since(t)) + "; downtime " + secs(downtime));
    report_["final"] = Json{{"bytes", dump_bytes}, {"dump_ms", dump_ms}, {"files_ms", files_ms},
                            {"images_ms", images_ms}, {"restore_ms", ms_since(t)}};
    report_["downtime_ms"] = downtime;
    return vps::ok();
}

int Migration::run() {
    const bool running = status_.value("running", false);
    const bool live = o_.online && running;
    const auto t0 = Clock::now();
    say("Migrating VPS " + ctid_ + " to " + o_.destination + (live ? " online" : " offline"));
    if (o_.online && !running) say("VPS " + ctid_ + " is not running: it moves offline");
    if (auto r = prepare(live); !r) return fail(r.error());
    auto r = live ? online() : offline(running);
    if (!r) {
        abort_destination();
        if (!images_.empty() && !sys::exists(images_ + "/final/inventory.img")) (void)sys::remove_tree(images_);
        return fail(r.error());
    }
    finish_source();
    report_["ctid"] = std::stoul(ctid_);
    report_["destination"] = o_.destination;
    report_["online"] = live;
    report_["total_ms"] = ms_since(t0);
    if (o_.json)
        std::cout << vps::proto::to_text(report_, 2) << "\n";
    else
        say("VPS " + ctid_ + " migrated to " + host_ + " in " + secs(ms_since(t0)));
    return 0;
}

}  // namespace

int cmd_migrate(const Options& o) {
    if (::geteuid() != 0)
        return fail(Error::make(Errc::permission, "migrate must run as root: it reads the VPS's files and images "
                                                  "to copy them, and logs in to the destination as root"));
    if (o.remove_area != "yes" && o.remove_area != "no")
        return fail(Error::make(Errc::bad_argument, "--remove-area takes yes or no, not '" + o.remove_area + "'"));
    if (o.iterations < 0 || o.iterations > 16)
        return fail(Error::make(Errc::bad_argument, "--iterations takes 0 to 16"));
    auto status = call(o, Request{Op::status, o.target, Json::object()});
    if (!status) return fail(status.error());
    if (!status->value("exist", false))
        return fail(Error::make(Errc::no_such_vps, "VPS " + o.target + " does not exist"));
    const std::string ctid = std::to_string(status->value("ctid", 0u));
    return Migration(o, ctid, *status).run();
}

// The destination's side, run over ssh: one phase per call, its answer as
// JSON on stdout; prepare reads the VPS's config from stdin.
int cmd_migrate_in(const Options& o) {
    Json args{{"phase", o.phase}, {"online", o.online}};
    if (!o.mode.empty()) args["mode"] = o.mode;
    if (!o.dumpfile.empty()) args["dump"] = o.dumpfile;
    if (o.phase == "prepare") {
        auto text = sys::read_fd(vps::FdRef(0), 1 << 20);
        if (!text) return fail(std::move(text).error().with_context("the VPS config on stdin"));
        args["config"] = *text;
    }
    auto r = call(o, Request{Op::migrate_in, o.target, args});
    if (!r) return fail(r.error());
    std::cout << vps::proto::to_text(*r) << "\n";
    return 0;
}

}  // namespace vzctl
