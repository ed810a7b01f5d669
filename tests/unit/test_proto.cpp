// The vzctl <-> vzd protocol: messages that survive the trip, peers that
// speak something else, and frames over a real socket pair.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "vps/proto.hpp"
#include "vps/sys.hpp"

using namespace vps;
using namespace vps::proto;

namespace {

// Through text, as over the socket.
Json wire(const Json& j) { return *parse_json(j.dump()); }

sys::FdPair stream_pair() {
    auto p = sys::socketpair(SOCK_STREAM);
    REQUIRE(p);
    return std::move(*p);
}

void write_raw(const Fd& fd, std::string_view data) { REQUIRE(sys::write_all(fd.ref(), data)); }

std::string be32(uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

// sendmsg with any number of fds, bypassing send_frame's own limit.
void send_raw_fds(const Fd& sock, std::string_view data, const std::vector<int>& fds) {
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    iovec iov{const_cast<char*>(data.data()), data.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    REQUIRE(::sendmsg(sock.get(), &msg, 0) == static_cast<ssize_t>(data.size()));
}

}  // namespace

TEST_CASE("every operation name round-trips") {
    for (Op op : {Op::create, Op::start, Op::stop, Op::restart, Op::destroy, Op::status, Op::list,
                  Op::set, Op::exec, Op::enter, Op::ping}) {
        CHECK(*op_from_name(op_name(op)) == op);
    }
    auto bad = op_from_name("reboot");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code() == Errc::bad_argument);
}

TEST_CASE("a request survives the trip") {
    Request req{Op::start, "101", Json{{"wait", true}, {"params", {{"numproc", "100"}}}}};
    Json j = encode(req);
    CHECK(j["version"] == 1);
    CHECK(j["op"] == "start");
    CHECK(j["target"] == "101");
    auto back = decode_request(wire(j));
    REQUIRE(back);
    CHECK(back->op == Op::start);
    CHECK(back->target == "101");
    CHECK(back->args == req.args);

    // target and args may be left out (list, ping).
    auto minimal = decode_request(Json{{"version", 1}, {"op", "list"}});
    REQUIRE(minimal);
    CHECK(minimal->target.empty());
    CHECK(minimal->args == Json::object());
}

TEST_CASE("responses survive the trip, errors with their exact message") {
    Response good;
    good.result = {{"state", "running"}, {"pid", 4242}};
    auto back = decode_response(wire(encode(good)));
    REQUIRE(back);
    CHECK(back->ok);
    CHECK(back->result == good.result);

    Response bad;
    bad.ok = false;
    bad.error = Error::sys("mount", "/proc", EBUSY).with_context("start 101");
    bad.error.add_context("vzd");
    Json j = wire(encode(bad));
    CHECK(j["error"]["code"] == "system");
    CHECK(j["error"]["errno"] == EBUSY);
    auto err = decode_response(j);
    REQUIRE(err);
    CHECK_FALSE(err->ok);
    CHECK(err->error.code() == Errc::system);
    CHECK(err->error.op() == "mount");
    CHECK(err->error.path() == "/proc");
    CHECK(err->error.err() == EBUSY);
    CHECK(err->error.context() == bad.error.context());
    CHECK(err->error.message() == "vzd: start 101: mount '/proc': Device or resource busy");
}

TEST_CASE("decode_error keeps each kind and the sender's wording") {
    for (Errc c : {Errc::busy, Errc::no_such_vps, Errc::bad_value, Errc::protocol}) {
        Error e = decode_error(encode_error(Error::make(c, "detail text")));
        CHECK(e.code() == c);
        CHECK(e.message() == "detail text");
    }
    // A peer whose strerror reads differently: its message wins.
    Json j = encode_error(Error::sys("open", "/x", ENOENT));
    j["message"] = "open '/x': file not found (peer's libc)";
    CHECK(decode_error(j).message() == "open '/x': file not found (peer's libc)");
    CHECK(decode_error(j).err() == ENOENT);
}

TEST_CASE("another protocol version is refused clearly") {
    auto v2 = decode_request(Json{{"version", 2}, {"op", "start"}});
    REQUIRE_FALSE(v2);
    CHECK(v2.error().code() == Errc::protocol);
    CHECK(v2.error().message() == "protocol version 2 not supported (this side speaks 1)");
    auto none = decode_response(Json{{"ok", true}});
    REQUIRE_FALSE(none);
    CHECK(none.error().message() == "protocol version (none) not supported (this side speaks 1)");
    CHECK_FALSE(decode_request(Json{{"version", "1"}, {"op", "start"}}));
}

TEST_CASE("wrong field types name the field") {
    auto msg = [](const Json& j) {
        auto r = decode_request(j);
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == Errc::protocol);
        return r.error().message();
    };
    CHECK(msg(Json{{"version", 1}, {"op", 3}}) == "field 'op' must be a string");
    CHECK(msg(Json{{"version", 1}}) == "field 'op' must be a string");
    CHECK(msg(Json{{"version", 1}, {"op", "start"}, {"target", 101}}) ==
          "field 'target' must be a string");
    CHECK(msg(Json{{"version", 1}, {"op", "set"}, {"args", Json::array()}}) ==
          "field 'args' must be an object");
    CHECK(msg(Json::array()) == "message is not a JSON object");

