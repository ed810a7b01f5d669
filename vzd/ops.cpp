// The state-changing operations on one VPS. Each takes the VPS's operation
// lock first, so two requests for one VPS never interleave (the second is
// answered "busy"), while requests for other VPSes go on in parallel.
#include <unistd.h>

#include <algorithm>
#include <set>

#include "console.hpp"
#include "daemon.hpp"
#include "vps/crash.hpp"
#include "vps/idmap.hpp"
#include "vps/guestfs.hpp"
#include "vps/net.hpp"
#include "vps/passwd.hpp"
#include "vps/params.hpp"
#include "vps/runtime.hpp"
#include "vps/sys.hpp"

namespace vzd {

namespace sys = vps::sys;
using nlohmann::json;
using vps::ScopeExit;

namespace {

std::string id_str(uint32_t id) { return std::to_string(id); }

// --onboot yes|no and --bootorder N (OpenVZ's ONBOOT and BOOTORDER).
Result<void> apply_boot_args(vps::config::VpsConfig& cfg, const json& args) {
    if (const std::string onboot = str_arg(args, "onboot"); !onboot.empty()) {
        if (onboot != "yes" && onboot != "no")
            return Error::make(Errc::bad_value, "invalid --onboot '" + onboot + "': expected yes or no");
        cfg.onboot = onboot == "yes";
    }
    if (const std::string order = str_arg(args, "bootorder"); !order.empty()) {
        const bool digits = order.size() <= 9 && order.find_first_not_of("0123456789") == std::string::npos;
        if (!digits)
            return Error::make(Errc::bad_value, "invalid --bootorder '" + order + "': expected a number 0..999999999");
        cfg.bootorder = static_cast<uint32_t>(std::stoul(order));
    }
    return vps::ok();
}

// --capability NAME:on|off, each replacing an earlier entry for NAME.
Result<void> apply_capability_args(vps::config::VpsConfig& cfg, const json& args) {
    auto list = strings_arg(args, "capability", "");
    if (!list) return std::move(list).error();
    for (const auto& text : *list) {
        auto cap = vps::plan::parse_capability(text);
        if (!cap) return std::move(cap).error();
        std::erase_if(cfg.capability, [&](const std::string& e) {
            auto old = vps::plan::parse_capability(e);
            return !old || old->first == cap->first;
        });
        cfg.capability.push_back(cap->first + (cap->second ? ":on" : ":off"));
    }
    return vps::ok();
}

// A set request that changes nothing but users' passwords (which live in
// the VPS's files, not its config, and need neither a running VPS nor --save).
bool only_passwords(const json& args) {
    if (!args.contains("userpasswd")) return false;
    for (const auto& [key, value] : args.items()) {
        if (key == "userpasswd" || key == "save") continue;
        if (value.is_null() || (value.is_object() && value.empty()) || (value.is_array() && value.empty())) continue;
        return false;
    }
    return true;
}

// What must be added to an id inside the VPS to get the id its files hold
// on the host: the id range start for shifted ownership, else nothing.
uint32_t host_id_offset(const vps::config::VpsConfig& cfg) {
    return cfg.id_base != 0 && cfg.id_mapping != "mount" ? cfg.id_base : 0;
}

// A fresh /etc/machine-id for a VPS whose template left it empty (as
// systemd's templates do), so no two VPSes share one.
Result<void> give_machine_id(const std::string& private_dir) {
    auto root = vps::guestfs::open_root(private_dir);
    if (!root) return std::move(root).error();
    auto current = vps::guestfs::read_file(*root, "etc/machine-id", 4096);
    if (!current) return std::move(current).error();
    if (!*current || !sys::trim(**current).empty()) return vps::ok();
    auto id = sys::random_hex(16);
    if (!id) return std::move(id).error();
    return vps::guestfs::write_file(*root, "etc/machine-id", *id + "\n", 0444);
}

// --userpasswd USER:PASSWORD, each applied to the VPS's own files. The
// request is never logged and errors name only the user.
Result<json> set_passwords_in(const std::string& private_dir, uint32_t id_offset, const json& args) {
    json done = json::array();
    auto list = strings_arg(args, "userpasswd");
    if (!list) return std::move(list).error();
    if (list->empty()) return done;
    auto root = vps::guestfs::open_root(private_dir);
    if (!root) return std::move(root).error();
    for (const auto& entry : *list) {
        auto up = vps::passwd::parse_userpasswd(entry);
        if (!up) return std::move(up).error();
        if (auto r = vps::passwd::set_password(*root, up->first, up->second, id_offset); !r)
            return std::move(r).error();
        done.push_back(up->first);
    }
    return done;
}

// --userns yes|no of create; absent: the host's default (vz.yaml userns).
Result<bool> userns_arg(const json& args, bool fallback) {
    auto it = args.find("userns");
    if (it == args.end() || it->is_null()) return fallback;
    if (!it->is_string()) return Error::make(Errc::protocol, "'userns' must be a string");
    const std::string v = it->get<std::string>();
    if (v == "yes" || v == "on" || v == "true") return true;
    if (v == "no" || v == "off" || v == "false") return false;
    return Error::make(Errc::bad_argument, "invalid --userns '" + v + "': expected yes or no");
}

Result<std::map<std::string, std::string>> params_arg(const json& args) {
    std::map<std::string, std::string> out;
    auto it = args.find("params");
    if (it == args.end()) return out;
    if (!it->is_object()) return Error::make(Errc::protocol, "'params' must be an object");
    for (const auto& [k, v] : it->items()) {
        if (!v.is_string()) return Error::make(Errc::protocol, "parameter '" + k + "' must be a string");
        out[k] = v.get<std::string>();
    }
    return out;
}

// Apply name=value pairs to a config the way OpenVZ stores them.
Result<void> merge_params(vps::config::VpsConfig& cfg, const std::map<std::string, std::string>& p,
                          uint32_t cpus) {
    vps::params::Resources scratch;
    for (const auto& [name, value] : p) {
        if (!vps::params::is_known(name))
            return Error::make(Errc::bad_argument, "unknown parameter '" + name + "'");
        if (auto r = vps::params::apply_param(scratch, name, value, cpus); !r) return r;
        for (auto& [k, v] : vps::params::canonical(name, value)) cfg.params[k] = v;
    }
    return vps::ok();
}

}  // namespace

std::string str_arg(const json& args, const char* key) {
    auto it = args.find(key);
    return it != args.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::vector<std::string>> strings_arg(const json& args, const char* key, const std::string& prefix) {
    const std::string shown = "'" + prefix + key + "'";
    std::vector<std::string> out;
    auto it = args.find(key);
    if (it == args.end()) return out;
    if (!it->is_array()) return Error::make(Errc::protocol, shown + " must be an array");
    for (const auto& s : *it) {
        if (!s.is_string()) return Error::make(Errc::protocol, shown + " must hold strings");
        out.push_back(s.get<std::string>());
    }
    return out;
}

Result<void> Daemon::reserve_name(const std::string& name, uint32_t ctid) {
    if (name.empty()) return vps::ok();
    if (auto r = vps::plan::check_name(name); !r) return r;
    std::lock_guard g(registry_m_);
    auto [it, inserted] = names_.emplace(name, ctid);
    if (!inserted && it->second != ctid)
        return Error::make(Errc::vps_exists,
                           "name '" + name + "' is already used by VPS " + id_str(it->second));
    return vps::ok();
}

namespace {

// The VPS (or 0: a create or migration in progress) whose range of host ids
// overlaps the one at base, if any.
std::optional<uint32_t> overlapping(const std::map<uint32_t, uint32_t>& used, uint64_t base) {
    constexpr uint64_t size = vps::plan::kIdRangeSize;
    for (const auto& [u, owner] : used)
        if (base < u + size && u < base + size) return owner;
    return std::nullopt;
}

}  // namespace

// Id ranges in use, each with the VPS that holds it: other VPSes' configs,
// and creates and migrations in progress (owner 0).
Result<std::map<uint32_t, uint32_t>> Daemon::used_id_ranges(uint32_t ctid) const {
    auto ctids = layout_.list_ctids();
    if (!ctids) return std::move(ctids).error();
    std::map<uint32_t, uint32_t> used;
    for (uint32_t other : *ctids) {
        if (other == ctid) continue;
        auto cfg = load_config(other);
        if (cfg && cfg->id_base) used.emplace(cfg->id_base, other);
    }
    return used;
}

// The first free range of 65536 host ids at or after id_range_start that
// no other VPS's config holds and no create in progress has reserved.
Result<uint32_t> Daemon::reserve_id_range(uint32_t ctid) {
    auto used = used_id_ranges(ctid);
    if (!used) return std::move(used).error();
    std::lock_guard g(registry_m_);
    for (uint32_t r : reserved_bases_) used->emplace(r, 0);
    constexpr uint64_t size = vps::plan::kIdRangeSize;
    for (uint64_t base = cfg_.id_range_start; base + size - 1 <= 0xffffffffULL; base += size) {
        // Ranges are handed out on this grid; one that overlaps a used
        // range (a hand-edited id_base) is skipped too.
        if (overlapping(*used, base)) continue;
        reserved_bases_.insert(static_cast<uint32_t>(base));
        return static_cast<uint32_t>(base);
    }
    return Error::make(Errc::system, "no free range of 65536 host ids left for a user namespace");
}

// The range at base exactly (a VPS arriving with its ids), if free.
Result<void> Daemon::claim_id_range(uint32_t base, uint32_t ctid) {
    auto used = used_id_ranges(ctid);
    if (!used) return std::move(used).error();
    std::lock_guard g(registry_m_);
    for (uint32_t r : reserved_bases_) used->emplace(r, 0);
    if (auto owner = overlapping(*used, base)) {
        const std::string range = std::to_string(base) + "-" + std::to_string(base + vps::plan::kIdRangeSize - 1);
        return Error::make(Errc::vps_exists, "host ids " + range + " are used here by " +
                                                 (*owner ? "VPS " + id_str(*owner) : std::string("a VPS being made")));
    }
    reserved_bases_.insert(base);
    return vps::ok();
}

void Daemon::unreserve_id_range(uint32_t base) {
    if (base == 0) return;
    std::lock_guard g(registry_m_);
    reserved_bases_.erase(base);
}

void Daemon::unreserve_name(const std::string& name, uint32_t ctid) {
    if (name.empty()) return;
    std::lock_guard g(registry_m_);
    if (auto it = names_.find(name); it != names_.end() && it->second == ctid) names_.erase(it);
}

// A config sample (`create --config basic`): <root>/conf/samples/basic.yaml,
// a mapping of parameter names to values, as OpenVZ's ve-basic.conf-sample.
Result<std::map<std::string, std::string>> Daemon::load_sample(const std::string& name) const {
    if (vps::plan::check_name(name).ok() == false)
        return Error::make(Errc::bad_value, "invalid config sample name '" + name + "'");
    const std::string path = layout_.conf_dir() + "/samples/" + name + ".yaml";
    if (!sys::exists(path))
        return Error::make(Errc::bad_value, "config sample '" + name + "' not found (" + path + ")");
    auto text = sys::read_file(path, 1 << 20);
    if (!text) return std::move(text).error();
    // The sample has the shape of a VPS config without identity keys.
    auto parsed = vps::config::parse_vps(*text, path);
    if (!parsed) return std::move(parsed).error();
    return parsed->params;
}

Result<json> Daemon::op_create(const vps::proto::Request& req) {
    auto id = vps::plan::parse_ctid(req.target);
    if (!id) return std::move(id).error();
    auto v = entry(*id);
    auto lock = OpLock::take(*v, "create");
    if (!lock) return std::move(lock).error();

    if (sys::exists(layout_.conf(*id)))
        return Error::make(Errc::vps_exists, "VPS " + id_str(*id) + " already exists");
    if (sys::exists(layout_.private_dir(*id)))
        return Error::make(Errc::vps_exists, "private area " + layout_.private_dir(*id) + " already exists");

    vps::config::VpsConfig cfg;
    cfg.ctid = *id;
    cfg.ostemplate = str_arg(req.args, "ostemplate");
    cfg.hostname = str_arg(req.args, "hostname");
    cfg.name = str_arg(req.args, "name");
    cfg.params = cfg_.defaults;
    if (cfg.ostemplate.empty())
        return Error::make(Errc::bad_argument, "create needs --ostemplate");
    if (const std::string sample = str_arg(req.args, "config"); !sample.empty()) {
        auto values = load_sample(sample);
        if (!values) return std::move(values).error();
        if (auto r = merge_params(cfg, *values, host_cpus_); !r)
            return std::move(r).error().with_context("config sample '" + sample + "'");
    }
    auto p = params_arg(req.args);
    if (!p) return std::move(p).error();
    if (auto r = merge_params(cfg, *p, host_cpus_); !r) return std::move(r).error();
    if (auto r = apply_net_args(cfg, req.args); !r) return std::move(r).error();
    if (auto r = apply_capability_args(cfg, req.args); !r) return std::move(r).error();
    if (auto r = apply_boot_args(cfg, req.args); !r) return std::move(r).error();
    auto userns = userns_arg(req.args, cfg_.userns);
    if (!userns) return std::move(userns).error();
    auto plan = plan_for(cfg);
    if (!plan) return std::move(plan).error();
    if (auto r = check_network(*id, plan->net, nullptr); !r) return std::move(r).error();
    auto tarball = layout_.find_template(cfg.ostemplate);
    if (!tarball) return std::move(tarball).error();
    auto record = IntentRecord::write(layout_, *id, vps::intent::Op::create);
    if (!record) return std::move(record).error();
    // Reserve the name before the slow unpack so that two creates cannot
    // both take it; give it back if the create fails.
    if (auto r = reserve_name(cfg.name, *id); !r) return std::move(r).error();
    ScopeExit release_name([&] { unreserve_name(cfg.name, *id); });

    if (*userns) {
        auto base = reserve_id_range(*id);
        if (!base) return std::move(base).error();
        cfg.id_base = *base;
        cfg.id_mapping = choose_id_mapping(cfg);
    }
    ScopeExit release_ids([&] { unreserve_id_range(cfg.id_base); });
    vps::crash::at("create.reserved");
    auto tag = [&](const std::string& dir) { return tag_private_area(dir, *id); };
    const uint32_t shift = cfg.id_mapping == "shift" ? cfg.id_base : 0;
    if (auto r = vps::storage::unpack_template(*tarball, layout_.private_dir(*id), tag, shift); !r)
        return std::move(r).error();
    vps::crash::at("create.unpacked");
    if (auto r = give_machine_id(layout_.private_dir(*id)); !r) {
        (void)sys::remove_tree(layout_.private_dir(*id));
        return std::move(r).error().with_context("machine-id");
    }
    // The saved config makes the files a VPS: they must be on disk first,
    // or a power cut could leave a VPS whose files were never written.
    if (auto r = sys::sync_filesystem(layout_.private_dir(*id)); !r) {
        (void)sys::remove_tree(layout_.private_dir(*id));
        return std::move(r).error();
    }
    if (auto r = vps::config::save_vps(layout_.conf(*id), cfg); !r) {
        (void)sys::remove_tree(layout_.private_dir(*id));
        return std::move(r).error();
    }
    release_name.dismiss();
    vps::crash::at("create.saved");
    log("VPS " + id_str(*id) + " created from template " + cfg.ostemplate);
    json out{{"ctid", *id}, {"private", layout_.private_dir(*id)}};
    auto w = warnings_for(*plan);
    if (!*userns)
        w.push_back("VPS " + id_str(*id) + " is privileged (--userns no): root inside it is root on the host");
    else
        out["id_base"] = cfg.id_base;
    if (!w.empty()) out["warnings"] = w;
    return out;
}

// "mount" where the storage file system takes idmapped mounts (the files
// keep the ids a distribution ships), else "shift".
std::string Daemon::choose_id_mapping(const vps::config::VpsConfig& cfg) const {
    if (!cfg_.idmapped_mounts) return "shift";
    const vps::plan::IdMap range{0, cfg.id_base, vps::plan::kIdRangeSize};
    auto support = vps::idmap::probe(layout_.root() + "/private", {range});
    if (support.ok) return "mount";
    log("VPS " + id_str(cfg.ctid) + ": no idmapped mount on " + layout_.root() + "/private (" + support.reason +
        "); its files get shifted ownership");
    return "shift";
}

Result<json> Daemon::set_passwords(const vps::config::VpsConfig& cfg, const json& args) const {
    return set_passwords_in(layout_.private_dir(cfg.ctid), host_id_offset(cfg), args);
}

Result<json> Daemon::op_start(uint32_t ctid) {
    auto v = entry(ctid);
    auto lock = OpLock::take(*v, "start");
    if (!lock) return std::move(lock).error();
    auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::start);
    if (!record) return std::move(record).error();
    if (auto r = start_locked(*v); !r) return std::move(r).error().with_context("start " + id_str(ctid));
    json out{{"ctid", ctid}, {"status", "running"}};
    std::lock_guard g(v->m);
    if (auto w = warnings_for(v->plan); !w.empty()) out["warnings"] = w;
    return out;
}

Result<json> Daemon::op_stop(uint32_t ctid, bool fast) {
    auto v = entry(ctid);
    auto lock = OpLock::take(*v, "stop");
    if (!lock) return std::move(lock).error();
    auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::stop);
    if (!record) return std::move(record).error();
    if (auto r = stop_locked(*v, fast); !r) return std::move(r).error();
    return json{{"ctid", ctid}, {"status", "stopped"}};
}

