// The fleet supervisor: runs the engines of a fleet_layout and, per GPU domain, its MPS control daemon. Each
// engine follows the state machine of engine_state.h: spawned, ready once GET /health answers 200 (and, under MPS,
// checked against the daemon's client list), restarted with capped exponential backoff after a crash, drained on
// shutdown. An MPS server fault (the daemon died, or several engines of one GPU failed together: a fault ends every
// client of that GPU) terminates every client of the domain through the daemon, restarts the daemon and then all
// its engines, while the router keeps sending traffic to the other engines.
//
// Driven by tick(now_s): the supervisor owns no thread and reads no clock, so tests step it with fake processes
// and a fake daemon (process_ops, mps_control); fleet_runner (fleet_runner.h) drives it in `llmfleet serve`.
// not thread-safe: one thread calls everything.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fleet/engine_state.h"
#include "fleet/fleet_layout.h"
#include "fleet/mps_daemon.h"

namespace llmfleet::fleet {

// What the supervisor does to processes. The system one forks (subprocess.h) and asks GET /health.
class process_ops {
public:
    virtual ~process_ops() = default;
    // Starts the engine; throws llmfleet::error when it cannot (the engine then counts as failed).
    virtual pid_t spawn(const spawn_spec& spec) = 0;
    // Its exit code (≥ 0) or −signal once it exited (reaped), nullopt while it runs.
    virtual std::optional<int> try_reap(pid_t pid) = 0;
    virtual void signal(pid_t pid, int sig) = 0;
    // GET /health answered 200 within a short time.
    virtual bool healthy(const serve::http_endpoint& endpoint) = 0;
};
// note: health checks block for at most `health_timeout_s` each.
std::unique_ptr<process_ops> make_system_process_ops(double health_timeout_s = 1.0);

// Makes the daemon of one GPU domain; the system one is mps_daemon.
using mps_factory = std::function<std::unique_ptr<mps_control>(const gpu_domain&)>;
mps_factory system_mps_factory();

struct supervisor_options {
    mps_mode mps = mps_mode::off; // for GPU domains; CPU engines never use MPS
    backoff_options backoff;
    double startup_timeout_s = 300;      // spawn → /health 200, else failed (model loading can be slow)
    double health_interval_s = 1.0;      // ready engines are checked this often
    int32_t health_failures_to_fail = 3; // consecutive failed checks that fail a ready engine
    double kill_grace_s = 5;             // a failed engine still running: SIGTERM, then SIGKILL after this
    double drain_timeout_s = 30;         // shutdown: SIGTERM, then SIGKILL after this
    double fault_window_s = 10;          // ≥ 2 engines of one MPS domain failing within this: a server fault
    double mps_check_interval_s = 1.0;   // daemon liveness checks
};

struct engine_status {
    std::string name;
    std::string pool;
    std::string gpus; // the domain's label, "" on the CPU
    serve::http_endpoint endpoint;
    engine_state state = engine_state::stopped;
    std::string reason;        // of the last transition
    pid_t pid = 0;             // 0 when no process runs
    int64_t n_restarts = 0;    // respawns after failures
    int32_t mps_attached = -1; // 1 / 0 when checked against its daemon's client list; −1 not applicable
};

struct domain_status {
    std::string label; // "GPU 0 (GPU-…)"
    std::string pool;
    bool mps_running = false; // its daemon runs and its engines get the MPS environment
    bool recovering = false;  // an MPS fault is being handled
    int64_t n_faults = 0;
    int64_t n_daemon_starts = 0;
    std::string problem; // why MPS is not running, if it is not
};

class supervisor {
public:
    supervisor(fleet_layout layout, supervisor_options options, std::unique_ptr<process_ops> ops, mps_factory mps);
    // Kills (SIGKILL) whatever still runs and quits the daemons: the fallback when shutdown did not finish.
    ~supervisor();
    supervisor(const supervisor&) = delete;
    supervisor& operator=(const supervisor&) = delete;

    // Starts each GPU domain's daemon (mode on: throws error(unavailable) naming the GPU when one cannot start;
    // auto: a WARN and that GPU runs without MPS), then spawns every engine. note: call once, first.
    void start(double now_s);
    // One supervision step: reaps exits, health checks, transitions, restarts, MPS checks and fault recovery.
    void tick(double now_s);
    // Graceful shutdown: no more restarts, SIGTERM to every engine (draining), SIGKILL after drain_timeout_s;
    // once every engine stopped, the daemons are quit. Keep calling tick() until stopped().
    void begin_shutdown(double now_s);
    bool shutting_down() const { return _shutting_down; }
    bool stopped() const { return _finished; }

    bool all_ready() const;
    // Mode on: why the fleet cannot serve as asked (an engine that did not attach to its daemon at first start);
    // empty otherwise.
    const std::string& fatal_problem() const { return _fatal_problem; }

    std::vector<engine_status> engines() const;
    std::vector<domain_status> domains() const;
    const fleet_layout& layout() const { return _layout; }
    // Prometheus text: engines by state, per engine state/restarts/pid/MPS attachment, per GPU domain the daemon's
    // health, faults and starts.
    std::string metrics_text() const;

private:
    struct engine;
    struct domain;

    void spawn(engine& e, double now_s);
    void move(engine& e, engine_state to, const std::string& reason);
    // The engine stopped working (exited, unhealthy, timed out, or its domain faulted): failed, and what is left
    // of it is stopped; `exited` when it was already reaped.
    void fail(engine& e, double now_s, const std::string& reason, bool exited);
    // Stops a process: terminate_client through its daemon first (MPS), then `sig`.
    void stop_process(engine& e, int sig);
    void tick_engine(engine& e, double now_s);
    void check_attachment(engine& e);
    void start_daemon(domain& d, double now_s);
    void tick_domain(domain& d, double now_s);
    void mps_fault(domain& d, double now_s, const std::string& why);
    bool domain_idle(const domain& d) const; // no engine process of the domain is left

    fleet_layout _layout;
    supervisor_options _options;
    std::unique_ptr<process_ops> _ops;
    mps_factory _mps_factory;
    std::vector<engine> _engines;
    std::vector<domain> _domains;
    bool _started = false;
    bool _shutting_down = false;
    bool _finished = false;
    std::string _fatal_problem;
};

} // namespace llmfleet::fleet