    auto unknown = decode_request(Json{{"version", 1}, {"op", "frobnicate"}});
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code() == Errc::bad_argument);

    auto no_ok = decode_response(Json{{"version", 1}});
    REQUIRE_FALSE(no_ok);
    CHECK(no_ok.error().message() == "field 'ok' must be true or false");
    auto bad_err =
        decode_response(Json{{"version", 1}, {"ok", false}, {"error", {{"errno", "x"}}}});
    REQUIRE_FALSE(bad_err);
    CHECK(bad_err.error().message() == "field 'error.errno' must be an integer");
}

TEST_CASE("garbage JSON is a protocol error") {
    // The last: a number too large for a double (nlohmann throws
    // out_of_range, not parse_error, for it).
    for (const char* text : {"", "{", "not json", "{\"version\":1,}", "\xff\xfe", "{\"v\": 6E66666}"}) {
        CAPTURE(text);
        auto r = parse_json(text);
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == Errc::protocol);
        CHECK(r.error().message().find("malformed JSON: ") == 0);
    }
    CHECK(parse_json(R"({"a": [1, 2]})"));
}

TEST_CASE("frames: back to back, empty, and the largest allowed") {
    auto pair = stream_pair();  // named members: lambdas below capture them
    Fd& a = pair.first;
    Fd& b = pair.second;
    REQUIRE(send_frame(a.ref(), "first"));
    REQUIRE(send_frame(a.ref(), ""));
    REQUIRE(send_frame(a.ref(), "third"));
    CHECK(recv_frame(b.ref(), 1000)->payload == "first");
    CHECK(recv_frame(b.ref(), 1000)->payload.empty());
    CHECK(recv_frame(b.ref(), 1000)->payload == "third");

    // Bigger than the socket buffer: the sender has to wait for the reader.
    std::string big(kMaxFrame, 'x');
    big.back() = 'y';
    std::thread sender([&] { CHECK(send_frame(a.ref(), big)); });
    auto got = recv_frame(b.ref(), 5000);
    sender.join();
    REQUIRE(got);
    CHECK(got->payload == big);
}

TEST_CASE("frames: an oversized length is refused without reading the body") {
    auto [a, b] = stream_pair();
    write_raw(a, be32(kMaxFrame + 1) + "tail");
    auto r = recv_frame(b.ref(), 1000);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::protocol);
    CHECK(r.error().message() == "frame of 1048577 bytes exceeds the 1048576-byte limit");
    char buf[8];
    CHECK(::read(b.get(), buf, sizeof buf) == 4);  // the body is still unread

    auto too_big = send_frame(a.ref(), std::string(kMaxFrame + 1, 'x'));
    REQUIRE_FALSE(too_big);
    CHECK(too_big.error().code() == Errc::protocol);
}

