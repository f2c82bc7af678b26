// The router's /metrics (Prometheus text): per backend (state, load, requests, failures, ejections), per pool
// (backends up, load, first-byte and end-to-end latency), routing (retries, fallbacks, rejections, requests per
// plan bucket and pool) and the output-length predictor's accuracy.
#include <map>

#include <fmt/format.h>

#include "common/prometheus.h"
#include "serve/router/router_state.h"

namespace llmfleet::serve {

namespace {

struct pool_totals {
    int64_t n_up = 0;
    int64_t n_backends = 0;
    int64_t outstanding_requests = 0;
    int64_t n_requests = 0;
};

void backend_metrics(const router_state& state, prometheus_text& p, std::map<std::string, pool_totals>& pools) {
    const auto now = router_clock::now();
    std::vector<backend_pool::backend_status> all;
    for (const auto& pool : state.pools) {
        for (auto& s : pool->status(now)) {
            all.push_back(std::move(s));
        }
    }
    const auto labels = [](const backend& b) { return prometheus_labels{{"pool", b.pool}, {"backend", b.label}}; };
    p.family("llmfleet_router_backend_up", "gauge", "1 when the backend takes requests (healthy), else 0.");
    for (const auto& s : all) {
        p.sample("llmfleet_router_backend_up", labels(*s.target), s.state == backend_state::healthy ? 1 : 0);
    }
    p.family("llmfleet_router_backend_state", "gauge", "The backend's health state (1 for the current one).");
    for (const auto& s : all) {
        for (const backend_state st : {backend_state::healthy, backend_state::ejected, backend_state::probing}) {
            prometheus_labels l = labels(*s.target);
            l.emplace_back("state", std::string(to_string(st)));
            p.sample("llmfleet_router_backend_state", l, s.state == st ? 1 : 0);
        }
    }
    const auto gauge = [&](std::string_view name, std::string_view type, std::string_view help, auto value_of) {
        p.family(name, type, help);
        for (const auto& s : all) {
            p.sample(name, labels(*s.target), static_cast<double>(value_of(s)));
        }
    };
    gauge("llmfleet_router_backend_outstanding_requests", "gauge", "Requests in flight on the backend.",
          [](const auto& s) { return s.target->outstanding_requests.load(); });
    gauge("llmfleet_router_backend_outstanding_tokens", "gauge",
          "Estimated tokens (prompt + predicted output) in flight on the backend.",
          [](const auto& s) { return s.target->outstanding_tokens.load(); });
    gauge("llmfleet_router_backend_requests_total", "counter", "Attempts sent to the backend.",
          [](const auto& s) { return s.target->n_requests.load(); });
    gauge("llmfleet_router_backend_failures_total", "counter",
          "Attempts that failed (connect, lost connection, timeout, 5xx).",
          [](const auto& s) { return s.target->n_failed.load(); });
    gauge("llmfleet_router_backend_health_check_failures_total", "counter", "Active health checks that failed.",
          [](const auto& s) { return s.target->n_checks_failed.load(); });
    gauge("llmfleet_router_backend_ejections_total", "counter", "Times the backend was ejected.",
          [](const auto& s) { return s.n_ejections; });
    for (const auto& s : all) {
        pool_totals& t = pools[s.target->pool];
        t.n_up += s.state == backend_state::healthy;
        ++t.n_backends;
        t.outstanding_requests += s.target->outstanding_requests.load();
        t.n_requests += s.target->n_requests.load();
    }
}

void pool_metrics(const router_state& state, prometheus_text& p, const std::map<std::string, pool_totals>& pools) {
    const auto each = [&](std::string_view name, std::string_view type, std::string_view help, auto value_of) {
        p.family(name, type, help);
        for (const auto& [pool, t] : pools) {
            p.sample(name, {{"pool", pool}}, static_cast<double>(value_of(t)));
        }
    };
    each("llmfleet_router_pool_backends_up", "gauge", "Healthy backends in the pool.",
         [](const pool_totals& t) { return t.n_up; });
    each("llmfleet_router_pool_backends", "gauge", "Backends configured in the pool.",
         [](const pool_totals& t) { return t.n_backends; });
    each("llmfleet_router_pool_outstanding_requests", "gauge", "Requests in flight in the pool.",
         [](const pool_totals& t) { return t.outstanding_requests; });
    each("llmfleet_router_pool_requests_total", "counter", "Attempts sent to the pool's backends.",
         [](const pool_totals& t) { return t.n_requests; });
    std::lock_guard lock(state.metrics.mutex);
    p.family("llmfleet_router_time_to_first_byte_seconds", "histogram",
             "Request received to the first response byte sent (whole responses: to the response), per pool.");
    for (const auto& [pool, l] : state.metrics.latency) {
        p.histogram_samples("llmfleet_router_time_to_first_byte_seconds", {{"pool", pool}}, l.first_byte_s);
    }
    p.family("llmfleet_router_e2e_request_latency_seconds", "histogram",
             "Request received to the response complete, per pool.");
    for (const auto& [pool, l] : state.metrics.latency) {
        p.histogram_samples("llmfleet_router_e2e_request_latency_seconds", {{"pool", pool}}, l.e2e_s);
    }
}

void routing_metrics(const router_state& state, prometheus_text& p) {
    const router_metrics& m = state.metrics;
    const auto one = [&](std::string_view name, std::string_view type, std::string_view help, double v) {
        p.family(name, type, help);
        p.sample(name, {}, v);
    };
    one("llmfleet_router_requests_total", "counter", "Completion and chat requests received.",
        static_cast<double>(m.n_requests.load()));
    p.family("llmfleet_router_rejected_total", "counter", "Requests answered by the router without a backend.");
    p.sample("llmfleet_router_rejected_total", {{"reason", "invalid"}}, static_cast<double>(m.n_invalid.load()));
    p.sample("llmfleet_router_rejected_total", {{"reason", "no_backend"}}, static_cast<double>(m.n_no_backend.load()));
    p.sample("llmfleet_router_rejected_total", {{"reason", "saturated"}}, static_cast<double>(m.n_saturated.load()));
    one("llmfleet_router_upstream_failures_total", "counter",
        "Requests answered 502/504 after every attempt failed before the first byte.",
        static_cast<double>(m.n_upstream_failed.load()));
    one("llmfleet_router_stream_errors_total", "counter",
        "Streams cut after their first byte (ended with an error "
        "event).",
        static_cast<double>(m.n_stream_errors.load()));
    one("llmfleet_router_unrouted_total", "counter", "Requests whose plan bucket had no route (any pool served).",
        static_cast<double>(m.n_unrouted.load()));
    std::lock_guard lock(m.mutex);
    p.family("llmfleet_router_retries_total", "counter", "Attempts retried on another backend, by reason.");
    for (const auto& [reason, n] : m.retries) {
        p.sample("llmfleet_router_retries_total", {{"reason", reason}}, static_cast<double>(n));
    }
    p.family("llmfleet_router_fallbacks_total", "counter",
             "Requests served by another pool than the plan's choice because it had no backend to take them.");
    for (const auto& [key, n] : m.fallbacks) {
        p.sample("llmfleet_router_fallbacks_total", {{"from", key.first}, {"to", key.second}}, static_cast<double>(n));
    }
    if (state.options.table) {
        const int64_t n_out = static_cast<int64_t>(state.options.table->output_edges().size()) - 1;
        p.family("llmfleet_router_routed_total", "counter", "Requests per plan bucket and pool served.");
        for (const auto& [key, n] : m.routed) {
            p.sample("llmfleet_router_routed_total",
                     {{"input_bucket", std::to_string(key.first / n_out)},
                      {"output_bucket", std::to_string(key.first % n_out)},
                      {"pool", key.second}},
                     static_cast<double>(n));
        }
    }
}

void predictor_metrics(const router_state& state, prometheus_text& p) {
    const output_length_predictor::accuracy a = state.predictor.stats();
    const auto one = [&](std::string_view name, std::string_view type, std::string_view help, double v) {
        p.family(name, type, help);
        p.sample(name, {}, v);
    };
    one("llmfleet_router_predictor_observations_total", "counter", "Finished generations the predictor learned from.",
        static_cast<double>(a.n));
    one("llmfleet_router_predictor_mean_abs_error_tokens", "gauge",
        "Mean |predicted - actual| output tokens per sequence.", a.mean_abs_error_tokens);
    one("llmfleet_router_predictor_within_2x_ratio", "gauge", "Share of predictions within 2x of the actual length.",
        a.within_2x_fraction);
    const int64_t checked = state.metrics.n_bucket_checked.load();
    one("llmfleet_router_predictor_bucket_hit_ratio", "gauge",
        "Share of requests whose actual output fell in the predicted plan bucket.",
        checked > 0 ? static_cast<double>(state.metrics.n_bucket_hits.load()) / static_cast<double>(checked) : 0);
}

} // namespace

std::string router_metrics_text(const router_state& state) {
    prometheus_text p;
    std::map<std::string, pool_totals> pools;
    backend_metrics(state, p, pools);
    pool_metrics(state, p, pools);
    routing_metrics(state, p);
    predictor_metrics(state, p);
    return p.text();
}

} // namespace llmfleet::serve
