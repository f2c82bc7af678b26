// Internal to the supervisor (supervisor.cpp, supervisor_metrics.cpp): the per-engine and per-domain records
// behind the public status structs. Not part of the API.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fleet/supervisor.h"

namespace llmfleet::fleet {

struct supervisor::engine {
    engine(const engine_slot& s, const backoff_options& b) : slot(&s), backoff(b) {}

    const engine_slot* slot; // into _layout.engines, which never changes after construction
    engine_state_machine sm;
    restart_backoff backoff;
    pid_t pid = 0; // 0: no process (never spawned, or reaped)
    double spawned_at_s = 0;
    double kill_at_s = -1;       // SIGKILL if still running past this (failed, draining); < 0: not scheduled
    bool killed = false;         // SIGKILL was sent to the current process
    double restart_at_s = 0;     // failed → restarting → starting not before this
    double next_health_s = 0;    // ready: the next GET /health
    int32_t health_failures = 0; // consecutive
    int64_t n_restarts = 0;
    int64_t n_spawns = 0;
    int32_t mps_attached = -1; // 1 / 0 once checked; −1 not applicable
};

struct supervisor::domain {
    explicit domain(const gpu_domain& s) : spec(&s) {}

    const gpu_domain* spec;
    std::unique_ptr<mps_control> daemon; // null while MPS does not run here (off, or an auto fallback)
    bool mps_running = false;
    bool recovering = false; // a fault: waiting for its engines to exit, then a daemon restart
    std::string problem;     // why MPS does not run
    int64_t n_faults = 0;
    int64_t n_daemon_starts = 0;
    double next_check_s = 0;     // the next liveness check of the daemon
    double retry_start_at_s = 0; // mode on: the next attempt to restart a daemon that did not start
    std::vector<std::pair<std::string, double>> recent_failures; // (engine, time): for fault detection
};

} // namespace llmfleet::fleet
