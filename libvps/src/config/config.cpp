// vz.yaml and <ctid>.yaml: YAML in, config structs out, and back. This is
// the only place that calls yaml-cpp; its exceptions stop here and become
// Errc::bad_config errors naming the file and line.
#include "vps/config.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <optional>
#include <set>
#include <sstream>

#include "vps/params.hpp"
#include "vps/plan.hpp"
#include "vps/sys.hpp"

namespace vps::config {
namespace {

constexpr size_t kMaxConfigSize = 1u << 20;  // a config is a few hundred bytes

// "<origin>: line 3" (yaml-cpp counts lines from 0).
std::string where(std::string_view origin, const YAML::Mark& mark) {
    std::string out(origin);
    if (!mark.is_null() && mark.line >= 0) out += ": line " + std::to_string(mark.line + 1);
    return out;
}

Error config_error(std::string_view origin, const YAML::Mark& mark, const std::string& what) {
    return Error::make(Errc::bad_config, where(origin, mark) + ": " + what);
}

std::string kind(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Sequence:
            return "list";
        case YAML::NodeType::Map:
            return "mapping";
        case YAML::NodeType::Null:
            return "empty value";
        default:
            return "single value";
    }
}

// Where the second document of a YAML text starts, if it has one. Not
// YAML::LoadAll: on some malformed texts (a lone ",") yaml-cpp 0.7 finds
// an endless run of empty documents there, and LoadAll never returns.
struct DocumentMarks : YAML::EventHandler {
    std::vector<YAML::Mark> starts;
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

std::optional<YAML::Mark> second_document(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentMarks marks;
    for (int i = 0; i < 2 && parser.HandleNextDocument(marks); ++i) {
    }
    if (marks.starts.size() < 2) return std::nullopt;
    return marks.starts[1];
}

// The one document of a config file, which must be a mapping. An empty
// file is an empty mapping where every key is optional (allow_empty).
Result<YAML::Node> load_document(std::string_view yaml, std::string_view origin, bool allow_empty) {
    const std::string text(yaml);
    YAML::Node doc;
    std::optional<YAML::Mark> second;
    try {
        doc = YAML::Load(text);
        second = second_document(text);
    } catch (const YAML::Exception& e) {
        return config_error(origin, e.mark, e.msg);
    }
    if (doc.IsNull()) {
        if (allow_empty && !second) return YAML::Node(YAML::NodeType::Map);
        return Error::make(Errc::bad_config,
                           std::string(origin) + ": empty file (expected a mapping of key: value)");
    }
    if (!doc.IsMap())
        return config_error(origin, doc.Mark(), "expected a mapping of key: value, not a " + kind(doc));
    if (second) return config_error(origin, *second, "more than one YAML document");
    return doc;
}

struct Entry {
    std::string key;
    YAML::Node value;
    YAML::Mark mark;
};

// The entries of a mapping; keys must be plain names and unique (yaml-cpp
// itself keeps duplicates, and the last would silently win).
Result<std::vector<Entry>> entries(const YAML::Node& map, std::string_view origin) {
    std::vector<Entry> out;
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
        if (!it->first.IsScalar())
            return config_error(origin, it->first.Mark(), "a key must be a plain name");
        std::string key = it->first.Scalar();
        if (!seen.insert(key).second)
            return config_error(origin, it->first.Mark(), "duplicate key '" + key + "'");
        out.push_back({key, it->second, it->first.Mark()});
    }
    return out;
}

// A value as written: a number or a string. allow_null turns "key:" with
// nothing after it into "".
Result<std::string> scalar(const Entry& e, std::string_view origin, bool allow_null) {
    if (allow_null && e.value.IsNull()) return std::string();
    if (!e.value.IsScalar())
        return config_error(origin, e.mark,
                            "'" + e.key + "' must be a single value, not a " + kind(e.value));
    return e.value.Scalar();
}

Result<int> parse_int(const Entry& e, const std::string& text, std::string_view origin, int lo,
                      int hi) {
    std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    // At most 9 digits, so std::stoi can neither throw nor overflow.
    bool digits = !text.empty() && text.size() <= 9 &&
                  text.find_first_not_of("0123456789") == std::string::npos;
    int v = digits ? std::stoi(text) : -1;
    if (v < lo || v > hi)
        return config_error(origin, e.mark,
                            e.key + ": '" + text + "' is not a whole number in " + range);
    return v;
}

std::string global_keys() {
    return "socket, runtime_dir, cgroup_base, admin_group, cgroup_mode, stop_timeout, stop_mode, lxcfs, bridge, userns, "
           "idmapped_mounts, id_range_start, defaults";
}

// Why a vz.yaml string setting is unusable, or "" when it is fine.
std::string check_global_text(const std::string& key, const std::string& v) {
    if (key == "lxcfs" && !v.empty() && v.front() != '/')
        return key + ": '" + v + "' is not an absolute path (or \"\" to turn lxcfs off)";
    if ((key == "socket" || key == "runtime_dir") && (v.empty() || v.front() != '/'))
        return key + ": '" + v + "' is not an absolute path";
    if (key == "cgroup_base") {
        // Groups live beneath vzd's own cgroup; never above or beside it.
        if (v.empty() || v.front() == '/' || v == ".." || v.find("../") != std::string::npos ||
            v.find("/..") != std::string::npos)
            return key + ": '" + v + "' must be a relative path without '..'";
    }
    if (key == "cgroup_mode" && v != "auto" && v != "v1" && v != "v2")
        return key + ": '" + v + "' is not auto, v1 or v2";
    if (key == "stop_mode" && v != "stop" && v != "suspend")
        return key + ": '" + v + "' is not stop or suspend";
    if (key == "bridge") {
        if (auto r = plan::check_ifname(v, "bridge"); !r) return r.error().detail();
    }
    return {};
}

// Template defaults: parameters, plus the two create-time settings OpenVZ's
// vz.conf also had defaults for.
Result<void> set_defaults(GlobalConfig& cfg, const Entry& e, std::string_view origin) {
    if (e.value.IsNull()) return ok();
    if (!e.value.IsMap())
        return config_error(origin, e.mark, "defaults must be a mapping of parameter: value");
    auto items = entries(e.value, origin);
    if (!items) return std::move(items).error();
    for (const auto& item : *items) {
        if (!params::is_known(item.key) && item.key != "ostemplate" && item.key != "onboot")
            return config_error(origin, item.mark,
                                "defaults: unknown parameter '" + item.key + "'");
        auto text = scalar(item, origin, false);
        if (!text) return std::move(text).error();
        cfg.defaults[item.key] = *text;
    }
    return ok();
}

Result<bool> parse_bool(const Entry& e, std::string_view origin) {
    bool v = false;
    if (!e.value.IsScalar() || !YAML::convert<bool>::decode(e.value, v)) {
        std::string text = e.value.IsScalar() ? e.value.Scalar() : kind(e.value);
        return config_error(origin, e.mark, e.key + ": '" + text + "' is not true or false");
    }
    return v;
}

// A host id: at least 1 (0 would be the host's root) and room for a range
// of 65536 below 2^32 - 1.
Result<uint32_t> parse_id(const Entry& e, std::string_view origin) {
    auto text = scalar(e, origin, false);
    if (!text) return std::move(text).error();
    uint64_t v = 0;
    bool digits = !text->empty() && text->size() <= 10 &&
                  text->find_first_not_of("0123456789") == std::string::npos;
    if (digits) v = std::stoull(*text);
    if (!digits || v == 0 || v > 0xffffffffULL - 65536)
        return config_error(origin, e.mark, e.key + ": '" + *text + "' is not a host id in 1..4294901759");
    return static_cast<uint32_t>(v);
}

Result<void> set_global(GlobalConfig& cfg, const Entry& e, std::string_view origin) {
    if (e.key == "defaults") return set_defaults(cfg, e, origin);
    if (e.key == "userns") {
        auto v = parse_bool(e, origin);
        if (!v) return std::move(v).error();
        cfg.userns = *v;
        return ok();
    }
    if (e.key == "idmapped_mounts") {
        auto v = parse_bool(e, origin);
        if (!v) return std::move(v).error();
        cfg.idmapped_mounts = *v;
        return ok();
    }
    if (e.key == "id_range_start") {
        auto v = parse_id(e, origin);
        if (!v) return std::move(v).error();
        cfg.id_range_start = *v;
        return ok();
    }
    std::string* field = e.key == "socket"        ? &cfg.socket
                         : e.key == "runtime_dir" ? &cfg.runtime_dir
                         : e.key == "cgroup_base" ? &cfg.cgroup_base
                         : e.key == "admin_group" ? &cfg.admin_group
                         : e.key == "cgroup_mode" ? &cfg.cgroup_mode
                         : e.key == "stop_mode"   ? &cfg.stop_mode
                         : e.key == "lxcfs"       ? &cfg.lxcfs
                         : e.key == "bridge"      ? &cfg.bridge
                                                  : nullptr;
    if (!field && e.key != "stop_timeout")
        return config_error(origin, e.mark,
                            "unknown key '" + e.key + "' (known: " + global_keys() + ")");
    auto text = scalar(e, origin, e.key == "admin_group" || e.key == "lxcfs");
    if (!text) return std::move(text).error();
    if (!field) {
        auto v = parse_int(e, *text, origin, 1, 3600);
        if (!v) return std::move(v).error();
        cfg.stop_timeout = *v;
        return ok();
    }
    if (auto why = check_global_text(e.key, *text); !why.empty())
        return config_error(origin, e.mark, why);
    *field = *text;
    return ok();
}

Result<void> set_onboot(VpsConfig& cfg, const Entry& e, std::string_view origin) {
    auto v = parse_bool(e, origin);
    if (!v) return std::move(v).error();
    cfg.onboot = *v;
    return ok();
}

std::string* vps_text_field(VpsConfig& cfg, const std::string& key) {
    if (key == "name") return &cfg.name;
    if (key == "ostemplate") return &cfg.ostemplate;
    if (key == "hostname") return &cfg.hostname;
    if (key == "description") return &cfg.description;
    if (key == "id_mapping") return &cfg.id_mapping;
    return nullptr;
}

// A list of plain values ("ip_address: [10.0.0.2, fd00::2]"); a single
// value is taken as a list of one.
Result<std::vector<std::string>> scalar_list(const Entry& e, std::string_view origin) {
    std::vector<std::string> out;
    if (e.value.IsNull()) return out;
    if (e.value.IsScalar()) {
        out.push_back(e.value.Scalar());
        return out;
    }
    if (!e.value.IsSequence())
        return config_error(origin, e.mark, "'" + e.key + "' must be a list, not a " + kind(e.value));
    for (const auto& item : e.value) {
        if (!item.IsScalar())
            return config_error(origin, item.Mark(),
                                "'" + e.key + "' entries must be single values, not a " + kind(item));
        out.push_back(item.Scalar());
    }
    return out;
}

Result<NetifConfig> parse_netif(const YAML::Node& node, std::string_view origin) {
    if (!node.IsMap())
        return config_error(origin, node.Mark(), "netif entries must be mappings (ifname: eth0 ...)");
    auto items = entries(node, origin);
    if (!items) return std::move(items).error();
    NetifConfig n;
    for (const auto& item : *items) {
        if (item.key == "mac_filter") {
            auto v = parse_bool(item, origin);
            if (!v) return std::move(v).error();
            n.mac_filter = *v;
            continue;
        }
        if (item.key == "ip_filter") {
            auto v = scalar_list(item, origin);
            if (!v) return std::move(v).error();
            n.ip_filter = std::move(*v);
            continue;
        }
        std::string* field = item.key == "ifname"        ? &n.ifname
                             : item.key == "mac"         ? &n.mac
                             : item.key == "host_ifname" ? &n.host_ifname
                             : item.key == "host_mac"    ? &n.host_mac
                             : item.key == "bridge"      ? &n.bridge
                                                         : nullptr;
        if (!field)
            return config_error(origin, item.mark,
                                "netif: unknown key '" + item.key +
                                    "' (known: ifname, mac, host_ifname, host_mac, bridge, mac_filter, ip_filter)");
        auto text = scalar(item, origin, true);
        if (!text) return std::move(text).error();
        *field = *text;
    }
    if (n.ifname.empty()) return config_error(origin, node.Mark(), "netif: an entry without ifname");
    return n;
}

Result<void> set_netif(VpsConfig& cfg, const Entry& e, std::string_view origin) {
    if (e.value.IsNull()) return ok();
    if (!e.value.IsSequence())
        return config_error(origin, e.mark, "netif must be a list of interfaces, not a " + kind(e.value));
    for (const auto& node : e.value) {
        auto n = parse_netif(node, origin);
        if (!n) return std::move(n).error();
        cfg.netif.push_back(std::move(*n));
    }
    return ok();
}

std::vector<std::string>* vps_list_field(VpsConfig& cfg, const std::string& key) {
    if (key == "ip_address") return &cfg.ip_address;
    if (key == "nameserver") return &cfg.nameserver;
    if (key == "searchdomain") return &cfg.searchdomain;
    if (key == "capability") return &cfg.capability;
    return nullptr;
}

Result<void> set_vps(VpsConfig& cfg, const Entry& e, std::string_view origin) {
    if (e.key == "onboot") return set_onboot(cfg, e, origin);
    if (e.key == "bootorder") {
        auto text = scalar(e, origin, false);
        if (!text) return std::move(text).error();
        auto v = parse_int(e, *text, origin, 0, 999999999);
        if (!v) return std::move(v).error();
        cfg.bootorder = static_cast<uint32_t>(*v);
        return ok();
    }
    if (e.key == "id_base") {
        auto v = parse_id(e, origin);
        if (!v) return std::move(v).error();
        cfg.id_base = *v;
        return ok();
    }
    if (e.key == "netif") return set_netif(cfg, e, origin);
    if (auto* list = vps_list_field(cfg, e.key)) {
        auto values = scalar_list(e, origin);
        if (!values) return std::move(values).error();
        *list = std::move(*values);
        return ok();
    }
    std::string* field = vps_text_field(cfg, e.key);
    bool is_param = !field && params::is_known(e.key);
    if (!field && !is_param && e.key != "ctid")
        return config_error(origin, e.mark,
                            "unknown key '" + e.key +
                                "' (neither a setting such as hostname nor a known parameter)");
    auto text = scalar(e, origin, field != nullptr);
    if (!text) return std::move(text).error();
    if (field) {
        *field = *text;
    } else if (is_param) {
        cfg.params[e.key] = *text;
    } else {
        auto ctid = plan::parse_ctid(*text);
        if (!ctid) return config_error(origin, e.mark, ctid.error().detail());
        cfg.ctid = *ctid;
    }
    return ok();
}

// The CTID a path like /var/lib/vz/conf/101.yaml names, if it names one.
std::optional<uint32_t> ctid_from_path(const std::string& path) {
    std::string base = path.substr(path.rfind('/') + 1);
    constexpr std::string_view ext = ".yaml";
    if (base.size() <= ext.size() || base.compare(base.size() - ext.size(), ext.size(), ext) != 0)
        return std::nullopt;
    auto ctid = plan::parse_ctid(std::string_view(base).substr(0, base.size() - ext.size()));
    if (!ctid) return std::nullopt;
    return *ctid;
}

void emit_text(YAML::Emitter& out, const char* key, const std::string& value) {
    if (value.empty()) return;  // absent reads back as ""
    out << YAML::Key << key << YAML::Value << value;
}

void emit_list(YAML::Emitter& out, const char* key, const std::vector<std::string>& values) {
    if (values.empty()) return;
    out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
    // IPv6 addresses contain ':'; quoted, no reader takes them for numbers.
    for (const auto& v : values) out << YAML::DoubleQuoted << v;
    out << YAML::EndSeq;
}

// YAML 1.1 readers (PyYAML in admins' scripts) take a plain "100:200" for a
// base-60 number; quoted, every reader sees the barrier:limit text.
void emit_param(YAML::Emitter& out, const std::string& key, const std::string& value) {
    out << YAML::Key << key << YAML::Value;
    if (value.find(':') != std::string::npos) out << YAML::DoubleQuoted;
    out << value;
}

}  // namespace

