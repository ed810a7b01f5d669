// The host's apt sources, retargeted to the release a template is built
// for. The project names no mirror: a template fetches from wherever the
// host already does.
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <optional>

#include "vps/sys.hpp"
#include "vps/templates.hpp"

namespace vps::templates {
namespace {

constexpr size_t kMaxSourcesSize = 1u << 20;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool is_blank(std::string_view line) {
    return std::all_of(line.begin(), line.end(), [](char c) { return is_space(c); });
}

bool is_comment(std::string_view line) {
    size_t i = 0;
    while (i < line.size() && is_space(line[i])) ++i;
    return i < line.size() && line[i] == '#';
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

struct Span {
    size_t pos;
    size_t len;
};

std::vector<Span> tokens(std::string_view s, size_t from = 0) {
    std::vector<Span> out;
    size_t i = from;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) ++i;
        size_t start = i;
        while (i < s.size() && !is_space(s[i])) ++i;
        if (i > start) out.push_back({start, i - start});
    }
    return out;
}

std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    for (const auto& t : tokens(s)) out.emplace_back(s.substr(t.pos, t.len));
    return out;
}

// bookworm -> trixie, bookworm-security -> trixie-security. Suites that
// do not start with the host's codename ("nodistro", "stable") are not
// tied to the host's release and stay.
std::optional<std::string> retarget(std::string_view suite, std::string_view from,
                                    std::string_view to) {
    if (suite == from) return std::string(to);
    if (suite.size() > from.size() && suite.substr(0, from.size()) == from &&
        suite[from.size()] == '-')
        return std::string(to) + std::string(suite.substr(from.size()));
    return std::nullopt;
}

// s with the whitespace-separated words from `from` on retargeted, the
// spacing between them kept.
std::string retarget_words(std::string_view s, size_t from, std::string_view host,
                           std::string_view target) {
    std::string out;
    size_t done = 0;
    for (const auto& t : tokens(s, from)) {
        auto to = retarget(s.substr(t.pos, t.len), host, target);
        if (!to) continue;
        out += s.substr(done, t.pos - done);
        out += *to;
        done = t.pos + t.len;
    }
    out += s.substr(done);
    return out;
}

// --- one-line style --------------------------------------------------------

// "deb [opts] URI SUITE COMPONENT...", taken apart.
struct OneLine {
    std::string type;        // deb or deb-src
    std::string options;     // between the brackets
    std::vector<Span> rest;  // URI, SUITE, COMPONENT... within the line
};

std::optional<OneLine> parse_one_line(std::string_view line) {
    auto first = tokens(line);
    if (first.empty()) return std::nullopt;
    std::string type(line.substr(first[0].pos, first[0].len));
    if (type != "deb" && type != "deb-src") return std::nullopt;
    OneLine e{type, {}, {}};
    size_t after = first[0].pos + first[0].len;
    while (after < line.size() && is_space(line[after])) ++after;
    if (after < line.size() && line[after] == '[') {
        size_t close = line.find(']', after);
        if (close == std::string_view::npos) return std::nullopt;
        e.options = line.substr(after + 1, close - after - 1);
        after = close + 1;
    }
    e.rest = tokens(line, after);
    if (e.rest.size() < 2) return std::nullopt;  // apt itself rejects it
    return e;
}

bool starts_one_line_entry(std::string_view line) {
    auto t = tokens(line);
    if (t.empty()) return false;
    auto w = line.substr(t[0].pos, t[0].len);
    return w == "deb" || w == "deb-src";
}

// One-line options mapped to their deb822 field names (sources.list(5));
// list-valued ones separate with commas there and spaces here.
struct OptionName {
    std::string_view option;
    std::string_view field;
    bool list;
};

