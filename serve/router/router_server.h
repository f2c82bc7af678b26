// The OpenAI-compatible router: one HTTP front (serve/http) over pools of engine endpoints reached with the pooled
// HTTP client. Each completion is validated here (the engine's own parser, so errors match), sized (prompt tokens,
// output tokens predicted from history), mapped to a pool by the plan's routing table (size-aware routing) or to
// every backend, given a backend by the routing policy, and forwarded; streams pass through chunk by chunk.
// Connect failures, lost connections, 5xx and 429 are retried on another backend until the first byte reached
// the client, never after. Active health checks and passive failures drive each backend's ejection state machine.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/tokenizer.h"
#include "serve/http/http_client.h"
#include "serve/http/http_server.h"
#include "serve/router/backend_health.h"
#include "serve/router/length_predictor.h"
#include "serve/router/router_config.h"
#include "serve/router/routing_policy.h"
#include "serve/router/routing_table.h"

namespace llmfleet::serve {

struct router_options {
    std::vector<pool_config> pools;       // ≥ 1 pool with ≥ 1 backend
    std::shared_ptr<routing_table> table; // null: no size-aware routing (all backends form one set)
    routing_policy policy = routing_policy::least_requests;
    std::string api_key;         // empty → no authentication at the router
    std::string backend_api_key; // sent to the engines; empty → the client's Authorization passes
    std::shared_ptr<const model::tokenizer> tokenizer; // exact prompt token counts; null → bytes / 4 estimate
    http_server_options http;   // http.n_io_threads: the threads of the server and `client` together (one runtime)
    http_client_options client; // to the engines; client.n_io_threads is ignored (it runs on the server's runtime)
    health_options health;
    std::chrono::milliseconds health_interval{1000}; // active checks (GET /health); 0 turns them off
    std::chrono::milliseconds health_timeout{1000};
    int max_attempts = 3;                       // backends tried per request before the first byte
    int64_t max_outstanding_per_backend = 1024; // circuit breaker: in-flight requests per backend
    length_predictor_options predictor;
    // Appended to /metrics (Prometheus text), e.g. the fleet supervisor's families under `llmfleet serve`; empty:
    // nothing. Called on an io thread for each scrape: it must be thread-safe and must not block.
    std::function<std::string()> extra_metrics;
};

struct router_state; // the live state shared with in-flight requests

class router_server {
public:
    // Checks the pools against the table (throws invalid_input as check_router_config does) and binds.
    explicit router_server(router_options options);
    // Stops the health checker, then the HTTP server (no grace) and the client.
    ~router_server();
    router_server(const router_server&) = delete;
    router_server& operator=(const router_server&) = delete;

    // Starts serving and the health checker. note: call once.
    void start();
    uint16_t port() const;
    http_server& http();

    // The Prometheus text of /metrics: per backend, per pool, routing, retries, fallbacks, predictor accuracy.
    std::string metrics_text() const;

private:
    std::shared_ptr<router_state> _state;
};

} // namespace llmfleet::serve
