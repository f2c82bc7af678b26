// See length_predictor.h.
#include "serve/router/length_predictor.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "common/check.h"
#include "common/error.h"

namespace llmfleet::serve {

output_length_predictor::output_length_predictor(length_predictor_options o) : _options(o) {
    if (o.window < 1) {
        throw invalid_input("length predictor: window: expected ≥ 1 observations, got 0");
    }
    if (o.default_output_tokens < 1) {
        throw invalid_input(
            fmt::format("length predictor: default_output_tokens: expected ≥ 1, got {}", o.default_output_tokens));
    }
    if (!(o.quantile >= 0 && o.quantile <= 1)) {
        throw invalid_input(fmt::format("length predictor: quantile: expected a number in [0, 1], got {}", o.quantile));
    }
}

int output_length_predictor::input_bucket(int64_t input_tokens) {
    const uint64_t x = static_cast<uint64_t>(std::max<int64_t>(1, input_tokens));
    return std::bit_width(x) - 1;
}

int64_t output_length_predictor::quantile_of(const std::deque<int64_t>& window) const {
    std::vector<int64_t> values(window.begin(), window.end());
    const size_t n = values.size();
    // Nearest rank: the ceil(q·n)-th smallest (1-based), at least the 1st.
    const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(_options.quantile * static_cast<double>(n))));
    const size_t k = std::min(rank, n) - 1;
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
    return values[k];
}

int64_t output_length_predictor::predict(int64_t input_tokens, std::optional<int64_t> max_tokens) const {
    const int b = input_bucket(input_tokens);
    int64_t predicted = _options.default_output_tokens;
    {
        std::lock_guard lock(_mutex);
        // Nearest non-empty bucket: distance 0, then 1 below, 1 above, 2 below, ...
        for (int d = 0; d < n_input_buckets; ++d) {
            if (b - d >= 0 && !_windows[b - d].empty()) {
                predicted = quantile_of(_windows[b - d]);
                break;
            }
            if (d > 0 && b + d < n_input_buckets && !_windows[b + d].empty()) {
                predicted = quantile_of(_windows[b + d]);
                break;
            }
        }
    }
    if (max_tokens) {
        predicted = std::min(predicted, std::max<int64_t>(1, *max_tokens));
    }
    return predicted;
}

void output_length_predictor::observe(int64_t input_tokens, int64_t predicted_output_tokens,
                                      int64_t actual_output_tokens) {
    LLMFLEET_CHECK(input_tokens >= 0 && predicted_output_tokens >= 0 && actual_output_tokens >= 0,
                   "token counts must be ≥ 0: input {}, predicted {}, actual {}", input_tokens, predicted_output_tokens,
                   actual_output_tokens);
    const int b = input_bucket(input_tokens);
    const bool within_2x =
        2 * predicted_output_tokens >= actual_output_tokens && predicted_output_tokens <= 2 * actual_output_tokens;
    std::lock_guard lock(_mutex);
    std::deque<int64_t>& window = _windows[b];
    window.push_back(actual_output_tokens);
    if (window.size() > _options.window) {
        window.pop_front();
    }
    ++_n_observed;
    _sum_abs_error_tokens += static_cast<double>(std::llabs(predicted_output_tokens - actual_output_tokens));
    _n_within_2x += within_2x ? 1 : 0;
}

output_length_predictor::accuracy output_length_predictor::stats() const {
    std::lock_guard lock(_mutex);
    accuracy a;
    a.n = _n_observed;
    if (_n_observed > 0) {
        a.mean_abs_error_tokens = _sum_abs_error_tokens / static_cast<double>(_n_observed);
        a.within_2x_fraction = static_cast<double>(_n_within_2x) / static_cast<double>(_n_observed);
    }
    return a;
}

} // namespace llmfleet::serve