Result<GlobalConfig> parse_global(std::string_view yaml, std::string_view origin) {
    auto doc = load_document(yaml, origin, true);
    if (!doc) return std::move(doc).error();
    try {
        auto items = entries(*doc, origin);
        if (!items) return std::move(items).error();
        GlobalConfig cfg;
        for (const auto& e : *items)
            if (auto r = set_global(cfg, e, origin); !r) return std::move(r).error();
        return cfg;
    } catch (const YAML::Exception& e) {
        return config_error(origin, e.mark, e.msg);
    }
}

Result<VpsConfig> parse_vps(std::string_view yaml, std::string_view origin) {
    auto doc = load_document(yaml, origin, false);
    if (!doc) return std::move(doc).error();
    try {
        auto items = entries(*doc, origin);
        if (!items) return std::move(items).error();
        VpsConfig cfg;
        for (const auto& e : *items)
            if (auto r = set_vps(cfg, e, origin); !r) return std::move(r).error();
        return cfg;
    } catch (const YAML::Exception& e) {
        return config_error(origin, e.mark, e.msg);
    }
}

std::string dump_global(const GlobalConfig& cfg) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "socket" << YAML::Value << cfg.socket;
    out << YAML::Key << "runtime_dir" << YAML::Value << cfg.runtime_dir;
    out << YAML::Key << "cgroup_base" << YAML::Value << cfg.cgroup_base;
    out << YAML::Key << "admin_group" << YAML::Value << cfg.admin_group;
    out << YAML::Key << "cgroup_mode" << YAML::Value << cfg.cgroup_mode;
    out << YAML::Key << "stop_timeout" << YAML::Value << cfg.stop_timeout;
    out << YAML::Key << "stop_mode" << YAML::Value << cfg.stop_mode;
    out << YAML::Key << "lxcfs" << YAML::Value << cfg.lxcfs;
    out << YAML::Key << "bridge" << YAML::Value << cfg.bridge;
    out << YAML::Key << "userns" << YAML::Value << cfg.userns;
    out << YAML::Key << "idmapped_mounts" << YAML::Value << cfg.idmapped_mounts;
    out << YAML::Key << "id_range_start" << YAML::Value << cfg.id_range_start;
    out << YAML::Key << "defaults" << YAML::Value;
    if (cfg.defaults.empty()) out << YAML::Flow;
    out << YAML::BeginMap;
    for (const auto& [k, v] : cfg.defaults) emit_param(out, k, v);
    out << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

