// One function per vzctl command; each returns the process exit code.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace vzctl {

struct Options {
    std::string socket;
    std::string command;
    std::string target;
    std::string ostemplate;
    std::string hostname;
    std::string name;
    std::string sample;
    std::map<std::string, std::string> params;
    std::vector<std::string> argv;
    std::string columns;
    bool quiet = false;
    bool fast = false;
    bool json = false;
    bool all = false;
    bool no_header = false;
    bool save = false;
};

int run(const Options& o);

}  // namespace vzctl
