#include "client.hpp"

#include <cstring>

#include "vps/sys.hpp"

namespace vzctl {

Result<Client> Client::connect(const std::string& path) {
    auto fd = vps::sys::unix_connect(path);
    if (!fd) {
        const Error& e = fd.error();
        if (e.err() == EACCES || e.err() == EPERM)
            return Error(Errc::permission, {}, {}, e.err(),
                         "permission denied: cannot reach vzd at " + path +
                             " (VPSes are managed as root)");
        return Error(Errc::no_daemon, {}, {}, e.err(),
                     "cannot connect to vzd at " + path + ": " + std::strerror(e.err()) +
                         " (is vzd running?)");
    }
    return Client(std::move(*fd));
}

Result<vps::proto::Json> result_of(const vps::proto::Frame& frame) {
    auto json = vps::proto::parse_json(frame.payload);
    if (!json) return std::move(json).error();
    auto resp = vps::proto::decode_response(*json);
    if (!resp) return std::move(resp).error();
    if (!resp->ok) return resp->error;
    return resp->result;
}

Result<vps::proto::Frame> Client::call_frame(const vps::proto::Request& req,
                                             const std::vector<int>& fds) {
    if (auto r = vps::proto::send_frame(sock_.ref(), vps::proto::to_text(vps::proto::encode(req)), fds); !r)
        return std::move(r).error();
    auto frame = vps::proto::recv_frame(sock_.ref());
    if (!frame) {
        if (frame.error().code() == Errc::protocol)
            return Error::make(Errc::no_daemon, "vzd closed the connection: " + frame.error().message());
        return std::move(frame).error();
    }
    return frame;
}

Result<vps::proto::Json> Client::call(const vps::proto::Request& req, const std::vector<int>& fds) {
    auto frame = call_frame(req, fds);
    if (!frame) return std::move(frame).error();
    return result_of(*frame);
}

Result<vps::proto::Json> Client::next() {
    auto frame = vps::proto::recv_frame(sock_.ref());
    if (!frame) return std::move(frame).error();
    return result_of(*frame);
}

}  // namespace vzctl
