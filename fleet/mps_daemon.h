// One NVIDIA MPS control daemon per GPU domain (the GPUs one engine spans; a single GPU without tensor or pipeline
// parallelism): started with its own pipe and log directories, asked which clients it serves, told to terminate
// clients, and quit. The supervisor talks to it through the mps_control interface so tests can fake it; the real
// mps_daemon runs nvidia-cuda-mps-control (from PATH) for every command.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "fleet/mps.h"

namespace llmfleet::fleet {

// A control daemon as the supervisor needs it. Calls block for at most a few seconds. not thread-safe.
class mps_control {
public:
    virtual ~mps_control() = default;
    // Starts the daemon (quitting a stale one left in the same pipe directory first) and waits until it runs.
    // Throws error(unavailable) saying why it did not start (the program's words, the tail of control.log).
    virtual void start() = 0;
    // True while the daemon process runs.
    virtual bool alive() = 0;
    // The PIDs of its servers' clients (every server's get_client_list). A failed query is an error status.
    virtual result<std::vector<pid_t>> client_pids() = 0;
    // `terminate_client <server> <client>` on the server that lists the client: its CUDA calls fail from now on
    // (the supported way to stop an MPS client). False when no server lists it or the command failed.
    virtual bool terminate_client(pid_t client) = 0;
    // `quit`, then waits for the daemon to exit (SIGKILL after 5 s). Idempotent.
    virtual void quit() = 0;
    // "MPS daemon for GPU-… (pipe …)".
    virtual std::string describe() const = 0;
};

class mps_daemon final : public mps_control {
public:
    // The daemon for `gpu_uuids`, keeping its sockets and logs under `paths` (created by start()).
    mps_daemon(std::vector<std::string> gpu_uuids, mps_paths paths);
    ~mps_daemon() override = default;

    void start() override;
    bool alive() override;
    result<std::vector<pid_t>> client_pids() override;
    bool terminate_client(pid_t client) override;
    void quit() override;
    std::string describe() const override;

    pid_t pid() const { return _pid; } // the control daemon's PID, from its PID file; 0 before start()

private:
    // One control command on the daemon's stdin; its stdout, or an error status with what it printed.
    result<std::string> command(const std::string& line, double timeout_s = 5) const;
    // The PID in the pipe directory's PID file, or 0.
    pid_t read_pid_file() const;
    // Waits up to timeout_s for `pid` to be gone.
    static bool wait_gone(pid_t pid, double timeout_s);

    std::vector<std::string> _gpu_uuids;
    mps_paths _paths;
    pid_t _pid = 0;
};

} // namespace llmfleet::fleet
