// Percentiles (linear interpolation) and sample summaries.
#include "serve/loadgen/stats.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace llmfleet::loadgen {

double percentile_sorted(std::span<const double> sorted, double q) {
    LLMFLEET_CHECK(!sorted.empty(), "percentile of an empty sample");
    LLMFLEET_CHECK(q >= 0 && q <= 100, "percentile must be in [0, 100], got {}", q);
    const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
    const auto low = static_cast<size_t>(std::floor(rank));
    const size_t high = std::min(low + 1, sorted.size() - 1);
    return sorted[low] + (rank - static_cast<double>(low)) * (sorted[high] - sorted[low]);
}

metric_summary summarize(std::vector<double> values, double scale) {
    metric_summary s;
    if (values.empty()) {
        return s;
    }
    std::sort(values.begin(), values.end());
    double sum = 0;
    for (double v : values) {
        sum += v;
    }
    s.n = static_cast<int64_t>(values.size());
    s.mean = sum / static_cast<double>(values.size()) * scale;
    s.p50 = percentile_sorted(values, 50) * scale;
    s.p90 = percentile_sorted(values, 90) * scale;
    s.p99 = percentile_sorted(values, 99) * scale;
    s.max = values.back() * scale;
    return s;
}

} // namespace llmfleet::loadgen
