// See backend_pool.h.
#include "serve/router/backend_pool.h"

#include <algorithm>

#include "common/check.h"
#include "common/log.h"

namespace llmfleet::serve {

backend_pool::backend_pool(std::string name, std::span<const pool_config> members, const health_options& health)
    : _name(std::move(name)) {
    for (const pool_config& member : members) {
        for (const http_endpoint& e : member.backends) {
            _backends.push_back(std::make_unique<backend>(member.name, e, health));
        }
    }
    _snapshot.resize(_backends.size());
}

backend_lease backend_pool::acquire(const acquire_limits& limits, int64_t tokens, std::span<backend* const> tried,
                                    router_clock::time_point now, acquire_miss* miss) {
    std::lock_guard lock(_mutex);
    int n_healthy = 0;
    int n_untried = 0;
    for (size_t i = 0; i < _backends.size(); ++i) {
        backend& b = *_backends[i];
        const bool untried = std::find(tried.begin(), tried.end(), &b) == tried.end();
        const bool healthy = b.health.would_accept(now);
        n_untried += untried;
        n_healthy += untried && healthy;
        const int64_t requests = b.outstanding_requests.load(std::memory_order_relaxed);
        _snapshot[i] = {untried && healthy && requests < limits.max_outstanding_per_backend, requests,
                        b.outstanding_tokens.load(std::memory_order_relaxed)};
    }
    // A retry (tried not empty) does not take a turn: otherwise a failing backend would be every request's first
    // pick under round robin (its retry would move the cursor back onto it).
    uint64_t retry_cursor = _cursor;
    const int chosen = pick_backend(limits.policy, _snapshot, tried.empty() ? _cursor : retry_cursor);
    if (chosen < 0) {
        if (miss != nullptr) {
            *miss = n_untried == 0   ? acquire_miss::all_tried
                    : n_healthy == 0 ? acquire_miss::all_unhealthy
                                     : acquire_miss::all_saturated;
        }
        return {};
    }
    backend& b = *_backends[static_cast<size_t>(chosen)];
    const bool probe = b.health.state(now) == backend_state::probing;
    const bool taken = b.health.try_acquire(now);
    LLMFLEET_CHECK(taken, "backend {} passed would_accept but refused try_acquire", b.label);
    b.outstanding_requests.fetch_add(1, std::memory_order_relaxed);
    b.outstanding_tokens.fetch_add(tokens, std::memory_order_relaxed);
    b.n_requests.fetch_add(1, std::memory_order_relaxed);
    if (miss != nullptr) {
        *miss = acquire_miss::none;
    }
    return {&b, tokens, probe};
}

void backend_pool::release(backend_lease& lease, outcome result, router_clock::time_point now,
                           const std::string& reason) {
    if (lease.target == nullptr) {
        return;
    }
    backend& b = *lease.target;
    b.outstanding_requests.fetch_sub(1, std::memory_order_relaxed);
    b.outstanding_tokens.fetch_sub(lease.tokens, std::memory_order_relaxed);
    std::lock_guard lock(_mutex);
    switch (result) {
    case outcome::success:
        b.n_ok.fetch_add(1, std::memory_order_relaxed);
        b.health.on_success(now);
        break;
    case outcome::failure: {
        b.n_failed.fetch_add(1, std::memory_order_relaxed);
        const backend_state before = b.health.state(now);
        b.health.on_failure(now, reason);
        if (before != backend_state::ejected && b.health.state(now) == backend_state::ejected) {
            LLMFLEET_LOG_WARN("router: backend {} (pool {}) ejected for {} ms after: {}", b.label, b.pool,
                              b.health.ejection_ms().count(), reason);
        }
        break;
    }
    case outcome::neutral:
        if (lease.probe) {
            b.health.abandon_trial();
        }
        break;
    }
    lease.target = nullptr;
}

void backend_pool::report_check(backend& b, bool ok, router_clock::time_point now, const std::string& reason) {
    std::lock_guard lock(_mutex);
    const backend_state before = b.health.state(now);
    if (ok) {
        b.health.on_success(now);
        if (before != backend_state::healthy && b.health.state(now) == backend_state::healthy) {
            LLMFLEET_LOG_INFO("router: backend {} (pool {}) re-admitted: its health check passed", b.label, b.pool);
        }
        return;
    }
    b.n_checks_failed.fetch_add(1, std::memory_order_relaxed);
    b.health.on_failure(now, reason);
    if (before == backend_state::healthy && b.health.state(now) == backend_state::ejected) {
        LLMFLEET_LOG_WARN("router: backend {} (pool {}) ejected for {} ms: health check failed: {}", b.label, b.pool,
                          b.health.ejection_ms().count(), reason);
    }
}

std::vector<backend_pool::backend_status> backend_pool::status(router_clock::time_point now) const {
    std::lock_guard lock(_mutex);
    std::vector<backend_status> out;
    for (const auto& b : _backends) {
        out.push_back({b.get(), b->health.state(now), b->health.n_ejections(), b->health.last_failure()});
    }
    return out;
}

int backend_pool::n_available(router_clock::time_point now) const {
    std::lock_guard lock(_mutex);
    return static_cast<int>(std::count_if(_backends.begin(), _backends.end(), [&](const auto& b) {
        return b->health.state(now) != backend_state::ejected;
    }));
}

} // namespace llmfleet::serve
