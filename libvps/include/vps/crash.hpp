// Crash points: named places in a multi-step operation where a test can
// make the daemon die, as a SIGKILL or a power cut would, to prove that the
// next daemon finishes or rolls back what was under way.
//
// VZD_CRASH_AT=<point> in vzd's environment makes vzd kill itself with
// SIGKILL the first time it reaches that point (after saying so on stderr,
// which the crash harness checks to know the point was reached). With
// VZD_CRASH_HOW=power as well, it stops the whole machine at once instead
// (sysrq "b": no sync, no shutdown), as a power cut would: for the qemu
// guest's power-cut check only. Unset, a point costs one comparison of a
// pointer.
#pragma once

#include <string_view>
#include <vector>

namespace vps::crash {

struct Point {
    std::string_view name;  // "<operation>.<step>"
    std::string_view what;  // what has happened when the point is reached
};

// Every crash point, in the order of the operations' steps: `vzd
// --crash-points` lists them and the harness injects a crash at each.
const std::vector<Point>& points();

// Read VZD_CRASH_AT once (at start-up, before any thread exists).
void arm_from_environment();

// Die here if this is the armed point. `name` must be one of points().
void at(std::string_view name);

}  // namespace vps::crash
