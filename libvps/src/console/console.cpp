#include "vps/console.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "vps/sys.hpp"

namespace vps::console {
namespace {

constexpr char kEsc = '\x1b';
// Enough for ten lines of a chatty init (systemd colours every status).
constexpr size_t kTailBytes = 16u << 10;

// The index of the last byte of the terminal escape sequence at `at`.
size_t escape_end(std::string_view s, size_t at) {
    if (at + 1 >= s.size()) return at;
    size_t i = at + 2;
    if (s[at + 1] == '[') {  // CSI: parameters, then a final byte @ to ~
        while (i < s.size() && (s[i] < 0x40 || s[i] > 0x7e)) ++i;
    } else if (s[at + 1] == ']') {  // OSC (window titles): up to BEL or ESC backslash
        while (i < s.size() && s[i] != '\a' && s[i] != kEsc) ++i;
        if (i + 1 < s.size() && s[i] == kEsc) ++i;
    } else {
        return at + 1;  // two bytes: ESC c, ESC 7 ...
    }
    return std::min(i, s.size() - 1);
}

// One line as a terminal showed it.
std::string visible(std::string_view line) {
    // What came before a carriage return was overwritten (progress bars);
    // the one of a "\r\n" line end overwrote nothing.
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (auto cr = line.rfind('\r'); cr != std::string_view::npos) line.remove_prefix(cr + 1);
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
        const auto c = static_cast<unsigned char>(line[i]);
        if (c == kEsc)
            i = escape_end(line, i);
        else if ((c >= 0x20 && c != 0x7f) || c == '\t')
            out += line[i];
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    return out;
}

}  // namespace

DetachScanner::Out DetachScanner::feed(std::string_view in) {
    std::string pass;
    for (char c : in) {
        if (held_) {
            held_ = false;
            if (c == '.') return {std::move(pass), true};
            pass += kEsc;
        }
        if (c == kEsc)
            held_ = true;
        else
            pass += c;
    }
    return {std::move(pass), false};
}

std::string DetachScanner::flush() {
    if (!held_) return {};
    held_ = false;
    return std::string(1, kEsc);
}

std::vector<std::string> tail_lines(std::string_view text, size_t max_lines) {
    std::vector<std::string> out;
    size_t end = text.size();
    while (out.size() < max_lines && end > 0) {
        size_t nl = text.rfind('\n', end - 1);
        size_t begin = nl == std::string_view::npos ? 0 : nl + 1;
        if (std::string line = visible(text.substr(begin, end - begin)); !line.empty())
            out.push_back(std::move(line));
        if (nl == std::string_view::npos) break;
        end = nl;
    }
    std::reverse(out.begin(), out.end());
    return out;
}

Result<std::vector<std::string>> read_tail(const std::string& path, size_t max_lines) {
    auto fd = sys::open(path, O_RDONLY | O_NOCTTY);
    if (!fd) {
        if (fd.error().err() == ENOENT) return std::vector<std::string>{};
        return std::move(fd).error();
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) < 0) return Error::sys("stat", path);
    const auto size = static_cast<size_t>(st.st_size);
    const size_t from = size > kTailBytes ? size - kTailBytes : 0;
    std::string buf(size - from, '\0');
    ssize_t n;
    do {
        n = ::pread(fd->get(), buf.data(), buf.size(), static_cast<off_t>(from));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Error::sys("read", path);
    buf.resize(static_cast<size_t>(n));
    // Reading from the middle of the file starts in the middle of a line.
    if (from > 0) buf.erase(0, std::min(buf.size(), buf.find('\n') + 1));
    return tail_lines(buf, max_lines);
}

Error with_tail(Error err, const std::vector<std::string>& lines) {
    if (lines.empty()) return err;
    std::string detail = err.detail();
    if (detail.empty()) detail = err.err() != 0 ? std::strerror(err.err()) : "failed";
    detail += "\nconsole:";
    for (const auto& l : lines) detail += "\n  " + l;
    Error out(err.code(), err.op(), err.path(), err.err(), std::move(detail));
    const auto& ctx = err.context();
    for (auto it = ctx.rbegin(); it != ctx.rend(); ++it) out.add_context(*it);
    return out;
}

}  // namespace vps::console
