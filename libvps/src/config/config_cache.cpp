#include "vps/config_cache.hpp"

#include <sys/stat.h>

namespace vps::config {

Result<VpsConfig> ConfigCache::load(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0) {
        {
            std::lock_guard g(m_);
            entries_.erase(path);
        }
        return load_vps(path);  // its error says what is wrong, as without the cache
    }
    auto same = [&](const Entry& en) {
        return en.ino == st.st_ino && en.dev == st.st_dev && en.size == st.st_size &&
               en.mtime.tv_sec == st.st_mtim.tv_sec && en.mtime.tv_nsec == st.st_mtim.tv_nsec;
    };
    {
        std::lock_guard g(m_);
        if (auto it = entries_.find(path); it != entries_.end() && same(it->second)) {
            ++hits_;
            return it->second.cfg;
        }
    }
    auto cfg = load_vps(path);
    std::lock_guard g(m_);
    if (!cfg) {
        entries_.erase(path);
        return cfg;
    }
    entries_[path] = Entry{st.st_ino, st.st_dev, st.st_size, st.st_mtim, *cfg};
    return cfg;
}

uint64_t ConfigCache::hits() const {
    std::lock_guard g(m_);
    return hits_;
}

}  // namespace vps::config
