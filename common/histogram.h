// A latency histogram with fixed bucket bounds (Prometheus style: cumulative counts per upper bound, a sum
// and a count), for TTFT / TPOT / end-to-end metrics. not thread-safe: the owner guards it.
#pragma once

#include <cstdint>
#include <vector>

namespace llmfleet {

class histogram {
public:
    // upper_bounds: strictly increasing bucket upper bounds (seconds, say); +inf is implicit.
    explicit histogram(std::vector<double> upper_bounds);

    void observe(double value);
    const std::vector<double>& upper_bounds() const { return _upper_bounds; }
    // Cumulative counts [n_bounds + 1]: observations ≤ each bound, the last being the total.
    std::vector<int64_t> cumulative_counts() const;
    int64_t count() const { return _count; }
    double sum() const { return _sum; }
    // The q-quantile (0..1) estimated by linear interpolation inside the bucket; 0 when empty.
    double quantile(double q) const;

private:
    std::vector<double> _upper_bounds;
    std::vector<int64_t> _counts; // [n_bounds + 1] per bucket, not cumulative
    int64_t _count = 0;
    double _sum = 0;
};

// vLLM's bucket bounds, so that existing dashboards read our /metrics: TTFT, time per output token, and
// end-to-end latency, in seconds.
std::vector<double> ttft_buckets_s();
std::vector<double> tpot_buckets_s();
std::vector<double> e2e_buckets_s();

} // namespace llmfleet
