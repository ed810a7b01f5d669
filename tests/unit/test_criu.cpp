// CRIU command lines and log reading (vps::criu): what vzd asks CRIU to do
// decides whether a checkpoint can be restored at all, so the options that
// matter are pinned down here.
#include <doctest/doctest.h>

#include <algorithm>

#include "vps/criu.hpp"

using namespace vps::criu;

namespace {

bool has(const std::vector<std::string>& argv, const std::string& a) {
    return std::find(argv.begin(), argv.end(), a) != argv.end();
}

// The value right after an option, "" when the option is absent.
std::string after(const std::vector<std::string>& argv, const std::string& opt) {
    auto it = std::find(argv.begin(), argv.end(), opt);
    return it == argv.end() || it + 1 == argv.end() ? std::string() : *(it + 1);
}

}  // namespace

TEST_CASE("tty keys are CRIU's: rdev and dev in hex") {
    CHECK(tty_key(0x8800, 0x1d) == "tty[8800:1d]");
    CHECK(tty_key(0, 0) == "tty[0:0]");
}

TEST_CASE("dump: the whole tree with its network namespace, the console left outside") {
    const auto argv = dump_argv({1234, "/var/lib/vz/dump/101", "tty[8800:1d]", false, ""});
    CHECK(argv[0] == "criu");
    CHECK(argv[1] == "dump");
    CHECK(after(argv, "--tree") == "1234");
    CHECK(after(argv, "--images-dir") == "/var/lib/vz/dump/101");
    CHECK(std::none_of(argv.begin(), argv.end(), [](const std::string& a) { return a.rfind("net[", 0) == 0; }));
    CHECK(has(argv, "tty[8800:1d]"));
    for (const char* opt : {"--tcp-established", "--file-locks", "--ext-unix-sk", "--manage-cgroups=soft"})
        CHECK(has(argv, opt));
    CHECK(after(argv, "--ext-mount-map") == "auto");
    // No --leave-running: a checkpoint stops the VPS.
    CHECK_FALSE(has(argv, "--leave-running"));
}

TEST_CASE("pre-dump: memory only, tracked, the VPS runs on") {
    DumpSpec spec{1234, "/m/1", "tty[8800:1d]", false, ""};
    spec.pre_dump = true;
    const auto argv = dump_argv(spec);
    CHECK(argv[1] == "pre-dump");
    CHECK(after(argv, "--log-file") == "pre-dump.log");
    CHECK(has(argv, "--track-mem"));
    CHECK_FALSE(has(argv, "--prev-images-dir"));
    spec.dir = "/m/2";
    spec.parent = "../1";
    const auto second = dump_argv(spec);
    CHECK(after(second, "--prev-images-dir") == "../1");
}

TEST_CASE("a dump after pre-dumps writes only what changed since the last") {
    DumpSpec spec{1234, "/m/final", "tty[8800:1d]", false, ""};
    spec.parent = "../2";
    const auto argv = dump_argv(spec);
    CHECK(argv[1] == "dump");
    CHECK(after(argv, "--log-file") == "dump.log");
    CHECK(has(argv, "--track-mem"));
    CHECK(after(argv, "--prev-images-dir") == "../2");
    // Without pre-dumps memory is not tracked at all.
    CHECK_FALSE(has(dump_argv({1234, "/d", "", false, ""}), "--track-mem"));
}

TEST_CASE("dump without a console has no tty external") {
    const auto argv = dump_argv({1, "/d", "", false, ""});
    CHECK(std::none_of(argv.begin(), argv.end(), [](const std::string& a) { return a.rfind("tty[", 0) == 0; }));
}

TEST_CASE("restore: new root, cgroup and console handed in, veth host ends named") {
    RestoreSpec spec{"/d", "/var/lib/vz/root/101", "/vz/101", "tty[8800:1d]", 7, "/d/restored.pid",
                     {{"venet0", "venet101"}, {"eth0", "veth101.0"}}};
    const auto argv = restore_argv(spec);
    CHECK(argv[1] == "restore");
    CHECK(after(argv, "--root") == "/var/lib/vz/root/101");
    CHECK(after(argv, "--cgroup-root") == "/vz/101");
    CHECK(after(argv, "--pidfile") == "/d/restored.pid");
    CHECK(has(argv, "--restore-detached"));
    CHECK(has(argv, "veth[venet0]:venet101"));
    CHECK(has(argv, "veth[eth0]:veth101.0"));
    CHECK(has(argv, "fd[7]:tty[8800:1d]"));
    CHECK(has(argv, "--tcp-established"));
}

TEST_CASE("the errors of a CRIU log, the last few") {
    const std::string log =
        "(00.1) Seizing 638\n"
        "(07.78) Error (criu/files-reg.c:1710): Can't lookup mount=42 for fd=1 path=/dev/pts/0\n"
        "(07.79) Warn  something\n"
        "(07.80) Error (criu/cr-dump.c:1635): Dump files (pid: 638) failed with -1\n"
        "(08.14) Error (criu/cr-dump.c:2053): Dumping FAILED.\n";
    CHECK(log_errors(log, 2) ==
          "Error (criu/cr-dump.c:1635): Dump files (pid: 638) failed with -1; "
          "Error (criu/cr-dump.c:2053): Dumping FAILED.");
    CHECK(log_errors(log).find("Can't lookup mount=42") != std::string::npos);
    CHECK(log_errors("(00.1) all fine\n").empty());
}
