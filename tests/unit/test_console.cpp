// The console as people meet it: the Esc . that detaches `vzctl console`,
// and the last lines of a console log shown when a start fails.
#include <doctest/doctest.h>

#include <string>

#include "temp_dir.hpp"
#include "vps/console.hpp"
#include "vps/sys.hpp"

using namespace vps;
using console::DetachScanner;

namespace {

// Feed the pieces one after another, as separate reads; what was passed
// in all, and whether the last one detached.
DetachScanner::Out feed_all(DetachScanner& s, std::initializer_list<std::string_view> reads) {
    DetachScanner::Out all;
    for (auto r : reads) {
        auto out = s.feed(r);
        all.pass += out.pass;
        all.detach = out.detach;
    }
    return all;
}

}  // namespace

TEST_CASE("Esc . detaches, in one read or across two") {
    DetachScanner s;
    auto out = s.feed("ls\r\x1b.");
    CHECK(out.pass == "ls\r");
    CHECK(out.detach);

    DetachScanner split;
    out = feed_all(split, {"echo hi\r\x1b", "."});
    CHECK(out.pass == "echo hi\r");
    CHECK(out.detach);

    // Nothing typed after the sequence in the same read reaches the console.
    DetachScanner after;
    out = after.feed("\x1b.rm -rf /\r");
    CHECK(out.pass.empty());
    CHECK(out.detach);
}

TEST_CASE("an Esc not followed by '.' goes on, held back only until the next byte") {
    DetachScanner s;
    auto out = s.feed("\x1b");
    CHECK(out.pass.empty());
    CHECK(s.holding());
    out = s.feed("[A");  // an arrow key split after its Esc
    CHECK(out.pass == "\x1b[A");
    CHECK_FALSE(out.detach);
    CHECK_FALSE(s.holding());

    // Esc Esc . : the first Esc is typed, the second starts the sequence.
    DetachScanner twice;
    out = feed_all(twice, {"\x1b", "\x1b", "."});
    CHECK(out.pass == "\x1b");
    CHECK(out.detach);

    // A dot alone is just a dot.
    DetachScanner dot;
    out = dot.feed("cd ..\r");
    CHECK(out.pass == "cd ..\r");
    CHECK_FALSE(out.detach);
}

TEST_CASE("a held Esc is given back when no key follows it (vi)") {
    DetachScanner s;
    CHECK(s.feed(":wq\x1b").pass == ":wq");
    CHECK(s.flush() == "\x1b");
    CHECK_FALSE(s.holding());
    CHECK(s.flush().empty());
    // After the flush a '.' is a '.'.
    auto out = s.feed(".");
    CHECK(out.pass == ".");
    CHECK_FALSE(out.detach);
}

TEST_CASE("the console tail: last non-blank lines as a terminal showed them") {
    CHECK(console::tail_lines("", 10).empty());
    CHECK(console::tail_lines("one\r\ntwo\r\n", 10) == std::vector<std::string>{"one", "two"});
    // A last line without its newline still counts.
    CHECK(console::tail_lines("one\r\ntwo", 10) == std::vector<std::string>{"one", "two"});

    std::string log;
    for (int i = 0; i < 15; ++i) log += "line " + std::to_string(i) + "\r\n\r\n";
    auto tail = console::tail_lines(log, 10);
    REQUIRE(tail.size() == 10);
    CHECK(tail.front() == "line 5");
    CHECK(tail.back() == "line 14");

    // Colours, cursor moves and window titles go; what a carriage return
    // overwrote goes; tabs stay.
    CHECK(console::tail_lines("\x1b[0;1;31mFAILED\x1b[0m\tto mount\r\n", 10) ==
          std::vector<std::string>{"FAILED\tto mount"});
    CHECK(console::tail_lines("\x1b]0;title\aready\r\n", 10) == std::vector<std::string>{"ready"});
    CHECK(console::tail_lines("10%\r50%\r100% done\r\n", 10) ==
          std::vector<std::string>{"100% done"});
    CHECK(console::tail_lines("bell\a and\x7f del\r\n", 10) ==
          std::vector<std::string>{"bell and del"});
    // An escape sequence cut off at the end of the log does not swallow text.
    CHECK(console::tail_lines("text\x1b[3", 10) == std::vector<std::string>{"text"});
}

TEST_CASE("the console tail of a log file reads only its end") {
    test::TempDir dir;
    const std::string path = dir.path() + "/101.console";
    CHECK(console::read_tail(path, 10)->empty());  // no log: no lines

    std::string log;
    for (int i = 0; i < 5000; ++i) log += "boot message number " + std::to_string(i) + "\r\n";
    REQUIRE(sys::write_file_atomic(path, log, 0600));
    auto tail = console::read_tail(path, 3);
    REQUIRE(tail);
    CHECK(*tail == std::vector<std::string>{"boot message number 4997", "boot message number 4998",
                                            "boot message number 4999"});
    // However few lines the end holds, the first (cut) one is never shown.
    tail = console::read_tail(path, 100000);
    REQUIRE(tail);
    REQUIRE_FALSE(tail->empty());
    CHECK(tail->front().rfind("boot message number ", 0) == 0);
    CHECK(tail->size() < 5000);
}

TEST_CASE("a failed start's error ends with the console lines") {
    Error e = Error::make(Errc::system, "init exited with status 1 right after it started")
                  .with_context("start 101");
    Error with = console::with_tail(e, {"mount: /data failed", "giving up"});
    CHECK(with.message() ==
          "start 101: init exited with status 1 right after it started\n"
          "console:\n"
          "  mount: /data failed\n"
          "  giving up");
    CHECK(with.code() == Errc::system);

    // A syscall's error keeps its parts; its reason is spelled out.
    Error sys_err = Error::sys("exec", "/sbin/init", ENOENT).with_context("start 101");
    Error sys_with = console::with_tail(sys_err, {"last words"});
    CHECK(sys_with.message() ==
          "start 101: exec '/sbin/init': No such file or directory\nconsole:\n  last words");
    CHECK(sys_with.err() == ENOENT);
    CHECK(sys_with.op() == "exec");

    // No lines: the error as it was.
    CHECK(console::with_tail(e, {}).message() == e.message());
}
