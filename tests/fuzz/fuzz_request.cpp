// Fuzz target: bytes a client writes to vzd's socket. They go through
// the same steps vzd takes: the frame (length prefix, size limits), the
// JSON payload, the request decoder, and what vzd serialises back. Any
// input must end in a value or a clean Error: no crash, no leak, no
// undefined behaviour (built with ASan and UBSan), no exception.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vps/proto.hpp"

namespace proto = vps::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Larger inputs would block on the socket buffer; the frame limit is
    // tested by the system tests.
    if (size > 60000) return 0;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
    vps::Fd client(sv[0]), server(sv[1]);
    if (size && ::write(client.get(), data, size) != static_cast<ssize_t>(size)) return 0;
    ::shutdown(client.get(), SHUT_WR);
    auto frame = proto::recv_frame(server.ref(), 1000);
    // Also the payload on its own: most inputs never make a whole frame.
    const std::string_view direct(reinterpret_cast<const char*>(data), size);
    for (std::string_view payload : {frame ? std::string_view(frame->payload) : std::string_view(), direct}) {
        auto json = proto::parse_json(payload);
        if (!json) continue;
        auto req = proto::decode_request(*json);
        if (req) {
            // What vzd logs and answers with must serialise, whatever came in.
            (void)proto::to_text(proto::encode(*req));
            (void)proto::op_name(req->op);
        } else {
            (void)proto::to_text(proto::encode_error(req.error()));
        }
        auto resp = proto::decode_response(*json);
        if (resp) (void)proto::to_text(proto::encode(*resp));
    }
    return 0;
}