Result<json> Daemon::op_restart(uint32_t ctid) {
    auto v = entry(ctid);
    auto lock = OpLock::take(*v, "restart");
    if (!lock) return std::move(lock).error();
    auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::restart);
    if (!record) return std::move(record).error();
    if (is_running(*v)) {
        if (auto r = stop_locked(*v, false); !r) return std::move(r).error();
    }
    if (auto r = start_locked(*v); !r) return std::move(r).error().with_context("start " + id_str(ctid));
    return json{{"ctid", ctid}, {"status", "running"}};
}

Result<json> Daemon::op_destroy(uint32_t ctid, bool keep_area) {
    auto v = entry(ctid);
    auto lock = OpLock::take(*v, "destroy");
    if (!lock) return std::move(lock).error();
    if (is_running(*v))
        return Error::make(Errc::running, "VPS " + id_str(ctid) + " is running: stop it first");
    auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::destroy);
    if (!record) return std::move(record).error();
    auto cfg = load_config(ctid);
    if (keep_area) {
        const std::string kept = layout_.conf(ctid) + ".migrated";
        if (::rename(layout_.conf(ctid).c_str(), kept.c_str()) < 0) return Error::sys("rename", layout_.conf(ctid));
        forget_host_side(ctid, cfg);
        log("VPS " + id_str(ctid) + " unregistered; its private area stays, its config is " + kept);
        return json{{"ctid", ctid}, {"status", "deleted"}, {"config", kept}};
    }
    // Move the private area out of its name first: a crash part-way leaves
    // a ".destroying" directory that the next vzd finishes (see
    // recover.cpp), never a VPS with half its files.
    const std::string priv = layout_.private_dir(ctid);
    const std::string doomed = priv + ".destroying";
    if (sys::exists(priv) && ::rename(priv.c_str(), doomed.c_str()) < 0)
        return Error::sys("rename", priv);
    vps::crash::at("destroy.renamed");
    forget_host_side(ctid, cfg);
    if (auto r = sys::unlink(layout_.conf(ctid)); !r) return std::move(r).error();
    vps::crash::at("destroy.unlinked");
    if (auto r = sys::remove_tree(doomed); !r) return std::move(r).error();
    ::rmdir(layout_.root_dir(ctid).c_str());
    (void)sys::unlink(layout_.start_failure(ctid));
    log("VPS " + id_str(ctid) + " destroyed");
    return json{{"ctid", ctid}, {"status", "deleted"}};
}

