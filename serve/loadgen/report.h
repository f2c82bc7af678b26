// The result of a run: throughput, latency summaries and failures by reason, computed from the request records,
// plus the settings that produced it; written as a text table or as JSON (schema "llmfleet.bench.v1", the same
// fields). Pure: no clock, no network.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "serve/loadgen/bench_config.h"
#include "serve/loadgen/response_tracker.h"
#include "serve/loadgen/stats.h"

namespace llmfleet::loadgen {

inline constexpr std::string_view bench_schema = "llmfleet.bench.v1";

struct bench_report {
    bench_config config;   // the settings (the API key is reported only as set / not set)
    std::string model;     // the model id actually sent
    double duration_s = 0; // first send → last response byte of the measured requests
    int64_t n_completed = 0;
    int64_t n_failed = 0;
    std::map<std::string, int64_t> failed_by_reason;   // reason (see response_tracker.h) → count
    std::map<std::string, std::string> error_examples; // reason → the first failure's detail
    int64_t peak_in_flight = 0;                        // most requests in flight at once
    int64_t total_input_tokens = 0;                    // of completed requests
    int64_t total_output_tokens = 0;                   // of completed requests
    double request_throughput_rps = 0;                 // completed / duration
    double input_token_throughput_tps = 0;             // total_input_tokens / duration
    double output_token_throughput_tps = 0;            // total_output_tokens / duration
    double total_token_throughput_tps = 0;             // (input + output) / duration
    // Over completed requests only, in milliseconds: TTFT, TPOT (requests with > 1 output token), ITL (every gap
    // between content chunks of every request), end-to-end latency.
    metric_summary ttft_ms, tpot_ms, itl_ms, e2e_ms;
};

// note: duration_s >= 0; throughputs are 0 when it is 0.
bench_report make_report(const bench_config& config, std::string model, std::span<const request_record> records,
                         double duration_s, int64_t peak_in_flight);

// JSON text (pretty-printed, 2 spaces): {"schema", "settings": {...}, every bench_report field by the names above
// ("completed", "failed", "failed_by_reason", ..., "ttft_ms": {"n", "mean", "p50", "p90", "p99", "max"}, ...)}.
// An unlimited request rate is written as null.
std::string to_json_text(const bench_report& report);
// The human-readable table (what `llmfleet bench` prints by default).
std::string to_text(const bench_report& report);

} // namespace llmfleet::loadgen