TEST_CASE("frames: a peer that hangs up mid-frame") {
    auto [a, b] = stream_pair();
    write_raw(a, be32(10) + "abc");
    a.reset();
    auto r = recv_frame(b.ref(), 1000);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::protocol);
    CHECK(r.error().message().find("truncated frame") == 0);

    auto [c, d] = stream_pair();
    write_raw(c, std::string("\0\0", 2));  // half a header
    c.reset();
    auto half = recv_frame(d.ref(), 1000);
    REQUIRE_FALSE(half);
    CHECK(half.error().message().find("truncated frame") == 0);

    // Hanging up between frames is not a truncation.
    auto [e, f] = stream_pair();
    e.reset();
    auto closed = recv_frame(f.ref(), 1000);
    REQUIRE_FALSE(closed);
    CHECK(closed.error().code() == Errc::protocol);
    CHECK(closed.error().message() == "connection closed before a frame arrived");
}

TEST_CASE("frames: short reads are put together") {
    auto pair = stream_pair();
    Fd& a = pair.first;
    Fd& b = pair.second;
    std::string data = be32(11) + "hello world";
    std::thread slow([&] {
        for (char ch : data) {
            CHECK(::write(a.get(), &ch, 1) == 1);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    auto r = recv_frame(b.ref(), 5000);
    slow.join();
    REQUIRE(r);
    CHECK(r->payload == "hello world");
}

TEST_CASE("frames: a silent peer times out") {
    auto [a, b] = stream_pair();
    auto start = std::chrono::steady_clock::now();
    auto r = recv_frame(b.ref(), 150);
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::protocol);
    CHECK(r.error().message() == "timed out waiting for a request");
    CHECK(took >= std::chrono::milliseconds(140));
    CHECK(took < std::chrono::seconds(3));

    // The timeout covers the whole frame, not each read.
    write_raw(a, be32(100) + "partial");
    auto mid = recv_frame(b.ref(), 150);
    REQUIRE_FALSE(mid);
    CHECK(mid.error().message().find("timed out in the middle of a frame") == 0);
}

TEST_CASE("frames carry file descriptors, received close-on-exec") {
    auto [a, b] = stream_pair();
    auto pipe = sys::pipe();
    REQUIRE(pipe);
    REQUIRE(send_frame(a.ref(), "exec", {pipe->second.get()}));
    pipe->second.reset();  // only the copy in flight is left

    auto frame = recv_frame(b.ref(), 1000);
    REQUIRE(frame);
    CHECK(frame->payload == "exec");
    REQUIRE(frame->fds.size() == 1);
    CHECK((::fcntl(frame->fds[0].get(), F_GETFD) & FD_CLOEXEC) != 0);
    REQUIRE(sys::write_all(frame->fds[0].ref(), "through the pipe"));
    frame->fds.clear();
    auto text = sys::read_fd(pipe->first.ref());
    REQUIRE(text);
    CHECK(*text == "through the pipe");
}

TEST_CASE("frames: too many file descriptors are closed and refused") {
    std::vector<int> five(kMaxFds + 1, 0);
    auto [a, b] = stream_pair();
    auto refused = send_frame(a.ref(), "x", five);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == Errc::protocol);

    auto pipe = sys::pipe();
    REQUIRE(pipe);
    std::fill(five.begin(), five.end(), pipe->second.get());
    send_raw_fds(a, be32(1) + "x", five);
    pipe->second.reset();
    auto r = recv_frame(b.ref(), 1000);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::protocol);
    CHECK(r.error().message().find("at most 4") != std::string::npos);
    // Every received copy of the write end was closed: the reader sees EOF.
    REQUIRE(::fcntl(pipe->first.get(), F_SETFL, O_NONBLOCK) == 0);
    char c;
    CHECK(::read(pipe->first.get(), &c, 1) == 0);
}
