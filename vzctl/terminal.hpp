// `vzctl enter`: relay between the user's terminal and a pty master that
// lives inside the VPS.
#pragma once

#include "vps/fd.hpp"

namespace vzctl {

// Put the local terminal (if stdin is one) into raw mode, copy the window
// size across (and again on every SIGWINCH), and shuttle bytes until the
// shell inside exits. Returns when the pty closes. When stdin is not a
// terminal, its end is passed on as end-of-file (Ctrl-D) so that
// `echo cmd | vzctl enter 101` works.
void relay(vps::FdRef master, vps::FdRef daemon);

}  // namespace vzctl
