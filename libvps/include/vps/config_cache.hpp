// VPS configs as last read, for requests that look at every VPS (list,
// address and id range checks): a config is parsed again only when its file
// changed. Configs are replaced by rename, so a changed file is a new inode.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <mutex>
#include <string>

#include "vps/config.hpp"

namespace vps::config {

class ConfigCache {
public:
    // The config at path, parsed when it is new or changed since the last
    // call; a missing or bad file is an error (and forgotten).
    Result<VpsConfig> load(const std::string& path);
    // How many loads were answered without parsing (for tests).
    uint64_t hits() const;

private:
    struct Entry {
        ino_t ino = 0;
        dev_t dev = 0;
        off_t size = 0;
        timespec mtime{};
        VpsConfig cfg;
    };
    mutable std::mutex m_;
    std::map<std::string, Entry> entries_;
    uint64_t hits_ = 0;
};

}  // namespace vps::config
