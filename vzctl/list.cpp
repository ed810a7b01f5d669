// `vzctl list`, with vzlist's columns and layout.
#include <cstdio>
#include <iostream>

#include "client.hpp"
#include "commands.hpp"
#include "vps/sys.hpp"

namespace vzctl {

using vps::proto::Json;

namespace {

struct Column {
    const char* name;
    const char* header;
    int width;  // negative: left-aligned
};

constexpr Column kColumns[] = {
    {"ctid", "CTID", 10},          {"numproc", "NPROC", 10},   {"status", "STATUS", -9},
    {"ip", "IP_ADDR", -15},        {"hostname", "HOSTNAME", -20}, {"name", "NAME", -16},
    {"ostemplate", "OSTEMPLATE", -16},
};

const Column* find_column(const std::string& name) {
    std::string n = name == "veid" ? "ctid" : name == "nproc" ? "numproc" : name == "ip_addr" ? "ip" : name;
    for (const auto& c : kColumns)
        if (n == c.name) return &c;
    return nullptr;
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
    std::vector<const Column*> cols;
    const std::string spec = o.columns.empty() ? "ctid,numproc,status,ip,hostname" : o.columns;
    for (const auto& name : vps::sys::split(spec, ',')) {
        const Column* c = find_column(vps::sys::trim(name));
        if (!c) {
            std::fprintf(stderr, "vzctl: list: unknown column '%s'\n", name.c_str());
            return 20;
        }
        cols.push_back(c);
    }
    auto client = Client::connect(o.socket);
    if (!client) {
        std::fprintf(stderr, "vzctl: %s\n", client.error().message().c_str());
        return vps::exit_code(client.error().code());
    }
    auto r = client->call(vps::proto::Request{vps::proto::Op::list, {}, Json::object()});
    if (!r) {
        std::fprintf(stderr, "vzctl: %s\n", r.error().message().c_str());
        return vps::exit_code(r.error().code());
    }
    Json rows = Json::array();
    for (const auto& row : r->value("vpses", Json::array()))
        if (o.all || row.value("status", "") == "running") rows.push_back(row);
    if (o.json) {
        std::cout << vps::proto::to_text(rows, 2) << "\n";
        return 0;
    }
    if (!o.no_header) {
        for (size_t i = 0; i < cols.size(); ++i) {
            print_cell(cols[i]->header, cols[i]->width, i + 1 == cols.size());
            std::printf(i + 1 == cols.size() ? "\n" : " ");
        }
    }
    for (const auto& row : rows) {
        for (size_t i = 0; i < cols.size(); ++i) {
            print_cell(cell(row, *cols[i]), cols[i]->width, i + 1 == cols.size());
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
    auto client = Client::connect(o.socket);
    if (!client) {
        std::fprintf(stderr, "vzctl: %s\n", client.error().message().c_str());
        return vps::exit_code(client.error().code());
    }
    auto r = client->call(vps::proto::Request{vps::proto::Op::ubc, o.target, Json::object()});
    if (!r) {
        std::fprintf(stderr, "vzctl: %s\n", r.error().message().c_str());
        return vps::exit_code(r.error().code());
    }
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
