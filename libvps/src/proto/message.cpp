// Requests, responses and errors as JSON. Decoding checks every field's type
// itself: nlohmann's accessors throw on a mismatch, and a peer's malformed
// message must come back as an Errc::protocol value naming the field.
#include <array>

#include "vps/proto.hpp"

namespace vps::proto {
namespace {

constexpr std::array<std::pair<Op, std::string_view>, 19> kOps{{
    {Op::create, "create"},
    {Op::start, "start"},
    {Op::stop, "stop"},
    {Op::restart, "restart"},
    {Op::destroy, "destroy"},
    {Op::status, "status"},
    {Op::list, "list"},
    {Op::set, "set"},
    {Op::exec, "exec"},
    {Op::enter, "enter"},
    {Op::ping, "ping"},
    {Op::ubc, "ubc"},
    {Op::template_build, "template_build"},
    {Op::template_list, "template_list"},
    {Op::stop_all, "stop_all"},
    {Op::console, "console"},
    {Op::chkpnt, "chkpnt"},
    {Op::restore, "restore"},
    {Op::migrate_in, "migrate_in"},
}};

Error protocol_error(std::string detail) { return Error::make(Errc::protocol, std::move(detail)); }

Error field_error(std::string_view field, std::string_view want) {
    return protocol_error("field '" + std::string(field) + "' must be " + std::string(want));
}

// The version is checked before anything else, so a newer peer gets a clear
// "not supported" rather than a complaint about a field it renamed.
Result<void> check_message(const Json& j) {
    if (!j.is_object()) return protocol_error("message is not a JSON object");
    auto v = j.find("version");
    std::string seen = v == j.end() ? "(none)" : v->dump();
    if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != kVersion)
        return protocol_error("protocol version " + seen + " not supported (this side speaks " +
                              std::to_string(kVersion) + ")");
    return ok();
}

// An optional string field; absent = "".
Result<std::string> opt_string(const Json& j, const std::string& field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) return field_error(field, "a string");
    return it->get<std::string>();
}

// An optional object field; absent = {}.
Result<Json> opt_object(const Json& j, const std::string& field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return Json::object();
    if (!it->is_object()) return field_error(field, "an object");
    return *it;
}

Result<void> check_error_fields(const Json& e) {
    if (!e.is_object()) return field_error("error", "an object");
    for (const char* f : {"code", "op", "path", "detail", "message"})
        if (e.contains(f) && !e[f].is_string())
            return field_error(std::string("error.") + f, "a string");
    if (e.contains("errno") && !e["errno"].is_number_integer())
        return field_error("error.errno", "an integer");
    if (e.contains("context")) {
        if (!e["context"].is_array()) return field_error("error.context", "a list of strings");
        for (const auto& c : e["context"])
            if (!c.is_string()) return field_error("error.context", "a list of strings");
    }
    return ok();
}

std::string string_or_empty(const Json& j, const char* field) {
    auto it = j.find(field);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string_view op_name(Op op) {
    for (const auto& [o, name] : kOps)
        if (o == op) return name;
    return "ping";
}

Result<Op> op_from_name(std::string_view name) {
    for (const auto& [o, n] : kOps)
        if (n == name) return o;
    return Error::make(Errc::bad_argument, "unknown operation '" + std::string(name) + "'");
}

Json encode(const Request& r) {
    return Json{{"version", kVersion},
                {"op", std::string(op_name(r.op))},
                {"target", r.target},
                {"args", r.args.is_null() ? Json::object() : r.args}};
}

Json encode(const Response& r) {
    Json j{{"version", kVersion}, {"ok", r.ok}};
    if (r.ok)
        j["result"] = r.result.is_null() ? Json::object() : r.result;
    else
        j["error"] = encode_error(r.error);
    return j;
}

Result<Request> decode_request(const Json& j) {
    if (auto r = check_message(j); !r) return std::move(r).error();
    auto op_it = j.find("op");
    if (op_it == j.end() || !op_it->is_string()) return field_error("op", "a string");
    auto op = op_from_name(op_it->get<std::string>());
    if (!op) return std::move(op).error();
    auto target = opt_string(j, "target");
    if (!target) return std::move(target).error();
    auto args = opt_object(j, "args");
    if (!args) return std::move(args).error();
    return Request{*op, std::move(*target), std::move(*args)};
}

Result<Response> decode_response(const Json& j) {
    if (auto r = check_message(j); !r) return std::move(r).error();
    auto ok_it = j.find("ok");
    if (ok_it == j.end() || !ok_it->is_boolean()) return field_error("ok", "true or false");
    Response resp;
    resp.ok = ok_it->get<bool>();
    if (resp.ok) {
        auto result = opt_object(j, "result");
        if (!result) return std::move(result).error();
        resp.result = std::move(*result);
        return resp;
    }
    auto err_it = j.find("error");
    if (err_it == j.end()) return field_error("error", "present when ok is false");
    if (auto r = check_error_fields(*err_it); !r) return std::move(r).error();
    resp.error = decode_error(*err_it);
    return resp;
}

Json encode_error(const Error& e) {
    return Json{{"code", std::string(errc_name(e.code()))},
                {"op", e.op()},
                {"path", e.path()},
                {"errno", e.err()},
                {"detail", e.detail()},
                {"context", e.context()},
                {"message", e.message()}};
}

Error decode_error(const Json& j) {
    if (!j.is_object()) return protocol_error("error is not a JSON object");
    Errc code = errc_from_name(string_or_empty(j, "code"));
    auto err_it = j.find("errno");
    int err = err_it != j.end() && err_it->is_number_integer() ? err_it->get<int>() : 0;
    Error e(code, string_or_empty(j, "op"), string_or_empty(j, "path"), err,
            string_or_empty(j, "detail"));
    auto ctx = j.find("context");
    if (ctx != j.end() && ctx->is_array())
        for (auto it = ctx->rbegin(); it != ctx->rend(); ++it)
            if (it->is_string()) e.add_context(it->get<std::string>());
    // The sender's text is what the user must see. If rebuilding from the
    // parts says something else (its strerror differs, or it sent only a
    // message), carry its message as the detail.
    std::string sent = string_or_empty(j, "message");
    if (!sent.empty() && e.message() != sent) return Error(code, {}, {}, err, sent);
    return e;
}

Result<Json> parse_json(std::string_view payload) {
    try {
        return Json::parse(payload);
    } catch (const Json::exception& e) {
        // parse_error, and out_of_range for a number too large for any type.
        // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
        std::string what = e.what();
        auto close = what.find("] ");
        if (close != std::string::npos) what.erase(0, close + 2);
        return protocol_error("malformed JSON: " + what);
    }
}

std::string to_text(const Json& j, int indent) {
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace vps::proto
