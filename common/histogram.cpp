// See histogram.h.
#include "common/histogram.h"

#include <algorithm>

#include "common/check.h"

namespace llmfleet {

histogram::histogram(std::vector<double> upper_bounds)
    : _upper_bounds(std::move(upper_bounds)), _counts(_upper_bounds.size() + 1, 0) {
    LLMFLEET_CHECK(std::is_sorted(_upper_bounds.begin(), _upper_bounds.end()) &&
                       std::adjacent_find(_upper_bounds.begin(), _upper_bounds.end()) == _upper_bounds.end(),
                   "histogram bounds must be strictly increasing");
}

void histogram::observe(double value) {
    const auto it = std::lower_bound(_upper_bounds.begin(), _upper_bounds.end(), value);
    ++_counts[static_cast<size_t>(it - _upper_bounds.begin())];
    ++_count;
    _sum += value;
}

std::vector<int64_t> histogram::cumulative_counts() const {
    std::vector<int64_t> out(_counts.size());
    int64_t running = 0;
    for (size_t i = 0; i < _counts.size(); ++i) {
        running += _counts[i];
        out[i] = running;
    }
    return out;
}

double histogram::quantile(double q) const {
    if (_count == 0) {
        return 0;
    }
    const double rank = q * static_cast<double>(_count);
    int64_t below = 0;
    for (size_t i = 0; i < _counts.size(); ++i) {
        if (static_cast<double>(below + _counts[i]) >= rank && _counts[i] > 0) {
            const double lo = i == 0 ? 0.0 : _upper_bounds[i - 1];
            const double hi = i < _upper_bounds.size() ? _upper_bounds[i] : lo; // +inf bucket: its lower bound
            return lo + (hi - lo) * (rank - static_cast<double>(below)) / static_cast<double>(_counts[i]);
        }
        below += _counts[i];
    }
    return _upper_bounds.empty() ? 0 : _upper_bounds.back();
}

std::vector<double> ttft_buckets_s() {
    return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
            1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
}

std::vector<double> tpot_buckets_s() {
    return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
}

std::vector<double> e2e_buckets_s() {
    return {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
            30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
}

} // namespace llmfleet
