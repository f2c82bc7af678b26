// Fitting helpers (fit.h).
#include "perf/fit.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace llmfleet::perf {

std::vector<double> minimize_log_space(const std::function<double(const std::vector<double>&)>& loss,
                                       const std::vector<fit_variable>& vars, double min_step) {
    std::vector<double> x;
    for (const fit_variable& v : vars) {
        LLMFLEET_CHECK(v.lo > 0 && v.lo <= v.start && v.start <= v.hi, "fit variable [{}, {}] start {}", v.lo, v.hi,
                       v.start);
        x.push_back(v.start);
    }
    double best = loss(x);
    double step = 0.5;
    while (step >= min_step) {
        bool improved = false;
        for (size_t i = 0; i < x.size(); ++i) {
            for (const double factor : {1.0 + step, 1.0 / (1.0 + step)}) {
                // Keep moving this coordinate in the same direction while the loss falls.
                while (true) {
                    std::vector<double> trial = x;
                    trial[i] = std::clamp(x[i] * factor, vars[i].lo, vars[i].hi);
                    if (trial[i] == x[i]) {
                        break;
                    }
                    const double l = loss(trial);
                    if (!(l < best)) {
                        break;
                    }
                    best = l;
                    x = std::move(trial);
                    improved = true;
                }
            }
        }
        if (!improved) {
            step *= 0.5;
        }
    }
    return x;
}

double mean_squared_log_error(const std::vector<double>& predicted, const std::vector<double>& measured) {
    LLMFLEET_CHECK(predicted.size() == measured.size() && !measured.empty(), "sizes {} vs {}", predicted.size(),
                   measured.size());
    double sum = 0;
    for (size_t i = 0; i < measured.size(); ++i) {
        const double r = std::log(std::max(predicted[i], 1e-12) / measured[i]);
        sum += r * r;
    }
    return sum / static_cast<double>(measured.size());
}

error_stats relative_errors(const std::vector<double>& predicted, const std::vector<double>& measured) {
    LLMFLEET_CHECK(predicted.size() == measured.size(), "sizes {} vs {}", predicted.size(), measured.size());
    error_stats s;
    s.n_points = static_cast<int64_t>(measured.size());
    if (measured.empty()) {
        return s;
    }
    std::vector<double> errors;
    for (size_t i = 0; i < measured.size(); ++i) {
        const double e = std::abs(predicted[i] - measured[i]) / measured[i];
        errors.push_back(e);
        if (e > s.worst) {
            s.worst = e;
            s.worst_index = static_cast<int64_t>(i);
        }
    }
    if (s.worst_index < 0) {
        s.worst_index = 0;
    }
    std::sort(errors.begin(), errors.end());
    // Nearest-rank percentiles (no interpolation): the value at rank ceil(q × n).
    auto rank = [&](double q) {
        const auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(errors.size())));
        return errors[std::clamp<size_t>(k, 1, errors.size()) - 1];
    };
    s.median = rank(0.5);
    s.p90 = rank(0.9);
    return s;
}

} // namespace llmfleet::perf
