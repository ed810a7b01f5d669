// Crash consistency: each multi-step operation leaves a record of itself
// on disk while it runs (vps/intent.hpp), and a vzd starting up finishes or
// undoes whatever a vzd that died left half done.
#include <unistd.h>

#include <ctime>

#include "daemon.hpp"
#include "vps/sys.hpp"

namespace vzd {

namespace sys = vps::sys;
namespace intent = vps::intent;

Result<IntentRecord> IntentRecord::write(const vps::storage::Layout& layout, uint32_t ctid, intent::Op op,
                                         std::string images) {
    const intent::Record r{ctid, op, std::move(images), static_cast<int64_t>(::time(nullptr)), ::getpid()};
    const std::string path = layout.intent(ctid);
    if (auto w = sys::write_file_atomic(path, intent::encode(r), 0600); !w)
        return std::move(w).error().with_context("record the " + std::string(intent::op_name(op)) + " of VPS " +
                                                 std::to_string(ctid));
    return IntentRecord(path);
}

// The removal must be on disk before the caller hears the operation is
// over: a migration answered as done must never be undone.
IntentRecord::~IntentRecord() {
    if (!path_.empty()) (void)sys::unlink_durably(path_);
}

void Daemon::clear_run(uint32_t ctid) {
    const std::string id = std::to_string(ctid);
    if (cgroups_->exists(id)) {
        if (auto group = cgroups_->open(id)) discard_group(**group);
        else log("warning: VPS " + id + ": " + group.error().message());
    }
    if (auto plan = load_plan(ctid)) clean_host_side(ctid, plan->net);
    (void)sys::unlink(layout_.state(ctid));
}

Result<void> Daemon::recovery_step(const intent::Record& r, intent::Step step) {
    const uint32_t ctid = r.ctid;
    const std::string priv = layout_.private_dir(ctid);
    const std::string staging = migrate_staging(ctid);
    switch (step) {
        case intent::Step::clear_run:
            clear_run(ctid);
            return vps::ok();
        case intent::Step::remove_new_area:
            if (auto e = sys::remove_tree(priv + ".partial"); !e) return e;
            return sys::remove_tree(priv);
        case intent::Step::finish_destroy: {
            forget_host_side(ctid, load_config(ctid));
            if (auto e = sys::unlink(layout_.conf(ctid)); !e) return e;
            if (auto e = sys::remove_tree(priv + ".destroying"); !e) return e;
            ::rmdir(layout_.root_dir(ctid).c_str());
            (void)sys::unlink(layout_.start_failure(ctid));
            return vps::ok();
        }
        case intent::Step::remove_partial_images:
            return r.images.empty() ? vps::ok() : sys::remove_tree(r.images);
        case intent::Step::remove_staging:
            return sys::remove_tree(staging);
        case intent::Step::stop_incoming:
            return stop_locked(*entry(ctid), true);
        case intent::Step::return_incoming: {
            if (auto cfg = load_config(ctid)) unreserve_name(cfg->name, ctid);
            if (auto e = sys::unlink(layout_.conf(ctid)); !e) return e;
            if (!sys::exists(priv)) return vps::ok();
            if (auto e = sys::mkdir_p(staging, 0711); !e) return e;
            if (::rename(priv.c_str(), (staging + "/private").c_str()) < 0)
                return Error::sys("rename", priv + " to " + staging + "/private");
            return vps::ok();
        }
    }
    return vps::ok();
}

// After adopt_running(): a VPS whose init survived is running by now.
void Daemon::recover_interrupted() {
    auto names = sys::list_dir(layout_.intent_dir());
    if (!names) {
        log(LogLevel::error, "cannot read " + layout_.intent_dir() + ": " + names.error().message());
        return;
    }
    for (const std::string& name : *names) {
        if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;  // write_file_atomic's temp files
        const std::string path = layout_.intent_dir() + "/" + name;
        auto text = sys::read_file(path, 1 << 16);
        auto record = text ? intent::decode(*text, path) : Result<intent::Record>(text.error());
        if (!record) {
            log(LogLevel::error, "unreadable record of an interrupted operation: " + record.error().message());
            continue;
        }
        const uint32_t ctid = record->ctid;
        const std::string id = std::to_string(ctid);
        intent::Facts facts;
        facts.config = sys::exists(layout_.conf(ctid));
        facts.private_area = sys::exists(layout_.private_dir(ctid));
        facts.destroying = sys::exists(layout_.private_dir(ctid) + ".destroying");
        facts.running = is_running(*entry(ctid));
        facts.images = !record->images.empty() && sys::exists(record->images + "/inventory.img");
        facts.staged = sys::exists(migrate_staging(ctid) + "/private");
        const auto steps = intent::recovery_steps(*record, facts);
        log(LogLevel::notice, "VPS " + id + ": its " + std::string(intent::op_name(record->op)) +
                                  " was cut short (vzd " + std::to_string(record->vzd_pid) + " died); " +
                                  (steps.empty() ? std::string("its result stands") : "recovering"));
        bool whole = true;
        for (intent::Step step : steps) {
            auto r = recovery_step(*record, step);
            log(r ? LogLevel::info : LogLevel::error,
                "VPS " + id + ": " + std::string(intent::step_name(step)) + (r ? ": done" : ": " + r.error().message()));
            whole = whole && r.ok();
        }
        // A step that failed is tried again by the next vzd.
        if (whole) (void)sys::unlink_durably(path);
    }
}

}  // namespace vzd
