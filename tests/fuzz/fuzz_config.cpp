// Fuzz target: a VPS config file (<root>/conf/<ctid>.yaml, or one arriving
// with a migration) and the host-wide vz.yaml. A config that parses must
// turn into a plan or a clean Error, and must survive being written back
// and read again unchanged (what vzd saves, it can load).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "vps/config.hpp"
#include "vps/plan.hpp"

namespace config = vps::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)config::parse_global(text, "fuzz/vz.yaml");
    auto cfg = config::parse_vps(text, "fuzz/101.yaml");
    if (!cfg) return 0;
    vps::plan::HostFacts host;
    host.cpus = 4;
    host.storage_root = "/var/lib/vz";
    host.cgroup2 = true;
    (void)vps::plan::build(*cfg, host);
    std::vector<std::string> problems;
    (void)vps::plan::build_network(*cfg, problems);
    const std::string saved = config::dump_vps(*cfg);
    auto again = config::parse_vps(saved, "fuzz/101.yaml (written back)");
    // What vzd writes it must read back as the same config.
    if (!again || config::dump_vps(*again) != saved) std::abort();
    return 0;
}
