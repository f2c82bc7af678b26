// Small deterministic fitting helpers for the calibration: a bounded coordinate search in log space and
// relative-error statistics (median, p90, worst). No dependencies beyond the standard library.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace llmfleet::perf {

// One parameter to fit: start value and bounds, all > 0.
struct fit_variable {
    double start = 1;
    double lo = 1e-9;
    double hi = 1e9;
};

// Minimises `loss` over x (each within its bounds) by coordinate search in log space: each coordinate is
// multiplied by (1 + step) or divided by it while that lowers the loss; the step halves when no coordinate
// improves, down to `min_step`. Deterministic: same inputs, same result.
std::vector<double> minimize_log_space(const std::function<double(const std::vector<double>&)>& loss,
                                       const std::vector<fit_variable>& vars, double min_step = 1e-5);

// Mean of log(predicted / measured)²: the loss every fit uses (relative errors; scale-free).
double mean_squared_log_error(const std::vector<double>& predicted, const std::vector<double>& measured);

// |predicted − measured| / measured over points.
struct error_stats {
    int64_t n_points = 0;
    double median = 0;
    double p90 = 0;
    double worst = 0;
    int64_t worst_index = -1; // index of the worst point in the inputs
};
error_stats relative_errors(const std::vector<double>& predicted, const std::vector<double>& measured);

} // namespace llmfleet::perf
