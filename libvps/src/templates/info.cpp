// The template cache: tarballs and the <name>.yaml metadata beside them.
// yaml-cpp's exceptions stop here and become Errc::bad_config errors
// naming the file and line.
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <set>

#include "vps/sys.hpp"
#include "vps/templates.hpp"

namespace vps::templates {
namespace {

constexpr size_t kMaxInfoSize = 4u << 20;  // a package list of a few thousand lines

Error info_error(std::string_view origin, const YAML::Mark& mark, const std::string& what) {
    std::string where(origin);
    if (!mark.is_null() && mark.line >= 0) where += ": line " + std::to_string(mark.line + 1);
    return Error::make(Errc::bad_config, where + ": " + what);
}

std::string* text_field(Info& info, const std::string& key) {
    if (key == "name") return &info.name;
    if (key == "distribution") return &info.distribution;
    if (key == "version") return &info.version;
    if (key == "codename") return &info.codename;
    if (key == "variant") return &info.variant;
    if (key == "arch") return &info.arch;
    if (key == "build_date") return &info.build_date;
    if (key == "init") return &info.init;
    return nullptr;
}

Result<std::vector<std::string>> package_list(const YAML::Node& value, const YAML::Mark& mark,
                                              std::string_view origin) {
    std::vector<std::string> out;
    if (value.IsNull()) return out;
    if (!value.IsSequence())
        return info_error(origin, mark, "packages must be a list of \"name version\" entries");
    for (const auto& item : value) {
        if (!item.IsScalar())
            return info_error(origin, item.Mark(), "packages entries must be single values");
        out.push_back(item.Scalar());
    }
    return out;
}

Result<void> set_field(Info& info, const std::string& key, const YAML::Node& value,
                       const YAML::Mark& mark, std::string_view origin) {
    if (key == "packages") {
        auto list = package_list(value, mark, origin);
        if (!list) return std::move(list).error();
        info.packages = std::move(*list);
        return ok();
    }
    std::string* field = text_field(info, key);
    // Each template's builder may record more (busybox: banner, applets);
    // what is not listed here is kept in the file and ignored.
    if (!field) return ok();
    if (value.IsNull()) return ok();
    if (!value.IsScalar()) return info_error(origin, mark, "'" + key + "' must be a single value");
    *field = value.Scalar();
    return ok();
}

Result<Info> parse_mapping(const YAML::Node& doc, std::string_view origin) {
    Info info;
    std::set<std::string> seen;
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        if (!it->first.IsScalar())
            return info_error(origin, it->first.Mark(), "a key must be a plain name");
        std::string key = it->first.Scalar();
        // yaml-cpp keeps duplicates, and the last would silently win.
        if (!seen.insert(key).second)
            return info_error(origin, it->first.Mark(), "duplicate key '" + key + "'");
        if (auto r = set_field(info, key, it->second, it->first.Mark(), origin); !r)
            return std::move(r).error();
    }
    return info;
}

void emit_text(YAML::Emitter& out, const char* key, const std::string& value) {
    if (value.empty()) return;  // absent reads back as ""
    // Quoted: "12" stays a string and a date stays text for YAML 1.1 readers.
    out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
}

// "debian-12" of "debian-12.tar.zst"; "" for anything that is not a
// finished template tarball.
std::string template_name(const std::string& file) {
    if (file.empty() || file[0] == '.') return {};  // a build in progress, or not ours
    for (std::string_view ext : {".tar.gz", ".tar.xz", ".tar.zst", ".tar"}) {
        if (file.size() > ext.size() &&
            file.compare(file.size() - ext.size(), ext.size(), ext) == 0)
            return file.substr(0, file.size() - ext.size());
    }
    return {};
}

// The metadata beside a tarball; a template without any is fine.
Result<void> load_metadata(Info& info, const std::string& yaml_path) {
    auto text = sys::read_file(yaml_path, kMaxInfoSize);
    if (!text) {
        if (text.error().err() == ENOENT) return ok();
        return std::move(text).error().with_context("template " + info.name);
    }
    auto meta = parse_info(*text, yaml_path);
    if (!meta) return std::move(meta).error();
    // The file name is what vzctl create looks the template up by.
    meta->name = info.name;
    meta->path = info.path;
    meta->size = info.size;
    info = std::move(*meta);
    return ok();
}

}  // namespace

std::string utc_timestamp(std::time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf, n);
}

std::string dump_info(const Info& info) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    emit_text(out, "name", info.name);
    emit_text(out, "distribution", info.distribution);
    emit_text(out, "version", info.version);
    emit_text(out, "codename", info.codename);
    emit_text(out, "variant", info.variant);
    emit_text(out, "arch", info.arch);
    emit_text(out, "build_date", info.build_date);
    emit_text(out, "init", info.init);
    if (!info.packages.empty()) {
        out << YAML::Key << "packages" << YAML::Value << YAML::BeginSeq;
        // Versions with an epoch ("1:2.38") stay strings.
        for (const auto& p : info.packages) out << YAML::DoubleQuoted << p;
        out << YAML::EndSeq;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

Result<Info> parse_info(std::string_view yaml, std::string_view origin) {
    try {
        std::vector<YAML::Node> docs = YAML::LoadAll(std::string(yaml));
        if (docs.size() > 1)
            return info_error(origin, docs[1].Mark(), "more than one YAML document");
        if (docs.empty() || docs[0].IsNull())
            return Error::make(Errc::bad_config,
                               std::string(origin) + ": empty file (expected template metadata)");
        if (!docs[0].IsMap())
            return info_error(origin, docs[0].Mark(), "expected a mapping of key: value");
        return parse_mapping(docs[0], origin);
    } catch (const YAML::Exception& e) {
        return info_error(origin, e.mark, e.msg);
    }
}

Result<std::vector<Info>> list(const std::string& cache_dir) {
    std::vector<Info> out;
    auto files = sys::list_dir(cache_dir);
    if (!files) {
        if (files.error().err() == ENOENT) return out;
        return std::move(files).error().with_context("list templates");
    }
    for (const auto& f : *files) {
        std::string name = template_name(f);
        if (name.empty()) continue;
        Info info;
        info.name = name;
        info.path = cache_dir + "/" + f;
        struct stat st {};
        if (::stat(info.path.c_str(), &st) != 0) {
            if (errno == ENOENT) continue;  // removed (or a dangling link) since the listing
            return Error::sys("stat", info.path).with_context("list templates");
        }
        if (!S_ISREG(st.st_mode)) continue;
        info.size = static_cast<uint64_t>(st.st_size);
        if (auto r = load_metadata(info, cache_dir + "/" + name + ".yaml"); !r)
            return std::move(r).error();
        out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), [](const Info& a, const Info& b) {
        return a.name != b.name ? a.name < b.name : a.path < b.path;
    });
    return out;
}

}  // namespace vps::templates
