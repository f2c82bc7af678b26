// When each request of a run is due: send offsets in seconds from the start of the run, from a seeded
// Poisson / gamma process (vLLM's --burstiness), a fixed rate, or a trace's timestamps. Pure functions, so that
// the distributions are tested without a network and the same seed gives the same schedule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "serve/loadgen/bench_config.h"

namespace llmfleet::loadgen {

struct arrival_options {
    arrival_kind kind = arrival_kind::poisson;
    double rate_rps = unlimited_rate_rps; // inf: every offset is 0 (poisson, fixed) or the trace's own timing
    double burstiness = 1.0;              // gamma shape (poisson only); the mean gap stays 1 / rate
    uint64_t seed = 0;
};

// n_requests offsets in seconds, non-decreasing, the first one 0.
//   poisson: gaps ~ Gamma(shape = burstiness, scale = 1 / (rate · burstiness)), mean 1 / rate (burstiness 1:
//            exponential gaps, a Poisson process), drawn from std::mt19937_64(seed);
//   fixed:   offset i = i / rate exactly;
//   trace:   trace_arrivals_s[i] − trace_arrivals_s[0]; with a finite rate, scaled by a constant factor so that
//            the n requests span (n − 1) / rate seconds (their mean rate becomes `rate`); a zero span stays 0.
// note: trace needs trace_arrivals_s.size() >= n_requests, sorted (throws invalid_argument otherwise);
// options.rate_rps > 0 and burstiness > 0 (checked).
std::vector<double> arrival_offsets_s(const arrival_options& options, size_t n_requests,
                                      std::span<const double> trace_arrivals_s = {});

} // namespace llmfleet::loadgen
