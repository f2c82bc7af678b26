// Arrival schedules: gamma / exponential gaps, fixed gaps, and rescaled trace timestamps.
#include "serve/loadgen/arrivals.h"

#include <cmath>
#include <random>

#include <fmt/core.h>

#include "common/check.h"
#include "common/error.h"

namespace llmfleet::loadgen {

std::vector<double> arrival_offsets_s(const arrival_options& options, size_t n_requests,
                                      std::span<const double> trace_arrivals_s) {
    LLMFLEET_CHECK(options.rate_rps > 0, "rate must be > 0 (or inf), got {}", options.rate_rps);
    LLMFLEET_CHECK(options.burstiness > 0, "burstiness must be > 0, got {}", options.burstiness);
    std::vector<double> offsets(n_requests, 0.0);
    const bool unlimited = std::isinf(options.rate_rps);
    switch (options.kind) {
    case arrival_kind::poisson: {
        if (unlimited) {
            break;
        }
        // vLLM's parameterisation: shape k = burstiness, scale θ = 1 / (rate · k), so the mean gap kθ = 1 / rate
        // whatever the burstiness, and the coefficient of variation is 1 / sqrt(k).
        std::mt19937_64 rng(options.seed);
        std::gamma_distribution<double> gap(options.burstiness, 1.0 / (options.rate_rps * options.burstiness));
        for (size_t i = 1; i < n_requests; ++i) {
            offsets[i] = offsets[i - 1] + gap(rng);
        }
        break;
    }
    case arrival_kind::fixed:
        if (!unlimited) {
            for (size_t i = 0; i < n_requests; ++i) {
                offsets[i] = static_cast<double>(i) / options.rate_rps;
            }
        }
        break;
    case arrival_kind::trace: {
        if (trace_arrivals_s.size() < n_requests) {
            throw invalid_input(fmt::format("--arrivals trace: the trace has {} requests, fewer than the {} asked for; "
                                            "hint: lower --num-requests or use --arrivals poisson",
                                            trace_arrivals_s.size(), n_requests));
        }
        if (n_requests == 0) {
            break;
        }
        const double first_s = trace_arrivals_s[0];
        for (size_t i = 0; i < n_requests; ++i) {
            if (i > 0 && trace_arrivals_s[i] < trace_arrivals_s[i - 1]) {
                throw invalid_input(fmt::format("--arrivals trace: timestamps must not decrease, but request {} "
                                                "arrives at {} s after request {} at {} s",
                                                i, trace_arrivals_s[i], i - 1, trace_arrivals_s[i - 1]));
            }
            offsets[i] = trace_arrivals_s[i] - first_s;
        }
        const double span_s = offsets.back();
        if (!unlimited && span_s > 0) {
            const double scale = (static_cast<double>(n_requests) - 1) / options.rate_rps / span_s;
            for (double& t : offsets) {
                t *= scale;
            }
        }
        break;
    }
    }
    return offsets;
}

} // namespace llmfleet::loadgen