std::string dump_vps(const VpsConfig& cfg) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    if (cfg.ctid != 0) out << YAML::Key << "ctid" << YAML::Value << cfg.ctid;
    emit_text(out, "name", cfg.name);
    emit_text(out, "ostemplate", cfg.ostemplate);
    emit_text(out, "hostname", cfg.hostname);
    emit_text(out, "description", cfg.description);
    if (cfg.onboot) out << YAML::Key << "onboot" << YAML::Value << *cfg.onboot;
    if (cfg.bootorder != 0) out << YAML::Key << "bootorder" << YAML::Value << cfg.bootorder;
    if (cfg.id_base != 0) out << YAML::Key << "id_base" << YAML::Value << cfg.id_base;
    emit_text(out, "id_mapping", cfg.id_mapping);
    emit_list(out, "capability", cfg.capability);
    for (const auto& [k, v] : cfg.params) emit_param(out, k, v);
    emit_list(out, "ip_address", cfg.ip_address);
    if (!cfg.netif.empty()) {
        out << YAML::Key << "netif" << YAML::Value << YAML::BeginSeq;
        for (const auto& n : cfg.netif) {
            out << YAML::BeginMap;
            emit_text(out, "ifname", n.ifname);
            // MACs contain ':' and must stay strings for YAML 1.1 readers.
            if (!n.mac.empty()) out << YAML::Key << "mac" << YAML::Value << YAML::DoubleQuoted << n.mac;
            emit_text(out, "host_ifname", n.host_ifname);
            if (!n.host_mac.empty())
                out << YAML::Key << "host_mac" << YAML::Value << YAML::DoubleQuoted << n.host_mac;
            emit_text(out, "bridge", n.bridge);
            if (!n.mac_filter) out << YAML::Key << "mac_filter" << YAML::Value << false;
            emit_list(out, "ip_filter", n.ip_filter);
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }
    emit_list(out, "nameserver", cfg.nameserver);
    emit_list(out, "searchdomain", cfg.searchdomain);
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

Result<GlobalConfig> load_global(const std::string& path) {
    auto text = sys::read_file(path, kMaxConfigSize);
    if (!text) {
        // No vz.yaml is a host that keeps every default.
        if (text.error().err() == ENOENT) return GlobalConfig{};
        return std::move(text).error();
    }
    return parse_global(*text, path);
}

Result<VpsConfig> load_vps(const std::string& path) {
    auto text = sys::read_file(path, kMaxConfigSize);
    if (!text) {
        if (text.error().err() == ENOENT)
            return std::move(text).error().with_code(Errc::no_such_vps);
        return std::move(text).error();
    }
    auto cfg = parse_vps(*text, path);
    if (!cfg) return cfg;
    // The file name is what vzd looks the VPS up by; a copied config that
    // still says another CTID would act on that VPS's directories.
    if (auto from_name = ctid_from_path(path)) {
        if (cfg->ctid == 0) cfg->ctid = *from_name;
        if (cfg->ctid != *from_name)
            return Error::make(Errc::bad_config, path + ": ctid " + std::to_string(cfg->ctid) +
                                                     " does not match the file name");
    }
    return cfg;
}

Result<void> save_vps(const std::string& path, const VpsConfig& cfg) {
    return sys::write_file_atomic(path, dump_vps(cfg), 0644);
}

}  // namespace vps::config