Result<json> Daemon::op_status(const std::string& target) {
    auto id = vps::plan::parse_ctid(target);
    if (!id) {
        auto named = resolve(target);
        if (!named) return std::move(named).error();
        id = *named;
    }
    const bool exists = sys::exists(layout_.conf(*id));
    bool running = false;
    uint64_t procs = 0;
    if (exists) {
        auto v = entry(*id);
        running = is_running(*v);
        procs = running ? nproc(*v) : 0;
    }
    json out{{"ctid", *id}, {"exist", exists}, {"mounted", running}, {"running", running}, {"numproc", procs}};
    if (exists) {
        // Where it lives (OpenVZ's VE_PRIVATE): vzctl migrate copies from here.
        out["private"] = layout_.private_dir(*id);
        out["config"] = layout_.conf(*id);
        out["dumpdir"] = layout_.dump_dir() + "/" + id_str(*id);
    }
    // Why a stopped VPS is down, when its last start failed.
    if (exists && !running) out.update(start_failure(layout_, *id));
    return out;
}

Result<json> Daemon::op_list() {
    auto ctids = layout_.list_ctids();
    if (!ctids) return std::move(ctids).error();
    json rows = json::array();
    for (uint32_t id : *ctids) {
        auto v = entry(id);
        const bool running = is_running(*v);
        json row{{"ctid", id}, {"status", running ? "running" : "stopped"},
                 {"numproc", running ? nproc(*v) : 0}, {"ip", json::array()}};
        auto cfg = load_config(id);
        if (cfg) {
            row["hostname"] = cfg->hostname;
            row["name"] = cfg->name;
            row["ostemplate"] = cfg->ostemplate;
            row["ip"] = cfg->ip_address;
            // vzlist's parameter columns: the value as configured.
            row["params"] = cfg->params;
            if (running) row["held"] = held_counters(*v);
        } else {
            row["hostname"] = "";
            row["name"] = "";
            row["error"] = cfg.error().message();
        }
        rows.push_back(std::move(row));
    }
    return json{{"vpses", rows}};
}

