// Output-length prediction from history: per log2 input-length bucket, a quantile of the last `window` observed
// output lengths. The router uses it to estimate a request's cost (least-tokens) and its plan bucket before the
// engine has produced anything; accuracy stats go to /metrics.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace llmfleet::serve {

struct length_predictor_options {
    size_t window = 256;                 // observations kept per input bucket (≥ 1); older ones drop out
    int64_t default_output_tokens = 256; // prediction before any observation (≥ 1)
    double quantile = 0.5;               // in [0, 1]: 0.5 is the median, 0.9 a conservative estimate
};

// thread-safe (guarded by _mutex).
class output_length_predictor {
public:
    // Throws invalid_input naming the option when window = 0, default_output_tokens < 1 or quantile ∉ [0, 1].
    explicit output_length_predictor(length_predictor_options o = {});

    static constexpr int n_input_buckets = 64;
    // floor(log2(max(1, input_tokens))): 1 → 0, 2..3 → 1, 4..7 → 2, ...
    static int input_bucket(int64_t input_tokens);

    // The `quantile` of the moving window of observed output lengths for this input's log2 bucket (falling back
    // to the nearest non-empty bucket — the lower one on a tie — then default_output_tokens), capped by
    // max_tokens when given (a cap below 1 counts as 1). The quantile is nearest-rank: the smallest observed
    // value v with at least quantile × n values ≤ v (for n = 4 and q = 0.5: the 2nd smallest).
    int64_t predict(int64_t input_tokens, std::optional<int64_t> max_tokens) const;

    // Records a finished request: adds actual to the window of its bucket and updates accuracy.
    // note: token counts ≥ 0 (checked).
    void observe(int64_t input_tokens, int64_t predicted_output_tokens, int64_t actual_output_tokens);

    struct accuracy {
        int64_t n = 0;                    // observations
        double mean_abs_error_tokens = 0; // mean |predicted − actual|
        double within_2x_fraction = 0;    // share with actual / 2 ≤ predicted ≤ 2 × actual
    };
    accuracy stats() const;

private:
    int64_t quantile_of(const std::deque<int64_t>& window) const; // not thread-safe: caller holds _mutex

    length_predictor_options _options;
    mutable std::mutex _mutex;
    std::array<std::deque<int64_t>, n_input_buckets> _windows; // guarded by _mutex; oldest first
    int64_t _n_observed = 0;                                   // guarded by _mutex
    double _sum_abs_error_tokens = 0;                          // guarded by _mutex
    int64_t _n_within_2x = 0;                                  // guarded by _mutex
};

} // namespace llmfleet::serve
