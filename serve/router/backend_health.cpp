// See backend_health.h.
#include "serve/router/backend_health.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "common/error.h"

namespace llmfleet::serve {

std::string_view to_string(backend_state s) {
    switch (s) {
    case backend_state::healthy:
        return "healthy";
    case backend_state::ejected:
        return "ejected";
    case backend_state::probing:
        return "probing";
    }
    return "?";
}

backend_health::backend_health(health_options o) : _options(o), _ejection(o.base_ejection) {
    if (o.eject_after_failures < 1) {
        throw invalid_input(fmt::format("health: eject_after_failures: expected ≥ 1, got {}", o.eject_after_failures));
    }
    if (o.base_ejection.count() <= 0 || o.max_ejection < o.base_ejection) {
        throw invalid_input(fmt::format("health: ejection times: expected 0 < base ≤ max, got base {} ms, max {} ms",
                                        o.base_ejection.count(), o.max_ejection.count()));
    }
}

void backend_health::eject(time_point now) {
    _ejected = true;
    _trial_taken = false;
    _ejected_until = now + _ejection;
    ++_n_ejections;
}

void backend_health::on_success(time_point now) {
    switch (state(now)) {
    case backend_state::healthy:
        _consecutive_failures = 0;
        return;
    case backend_state::ejected:
        return; // see the header: only a probe readmits
    case backend_state::probing:
        _ejected = false;
        _trial_taken = false;
        _consecutive_failures = 0;
        _ejection = _options.base_ejection;
        return;
    }
}

void backend_health::on_failure(time_point now, std::string reason) {
    _last_failure = std::move(reason);
    ++_consecutive_failures;
    switch (state(now)) {
    case backend_state::healthy:
        if (_consecutive_failures >= _options.eject_after_failures) {
            eject(now);
        }
        return;
    case backend_state::ejected:
        return; // already out; the ejection time is not extended
    case backend_state::probing:
        _ejection = std::min(_ejection * 2, _options.max_ejection);
        eject(now);
        return;
    }
}

backend_state backend_health::state(time_point now) const {
    if (!_ejected) {
        return backend_state::healthy;
    }
    return now < _ejected_until ? backend_state::ejected : backend_state::probing;
}

bool backend_health::would_accept(time_point now) const {
    switch (state(now)) {
    case backend_state::healthy:
        return true;
    case backend_state::ejected:
        return false;
    case backend_state::probing:
        return !_trial_taken;
    }
    return false;
}

bool backend_health::try_acquire(time_point now) {
    if (!would_accept(now)) {
        return false;
    }
    if (state(now) == backend_state::probing) {
        _trial_taken = true;
    }
    return true;
}

} // namespace llmfleet::serve
