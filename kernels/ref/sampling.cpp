// See sampling.h. Written plainly: a sorted copy gives the rank order "p descending, id ascending" that top-k and
// top-p cut. Precision (what kernels/cuda/sampling.cu matches): p_i = expf((l_i − max) / T) in f32, so equal
// logits give equal p and ties stay ties; every mass (the top-k set's, the top-p prefix, the kept set, the
// cumulative draw) is a double sum of those floats, exact enough that a backend summing in another order picks
// another token only when a cut or the draw lands within ~1e-16 (relative) of a token boundary.
#include "kernels/ref/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "common/check.h"

namespace llmfleet::kernels::ref {

namespace {

// The argmax, ties → lowest id (the greedy token).
int32_t argmax_lowest_id(std::span<const float> logits) {
    int32_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i) {
        if (logits[i] > logits[best]) {
            best = static_cast<int32_t>(i);
        }
    }
    return best;
}

void check_row(std::span<const float> logits, const sampling_row& row) {
    LLMFLEET_CHECK(!logits.empty(), "sample_row: empty logits row");
    LLMFLEET_CHECK(logits.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                   "sample_row: vocab {} does not fit token ids (int32)", logits.size());
    LLMFLEET_CHECK(row.temperature >= 0 && std::isfinite(row.temperature),
                   "sample_row: temperature must be finite and ≥ 0, got {}", row.temperature);
    LLMFLEET_CHECK(row.top_p > 0 && row.top_p <= 1, "sample_row: top_p must be in (0, 1], got {}", row.top_p);
    LLMFLEET_CHECK(row.min_p >= 0 && row.min_p <= 1, "sample_row: min_p must be in [0, 1], got {}", row.min_p);
    bool any_finite = false;
    for (size_t i = 0; i < logits.size(); ++i) {
        LLMFLEET_CHECK(!std::isnan(logits[i]) && logits[i] != std::numeric_limits<float>::infinity(),
                       "sample_row: logit {} of {} is {} (expected finite or -inf)", i, logits.size(), logits[i]);
        any_finite = any_finite || std::isfinite(logits[i]);
    }
    LLMFLEET_CHECK(any_finite, "sample_row: all {} logits are -inf (expected at least one finite)", logits.size());
}

} // namespace

int32_t sample_row_with_uniform(std::span<const float> logits, const sampling_row& row, double u) {
    check_row(logits, row);
    LLMFLEET_CHECK(u >= 0 && u < 1, "sample_row: the draw u must be in [0, 1), got {}", u);
    const int32_t greedy = argmax_lowest_id(logits);
    if (row.temperature == 0) {
        return greedy;
    }
    const auto vocab = static_cast<int32_t>(logits.size());
    const float max_logit = logits[greedy];

    // p ∈ [0, 1] (f32; the max has p = 1; −inf and underflowing logits have p = 0).
    std::vector<float> p(logits.size());
    for (int32_t i = 0; i < vocab; ++i) {
        p[i] = std::exp((logits[i] - max_logit) / row.temperature);
    }
    std::vector<bool> kept(logits.size(), true);

    const bool use_top_k = row.top_k > 0 && row.top_k < vocab;
    if (use_top_k || row.top_p < 1) {
        std::vector<int32_t> ranked(logits.size()); // ids in the order "p descending, id ascending"
        std::iota(ranked.begin(), ranked.end(), 0);
        std::sort(ranked.begin(), ranked.end(),
                  [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
        const int32_t n_top_k = use_top_k ? row.top_k : vocab;
        int32_t n_keep = n_top_k;
        if (row.top_p < 1) {
            // Top-p over the top-k set: the smallest prefix whose mass ≥ top_p × the set's mass (in rank order).
            double mass_top_k = 0;
            for (int32_t r = 0; r < n_top_k; ++r) {
                mass_top_k += p[ranked[r]];
            }
            const double target = static_cast<double>(row.top_p) * mass_top_k;
            double prefix = 0;
            for (int32_t r = 0; r < n_top_k; ++r) {
                prefix += p[ranked[r]];
                if (prefix >= target) {
                    n_keep = r + 1;
                    break;
                }
            }
        }
        for (int32_t r = n_keep; r < vocab; ++r) {
            kept[ranked[r]] = false;
        }
    }
    for (int32_t i = 0; i < vocab; ++i) {
        if (p[i] < row.min_p) {
            kept[i] = false; // never the max: p = 1 ≥ min_p
        }
    }

    // The draw: inverse CDF over the kept tokens in id order. Tokens with p = 0 never take it (their cumulative
    // mass does not grow); if rounding leaves u × mass ≥ every cumulative sum, the last kept token with p > 0.
    double mass_kept = 0;
    for (int32_t i = 0; i < vocab; ++i) {
        if (kept[i]) {
            mass_kept += p[i];
        }
    }
    const double target = u * mass_kept;
    double cumulative = 0;
    int32_t last_positive = -1;
    for (int32_t i = 0; i < vocab; ++i) {
        if (kept[i] && p[i] > 0) {
            cumulative += p[i];
            last_positive = i;
            if (cumulative > target) {
                return i;
            }
        }
    }
    LLMFLEET_CHECK(last_positive >= 0, "sample_row: no kept token has p > 0 (the max always does)");
    return last_positive;
}

int32_t sample_row(std::span<const float> logits, const sampling_row& row) {
    return sample_row_with_uniform(logits, row, sampling_uniform(row.seed, row.offset));
}

} // namespace llmfleet::kernels::ref
