// One function per vzctl command; each returns the process exit code.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "vps/error.hpp"
#include "vps/proto.hpp"

namespace vzctl {

struct Options {
    std::string socket;
    std::string command;
    std::string target;
    std::string ostemplate;
    std::string hostname;
    std::string name;
    std::string sample;
    std::string userns;  // create --userns yes|no; "" = the host's default
    std::map<std::string, std::string> params;
    // Network changes, as OpenVZ's vzctl set spelled them; each repeatable.
    std::map<std::string, std::vector<std::string>> net;
    std::vector<std::string> capability;  // --capability NAME:on|off
    std::string onboot;                   // --onboot yes|no
    std::string bootorder;                // --bootorder N
    std::vector<std::string> argv;
    std::string columns;
    bool quiet = false;
    bool fast = false;
    bool json = false;
    bool all = false;
    bool no_header = false;
    bool save = false;
    std::string subcommand;  // template build|list
    std::string variant;     // template build --variant
    bool force = false;      // template build --force
    std::string dumpfile;    // chkpnt/restore --dumpfile DIR
    // set --userpasswd USER:PASSWORD (or USER: the password from stdin)
    std::vector<std::string> userpasswd;
    // migrate
    std::string destination;  // [user@]host
    bool online = false;
    bool keep_dst = false;
    std::string remove_area = "yes";
    std::string ssh_opts;
    std::string rsync_opts;
    int iterations = 2;  // pre-dumps before the freeze (online)
    // migrate-in (the destination's side): phase and its arguments
    std::string phase;
    std::string mode;
};

int run(const Options& o);
// migrate.cpp
int cmd_migrate(const Options& o);
int cmd_migrate_in(const Options& o);

// Print a daemon's or connection's error as vzctl's one line and return
// the exit code that goes with it.
int fail(const vps::Error& e);
// One request on a fresh connection to vzd.
vps::Result<vps::proto::Json> call(const Options& o, const vps::proto::Request& req,
                                   const std::vector<int>& fds = {});

}  // namespace vzctl
