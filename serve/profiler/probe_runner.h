// Probes of a real server through serve/loadgen: one probe is one bench run of identical requests (exact
// prompt and output lengths, ignore_eos, streamed), closed loop (one at a time) or Poisson at a rate, turned into a
// probe_measurement. summarize_probe() is the pure half (records → measurement), tested without a network.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "serve/loadgen/response_tracker.h"
#include "serve/loadgen/runner.h"
#include "serve/profiler/profile_config.h"
#include "serve/profiler/rate_search.h"

namespace llmfleet::profiler {

// The measurement of one probe from its request records (send_s from the first send) and duration; TTFT / TPOT
// percentiles by loadgen's interpolation (p50, p90 and the SLO's `percentile`).
probe_measurement summarize_probe(const probe_point& point, std::span<const loadgen::request_record> records,
                                  double duration_s, double percentile);

// not thread-safe: one probe at a time, from one thread.
class loadgen_prober {
public:
    // Starts the HTTP clients (throws invalid_argument for a bad URL). note: config as validate() accepts it; it
    // must outlive the prober (kept by reference).
    explicit loadgen_prober(const profile_config& config);
    ~loadgen_prober();
    loadgen_prober(const loadgen_prober&) = delete;
    loadgen_prober& operator=(const loadgen_prober&) = delete;

    // GET /v1/models: the model to send (config.model, else the server's first id). Throws error(unavailable)
    // when the server cannot be reached and invalid_argument when it names no model.
    std::string connect();
    // One probe of requests with exactly these lengths. note: call connect() first.
    probe_measurement measure(int64_t input_tokens, int64_t output_tokens, const probe_point& point);

private:
    const profile_config& _config;
    std::unique_ptr<loadgen::bench_runner> _open_loop;   // no concurrency cap
    std::unique_ptr<loadgen::bench_runner> _closed_loop; // max concurrency 1
    std::string _model;
    int64_t _n_probes = 0; // probes so far: each one's seed
};

} // namespace llmfleet::profiler
