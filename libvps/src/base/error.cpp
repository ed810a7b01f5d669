#include "vps/error.hpp"

#include <array>
#include <cstring>

namespace vps {
namespace {

struct ErrcInfo {
    Errc code;
    std::string_view name;
    int exit;
};

// Exit codes from OpenVZ vzctl(8) "EXIT STATUS".
// cant_connect and copy_failed are vzmigrate's (MIG_ERR_CANT_CONNECT,
// MIG_ERR_COPY).
constexpr std::array<ErrcInfo, 17> kErrcs{{
    {Errc::system, "system", 3},
    {Errc::busy, "busy", 9},
    {Errc::permission, "permission", 12},
    {Errc::bad_argument, "bad_argument", 20},
    {Errc::bad_value, "bad_value", 21},
    {Errc::not_running, "not_running", 31},
    {Errc::running, "running", 32},
    {Errc::no_such_vps, "no_such_vps", 43},
    {Errc::vps_exists, "vps_exists", 44},
    {Errc::no_template, "no_template", 91},
    {Errc::bad_config, "bad_config", 21},
    {Errc::protocol, "protocol", 3},
    {Errc::no_daemon, "no_daemon", 3},
    {Errc::chkpnt_failed, "chkpnt_failed", 16},
    {Errc::restore_failed, "restore_failed", 17},
    {Errc::cant_connect, "cant_connect", 4},
    {Errc::copy_failed, "copy_failed", 6},
}};

}  // namespace

std::string_view errc_name(Errc c) {
    for (const auto& i : kErrcs)
        if (i.code == c) return i.name;
    return "system";
}

Errc errc_from_name(std::string_view name) {
    for (const auto& i : kErrcs)
        if (i.name == name) return i.code;
    return Errc::system;
}

Errc errc_from_exit(int code) {
    for (const auto& i : kErrcs)
        if (i.exit == code) return i.code;
    return Errc::system;
}

int exit_code(Errc c) {
    for (const auto& i : kErrcs)
        if (i.code == c) return i.exit;
    return 3;
}

Error Error::sys(std::string op, std::string path, int err) {
    return Error(Errc::system, std::move(op), std::move(path), err, {});
}

Error Error::make(Errc code, std::string detail) {
    return Error(code, {}, {}, 0, std::move(detail));
}

Error&& Error::with_context(std::string ctx) && {
    context_.insert(context_.begin(), std::move(ctx));
    return std::move(*this);
}

Error& Error::add_context(std::string ctx) & {
    context_.insert(context_.begin(), std::move(ctx));
    return *this;
}

std::string Error::message() const {
    std::string out;
    for (const auto& c : context_) {
        out += c;
        out += ": ";
    }
    if (!op_.empty()) {
        out += op_;
        if (!path_.empty()) {
            out += " '";
            out += path_;
            out += "'";
        }
        out += ": ";
    } else if (!path_.empty()) {
        out += "'" + path_ + "': ";
    }
    if (!detail_.empty())
        out += detail_;
    else if (err_ != 0)
        out += std::strerror(err_);
    else
        out += "failed";
    // Drop a trailing ": " when there was nothing left to say.
    return out;
}

}  // namespace vps
