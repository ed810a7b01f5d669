// Operations under way, kept on disk so that a vzd that dies part-way
// (SIGKILL, a crash, a power cut) leaves the next vzd enough to finish the
// operation or undo it.
//
// Before an operation changes anything it writes <root>/intent/<ctid>.json
// naming the operation (and the images directory of a checkpoint); when it
// has answered its caller, the record goes. A record found at start-up
// means a vzd died during that operation: the next vzd looks at what is on
// disk and in the kernel (recovery_steps) and takes the steps that bring
// the VPS back to one whole state: there, or gone; running, or stopped
// with nothing left behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vps/error.hpp"

namespace vps::intent {

enum class Op { create, start, stop, restart, set, destroy, chkpnt, restore, migrate_prepare, migrate_commit };

std::string_view op_name(Op op);
Result<Op> parse_op(std::string_view name);

struct Record {
    uint32_t ctid = 0;
    Op op = Op::start;
    std::string images;  // chkpnt: the images directory being written
    int64_t started_at = 0;
    pid_t vzd_pid = 0;
};

std::string encode(const Record& r);
Result<Record> decode(std::string_view text, std::string_view origin);

// What the next vzd sees of the VPS the record names.
struct Facts {
    bool config = false;        // <root>/conf/<ctid>.yaml
    bool private_area = false;  // <root>/private/<ctid>
    bool destroying = false;    // <root>/private/<ctid>.destroying
    bool running = false;       // its recorded init still runs (adopted)
    bool images = false;        // chkpnt: a finished dump (inventory.img)
    bool staged = false;        // migrate: the incoming files still in staging
};

enum class Step {
    // Kill whatever is left in its cgroup, remove the cgroup, its host-side
    // network and its state file: a start, stop or restore cut short.
    clear_run,
    // Remove the private area (and the unpack's .partial) of a create that
    // never saved its config.
    remove_new_area,
    // A destroy that had begun: remove the host side, config and files.
    finish_destroy,
    // A dump that never finished: remove what went into its directory.
    remove_partial_images,
    // An incoming migration's prepare that never answered: its staging.
    remove_staging,
    // An incoming migration's commit that never answered: the source still
    // owns the VPS (it restores or restarts it there), so it leaves here:
    // killed if it runs, its files back to staging, its config removed.
    stop_incoming,
    return_incoming,
};

std::string_view step_name(Step s);

// The steps, in order, that finish or undo `r` given `facts`. None: the
// operation got far enough that its result stands (a saved config, a
// running VPS) or had changed nothing yet.
std::vector<Step> recovery_steps(const Record& r, const Facts& facts);

}  // namespace vps::intent
