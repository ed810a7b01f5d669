// Errors are values: every fallible call returns vps::Result<T>.
//
// An Error names the operation that failed, the path (or object) it failed
// on, the errno when the kernel said no, and a chain of context added by the
// callers ("start 101", "rootfs"), so that the one line a user sees says
// what failed, where and why.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace vps {

// What kind of failure this is, independent of errno. vzctl maps each kind
// to the exit code OpenVZ's vzctl documented (see exit_code()).
enum class Errc {
    system = 0,     // a syscall or helper failed
    busy,           // another operation holds the VPS
    permission,     // the caller may not do this
    bad_argument,   // malformed request or command line
    bad_value,      // a parameter value out of range or malformed
    not_running,    // the VPS is stopped
    running,        // the VPS is already running
    no_such_vps,    // no config / private area for that id
    vps_exists,     // the id or name is taken
    no_template,    // the OS template is not in the cache
    bad_config,     // a config file cannot be parsed
    protocol,       // the peer speaks another protocol
    no_daemon,      // vzd is not reachable
    chkpnt_failed,  // a checkpoint failed (the VPS runs on)
    restore_failed, // a restore failed (nothing runs)
    cant_connect,   // migrate: the destination cannot be reached (ssh)
    copy_failed,    // migrate: copying files to the destination failed
};

std::string_view errc_name(Errc c);
Errc errc_from_name(std::string_view name);

// The exit codes of OpenVZ's vzctl(8), which admin scripts test for.
int exit_code(Errc c);
// The kind behind an exit code (the first kind that has it): how a vzctl
// run elsewhere (migrate's destination) failed.
Errc errc_from_exit(int code);

class Error {
public:
    Error() = default;
    Error(Errc code, std::string op, std::string path, int err, std::string detail)
        : code_(code), op_(std::move(op)), path_(std::move(path)), err_(err),
          detail_(std::move(detail)) {}

    // A failed syscall: op is the call ("mount"), path what it acted on.
    static Error sys(std::string op, std::string path = {}, int err = errno);
    // A failure that is not a syscall's: kind plus a human sentence.
    static Error make(Errc code, std::string detail);

    Errc code() const { return code_; }
    const std::string& op() const { return op_; }
    const std::string& path() const { return path_; }
    int err() const { return err_; }
    const std::string& detail() const { return detail_; }
    const std::vector<std::string>& context() const { return context_; }

    // Prepend what the caller was doing: "start 101" + "mount '/proc': EBUSY".
    Error&& with_context(std::string ctx) &&;
    Error& add_context(std::string ctx) &;
    Error&& with_code(Errc code) && {
        code_ = code;
        return std::move(*this);
    }

    // "start 101: mount '/proc': Device or resource busy"
    std::string message() const;

private:
    Errc code_ = Errc::system;
    std::string op_;
    std::string path_;
    int err_ = 0;
    std::string detail_;
    std::vector<std::string> context_;  // outermost first
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }

    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const& { return err_; }
    Error&& error() && { return std::move(err_); }

private:
    Error err_;
    bool failed_ = false;
};

inline Result<void> ok() { return {}; }

}  // namespace vps
