// The destination's side of `vzctl migrate` (vzmigrate): a VPS arrives in
// a staging directory and becomes this host's only once it runs here (or,
// offline, once its files and config are in place).
//
//   <root>/migrate/<ctid>/private/   its files, copied while it runs on the
//                                    source, then once more after the freeze
//   <root>/migrate/<ctid>/vps.yaml   its config as the source had it
//   <root>/migrate/<ctid>/dump/...   CRIU images (online): pre-dumps and the
//                                    final dump, linked as CRIU's "parent"s
//
// The phases, each a request of its own:
//   prepare  the staging directory, after checking the CTID is free here;
//   commit   the files move in under the VPS's name, its config is saved,
//            and it is restored from the images (or started); a commit that
//            fails moves everything back to staging, so the VPS is never
//            half here;
//   abort    the staging directory goes; a registered VPS is never touched.
#include <sys/stat.h>

#include <cstring>

#include "daemon.hpp"
#include "vps/crash.hpp"
#include "vps/criu.hpp"
#include "vps/sys.hpp"

namespace vzd {
namespace {

namespace sys = vps::sys;
using nlohmann::json;
using vps::ScopeExit;

std::string id_str(uint32_t id) { return std::to_string(id); }

}  // namespace

std::string Daemon::migrate_staging(uint32_t ctid) const {
    return layout_.root() + "/migrate/" + id_str(ctid);
}

Result<json> Daemon::op_migrate_in(uint32_t ctid, const json& args) {
    const std::string phase = str_arg(args, "phase");
    if (phase != "prepare" && phase != "commit" && phase != "abort")
        return Error::make(Errc::bad_argument, "migrate_in phase must be prepare, commit or abort, not '" + phase + "'");
    auto v = entry(ctid);
    auto lock = OpLock::take(*v, "migrate");
    if (!lock) return std::move(lock).error();
    const std::string staging = migrate_staging(ctid);
    if (phase == "abort") {
        if (auto r = sys::remove_tree(staging); !r) return std::move(r).error();
        log("VPS " + id_str(ctid) + ": incoming migration aborted, " + staging + " removed");
        return json{{"ctid", ctid}, {"status", "aborted"}};
    }
    if (sys::exists(layout_.conf(ctid)))
        return Error::make(Errc::vps_exists, "VPS " + id_str(ctid) + " exists on the destination already");
    if (sys::exists(layout_.private_dir(ctid)))
        return Error::make(Errc::vps_exists, "private area " + layout_.private_dir(ctid) +
                                                 " exists on the destination already");
    if (phase == "commit") {
        auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::migrate_commit);
        if (!record) return std::move(record).error();
        return migrate_commit(*v, ctid, args);
    }

    const bool online = args.value("online", false);
    if (online)
        if (auto r = vps::criu::check(); !r)
            return Error::make(Errc::restore_failed, "online migration into this host: " + r.error().message());
    // What can be checked before the source freezes anything: the config
    // itself and what it would take here (name, addresses, host ids).
    const std::string text = str_arg(args, "config");
    auto cfg = vps::config::parse_vps(text, "the config of VPS " + id_str(ctid) + " from the source");
    if (!cfg) return std::move(cfg).error();
    if (auto r = check_incoming(ctid, *cfg, online); !r) return std::move(r).error();
    auto record = IntentRecord::write(layout_, ctid, vps::intent::Op::migrate_prepare);
    if (!record) return std::move(record).error();
    // What an earlier migration of this CTID left behind (its client died)
    // is no VPS yet: it makes way for this one.
    if (auto r = sys::remove_tree(staging); !r) return std::move(r).error();
    // 0711 down to the images: an unprivileged VPS's restored tasks open
    // some of them themselves (see restore_locked).
    for (const std::string& d : {layout_.root() + "/migrate", staging, staging + "/dump"})
        if (auto r = sys::mkdir_p(d, 0711); !r) return std::move(r).error();
    if (auto r = sys::mkdir_p(staging + "/private", 0700); !r) return std::move(r).error();
    // Its project (diskspace quota) now: the files copied in inherit it,
    // and the commit, in the downtime of an online migration, need not
    // walk them.
    if (auto r = tag_private_area(staging + "/private", ctid); !r) return std::move(r).error();
    if (auto r = sys::write_file_atomic(staging + "/vps.yaml", text, 0600); !r) return std::move(r).error();
    vps::crash::at("migrate.prepared");
    log("VPS " + id_str(ctid) + ": incoming migration, staging in " + staging);
    return json{{"ctid", ctid}, {"dir", staging}};
}

