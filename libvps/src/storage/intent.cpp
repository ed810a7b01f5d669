#include "vps/intent.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace vps::intent {
namespace {

constexpr std::array<std::pair<Op, std::string_view>, 10> kOps{{
    {Op::create, "create"},
    {Op::start, "start"},
    {Op::stop, "stop"},
    {Op::restart, "restart"},
    {Op::set, "set"},
    {Op::destroy, "destroy"},
    {Op::chkpnt, "chkpnt"},
    {Op::restore, "restore"},
    {Op::migrate_prepare, "migrate_prepare"},
    {Op::migrate_commit, "migrate_commit"},
}};

}  // namespace

std::string_view op_name(Op op) {
    for (const auto& [o, name] : kOps)
        if (o == op) return name;
    return "?";
}

Result<Op> parse_op(std::string_view name) {
    for (const auto& [o, n] : kOps)
        if (n == name) return o;
    return Error::make(Errc::bad_config, "unknown operation '" + std::string(name) + "'");
}

std::string encode(const Record& r) {
    nlohmann::json j{{"ctid", r.ctid}, {"op", op_name(r.op)}, {"started_at", r.started_at}, {"vzd_pid", r.vzd_pid}};
    if (!r.images.empty()) j["images"] = r.images;
    return j.dump() + "\n";
}

Result<Record> decode(std::string_view text, std::string_view origin) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Error::make(Errc::bad_config, std::string(origin) + ": not a JSON object");
    Record r;
    try {
        r.ctid = j.at("ctid").get<uint32_t>();
        auto op = parse_op(j.at("op").get<std::string>());
        if (!op) return std::move(op).error().with_context(std::string(origin));
        r.op = *op;
        r.images = j.value("images", std::string());
        r.started_at = j.value("started_at", int64_t{0});
        r.vzd_pid = j.value("vzd_pid", pid_t{0});
    } catch (const nlohmann::json::exception& e) {
        return Error::make(Errc::bad_config, std::string(origin) + ": " + e.what());
    }
    if (r.ctid == 0) return Error::make(Errc::bad_config, std::string(origin) + ": ctid 0");
    return r;
}

std::string_view step_name(Step s) {
    switch (s) {
        case Step::clear_run: return "clear what the cut-short run left";
        case Step::remove_new_area: return "remove the private area of the unfinished create";
        case Step::finish_destroy: return "finish the destroy";
        case Step::remove_partial_images: return "remove the unfinished checkpoint images";
        case Step::remove_staging: return "remove the staging of the unfinished prepare";
        case Step::stop_incoming: return "stop the VPS the unanswered migration started";
        case Step::return_incoming: return "move the unanswered migration's files back to staging";
    }
    return "?";
}

std::vector<Step> recovery_steps(const Record& r, const Facts& f) {
    switch (r.op) {
        case Op::create:
            // The saved config is the create's commit point.
            if (f.config) return {};
            return {Step::remove_new_area};
        case Op::destroy:
            // Once the files are renamed away the destroy goes on to the end;
            // before that, nothing had changed.
            if (f.destroying) return {Step::finish_destroy};
            return {};
        case Op::start:
        case Op::stop:
        case Op::restart:
        case Op::set:
        case Op::restore:
            // A VPS whose init still runs was adopted and stays; one that
            // does not run must leave nothing behind.
            if (f.running) return {};
            return {Step::clear_run};
        case Op::chkpnt: {
            std::vector<Step> out;
            if (!f.images) out.push_back(Step::remove_partial_images);
            if (!f.running) out.push_back(Step::clear_run);
            return out;
        }
        case Op::migrate_prepare:
            return {Step::remove_staging};
        case Op::migrate_commit: {
            std::vector<Step> out;
            if (f.running) out.push_back(Step::stop_incoming);
            out.push_back(Step::clear_run);
            // Files still in staging were never moved in: a config or area
            // under the VPS's name then is not this migration's.
            if (!f.staged && (f.config || f.private_area)) out.push_back(Step::return_incoming);
            return out;
        }
    }
    return {};
}

}  // namespace vps::intent