// What a VPS that leaves this host held outside its files: host-side
// network ends (a crash may have left some) and its name.
void Daemon::forget_host_side(uint32_t ctid, const Result<vps::config::VpsConfig>& cfg) {
    if (!cfg) return;
    std::vector<std::string> ignored;
    clean_host_side(ctid, vps::plan::build_network(*cfg, ignored));
    unreserve_name(cfg->name, ctid);
}

// The changes of one set request, applied to a config.
Result<bool> Daemon::edit_config(vps::config::VpsConfig& cfg, const json& args) const {
    auto p = params_arg(args);
    if (!p) return std::move(p).error();
    if (auto r = merge_params(cfg, *p, host_cpus_); !r) return std::move(r).error();
    if (auto r = apply_capability_args(cfg, args); !r) return std::move(r).error();
    if (auto r = apply_boot_args(cfg, args); !r) return std::move(r).error();
    auto net_changed = apply_net_args(cfg, args);
    if (!net_changed) return net_changed;
    if (const std::string hostname = str_arg(args, "hostname"); !hostname.empty()) cfg.hostname = hostname;
    return net_changed;
}

// As OpenVZ's vzctl: a running VPS is changed from what it runs with (an
// earlier change without --save stays in force until it stops), and --save
// writes this change, and only this one, to the config.
Result<json> Daemon::op_set(uint32_t ctid, const json& args_in) {
    auto v = entry(ctid);
    auto lock = OpLock::take(*v, "set");
    if (!lock) return std::move(lock).error();
    auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::set);
    if (!record) return std::move(record).error();
    auto disk = load_config(ctid);
    if (!disk) return std::move(disk).error();
    vps::config::VpsConfig live = *disk;
    bool running = false;
    {
        std::lock_guard g(v->m);
        running = v->running && v->group;
        if (running && v->cfg.ctid == ctid) live = v->cfg;
    }
    // Generated values (MACs, host interface names) are chosen once, so the
    // running VPS and its saved config get the same.
    auto args = complete_net_args(live, args_in);
    if (!args) return std::move(args).error();
    const bool save = args->value("save", false);
    auto net_changed = edit_config(live, *args);
    if (!net_changed) return std::move(net_changed).error();
    auto plan = plan_for(live);
    if (!plan) return std::move(plan).error();
    if (save && running) {
        if (auto r = edit_config(*disk, *args); !r) return std::move(r).error().with_context("saved config");
        if (auto r = plan_for(*disk); !r) return std::move(r).error().with_context("saved config");
    }
    const std::string hostname = str_arg(*args, "hostname");
    auto users = set_passwords(live, *args);
    if (!users) return std::move(users).error();

    json out{{"ctid", ctid}, {"applied", false}, {"saved", save}};
    if (!users->empty()) out["users"] = *users;
    auto w = warnings_for(*plan);
    if (running && args->contains("capability"))
        w.push_back("capabilities of VPS " + id_str(ctid) + " change at its next start" +
                    (save ? "" : ", and only with --save"));
    if (!w.empty()) out["warnings"] = w;
    {
        std::lock_guard g(v->m);
        running = v->running && v->group;
        if (*net_changed) {
            if (auto r = check_network(ctid, plan->net, running ? &v->plan.net : nullptr); !r)
                return std::move(r).error();
        }
        if (running) {
            if (auto r = apply_live(*v, *plan, hostname, *net_changed); !r)
                return std::move(r).error().with_context("set " + id_str(ctid));
            v->plan = *plan;
            v->cfg = live;
            out["applied"] = true;
        }
    }
    if (running) vps::crash::at("set.applied");
    if (save) {
        if (auto r = vps::config::save_vps(layout_.conf(ctid), running ? *disk : live); !r)
            return std::move(r).error();
    } else if (!out["applied"].get<bool>() && !only_passwords(*args)) {
        out["warning"] = "VPS " + id_str(ctid) +
                         " is not running and --save was not given: nothing was changed";
    }
    return out;
}

