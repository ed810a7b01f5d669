// Each running VPS's console is a pseudo-terminal vzd holds: init writes
// to the slave (bound on the VPS's /dev/console), vzd copies what arrives
// on the master into a size-bounded log file and to the clients attached
// with `vzctl console`, and what those type into the master. No host file
// is ever open in the VPS: its init sees only /dev/console and its own
// /dev/null.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "vps/error.hpp"
#include "vps/fd.hpp"
#include "vps/storage.hpp"

namespace vzd {

struct ConsolePty {
    vps::Fd master;
    vps::Fd slave;
    std::string slave_path;  // "/dev/pts/N" of the host's devpts
};

vps::Result<ConsolePty> open_console();

// The clients attached to one VPS's console, shared by the thread that
// serves the console and the operations that attach clients or wait for
// the console's end. A client is vzd's end of a stream socket pair whose
// other end `vzctl console` holds.
//
// The clients are closed when the last owner lets go: the console thread,
// once init is gone and its output copied, and the VPS's running state,
// once vzd has seen init exit. So a client's end of file means the VPS has
// stopped, and `vzctl status` says so by then.
class ConsoleHub {
  public:
    static vps::Result<std::shared_ptr<ConsoleHub>> create();
    explicit ConsoleHub(vps::Fd wake) : wake_(std::move(wake)) {}

    // From now on what arrives on the console is copied to `client` too,
    // and what the client sends is typed into the console.
    void attach(vps::Fd client);
    // Wait until the console thread has copied all init wrote into the log.
    bool wait_finished(std::chrono::milliseconds timeout);

    // The console thread's side.
    vps::FdRef wake() const { return wake_.ref(); }  // readable after attach()
    std::vector<int> clients();
    // Copy to every client without ever blocking: a client that cannot take
    // it now (a slow or stopped terminal) misses it, one that is gone is
    // dropped.
    void broadcast(std::string_view data);
    void drop(int client);
    void finish();

  private:
    std::mutex m_;
    std::condition_variable finished_cv_;
    bool finished_ = false;
    std::vector<vps::Fd> clients_;
    vps::Fd wake_;  // eventfd
};

// The body of a VPS's console thread: copy master -> log and clients, and
// clients -> master, until init (behind init_pidfd; none: already gone) has
// exited and every slave is closed. A hang-up of the console inside
// (getty's vhangup, systemd taking the console) is waited out, not taken
// for the end. When the log grows past max_bytes it is started afresh,
// keeping the newest.
inline constexpr size_t kConsoleLogBytes = 1u << 20;
void serve_console(vps::Fd master, vps::Fd init_pidfd, const std::string& log_path,
                   size_t max_bytes, std::shared_ptr<ConsoleHub> hub);

// A start that failed once its console log had begun: remember why (for
// status) and return the error with the log's last lines after it.
vps::Error start_failed(const vps::storage::Layout& layout, uint32_t ctid, vps::Error e);
// For the status of a stopped VPS whose last start failed: "start_error"
// and "console_tail" (the last lines of that start's console log). Empty
// when its last start did not fail.
nlohmann::json start_failure(const vps::storage::Layout& layout, uint32_t ctid);

}  // namespace vzd
