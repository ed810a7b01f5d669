// `vzctl enter` and `vzctl console`: relay between the user's terminal and
// a pty master that lives inside the VPS (enter), or vzd's copy of the VPS
// console (console).
#pragma once

#include "vps/fd.hpp"

namespace vzctl {

// Put the local terminal (if stdin is one) into raw mode, copy the window
// size across (and again on every SIGWINCH), and shuttle bytes until the
// shell inside exits. Returns when the pty closes. When stdin is not a
// terminal, its end is passed on as end-of-file (Ctrl-D) so that
// `echo cmd | vzctl enter 101` works.
void relay(vps::FdRef master, vps::FdRef daemon);

enum class ConsoleEnd {
    closed,    // vzd closed the console (the VPS stopped, or vzd went away)
    detached,  // the user typed Esc . or stdin ended
};

// The same for a console: what the user types goes to the VPS's console
// except the detach sequence Esc . (OpenVZ's). The console is not ours to
// log out of: at the end of stdin, once the output has settled, we detach.
ConsoleEnd relay_console(vps::FdRef console);

}  // namespace vzctl
