// Each running VPS's console is a pseudo-terminal vzd holds: init writes
// to the slave (bound on the VPS's /dev/console), vzd copies what arrives
// on the master into a size-bounded log file. No host file is ever open in
// the VPS: its init sees only /dev/console and its own /dev/null.
#pragma once

#include <string>

#include "vps/error.hpp"
#include "vps/fd.hpp"

namespace vzd {

struct ConsolePty {
    vps::Fd master;
    vps::Fd slave;
    std::string slave_path;  // "/dev/pts/N" of the host's devpts
};

vps::Result<ConsolePty> open_console();

// Copy master -> log until init (behind init_pidfd) has exited and every
// slave is closed. A hang-up of the console inside (getty's vhangup, systemd
// taking the console) is waited out, not taken for the end. When the log
// grows past max_bytes it is started afresh, keeping the newest.
inline constexpr size_t kConsoleLogBytes = 1u << 20;
void drain_console(vps::Fd master, vps::Fd init_pidfd, const std::string& log_path, size_t max_bytes);

}  // namespace vzd
