// See engine_state.h.
#include "fleet/engine_state.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace llmfleet::fleet {

std::string_view to_string(engine_state state) {
    switch (state) {
    case engine_state::stopped:
        return "stopped";
    case engine_state::starting:
        return "starting";
    case engine_state::ready:
        return "ready";
    case engine_state::draining:
        return "draining";
    case engine_state::failed:
        return "failed";
    case engine_state::restarting:
        return "restarting";
    }
    return "unknown";
}

bool can_transition(engine_state from, engine_state to) {
    using s = engine_state;
    switch (from) {
    case s::stopped:
        return to == s::starting;
    case s::starting:
        return to == s::ready || to == s::failed || to == s::draining;
    case s::ready:
        return to == s::failed || to == s::draining;
    case s::draining:
        return to == s::stopped;
    case s::failed:
        return to == s::restarting || to == s::stopped;
    case s::restarting:
        return to == s::starting || to == s::stopped;
    }
    return false;
}

status engine_state_machine::transition(engine_state to, std::string reason) {
    if (!can_transition(_state, to)) {
        return status(status_code::invalid_argument,
                      fmt::format("illegal engine transition {} → {} ({}); the last transition was to {} ({})",
                                  to_string(_state), to_string(to), reason, to_string(_state), _reason));
    }
    _state = to;
    _reason = std::move(reason);
    ++_n_transitions;
    return status::ok();
}

void check_backoff_options(const backoff_options& o) {
    if (!(o.initial_s > 0) || !std::isfinite(o.initial_s)) {
        throw invalid_input(fmt::format("restart backoff: the initial delay must be > 0 s, got {}", o.initial_s));
    }
    if (!(o.factor >= 1) || !std::isfinite(o.factor)) {
        throw invalid_input(fmt::format("restart backoff: the factor must be ≥ 1, got {}", o.factor));
    }
    if (!(o.max_s >= o.initial_s) || !std::isfinite(o.max_s)) {
        throw invalid_input(
            fmt::format("restart backoff: the cap ({} s) must be ≥ the initial delay ({} s)", o.max_s, o.initial_s));
    }
    if (!(o.stable_s >= 0) || !std::isfinite(o.stable_s)) {
        throw invalid_input(fmt::format("restart backoff: the stable period must be ≥ 0 s, got {}", o.stable_s));
    }
}

double backoff_delay_s(const backoff_options& o, int64_t n_consecutive_failures) {
    LLMFLEET_CHECK(n_consecutive_failures >= 1, "failure count must be ≥ 1, got {}", n_consecutive_failures);
    // Multiply step by step so that a long failure streak saturates at the cap instead of overflowing pow().
    double delay_s = o.initial_s;
    for (int64_t i = 1; i < n_consecutive_failures && delay_s < o.max_s; ++i) {
        delay_s *= o.factor;
    }
    return std::min(delay_s, o.max_s);
}

restart_backoff::restart_backoff(backoff_options options) : _options(options) {
    check_backoff_options(_options);
}

void restart_backoff::on_ready(double now_s) {
    _ready_since_s = now_s;
}

double restart_backoff::on_failure(double now_s) {
    if (_ready_since_s >= 0 && now_s - _ready_since_s >= _options.stable_s) {
        _n_consecutive = 0; // it ran long enough: this failure is a new incident, not part of a crash loop
    }
    _ready_since_s = -1;
    ++_n_consecutive;
    return backoff_delay_s(_options, _n_consecutive);
}

} // namespace llmfleet::fleet