// Caller holds v.m and the operation lock; v runs.
Result<void> Daemon::apply_live(Vps& v, const vps::plan::Plan& plan, const std::string& hostname,
                                bool net_changed) {
    const std::string id = id_str(v.ctid);
    if (auto r = v.group->apply(limits_for(plan)); !r) return r;
    if (auto r = apply_disk_quota(plan); !r) return r;
    vps::runtime::Target live{v.running->pid, v.running->pidfd.ref(), v.group.get(), &v.plan};
    if (auto r = vps::runtime::set_ipc_sysctls(live, plan.ipc_sysctls); !r) return r;
    if (!hostname.empty()) {
        if (auto r = vps::runtime::set_hostname(live, hostname); !r) return r;
    }
    if (net_changed) {
        std::vector<std::string> notes;
        auto r = vps::net::update(v.plan.net, plan.net, v.running->pid, &notes);
        for (const auto& n : notes) log("VPS " + id + ": " + n);
        if (!r) {
            // Back to what the VPS ran with: nothing half configured.
            if (auto back = vps::net::update(plan.net, v.plan.net, v.running->pid); !back)
                log("warning: VPS " + id + ": undoing a failed network change: " + back.error().message());
            return r;
        }
    }
    if (net_changed || !hostname.empty()) return write_identity(plan, plan.hostname_configured);
    return vps::ok();
}

}  // namespace vzd