constexpr std::array<OptionName, 15> kOptions{{
    {"arch", "Architectures", true},
    {"lang", "Languages", true},
    {"target", "Targets", true},
    {"pdiffs", "PDiffs", false},
    {"by-hash", "By-Hash", false},
    {"allow-insecure", "Allow-Insecure", false},
    {"allow-weak", "Allow-Weak", false},
    {"allow-downgrade-to-insecure", "Allow-Downgrade-To-Insecure", false},
    {"trusted", "Trusted", false},
    {"signed-by", "Signed-By", false},
    {"check-valid-until", "Check-Valid-Until", false},
    {"valid-until-min", "Valid-Until-Min", false},
    {"valid-until-max", "Valid-Until-Max", false},
    {"check-date", "Check-Date", false},
    {"inrelease-path", "InRelease-Path", false},
}};

// An option apt may know and this table does not: Its-Words-Capitalised,
// which apt matches regardless of case.
std::string field_name_guess(std::string_view option) {
    std::string out(option);
    bool word_start = true;
    for (char& c : out) {
        if (word_start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        word_start = c == '-';
    }
    return out;
}

// "arch+=i386" -> "Architectures-Add: i386".
std::string option_field(std::string_view option) {
    size_t eq = option.find('=');
    if (eq == std::string_view::npos || eq == 0) return {};
    std::string_view value = option.substr(eq + 1);
    std::string_view key = option.substr(0, eq);
    std::string suffix;
    if (key.back() == '+' || key.back() == '-') {
        suffix = key.back() == '+' ? "-Add" : "-Remove";
        key.remove_suffix(1);
    }
    std::string k = lower(key);
    auto known = std::find_if(kOptions.begin(), kOptions.end(),
                              [&](const OptionName& o) { return o.option == k; });
    std::string field = known != kOptions.end() ? std::string(known->field) : field_name_guess(k);
    std::string v(value);
    if (known != kOptions.end() && known->list) std::replace(v.begin(), v.end(), ',', ' ');
    return field + suffix + ": " + v + "\n";
}

std::string stanza_of(std::string_view line, const OneLine& e) {
    auto word = [&](size_t i) { return std::string(line.substr(e.rest[i].pos, e.rest[i].len)); };
    std::string out = "Types: " + e.type + "\n";
    out += "URIs: " + word(0) + "\n";
    out += "Suites: " + word(1) + "\n";
    if (e.rest.size() > 2) {
        out += "Components:";
        for (size_t i = 2; i < e.rest.size(); ++i) out += " " + word(i);
        out += "\n";
    }
    for (const auto& opt : words(e.options)) out += option_field(opt);
    return out;
}

// --- deb822 ----------------------------------------------------------------

// A text cut into runs of blank lines and runs of the lines between them
// (a deb822 stanza, or a group of one-line entries).
struct Block {
    std::vector<std::string> lines;
    bool blank = false;
};

std::vector<Block> blocks(std::string_view text) {
    std::vector<Block> out;
    auto lines = sys::split(text, '\n');
    if (!lines.empty() && lines.back().empty()) lines.pop_back();  // the final newline
    for (auto& line : lines) {
        bool blank = is_blank(line);
        if (out.empty() || out.back().blank != blank) out.push_back({{}, blank});
        out.back().lines.push_back(std::move(line));
    }
    return out;
}

// The deb822 field a line starts ("Suites" of "Suites: a b"), lower-cased;
// "" for comments and continuation lines.
std::string field_of(std::string_view line) {
    if (line.empty() || is_space(line[0]) || line[0] == '#') return {};
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return {};
    return lower(sys::trim(line.substr(0, colon)));
}

// The words of one field across its continuation lines.
std::vector<std::string> field_words(const std::vector<std::string>& lines, std::string_view name) {
    std::vector<std::string> out;
    bool in = false;
    for (const auto& line : lines) {
        if (is_comment(line)) continue;
        std::string f = field_of(line);
        if (!f.empty()) in = f == name;
        if (!in) continue;
        size_t from = f.empty() ? 0 : line.find(':') + 1;
        for (auto& w : words(std::string_view(line).substr(from))) out.push_back(std::move(w));
    }
    return out;
}

bool disabled(const std::vector<std::string>& lines) {
    auto v = field_words(lines, "enabled");
    if (v.empty()) return false;
    std::string s = lower(v.front());
    return s == "no" || s == "false" || s == "off" || s == "without" || s == "disable" || s == "0";
}

// A deb822 stanza for the target release, or nothing when it is to go.
std::optional<std::vector<std::string>> rewrite_stanza(const std::vector<std::string>& lines,
                                                       std::string_view host,
                                                       std::string_view target) {
    auto types = field_words(lines, "types");
    bool has_deb = std::find(types.begin(), types.end(), "deb") != types.end();
    if (disabled(lines) || (!types.empty() && !has_deb)) return std::nullopt;
    bool drop_src = std::find(types.begin(), types.end(), "deb-src") != types.end();
    std::vector<std::string> out;
    std::string current;
    for (const auto& line : lines) {
        if (is_comment(line)) {
            out.push_back(line);
            continue;
        }
        std::string f = field_of(line);
        bool continuation = f.empty();
        if (!continuation) current = f;
        if (current == "types" && drop_src) {
            // "Types: deb deb-src" loses deb-src; the rest go on one line.
            if (continuation) continue;
            std::string kept;
            for (const auto& t : types)
                if (t != "deb-src") kept += " " + t;
            out.push_back(line.substr(0, line.find(':')) + ":" + kept);
        } else if (current == "suites") {
            out.push_back(
                retarget_words(line, continuation ? 0 : line.find(':') + 1, host, target));
        } else {
            out.push_back(line);
        }
    }
    return out;
}

std::optional<std::vector<std::string>> rewrite_one_lines(const std::vector<std::string>& lines,
                                                          std::string_view host,
                                                          std::string_view target) {
    std::vector<std::string> out;
    bool entry = false;
    for (const auto& line : lines) {
        auto e = parse_one_line(line);
        if (e && e->type == "deb-src") continue;
        if (e) {
            entry = true;
            const Span& suite = e->rest[1];
            auto to = retarget(std::string_view(line).substr(suite.pos, suite.len), host, target);
            out.push_back(to ? line.substr(0, suite.pos) + *to + line.substr(suite.pos + suite.len)
                             : line);
        } else {
            out.push_back(line);
        }
    }
    // Nothing but comments left of a group that had entries: it goes whole.
    bool had_entries = std::any_of(lines.begin(), lines.end(),
                                   [](const std::string& l) { return starts_one_line_entry(l); });
    if (had_entries && !entry) return std::nullopt;
    return out;
}

bool one_line_block(const std::vector<std::string>& lines) {
    for (const auto& line : lines)
        if (!is_comment(line)) return starts_one_line_entry(line);
    return false;
}

// Rewritten blocks; a dropped stanza takes the blank run before it (or,
// first in the text, after it) along, so no gap is left where it was.
std::vector<Block> rewrite_blocks(std::string_view text, std::string_view host,
                                  std::string_view target) {
    std::vector<Block> out;
    bool skip_blank = false;
    for (auto& b : blocks(text)) {
        if (b.blank) {
            if (!skip_blank) out.push_back(std::move(b));
            skip_blank = false;
            continue;
        }
        auto kept = one_line_block(b.lines) ? rewrite_one_lines(b.lines, host, target)
                                            : rewrite_stanza(b.lines, host, target);
        if (kept) {
            out.push_back({std::move(*kept), false});
        } else if (!out.empty() && out.back().blank) {
            out.pop_back();
        } else {
            skip_blank = out.empty();
        }
    }
    return out;
}

// Does a (deb822, rewritten) text hold a binary source for `suite`?
bool has_suite(std::string_view deb822, std::string_view suite) {
    for (const auto& b : blocks(deb822)) {
        if (b.blank) continue;
        auto suites = field_words(b.lines, "suites");
        if (!field_words(b.lines, "uris").empty() &&
            std::find(suites.begin(), suites.end(), suite) != suites.end())
            return true;
    }
    return false;
}

bool has_stanza(std::string_view deb822) {
    for (const auto& b : blocks(deb822))
        if (!b.blank && !field_words(b.lines, "types").empty()) return true;
    return false;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Result<std::string> host_codename(const std::string& os_release) {
    auto text = sys::read_file(os_release, kMaxSourcesSize);
    if (!text) return std::move(text).error().with_context("host release");
    for (const auto& line : sys::split(*text, '\n')) {
        std::string l = sys::trim(line);
        if (l.rfind("VERSION_CODENAME=", 0) != 0) continue;
        std::string v = l.substr(17);
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
            v = v.substr(1, v.size() - 2);
        if (!v.empty()) return v;
    }
    return Error::make(Errc::bad_config, os_release +
                                             ": no VERSION_CODENAME, so the release the host's apt "
                                             "sources are for is unknown");
}

// sources.list, then sources.list.d/*.list and *.sources in name order:
// the order apt reads them in.
Result<std::vector<std::string>> source_files(const std::string& apt_dir) {
    std::vector<std::string> out;
    if (sys::exists(apt_dir + "/sources.list")) out.push_back(apt_dir + "/sources.list");
    std::string d = apt_dir + "/sources.list.d";
    auto names = sys::list_dir(d);
    if (!names) {
        if (names.error().err() == ENOENT) return out;
        return std::move(names).error().with_context("host apt sources");
    }
    std::sort(names->begin(), names->end());
    for (const auto& n : *names)
        if (n[0] != '.' && (ends_with(n, ".list") || ends_with(n, ".sources")))
            out.push_back(d + "/" + n);
    return out;
}

// One file's entries as deb822 for the target, with a comment naming the
// file it came from; "" when none is left.
Result<std::string> retargeted_file(const std::string& path, std::string_view host,
                                    std::string_view target) {
    auto text = sys::read_file(path, kMaxSourcesSize);
    if (!text) return std::move(text).error().with_context("host apt sources");
    std::string deb822 = ends_with(path, ".sources") ? *text : to_deb822(*text);
    std::string body = rewrite_sources(deb822, host, target);
    if (!has_stanza(body)) return std::string();
    size_t start = 0;
    while (start < body.size() && body[start] == '\n') ++start;
    body = body.substr(start);
    if (body.back() != '\n') body += '\n';
    return "# from " + path + "\n" + body;
}

}  // namespace

std::string rewrite_sources(std::string_view text, std::string_view host_codename,
                            std::string_view target_codename) {
    std::string out;
    for (const auto& b : rewrite_blocks(text, host_codename, target_codename))
        for (const auto& line : b.lines) out += line + "\n";
    // A text without a final newline keeps going without one.
    if (!text.empty() && text.back() != '\n' && !out.empty()) out.pop_back();
    return out;
}

std::string to_deb822(std::string_view one_line_text) {
    std::string out;
    for (const auto& line : sys::split(one_line_text, '\n')) {
        auto e = parse_one_line(line);
        if (!e) continue;
        if (!out.empty()) out += "\n";
        out += stanza_of(line, *e);
    }
    return out;
}

Result<std::string> host_sources(std::string_view target_codename, const std::string& root) {
    auto host = host_codename(root + "/etc/os-release");
    if (!host) return std::move(host).error();
    auto files = source_files(root + "/etc/apt");
    if (!files) return std::move(files).error();
    std::string out;
    for (const auto& f : *files) {
        auto part = retargeted_file(f, *host, target_codename);
        if (!part) return std::move(part).error();
        if (part->empty()) continue;
        if (!out.empty()) out += "\n";
        out += *part;
    }
    if (has_suite(out, target_codename)) return out;
    std::string looked = files->empty() ? root + "/etc/apt/sources.list{,.d/}" : "";
    for (const auto& f : *files) looked += (looked.empty() ? "" : ", ") + f;
    return Error::make(Errc::bad_config,
                       "no apt source for " + std::string(target_codename) + " in " + looked +
                           ": none names the host's release " + *host +
                           " (or its -updates, -security suites) as a suite to retarget");
}

}  // namespace vps::templates
