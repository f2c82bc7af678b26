// Internal to the router server: the state that in-flight requests (proxy_call), the health checker and /metrics
// share, and the metrics the router keeps. Not part of the public API (router_server.h).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/histogram.h"
#include "serve/http/http_client.h"
#include "serve/http/http_server.h"
#include "serve/router/backend_pool.h"
#include "serve/router/length_predictor.h"
#include "serve/router/router_server.h"

namespace llmfleet::serve {

// Latency of the requests a pool served, as the router saw them (seconds).
struct pool_latency {
    histogram first_byte_s{ttft_buckets_s()}; // request in → first response byte out (streams: the head)
    histogram e2e_s{e2e_buckets_s()};         // request in → response complete
};

// Counters and histograms beyond the per-backend atomics. Maps are guarded by `mutex`.
struct router_metrics {
    std::atomic<int64_t> n_requests{0};        // completions and chat requests received
    std::atomic<int64_t> n_invalid{0};         // refused with a 4xx by the router itself (parse, auth, model)
    std::atomic<int64_t> n_no_backend{0};      // 503: no healthy backend in any candidate pool
    std::atomic<int64_t> n_saturated{0};       // 429: every healthy backend at its outstanding cap
    std::atomic<int64_t> n_upstream_failed{0}; // 502/504 after the last attempt failed before any byte
    std::atomic<int64_t> n_stream_errors{0};   // a stream cut after its first byte: ended with an error event
    std::atomic<int64_t> n_unrouted{0};        // the table had no route for the request's bucket
    std::atomic<int64_t> n_bucket_checked{0};  // finished requests whose actual output bucket was checked
    std::atomic<int64_t> n_bucket_hits{0};     // ... and matched the predicted output bucket

    mutable std::mutex mutex;
    std::map<std::string, pool_latency> latency;                      // by pool
    std::map<std::string, int64_t> retries;                           // by reason
    std::map<std::pair<std::string, std::string>, int64_t> fallbacks; // (preferred pool, pool used)
    std::map<std::pair<int64_t, std::string>, int64_t> routed;        // (bucket, pool) → requests
};

struct router_state {
    explicit router_state(router_options o);

    // Every candidate pool in preference order for a request of this size: the table's choice first, then its
    // other routes, then the remaining pools; without a table, the one pool of all backends. `bucket` is set (or
    // -1 without a table).
    std::vector<backend_pool*> candidates(int64_t input_tokens, int64_t predicted_output_tokens, int64_t& bucket);
    // Every pool in configuration order (requests that are not generations: no plan bucket).
    std::vector<backend_pool*> all_pools() const;
    backend_pool* pool_named(const std::string& name);
    // A 404 unless the model is empty, or no model ids were learned yet, or it is one of them.
    bool model_known(const std::string& model) const;
    std::vector<std::string> model_ids() const;

    router_options options;
    std::string backend_authorization; // "Bearer <backend_api_key>", or empty: the header sent to the engines
    // With a table: one per configured pool, in configuration order. Without: one pool "*" holding every backend
    // (each labelled with its configured pool).
    std::vector<std::unique_ptr<backend_pool>> pools;
    output_length_predictor predictor;
    router_metrics metrics;
    // The event loop of the HTTP server and of `client` (options.http.runtime, or one with http.n_io_threads
    // threads): a request and its upstream exchange run on the same thread. Declared before the clients and the
    // server so that it is destroyed after them.
    std::shared_ptr<io_runtime> runtime;
    http_client client;        // requests to the engines, on `runtime`
    http_client health_client; // active checks, with health_timeout as its timeouts
    std::unique_ptr<http_server> http;

    mutable std::mutex models_mutex;
    std::set<std::string> models; // guarded by models_mutex: ids learned from the backends' /v1/models

    std::mutex health_mutex;
    std::condition_variable health_wake;
    bool health_stop = false; // guarded by health_mutex
    std::thread health_thread;
};

// Handles one completion / chat / tokenize request: validation, sizing, routing, forwarding with retries.
void proxy_request(const std::shared_ptr<router_state>& state, const http_request& req,
                   std::shared_ptr<http_responder> out);

// The Prometheus text of /metrics.
std::string router_metrics_text(const router_state& state);

} // namespace llmfleet::serve
