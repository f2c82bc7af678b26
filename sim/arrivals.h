// Request arrivals for the simulator: a trace (Azure CSV / Mooncake JSONL via planner::load_trace) with optional
// rate rescaling and truncation, a seeded Poisson process with fixed or trace-sampled lengths, and a trace repeated
// back to back (the benchmark's 1M requests). Every generator is deterministic for its inputs and seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "planner/trace.h"

namespace llmfleet::sim {

// One request as the simulator sees it. Lengths are clamped to ≥ 1 (an engine needs a non-empty prompt and always
// samples at least one token); the arrival generators count how many they clamped.
struct request_spec {
    double arrival_s = 0;      // seconds since the start of the simulation, non-decreasing along a vector
    int32_t input_tokens = 1;  // prompt tokens, ≥ 1
    int32_t output_tokens = 1; // tokens to generate, ≥ 1
};

struct arrivals {
    std::vector<request_spec> requests; // sorted by arrival_s
    int64_t n_input_clamped = 0;        // trace requests with 0 prompt tokens, given 1
    int64_t n_output_clamped = 0;       // trace requests with 0 generated tokens, given 1
    std::string source;                 // "AzureLLMInferenceTrace_conv.csv at 20 req/s", for reports
};

struct trace_arrival_options {
    std::optional<double> rate_rps;      // rescale timestamps so that the whole trace's mean rate is this (> 0)
    std::optional<int64_t> max_requests; // keep the first N requests (after rescaling), N ≥ 1
};

// The trace's requests with timestamps shifted to start at 0 and optionally rescaled. Throws invalid_input for an
// empty trace, a rate ≤ 0, max_requests < 1, a rate asked of a trace whose timestamps span 0 s, or lengths beyond
// 2^31 − 1 tokens.
arrivals arrivals_from_trace(const planner::trace& t, const trace_arrival_options& options);

struct poisson_options {
    double rate_rps = 0;    // mean arrival rate, > 0
    int64_t n_requests = 0; // ≥ 1
    uint64_t seed = 0;
    int32_t input_tokens = 0;                      // fixed lengths (≥ 1) unless length_source is given
    int32_t output_tokens = 0;                     //
    const planner::trace* length_source = nullptr; // when set: each request's lengths are those of a request drawn
                                                   // uniformly from this trace (with the same seeded generator)
};

// Exponential inter-arrival gaps from a seeded 64-bit Mersenne twister (inverse CDF on 53-bit uniforms, so the
// sequence is the same on every standard library). Throws invalid_input naming the bad option.
arrivals poisson_arrivals(const poisson_options& options);

// The trace repeated back to back until it holds n_requests: copy k is shifted by k × (span + mean gap), so the
// mean rate stays the trace's. note: t has ≥ 2 requests with a span > 0 (checked: invalid_input).
planner::trace repeat_trace(const planner::trace& t, int64_t n_requests);

} // namespace llmfleet::sim
