// Summary statistics of a latency sample: mean, percentiles by linear interpolation between closest ranks
// (NumPy's default method, which vLLM's benchmark uses), max. Pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace llmfleet::loadgen {

// The q-th percentile (q in [0, 100]) of an ascending sample: with rank h = q/100 · (n − 1),
// x[⌊h⌋] + (h − ⌊h⌋) · (x[⌊h⌋+1] − x[⌊h⌋]). note: sorted must be non-empty and ascending (checked: non-empty).
double percentile_sorted(std::span<const double> sorted, double q);

struct metric_summary {
    int64_t n = 0; // sample size; every other field is 0 when n is 0
    double mean = 0;
    double p50 = 0;
    double p90 = 0;
    double p99 = 0;
    double max = 0;
};

// Sorts `values` (taken by value) and summarises them; `scale` multiplies every statistic (1000: s → ms).
metric_summary summarize(std::vector<double> values, double scale = 1.0);

} // namespace llmfleet::loadgen
