// The VPS console as people meet it: the key sequence that detaches
// `vzctl console`, and the last lines of a console log that explain why a
// start failed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "vps/error.hpp"

namespace vps::console {

// Finds the detach sequence of `vzctl console`, Esc then '.' (OpenVZ's),
// in what the user types, also when the two keys arrive in separate reads.
// An Esc is held back until the next byte shows whether it starts the
// sequence; a caller that waited long enough for that byte takes the Esc
// back with flush() and sends it on alone (a lone Esc in vi).
class DetachScanner {
  public:
    struct Out {
        std::string pass;     // bytes for the console, in order
        bool detach = false;  // Esc . seen: nothing typed after it is passed
    };
    Out feed(std::string_view in);
    std::string flush();
    bool holding() const { return held_; }

  private:
    bool held_ = false;
};

// How many lines of the console a failed start shows.
inline constexpr size_t kTailLines = 10;

// The last max_lines non-blank lines of console output as a terminal showed
// them: what a carriage return overwrote is gone, and terminal escape
// sequences and other control characters are dropped.
std::vector<std::string> tail_lines(std::string_view text, size_t max_lines);

// The same from the end of a console log file; only its last bytes are
// read, however large it is. A missing file has no lines.
Result<std::vector<std::string>> read_tail(const std::string& path, size_t max_lines);

// err with the lines after its message, under a line "console:", indented:
//   start 101: init exited with status 1 right after it started
//   console:
//     mount: mounting /data failed
// Without lines, err as it is.
Error with_tail(Error err, const std::vector<std::string>& lines);

}  // namespace vps::console
