// The router's live view of its backends: each engine endpoint with its health state machine, in-flight load and
// counters, grouped into named pools. acquire() is where a routing policy meets live state: it snapshots the
// candidates (health, circuit cap, load), lets pick_backend choose, and charges the request to the winner.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "serve/http/http_endpoint.h"
#include "serve/router/backend_health.h"
#include "serve/router/router_config.h"
#include "serve/router/routing_policy.h"

namespace llmfleet::serve {

using router_clock = std::chrono::steady_clock;

// One engine endpoint. Load counters are atomics read without a lock by /metrics; health is guarded by the
// owning pool's mutex.
struct backend {
    backend(std::string pool_name, http_endpoint where, const health_options& health_options)
        : pool(std::move(pool_name)), endpoint(std::move(where)), label(endpoint.to_string()), health(health_options) {}

    const std::string pool;
    const http_endpoint endpoint;
    const std::string label; // "host:port", the metrics label
    backend_health health;   // guarded by the pool's mutex

    std::atomic<int64_t> outstanding_requests{0};
    std::atomic<int64_t> outstanding_tokens{0}; // Σ (prompt + predicted output) tokens of requests in flight
    std::atomic<int64_t> n_requests{0};         // attempts sent here
    std::atomic<int64_t> n_ok{0};               // attempts answered (any status below 500)
    std::atomic<int64_t> n_failed{0};           // connect failures, lost connections, timeouts, 5xx
    std::atomic<int64_t> n_checks_failed{0};    // active health checks that failed
};

// A request's charge on the backend it was sent to; release() undoes it exactly once.
struct backend_lease {
    backend* target = nullptr;
    int64_t tokens = 0;
    bool probe = false; // the backend was probing (half-open): this request is its trial
};

struct acquire_limits {
    routing_policy policy = routing_policy::least_requests;
    int64_t max_outstanding_per_backend = 256; // the circuit breaker: a backend at this many in flight is skipped
};

// Why acquire() found nothing, so the caller can answer 503 (nothing healthy) or 429 (all saturated).
enum class acquire_miss { none, all_unhealthy, all_saturated, all_tried };

class backend_pool {
public:
    // The backends of `members` (usually one pool_config; without a routing table, all of them in one set whose
    // backends keep their own pool names as labels).
    backend_pool(std::string name, std::span<const pool_config> members, const health_options& health);
    backend_pool(const backend_pool&) = delete;
    backend_pool& operator=(const backend_pool&) = delete;

    const std::string& name() const { return _name; }
    std::span<const std::unique_ptr<backend>> backends() const { return _backends; }

    // Picks a backend for a request of `tokens` estimated tokens, skipping those in `tried`, and charges it.
    // Returns a lease with target == nullptr when none can take it (`miss` says why). (thread-safe)
    backend_lease acquire(const acquire_limits& limits, int64_t tokens, std::span<backend* const> tried,
                          router_clock::time_point now, acquire_miss* miss = nullptr);
    // Ends a lease: the outcome feeds the health state machine (success / failure with reason) or, for an
    // outcome that says nothing about the backend (the client left), only frees a probe's trial. (thread-safe)
    enum class outcome { success, failure, neutral };
    void release(backend_lease& lease, outcome result, router_clock::time_point now, const std::string& reason = "");
    // Active health check results. (thread-safe)
    void report_check(backend& b, bool ok, router_clock::time_point now, const std::string& reason = "");

    struct backend_status {
        const backend* target;
        backend_state state;
        int64_t n_ejections;
        std::string last_failure;
    };
    std::vector<backend_status> status(router_clock::time_point now) const; // (thread-safe)
    int n_available(router_clock::time_point now) const;                    // healthy or probing (thread-safe)

private:
    const std::string _name;
    std::vector<std::unique_ptr<backend>> _backends;
    mutable std::mutex _mutex;
    uint64_t _cursor = 0;                // guarded by _mutex
    std::vector<backend_load> _snapshot; // guarded by _mutex; scratch for acquire()
};

} // namespace llmfleet::serve
