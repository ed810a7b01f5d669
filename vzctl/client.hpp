// vzctl's side of the protocol: one connection per command.
#pragma once

#include <string>
#include <vector>

#include "vps/fd.hpp"
#include "vps/proto.hpp"

namespace vzctl {

using vps::Error;
using vps::Errc;
using vps::Result;

class Client {
public:
    static Result<Client> connect(const std::string& socket_path);
    // Send a request (with fds) and wait for the one response. A response
    // that reports failure comes back as the daemon's Error.
    Result<vps::proto::Json> call(const vps::proto::Request& req, const std::vector<int>& fds = {});
    // Like call(), but also returns fds the daemon attached (enter's pty).
    Result<vps::proto::Frame> call_frame(const vps::proto::Request& req,
                                         const std::vector<int>& fds = {});
    // Read a second response on the same connection (exec/enter's end).
    Result<vps::proto::Json> next();
    vps::FdRef fd() const { return sock_.ref(); }

private:
    explicit Client(vps::Fd s) : sock_(std::move(s)) {}
    vps::Fd sock_;
};

Result<vps::proto::Json> result_of(const vps::proto::Frame& frame);

}  // namespace vzctl
