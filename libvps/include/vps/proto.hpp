// The vzctl <-> vzd protocol: one request, one response, each a JSON object
// in a frame of a 4-byte big-endian length followed by that many bytes.
// File descriptors (exec's stdio, console's end of a socket pair) travel
// with the request as SCM_RIGHTS.
// Every message carries "version"; a peer of another version is refused with
// a clear error instead of being misread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "vps/error.hpp"
#include "vps/fd.hpp"

namespace vps::proto {

inline constexpr int kVersion = 1;
inline constexpr uint32_t kMaxFrame = 1u << 20;  // 1 MiB
inline constexpr size_t kMaxFds = 4;

using Json = nlohmann::json;

// Operations, named as vzctl's commands.
enum class Op { create, start, stop, restart, destroy, status, list, set, exec, enter, ping, ubc, template_build, template_list, stop_all, console, chkpnt, restore, migrate_in };
std::string_view op_name(Op op);
Result<Op> op_from_name(std::string_view name);

struct Request {
    Op op = Op::ping;
    std::string target;  // CTID or name; empty for list/ping
    Json args = Json::object();
};

struct Response {
    bool ok = true;
    Json result = Json::object();
    Error error;  // when !ok
};

Json encode(const Request& r);
Json encode(const Response& r);
Result<Request> decode_request(const Json& j);
Result<Response> decode_response(const Json& j);
Json encode_error(const Error& e);
Error decode_error(const Json& j);

// Serialise for the wire or a terminal. Never throws: bytes that are not
// UTF-8 (a file name in an error, say) are replaced, not fatal.
std::string to_text(const Json& j, int indent = -1);

// Framing over a stream socket, with optional fds.
Result<void> send_frame(FdRef sock, std::string_view payload, const std::vector<int>& fds = {});
struct Frame {
    std::string payload;
    std::vector<Fd> fds;
};
// Fails with Errc::protocol on an oversized or truncated frame; timeout_ms
// bounds the wait for the whole frame (-1 = forever).
Result<Frame> recv_frame(FdRef sock, int timeout_ms = -1);

// Parse a frame's payload as JSON; malformed JSON is Errc::protocol.
Result<Json> parse_json(std::string_view payload);

}  // namespace vps::proto
