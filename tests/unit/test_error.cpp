// Errors as users see them: the one-line message and vzctl's exit code.
#include <doctest/doctest.h>

#include "vps/error.hpp"

using namespace vps;

TEST_CASE("a failed syscall reads: context, call, path, reason") {
    Error e = Error::sys("mount", "/proc", EBUSY).with_context("start 101");
    CHECK(e.message() == "start 101: mount '/proc': Device or resource busy");
    CHECK(e.code() == Errc::system);
    CHECK(e.err() == EBUSY);

    // Context added later goes in front: the outermost caller speaks first.
    e.add_context("vzctl");
    CHECK(e.message() == "vzctl: start 101: mount '/proc': Device or resource busy");
    CHECK(e.context() == std::vector<std::string>{"vzctl", "start 101"});

    CHECK(Error::sys("pipe2", {}, EMFILE).message() == "pipe2: Too many open files");
}

TEST_CASE("a failure that is not a syscall's reads as its sentence") {
    Error e = Error::make(Errc::no_such_vps, "VPS 101 does not exist").with_context("start 101");
    CHECK(e.message() == "start 101: VPS 101 does not exist");
    CHECK(e.code() == Errc::no_such_vps);
    Error busy = Error::sys("flock", "/run/vzd/101.lock", EWOULDBLOCK).with_code(Errc::busy);
    CHECK(busy.code() == Errc::busy);
    CHECK(busy.message().find("flock '/run/vzd/101.lock': ") == 0);
}

TEST_CASE("exit codes are OpenVZ vzctl's") {
    CHECK(exit_code(Errc::busy) == 9);
    CHECK(exit_code(Errc::permission) == 12);
    CHECK(exit_code(Errc::bad_argument) == 20);
    CHECK(exit_code(Errc::bad_value) == 21);
    CHECK(exit_code(Errc::not_running) == 31);
    CHECK(exit_code(Errc::running) == 32);
    CHECK(exit_code(Errc::no_such_vps) == 43);
    CHECK(exit_code(Errc::vps_exists) == 44);
    CHECK(exit_code(Errc::no_template) == 91);
    CHECK(exit_code(Errc::system) == 3);
    CHECK(exit_code(Errc::no_daemon) == 3);
    // vzmigrate's
    CHECK(exit_code(Errc::cant_connect) == 4);
    CHECK(exit_code(Errc::copy_failed) == 6);
}

TEST_CASE("a remote vzctl's exit code tells its kind of failure") {
    CHECK(errc_from_exit(44) == Errc::vps_exists);
    CHECK(errc_from_exit(17) == Errc::restore_failed);
    CHECK(errc_from_exit(43) == Errc::no_such_vps);
    // 21 is both bad_value and bad_config: the first one stands for both.
    CHECK(exit_code(errc_from_exit(21)) == 21);
    CHECK(errc_from_exit(99) == Errc::system);
}

TEST_CASE("error kinds travel by name") {
    for (Errc c : {Errc::system, Errc::busy, Errc::permission, Errc::bad_argument, Errc::bad_value,
                   Errc::not_running, Errc::running, Errc::no_such_vps, Errc::vps_exists,
                   Errc::no_template, Errc::bad_config, Errc::protocol, Errc::no_daemon, Errc::chkpnt_failed,
                   Errc::restore_failed, Errc::cant_connect, Errc::copy_failed}) {
        CAPTURE(errc_name(c));
        CHECK(errc_from_name(errc_name(c)) == c);
    }
    CHECK(errc_name(Errc::no_such_vps) == "no_such_vps");
    // A kind from a newer peer degrades to a generic failure.
    CHECK(errc_from_name("quantum_flux") == Errc::system);
}

TEST_CASE("Result holds a value or an error") {
    Result<int> good = 7;
    REQUIRE(good);
    CHECK(*good == 7);
    Result<int> bad = Error::make(Errc::bad_value, "nope");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail() == "nope");
    Result<void> done = ok();
    CHECK(done.ok());
    Result<void> failed = Error::make(Errc::busy, "locked");
    CHECK_FALSE(failed);
    CHECK(failed.error().code() == Errc::busy);
}
