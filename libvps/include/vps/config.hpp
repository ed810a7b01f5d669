// Configuration as written: the host's vz.yaml and one YAML file per VPS.
// Values stay strings here exactly as the admin wrote them; plan::build()
// is where they are checked and turned into numbers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vps/error.hpp"

namespace vps::config {

// The host-wide config, <storage root>/vz.yaml. Every key is optional.
struct GlobalConfig {
    std::string socket = "/run/vzd.sock";   // control socket vzctl talks to
    std::string runtime_dir = "/run/vzd";   // state of running VPSes (lost at reboot)
    std::string cgroup_base = "vz";         // directory beneath vzd's own cgroup
    std::string admin_group;                // group allowed besides root ("" = root only)
    std::string cgroup_mode = "auto";       // auto | v1 | v2
    int stop_timeout = 10;                  // seconds before a stop turns into a kill
    // What host shutdown (vzd --stop-all) does to a running VPS: "stop" it
    // through its init, or "suspend" it to CRIU images that the next boot
    // restores (OpenVZ's VE_STOP_MODE); a VPS that cannot be suspended is
    // stopped.
    std::string stop_mode = "stop";
    // Where lxcfs is mounted. When it runs there, each VPS's /proc/meminfo,
    // cpuinfo, stat, uptime, loadavg, diskstats and swaps come from it, so
    // free, top and uptime inside show the VPS's own limits. "" = never.
    std::string lxcfs = "/var/lib/lxcfs";
    // Bridge a VPS's veth interface joins unless --netif_add names another;
    // vzd creates it (and brings it up) when it does not exist.
    std::string bridge = "vzbr0";
    // New VPSes get a user namespace (root inside is not root on the host)
    // unless create says --userns no.
    bool userns = true;
    // An unprivileged VPS's files keep the ids seen inside and its root is
    // an idmapped mount, where the storage file system takes one; false (or
    // a file system that cannot) = ownership shifted at create.
    bool idmapped_mounts = true;
    // First host id handed out to user namespaces: VPS n gets the n-th free
    // range of 65536 ids from here.
    uint32_t id_range_start = 100000;
    // Parameters a new VPS gets unless create or its template says otherwise,
    // by OpenVZ name ("physpages" -> "0:256M").
    std::map<std::string, std::string> defaults;
};

// One bridged interface (OpenVZ's NETIF entry): a veth pair whose VPS end
// is `ifname` and whose host end `host_ifname` joins `bridge`. Fields are
// filled in (MACs generated, names defaulted) when the interface is added,
// so the VPS keeps the same addresses across restarts.
struct NetifConfig {
    std::string ifname;
    std::string mac;
    std::string host_ifname;
    std::string host_mac;
    std::string bridge;
    // Frames from the VPS must carry `mac` as their source (and as the ARP
    // sender): on by default, as OpenVZ's mac_filter.
    bool mac_filter = true;
    // With mac_filter: the only addresses the VPS may send from (and claim
    // in ARP) on this interface; empty = any address.
    std::vector<std::string> ip_filter;
    bool operator==(const NetifConfig&) const = default;
};

// One VPS: <storage root>/conf/<ctid>.yaml.
struct VpsConfig {
    uint32_t ctid = 0;
    std::string name;         // optional unique name
    std::string ostemplate;   // template it was created from
    std::string hostname;
    std::string description;
    // OpenVZ's ONBOOT: yes starts the VPS at every host boot, no never;
    // unset starts it when it was running as the host shut down.
    std::optional<bool> onboot;
    // OpenVZ's BOOTORDER: onboot VPSes with a higher value start first.
    uint32_t bootorder = 0;
    // Unprivileged VPS: ids 0..65535 inside are id_base.. on the host (its
    // files are owned by those ids). 0 = privileged: root inside is root.
    uint32_t id_base = 0;
    // How an unprivileged VPS's files carry its ids: "mount" = stored with
    // the ids seen inside and mapped by an idmapped mount of its root;
    // "shift" (or empty, in configs older than idmapped mounts) = stored
    // shifted by id_base.
    std::string id_mapping;
    // OpenVZ's CAPABILITY: "name:on" / "name:off" (names as
    // capabilities(7), lower case without CAP_), applied over the defaults.
    std::vector<std::string> capability;
    // Resource and other parameters by OpenVZ name, values as written:
    // physpages "0:65536", swappages "0:512M", numproc "1024", cpuunits
    // "1000", cpulimit "50", cpus "2". Unknown names are rejected by
    // plan::build(), not here, so the error can name the file and key.
    std::map<std::string, std::string> params;
    // Network: routed addresses ("10.0.0.2", "fd00::2/64"; OpenVZ's
    // IP_ADDRESS), bridged interfaces (NETIF), and what the VPS's
    // /etc/resolv.conf gets (NAMESERVER, SEARCHDOMAIN).
    std::vector<std::string> ip_address;
    std::vector<NetifConfig> netif;
    std::vector<std::string> nameserver;
    std::vector<std::string> searchdomain;
};

// Parse errors name the file and, where yaml-cpp knows it, the line.
Result<GlobalConfig> parse_global(std::string_view yaml, std::string_view origin);
Result<VpsConfig> parse_vps(std::string_view yaml, std::string_view origin);
std::string dump_global(const GlobalConfig& cfg);
std::string dump_vps(const VpsConfig& cfg);

// Load from disk; a missing vz.yaml yields the defaults.
Result<GlobalConfig> load_global(const std::string& path);
Result<VpsConfig> load_vps(const std::string& path);
// Atomic (write, fsync, rename) so a crash never leaves half a config.
Result<void> save_vps(const std::string& path, const VpsConfig& cfg);

}  // namespace vps::config
