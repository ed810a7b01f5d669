// `vzctl list`, with vzlist's columns and layout.
#include <cstdio>
#include <iostream>
#include <optional>

#include "client.hpp"
#include "commands.hpp"
#include "vps/params.hpp"
#include "vps/sys.hpp"

namespace vzctl {

using vps::proto::Json;

namespace {

struct Column {
    std::string name;
    std::string header;
    int width;  // negative: left-aligned
};

const Column kColumns[] = {
    {"ctid", "CTID", 10},          {"numproc", "NPROC", 10},   {"status", "STATUS", -9},
    {"ip", "IP_ADDR", -15},        {"hostname", "HOSTNAME", -20}, {"name", "NAME", -16},
    {"ostemplate", "OSTEMPLATE", -16},
};

// vzlist's parameter columns: "physpages" (held while running, else the
// configured value), "physpages.b" and "physpages.l" (barrier and limit).
struct ParamColumn {
    std::string param;
    char part = 0;  // 0, 'b' or 'l'
};

std::optional<ParamColumn> parse_param_column(const std::string& name) {
    ParamColumn c{name, 0};
    if (name.size() > 2 && (name.ends_with(".b") || name.ends_with(".l"))) {
        c.param = name.substr(0, name.size() - 2);
        c.part = name.back();
    }
    if (!vps::params::is_known(c.param)) return std::nullopt;
    return c;
}

std::optional<Column> param_column(const std::string& name) {
    if (!parse_param_column(name)) return std::nullopt;
    std::string header = name;
    for (auto& ch : header) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return Column{name, header, std::max<int>(12, static_cast<int>(header.size()))};
}

std::optional<Column> find_column(const std::string& name) {
    std::string n = name == "veid" ? "ctid" : name == "nproc" ? "numproc" : name == "ip_addr" ? "ip" : name;
    for (const auto& c : kColumns)
        if (n == c.name) return c;
    return param_column(n);
}

// "0:65536" -> barrier "0", limit "65536"; one value is both.
std::string barrier_or_limit(const std::string& value, bool limit) {
    auto colon = value.find(':');
    if (colon == std::string::npos) return value;
    return limit ? value.substr(colon + 1) : value.substr(0, colon);
}

std::string param_cell(const Json& row, const ParamColumn& c) {
    if (!c.part) {
        const Json held = row.value("held", Json::object());
        if (held.contains(c.param) && held[c.param].is_number())
            return std::to_string(held[c.param].get<uint64_t>());
    }
    const Json params = row.value("params", Json::object());
    if (!params.contains(c.param) || !params[c.param].is_string()) return "-";
    std::string v = params[c.param].get<std::string>();
    return c.part ? barrier_or_limit(v, c.part == 'l') : v;
}

std::string cell(const Json& row, const Column& c) {
    const std::string n = c.name;
    if (n == "ctid") return std::to_string(row.value("ctid", 0u));
    if (n == "numproc") return row.value("status", "") == "running" ? std::to_string(row.value("numproc", 0u)) : "-";
    if (n == "ip") {
        std::string out;
        for (const auto& ip : row.value("ip", Json::array())) out += (out.empty() ? "" : " ") + ip.get<std::string>();
        return out.empty() ? "-" : out;
    }
    if (auto pc = parse_param_column(n)) return param_cell(row, *pc);
    std::string v = row.value(n, std::string());
    return v.empty() ? "-" : v;
}

void print_cell(const std::string& text, int width, bool last) {
    if (last && width < 0)
        std::printf("%s", text.c_str());
    else
        std::printf("%*s", width, text.c_str());
}

}  // namespace

int cmd_list(const Options& o) {
    std::vector<Column> cols;
    const std::string spec = o.columns.empty() ? "ctid,numproc,status,ip,hostname" : o.columns;
    for (const auto& name : vps::sys::split(spec, ',')) {
        auto c = find_column(vps::sys::trim(name));
        if (!c) {
            std::fprintf(stderr, "vzctl: list: unknown column '%s'\n", name.c_str());
            return 20;
        }
        cols.push_back(*c);
    }
    auto r = call(o, vps::proto::Request{vps::proto::Op::list, {}, Json::object()});
    if (!r) return fail(r.error());
    Json rows = Json::array();
    for (const auto& row : r->value("vpses", Json::array()))
        if (o.all || row.value("status", "") == "running") rows.push_back(row);
    if (o.json) {
        std::cout << vps::proto::to_text(rows, 2) << "\n";
        return 0;
    }
    if (!o.no_header) {
        for (size_t i = 0; i < cols.size(); ++i) {
            print_cell(cols[i].header, cols[i].width, i + 1 == cols.size());
            std::printf(i + 1 == cols.size() ? "\n" : " ");
        }
    }
    for (const auto& row : rows) {
        for (size_t i = 0; i < cols.size(); ++i) {
            print_cell(cell(row, cols[i]), cols[i].width, i + 1 == cols.size());
            std::printf(i + 1 == cols.size() ? "\n" : " ");
        }
    }
    return 0;
}

namespace {

std::string ubc_cell(const Json& v) {
    if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
    return "-";
}

}  // namespace

// The layout of /proc/user_beancounters, which admins' scripts parse.
int cmd_ubc(const Options& o) {
    auto r = call(o, vps::proto::Request{vps::proto::Op::ubc, o.target, Json::object()});
    if (!r) return fail(r.error());
    if (o.json) {
        std::cout << vps::proto::to_text(*r, 2) << "\n";
        return 0;
    }
    std::printf("%10s  %-12s %20s %20s %20s %20s %10s\n", "uid", "resource", "held", "maxheld",
                "barrier", "limit", "failcnt");
    bool first = true;
    for (const auto& b : r->value("beancounters", Json::array())) {
        std::string id = first ? std::to_string(r->value("ctid", 0u)) + ":" : "";
        first = false;
        std::printf("%10s  %-12s %20s %20s %20s %20s %10s\n", id.c_str(),
                    b.value("resource", std::string()).c_str(), ubc_cell(b["held"]).c_str(),
                    ubc_cell(b["maxheld"]).c_str(), ubc_cell(b["barrier"]).c_str(),
                    ubc_cell(b["limit"]).c_str(), ubc_cell(b["failcnt"]).c_str());
    }
    return 0;
}

}  // namespace vzctl
