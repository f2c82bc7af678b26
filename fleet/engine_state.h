// The lifecycle of one supervised engine process (its legal transitions, checked) and the restart backoff the
// supervisor applies after a failure. Pure: no processes and no clock here, so tests drive both directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace llmfleet::fleet {

// One engine as the supervisor sees it.
//
//                spawn                    /health 200
//   stopped ────────────────► starting ─────────────────► ready
//    ▲  ▲  ▲                   │   ▲                        │
//    │  │  │                   │   │ backoff elapsed: spawn │
//    │  │  │  exit, startup    │   │                        │ exit, /health lost,
//    │  │  │  timeout,         │  restarting                │ MPS fault
//    │  │  │  MPS fault        │   ▲                        │
//    │  │  │                   ▼   │ reaped                 │
//    │  │  │                  failed ◄──────────────────────┘
//    │  │  └── reaped during shutdown ──┘
//    │  └──── shutdown ──── restarting
//    └──── exit ──── draining ◄──── shutdown ──── starting, ready
//
// Reading it as a list (can_transition is the authority):
//   stopped    → starting               spawned
//   starting   → ready                  /health answered 200
//   starting   → failed                 exited, did not become ready in time, or its MPS daemon faulted
//   starting   → draining               shutdown began
//   ready      → failed                 exited, /health failed repeatedly, or its MPS daemon faulted
//   ready      → draining               shutdown began
//   draining   → stopped                exited (killed once the drain time ran out)
//   failed     → restarting             reaped; the next spawn is scheduled after the backoff
//   failed     → stopped                reaped during shutdown
//   restarting → starting               backoff elapsed (and its MPS daemon is up again): spawned
//   restarting → stopped                shutdown began while waiting
enum class engine_state { stopped, starting, ready, draining, failed, restarting };
std::string_view to_string(engine_state state);

// True when `from → to` is an edge of the diagram above.
bool can_transition(engine_state from, engine_state to);

// The state of one engine plus the reason of its last transition. not thread-safe: the owner serialises.
class engine_state_machine {
public:
    engine_state state() const { return _state; }
    const std::string& reason() const { return _reason; } // why the last transition happened
    int64_t n_transitions() const { return _n_transitions; }

    // Moves to `to`; an illegal edge is refused (status invalid_argument naming both states and the reason) and
    // leaves the state as it was.
    status transition(engine_state to, std::string reason);

private:
    engine_state _state = engine_state::stopped;
    std::string _reason = "not started";
    int64_t _n_transitions = 0;
};

struct backoff_options {
    double initial_s = 0.5; // delay before the first restart after a failure
    double factor = 2.0;    // each further consecutive failure multiplies the delay
    double max_s = 30.0;    // cap
    double stable_s = 60.0; // ready this long without failing: the next failure starts again at initial_s
};

// Throws invalid_input naming the field when a value is out of range (initial_s > 0, factor ≥ 1,
// max_s ≥ initial_s, stable_s ≥ 0).
void check_backoff_options(const backoff_options& options);

// The delay before restart number `n_consecutive_failures` (1 = the first failure after a stable period):
// initial_s · factor^(n − 1), capped at max_s. note: n_consecutive_failures ≥ 1 (checked).
double backoff_delay_s(const backoff_options& options, int64_t n_consecutive_failures);

// Consecutive failures of one engine and the delay they earn; a stable ready period resets the count.
// not thread-safe.
class restart_backoff {
public:
    explicit restart_backoff(backoff_options options);

    // The engine became ready at now_s.
    void on_ready(double now_s);
    // The engine failed at now_s: the delay before its next spawn. A failure after ≥ stable_s of readiness
    // counts as the first one again.
    double on_failure(double now_s);
    int64_t n_consecutive_failures() const { return _n_consecutive; }

private:
    backoff_options _options;
    int64_t _n_consecutive = 0;
    double _ready_since_s = -1; // < 0: not ready since the last failure
};

} // namespace llmfleet::fleet
