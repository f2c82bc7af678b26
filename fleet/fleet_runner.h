// Runs a supervisor on a thread of its own: starts it, ticks it every `tick_interval_s`, and publishes its status
// and metrics for the other threads (the router's /metrics, the serve command). That thread spawns every engine,
// so the engines' parent-death signal (PR_SET_PDEATHSIG fires when the spawning thread ends) follows its life,
// which ends only after every engine stopped.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fleet/supervisor.h"

namespace llmfleet::fleet {

class fleet_runner {
public:
    // Starts the thread, which calls supervisor::start then ticks.
    explicit fleet_runner(std::unique_ptr<supervisor> sup, double tick_interval_s = 0.1);
    // shutdown() with the drain time the supervisor was given, if not done yet.
    ~fleet_runner();
    fleet_runner(const fleet_runner&) = delete;
    fleet_runner& operator=(const fleet_runner&) = delete;

    // Blocks until every engine is ready (true) or timeout_s passed (false). Throws the error that stopped the
    // start (e.g. --mps on without a daemon), or error(unavailable) for a fatal problem (--mps on: an engine did
    // not attach). (thread-safe)
    bool wait_ready(double timeout_s);
    // "cpu-1 starting (spawned); ...": each engine that is not ready and why, for a start-up timeout's message.
    std::string not_ready_summary() const;
    // Drains every engine and quits the daemons; waits up to timeout_s. True when everything stopped (else the
    // supervisor's destructor kills what is left). Idempotent. (thread-safe)
    bool shutdown(double timeout_s);

    // The latest snapshot, at most one tick old. (thread-safe)
    std::string metrics_text() const;
    std::vector<engine_status> engines() const;
    std::vector<domain_status> domains() const;

private:
    void run();
    void publish(); // not thread-safe: the runner thread only

    std::unique_ptr<supervisor> _sup; // touched by the runner thread only (after construction)
    const double _tick_interval_s;
    mutable std::mutex _mutex;
    std::condition_variable _changed;
    bool _stop_requested = false;        // guarded by _mutex
    bool _done = false;                  // guarded by _mutex: the thread left its loop
    std::exception_ptr _failure;         // guarded by _mutex: what ended the thread early
    std::string _fatal_problem;          // guarded by _mutex
    bool _all_ready = false;             // guarded by _mutex
    bool _stopped = false;               // guarded by _mutex: the supervisor reported every engine stopped
    std::string _metrics;                // guarded by _mutex
    std::vector<engine_status> _engines; // guarded by _mutex
    std::vector<domain_status> _domains; // guarded by _mutex
    std::thread _thread;
};

} // namespace llmfleet::fleet