// Whether the VPS can live here: its CTID in its config, its name, its
// addresses and (when they cannot change) its host ids free.
Result<void> Daemon::check_incoming(uint32_t ctid, const vps::config::VpsConfig& cfg, bool online) {
    if (cfg.ctid != ctid)
        return Error::make(Errc::bad_config, "the config is that of VPS " + id_str(cfg.ctid) + ", not of " + id_str(ctid));
    if (cfg.id_base && (online || cfg.id_mapping != "mount")) {
        if (auto r = claim_id_range(cfg.id_base, ctid); !r)
            return std::move(r).error().with_context("VPS " + id_str(ctid) + " needs the host ids it had");
        unreserve_id_range(cfg.id_base);
    }
    if (!cfg.name.empty()) {
        if (auto r = reserve_name(cfg.name, ctid); !r) return std::move(r).error();
        unreserve_name(cfg.name, ctid);
    }
    auto plan = plan_for(cfg);
    if (!plan) return std::move(plan).error();
    return check_network(ctid, plan->net, nullptr);
}

Result<json> Daemon::migrate_commit(Vps& v, uint32_t ctid, const json& args) {
    const std::string id = id_str(ctid);
    const std::string staging = migrate_staging(ctid);
    const std::string mode = str_arg(args, "mode");  // stopped | start | restore
    if (mode != "stopped" && mode != "start" && mode != "restore")
        return Error::make(Errc::bad_argument, "migrate_in mode must be stopped, start or restore, not '" + mode + "'");
    if (!sys::exists(staging + "/vps.yaml"))
        return Error::make(Errc::bad_argument, "no incoming migration of VPS " + id + " (" + staging +
                                                   "/vps.yaml is missing)");
    auto cfg = vps::config::load_vps(staging + "/vps.yaml");
    if (!cfg) return std::move(cfg).error();
    if (auto r = check_incoming(ctid, *cfg, mode == "restore"); !r) return std::move(r).error();
    std::string dump;
    if (mode == "restore") {
        dump = str_arg(args, "dump");
        if (dump.empty() || dump[0] == '/' || dump.find("..") != std::string::npos)
            return Error::make(Errc::bad_argument, "migrate_in dump must be a path inside " + staging + ", got '" +
                                                       dump + "'");
        dump = staging + "/" + dump;
    }

    // Its host ids: CRIU's images hold the user namespace's map, and a
    // shifted private area holds them in its files; only files stored
    // unshifted (idmapped mounts) can take a new range here.
    if (cfg->id_base) {
        auto taken = claim_id_range(cfg->id_base, ctid);
        if (!taken) {
            if (mode == "restore" || cfg->id_mapping != "mount")
                return std::move(taken).error().with_context("VPS " + id + " needs the host ids it had");
            auto base = reserve_id_range(ctid);
            if (!base) return std::move(base).error();
            log("VPS " + id + ": host ids from " + std::to_string(*base) + " here (from " +
                std::to_string(cfg->id_base) + " on the source)");
            cfg->id_base = *base;
        }
    }
    ScopeExit release_ids([&] { unreserve_id_range(cfg->id_base); });
    if (auto r = reserve_name(cfg->name, ctid); !r) return std::move(r).error();
    ScopeExit release_name([&] { unreserve_name(cfg->name, ctid); });

    const std::string priv = layout_.private_dir(ctid);
    if (::rename((staging + "/private").c_str(), priv.c_str()) < 0) return Error::sys("rename", staging + "/private");
    // Back to staging, so that the source can try again or abort.
    auto undo = [&](Error e) -> Error {
        (void)sys::unlink(layout_.conf(ctid));
        if (::rename(priv.c_str(), (staging + "/private").c_str()) < 0)
            log(LogLevel::error, "VPS " + id + ": cannot move " + priv + " back to " + staging + ": " +
                                     std::string(::strerror(errno)));
        return e;
    };
    vps::crash::at("migrate.moved");
    // rsync wrote them without syncing: they must be on disk before the
    // config makes them this host's VPS and the source forgets its copy.
    if (auto r = sys::sync_filesystem(priv); !r) return undo(std::move(r).error());
    if (auto r = vps::config::save_vps(layout_.conf(ctid), *cfg); !r) return undo(std::move(r).error());
    vps::crash::at("migrate.saved");
    json out{{"ctid", ctid}, {"status", mode == "stopped" ? "stopped" : "running"}};
    if (mode == "restore") {
        auto r = restore_locked(v, ctid, dump);
        if (!r) return undo(std::move(r).error());
        out["restore_ms"] = r->value("restore_ms", 0);
    } else if (mode == "start") {
        if (auto r = start_locked(v); !r) return undo(std::move(r).error().with_context("start " + id));
    }
    release_name.dismiss();
    vps::crash::at("migrate.committed");
    (void)sys::remove_tree(staging);
    log("VPS " + id + " migrated in (" + mode + ")");
    return out;
}

}  // namespace vzd
