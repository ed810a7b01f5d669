// vzctl template build NAME [--variant V] [--force] and vzctl template list.
#include <cstdio>
#include <iostream>

#include "commands.hpp"

namespace vzctl {
namespace {

using vps::proto::Json;
using vps::proto::Op;
using vps::proto::Request;

std::string human_size(uint64_t bytes) {
    char buf[32];
    if (bytes >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(bytes) / (1u << 20));
    else std::snprintf(buf, sizeof buf, "%.1fK", static_cast<double>(bytes) / 1024);
    return buf;
}

std::string text(const Json& row, const char* key) {
    auto it = row.find(key);
    return it != row.end() && it->is_string() ? it->get<std::string>() : "-";
}

int template_build(const Options& o) {
    Json args{{"name", o.target}, {"force", o.force}};
    if (!o.variant.empty()) args["variant"] = o.variant;
    // vzd writes mmdebstrap's progress to our stderr.
    auto r = call(o, Request{Op::template_build, {}, args}, {2});
    if (!r) return fail(r.error());
    if (o.quiet) return 0;
    if (!r->value("built", false)) {
        std::printf("Template %s is cached already (--force rebuilds it): %s\n", r->value("name", o.target).c_str(),
                    r->value("path", std::string()).c_str());
        return 0;
    }
    std::printf("Template %s built in %.0f s: %s (%s, %zu packages)\n", r->value("name", o.target).c_str(),
                r->value("seconds", 0.0), r->value("path", std::string()).c_str(),
                human_size(r->value("size", uint64_t{0})).c_str(), r->value("packages", size_t{0}));
    return 0;
}

int template_list(const Options& o) {
    auto r = call(o, Request{Op::template_list, {}, Json::object()});
    if (!r) return fail(r.error());
    const Json rows = r->value("templates", Json::array());
    if (o.json) {
        std::cout << vps::proto::to_text(rows, 2) << "\n";
        return 0;
    }
    if (!o.no_header)
        std::printf("%-24s %-8s %-8s %-9s %-6s %8s %-20s\n", "NAME", "DIST", "VERSION", "VARIANT", "ARCH", "SIZE",
                    "BUILT");
    for (const auto& row : rows)
        std::printf("%-24s %-8s %-8s %-9s %-6s %8s %-20s\n", text(row, "name").c_str(),
                    text(row, "distribution").c_str(), text(row, "version").c_str(), text(row, "variant").c_str(),
                    text(row, "arch").c_str(), human_size(row.value("size", uint64_t{0})).c_str(),
                    text(row, "build_date").c_str());
    return 0;
}

}  // namespace

int cmd_template(const Options& o) {
    if (o.subcommand == "build") return template_build(o);
    if (o.subcommand == "list") return template_list(o);
    std::fprintf(stderr, "vzctl: template: unknown subcommand '%s' (build or list)\n", o.subcommand.c_str());
    return 20;
}

}  // namespace vzctl
