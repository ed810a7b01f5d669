#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "vps/storage.hpp"
#include "vps/sys.hpp"

namespace vps::storage {

std::string Layout::conf(uint32_t ctid) const {
    return conf_dir() + "/" + std::to_string(ctid) + ".yaml";
}
std::string Layout::private_dir(uint32_t ctid) const {
    return root_ + "/private/" + std::to_string(ctid);
}
std::string Layout::root_dir(uint32_t ctid) const {
    return root_ + "/root/" + std::to_string(ctid);
}
std::string Layout::state(uint32_t ctid) const {
    return runtime_ + "/" + std::to_string(ctid) + ".state";
}
std::string Layout::console_log(uint32_t ctid) const {
    return runtime_ + "/" + std::to_string(ctid) + ".console";
}
std::string Layout::start_failure(uint32_t ctid) const {
    return runtime_ + "/" + std::to_string(ctid) + ".failed";
}

Result<void> Layout::create_dirs() const {
    struct Dir {
        std::string path;
        mode_t mode;
    };
    const Dir dirs[] = {
        {root_, 0755},           {conf_dir(), 0700},         {root_ + "/private", 0711},
        {root_ + "/root", 0755}, {root_ + "/template", 0755}, {template_cache(), 0755},
        {dump_dir(), 0711},      {runtime_, 0700},          {intent_dir(), 0700},
    };
    for (const auto& d : dirs)
        if (auto r = sys::mkdir_p(d.path, d.mode); !r) return r;
    // The root of an unprivileged VPS is a host id without any right on the
    // host: it must still be able to pass through to its own private area
    // (search only; listing stays refused).
    for (const std::string& dir : {root_, root_ + "/private", root_ + "/root"}) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) < 0) return Error::sys("stat", dir);
        if ((st.st_mode & S_IXOTH) == 0 && ::chmod(dir.c_str(), (st.st_mode & 07777) | S_IXOTH) < 0)
            return Error::sys("chmod", dir);
    }
    return ok();
}

Result<std::vector<uint32_t>> Layout::list_ctids() const {
    auto names = sys::list_dir(conf_dir());
    if (!names) return std::move(names).error();
    std::vector<uint32_t> out;
    for (const auto& n : *names) {
        if (n.size() <= 5 || n.substr(n.size() - 5) != ".yaml") continue;
        std::string id = n.substr(0, n.size() - 5);
        if (id.empty() || !std::all_of(id.begin(), id.end(), ::isdigit) || id.size() > 10) continue;
        unsigned long v = std::stoul(id);
        if (v == 0 || v > 2147483647UL) continue;
        out.push_back(static_cast<uint32_t>(v));
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> Layout::find_template(const std::string& name) const {
    bool sane = !name.empty() && name.find('/') == std::string::npos && name[0] != '.';
    if (sane) {
        for (const char* ext : {".tar.gz", ".tar.xz", ".tar.zst", ".tar"}) {
            std::string p = template_cache() + "/" + name + ext;
            if (sys::exists(p)) return p;
        }
    }
    return Error::make(Errc::no_template, "OS template '" + name + "' not found in " +
                                              template_cache());
}

std::string encode_state(const RunState& s) {
    nlohmann::json j{{"ctid", s.ctid},
                     {"init_pid", s.init_pid},
                     {"start_time", s.start_time},
                     {"started_at", s.started_at},
                     {"cgroup", s.cgroup}};
    return j.dump(2) + "\n";
}

Result<RunState> decode_state(std::string_view text, std::string_view origin) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Error::make(Errc::bad_config, std::string(origin) + ": not a JSON object");
    RunState s;
    try {
        s.ctid = j.at("ctid").get<uint32_t>();
        s.init_pid = j.at("init_pid").get<pid_t>();
        s.start_time = j.at("start_time").get<uint64_t>();
        s.started_at = j.value("started_at", int64_t{0});
        s.cgroup = j.value("cgroup", std::string());
    } catch (const nlohmann::json::exception& e) {
        return Error::make(Errc::bad_config, std::string(origin) + ": " + e.what());
    }
    return s;
}

Result<void> save_state(const std::string& path, const RunState& s) {
    return sys::write_file_atomic(path, encode_state(s), 0600);
}

Result<RunState> load_state(const std::string& path) {
    auto text = sys::read_file(path, 1 << 16);
    if (!text) return std::move(text).error();
    return decode_state(*text, path);
}

Result<void> unpack_template(const std::string& tarball, const std::string& dir,
                             const std::function<Result<void>(const std::string&)>& prepare,
                             uint32_t id_base) {
    if (sys::exists(dir)) return Error::sys("create", dir, EEXIST).with_code(Errc::vps_exists);
    const std::string tmp = dir + ".partial";
    if (auto r = sys::remove_tree(tmp); !r) return r;
    if (auto r = sys::mkdir(tmp, 0755); !r) return r;
    if (prepare) {
        if (auto r = prepare(tmp); !r) {
            (void)sys::remove_tree(tmp);
            return r;
        }
    }
    auto r = sys::run({"tar", "--numeric-owner", "-xpf", tarball, "-C", tmp});
    if (!r) {
        (void)sys::remove_tree(tmp);
        return std::move(r).error().with_context("unpack '" + tarball + "'");
    }
    if (auto shifted = shift_ids(tmp, id_base); !shifted) {
        (void)sys::remove_tree(tmp);
        return shifted;
    }
    if (::rename(tmp.c_str(), dir.c_str()) < 0) {
        auto e = Error::sys("rename", dir);
        (void)sys::remove_tree(tmp);
        return e;
    }
    return ok();
}

}  // namespace vps::storage
