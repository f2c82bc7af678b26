// Per-backend outlier ejection and circuit breaker: a pure state machine driven by request and health-check
// outcomes, with time passed in (no threads, no clock), so the router, tests and the simulator drive it alike.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmfleet::serve {

struct health_options {
    int eject_after_failures = 3;                  // consecutive failures that eject a healthy backend (≥ 1)
    std::chrono::milliseconds base_ejection{2000}; // first ejection; also the length after a readmission
    std::chrono::milliseconds max_ejection{30000}; // cap of the doubling (≥ base_ejection)
};

// healthy ──eject_after_failures consecutive failures──► ejected(until t) ──t reached──► probing (half-open)
// probing ──success──► healthy (ejection time resets);  probing ──failure──► ejected (ejection time doubles, ≤ max)
//
// While ejected (before t): failures are counted (last_failure updates) but do not extend t; successes are
// ignored — they come from requests sent before the ejection or from health checks, and readmission happens
// only through a probe once t is reached. In probing, any outcome decides: a real trial request's or an active
// health check's (a check may readmit a backend before any request was risked on it).
enum class backend_state { healthy, ejected, probing };
std::string_view to_string(backend_state s); // "healthy", "ejected", "probing"

// not thread-safe: the owner holds its lock.
class backend_health {
public:
    using time_point = std::chrono::steady_clock::time_point;

    // Throws invalid_input when eject_after_failures < 1 or the ejection times are not 0 < base ≤ max.
    explicit backend_health(health_options o = {});

    // A request or an active check succeeded.
    void on_success(time_point now);
    // A connect failure, a 5xx, a lost connection or a failed check; `reason` is kept for /health and logs.
    void on_failure(time_point now, std::string reason);

    // ejected turns into probing once its time is over.
    backend_state state(time_point now) const;
    // May a real request be sent now? healthy: yes; ejected: no; probing: one trial at a time — returns true
    // once and marks the trial taken until the next on_success/on_failure.
    // note: a caller that got true must report the trial's outcome, or the backend stays closed.
    bool try_acquire(time_point now);
    // Like try_acquire without taking the trial.
    bool would_accept(time_point now) const;
    // The trial request ended without saying anything about the backend (its client left): another may be sent.
    void abandon_trial() { _trial_taken = false; }

    int64_t n_ejections() const { return _n_ejections; }
    const std::string& last_failure() const { return _last_failure; } // empty until the first failure
    int consecutive_failures() const { return _consecutive_failures; }
    // The current ejection length: base_ejection after a readmission, doubled by each failed probe (≤ max).
    std::chrono::milliseconds ejection_ms() const { return _ejection; }
    // Meaningful while ejected or probing: when the current ejection ends.
    time_point ejected_until() const { return _ejected_until; }

private:
    void eject(time_point now);

    health_options _options;
    bool _ejected = false;     // ejected or probing (which one depends on now vs _ejected_until)
    bool _trial_taken = false; // probing: a trial request is in flight
    int _consecutive_failures = 0;
    int64_t _n_ejections = 0;
    std::chrono::milliseconds _ejection;
    time_point _ejected_until{};
    std::string _last_failure;
};

} // namespace llmfleet::serve
