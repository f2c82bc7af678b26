// kernels::ref::sample_row (the device-sampling contract, kernels/ref/sampling.h) on hand-computed rows: which
// tokens top-k / top-p / min-p keep (their ties and the inclusive top-p boundary), which token a given u picks,
// greedy ties, top_k = 1 ≡ greedy, −inf and underflowing logits, frequencies over many draws against the
// renormalised kept distribution, determinism, and sampling_uniform's range and uniformity.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/sampling.h"

namespace llmfleet::kernels::ref {
namespace {

constexpr float k_inf = std::numeric_limits<float>::infinity();

// p = {e^-2, 1, e^-1, 1, 0} at temperature 1: ranked 1, 3 (tie at 1, lowest id first), 2, 0, 4; mass 2.503.
const std::vector<float> k_row = {1.0F, 3.0F, 2.0F, 3.0F, -k_inf};

sampling_row params(float temperature, int32_t top_k, float top_p, float min_p) {
    sampling_row r;
    r.temperature = temperature;
    r.top_k = top_k;
    r.top_p = top_p;
    r.min_p = min_p;
    return r;
}

// The tokens that u = (j + 0.5) / n_draws reaches, j < n_draws: the kept set whenever each kept token holds more
// than 1 / n_draws of the kept mass (true of every row below).
std::set<int32_t> reached(const std::vector<float>& logits, const sampling_row& row, int n_draws = 2000) {
    std::set<int32_t> out;
    for (int j = 0; j < n_draws; ++j) {
        out.insert(sample_row_with_uniform(logits, row, (j + 0.5) / n_draws));
    }
    return out;
}

TEST(ref_sampling, greedy_takes_the_lowest_id_among_ties) {
    const std::vector<float> logits = {1.0F, 7.0F, 3.0F, 7.0F};
    EXPECT_EQ(sample_row(logits, params(0, 0, 1, 0)), 1);
    EXPECT_EQ(sample_row(std::vector<float>{-k_inf, -k_inf, 2.0F, -k_inf}, params(0, 0, 1, 0)), 2);
    EXPECT_EQ(sample_row(std::vector<float>{-5.0F}, params(1, 0, 1, 0)), 0);
    // Greedy ignores the other filters and the draw.
    EXPECT_EQ(sample_row_with_uniform(logits, params(0, 3, 0.5F, 0.9F), 0.999), 1);
}

TEST(ref_sampling, top_k_one_is_greedy) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0, 2);
    std::vector<float> logits(300);
    for (int trial = 0; trial < 50; ++trial) {
        for (float& l : logits) {
            l = std::round(normal(rng)); // integers: many ties at the max
        }
        const int32_t greedy = sample_row(logits, params(0, 0, 1, 0));
        for (double u : {0.0, 0.3, 0.999999}) {
            EXPECT_EQ(sample_row_with_uniform(logits, params(1.5F, 1, 1, 0), u), greedy);
        }
    }
}

TEST(ref_sampling, no_filter_keeps_every_finite_token) {
    EXPECT_EQ(reached(k_row, params(1, 0, 1, 0)), (std::set<int32_t>{0, 1, 2, 3}));
    // top_k ≤ 0 or ≥ vocab is off: the same token for every u.
    for (int32_t top_k : {-1, 5, 6, 1000}) {
        for (int j = 0; j < 200; ++j) {
            const double u = (j + 0.5) / 200;
            EXPECT_EQ(sample_row_with_uniform(k_row, params(1, top_k, 1, 0), u),
                      sample_row_with_uniform(k_row, params(1, 0, 1, 0), u));
        }
    }
}

TEST(ref_sampling, top_k_keeps_the_k_most_likely_ties_by_lowest_id) {
    EXPECT_EQ(reached(k_row, params(1, 1, 1, 0)), (std::set<int32_t>{1}));
    EXPECT_EQ(reached(k_row, params(1, 2, 1, 0)), (std::set<int32_t>{1, 3}));
    EXPECT_EQ(reached(k_row, params(1, 3, 1, 0)), (std::set<int32_t>{1, 2, 3}));
    EXPECT_EQ(reached(k_row, params(1, 4, 1, 0)), (std::set<int32_t>{0, 1, 2, 3}));
    // Three tokens tie at the max: top_k 2 keeps ids 1 and 2, never 3; equal masses split u at 0.5.
    const std::vector<float> ties = {2.0F, 5.0F, 5.0F, 5.0F, 1.0F};
    EXPECT_EQ(reached(ties, params(1, 2, 1, 0)), (std::set<int32_t>{1, 2}));
    EXPECT_EQ(sample_row_with_uniform(ties, params(1, 2, 1, 0), 0.49), 1);
    EXPECT_EQ(sample_row_with_uniform(ties, params(1, 2, 1, 0), 0.51), 2);
}

TEST(ref_sampling, top_p_keeps_the_smallest_prefix_reaching_the_mass) {
    // Mass 2.503; prefix masses in rank order: 1, 2, 2.368, 2.503.
    EXPECT_EQ(reached(k_row, params(1, 0, 0.3F, 0)), (std::set<int32_t>{1}));           // target 0.751
    EXPECT_EQ(reached(k_row, params(1, 0, 0.5F, 0)), (std::set<int32_t>{1, 3}));        // target 1.252
    EXPECT_EQ(reached(k_row, params(1, 0, 0.9F, 0)), (std::set<int32_t>{1, 2, 3}));     // target 2.253
    EXPECT_EQ(reached(k_row, params(1, 0, 0.95F, 0)), (std::set<int32_t>{0, 1, 2, 3})); // target 2.378
    // The boundary is inclusive: four equal tokens, top_p 0.5 → the first two reach exactly half the mass.
    const std::vector<float> flat = {0.0F, 0.0F, 0.0F, 0.0F};
    EXPECT_EQ(reached(flat, params(1, 0, 0.5F, 0)), (std::set<int32_t>{0, 1}));
    EXPECT_EQ(sample_row_with_uniform(flat, params(1, 0, 0.5F, 0), 0.49), 0);
    EXPECT_EQ(sample_row_with_uniform(flat, params(1, 0, 0.5F, 0), 0.51), 1);
    // The draw takes the first token whose cumulative mass strictly exceeds u × mass: u = 0.5 → target 1 → id 1.
    EXPECT_EQ(sample_row_with_uniform(flat, params(1, 0, 0.5F, 0), 0.5), 1);
    // A tiny top_p keeps only the most likely token (lowest id among ties).
    EXPECT_EQ(reached(std::vector<float>{3.0F, 5.0F, 5.0F}, params(1, 0, 1e-6F, 0)), (std::set<int32_t>{1}));
}

TEST(ref_sampling, top_p_renormalises_over_the_top_k_set) {
    // top_k 3 → {1, 3, 2}, mass 2.368: top_p 0.84 → target 1.989 ≤ 2 → {1, 3}; top_p 0.9 → 2.131 → {1, 3, 2}.
    EXPECT_EQ(reached(k_row, params(1, 3, 0.84F, 0)), (std::set<int32_t>{1, 3}));
    EXPECT_EQ(reached(k_row, params(1, 3, 0.9F, 0)), (std::set<int32_t>{1, 2, 3}));
    // Without top-k the same 0.84 needs 2.103 > 2: id 2 is kept too.
    EXPECT_EQ(reached(k_row, params(1, 0, 0.84F, 0)), (std::set<int32_t>{1, 2, 3}));
    // top_k 2 → {1, 3}, mass 2: top_p 0.5 → target 1, reached by token 1 alone (inclusive).
    EXPECT_EQ(reached(k_row, params(1, 2, 0.5F, 0)), (std::set<int32_t>{1}));
    EXPECT_EQ(reached(k_row, params(1, 2, 0.6F, 0)), (std::set<int32_t>{1, 3}));
}

TEST(ref_sampling, min_p_keeps_p_at_least_min_p_after_temperature) {
    EXPECT_EQ(reached(k_row, params(1, 0, 1, 0.2F)), (std::set<int32_t>{1, 2, 3})); // e^-1 = 0.37 ≥ 0.2 > e^-2
    EXPECT_EQ(reached(k_row, params(1, 0, 1, 0.5F)), (std::set<int32_t>{1, 3}));
    EXPECT_EQ(reached(k_row, params(1, 0, 1, 1.0F)), (std::set<int32_t>{1, 3})); // p = 1 ≥ 1
    // Temperature 2 flattens: p = {e^-1, 1, e^-0.5, 1}, so min_p 0.5 now keeps id 2 (0.61).
    EXPECT_EQ(reached(k_row, params(2, 0, 1, 0.5F)), (std::set<int32_t>{1, 2, 3}));
    // After top-p: top_p 0.9 keeps {1, 3, 2}, min_p 0.5 then drops 2.
    EXPECT_EQ(reached(k_row, params(1, 0, 0.9F, 0.5F)), (std::set<int32_t>{1, 3}));
}

TEST(ref_sampling, the_draw_walks_the_kept_tokens_in_id_order) {
    // Kept {1, 2, 3} with masses 1, e^-1, 1 (top_p 0.9): cumulative 1, 1.368, 2.368 → u splits at 0.422, 0.578.
    const sampling_row row = params(1, 0, 0.9F, 0);
    EXPECT_EQ(sample_row_with_uniform(k_row, row, 0.0), 1);
    EXPECT_EQ(sample_row_with_uniform(k_row, row, 0.42), 1);
    EXPECT_EQ(sample_row_with_uniform(k_row, row, 0.43), 2);
    EXPECT_EQ(sample_row_with_uniform(k_row, row, 0.57), 2);
    EXPECT_EQ(sample_row_with_uniform(k_row, row, 0.58), 3);
    EXPECT_EQ(sample_row_with_uniform(k_row, row, std::nextafter(1.0, 0.0)), 3);
    // sample_row draws u from (seed, offset).
    for (uint64_t offset = 0; offset < 100; ++offset) {
        sampling_row r = row;
        r.seed = 1234;
        r.offset = offset;
        EXPECT_EQ(sample_row(k_row, r), sample_row_with_uniform(k_row, r, sampling_uniform(1234, offset)));
    }
}

TEST(ref_sampling, tokens_with_p_zero_are_never_drawn) {
    // −inf logits, kept by top_k through the tie rule, still have no mass.
    const std::vector<float> logits = {-k_inf, 0.0F, -k_inf, 0.0F};
    EXPECT_EQ(reached(logits, params(1, 3, 1, 0)), (std::set<int32_t>{1, 3}));
    EXPECT_EQ(reached(logits, params(1, 0, 1, 0)), (std::set<int32_t>{1, 3}));
    // Temperature 0.01 underflows e^-500 and e^-1000 to 0: only the max remains.
    EXPECT_EQ(reached(std::vector<float>{0.0F, 5.0F, 10.0F}, params(0.01F, 0, 1, 0)), (std::set<int32_t>{2}));
    EXPECT_EQ(reached(std::vector<float>{10.0F, -1e30F, 10.0F}, params(1, 0, 1, 0)), (std::set<int32_t>{0, 2}));
}

// Over 200000 offsets each token's frequency is within 5 standard deviations (sqrt(q (1 − q) / n)) of its
// renormalised probability q: a correct sampler fails one comparison with probability ~6e-7.
void expect_frequencies(const std::vector<float>& logits, const sampling_row& row, const std::vector<double>& q) {
    const int n = 200000;
    std::vector<int64_t> counts(logits.size(), 0);
    sampling_row r = row;
    r.seed = 0x5eed;
    for (int i = 0; i < n; ++i) {
        r.offset = static_cast<uint64_t>(i);
        ++counts.at(static_cast<size_t>(sample_row(logits, r)));
    }
    for (size_t t = 0; t < logits.size(); ++t) {
        const double f = static_cast<double>(counts[t]) / n;
        const double bound = 5 * std::sqrt(q[t] * (1 - q[t]) / n);
        EXPECT_NEAR(f, q[t], bound) << "token " << t;
        if (q[t] == 0) {
            EXPECT_EQ(counts[t], 0) << "token " << t << " is not kept";
        }
    }
}

TEST(ref_sampling, frequencies_follow_the_renormalised_kept_distribution) {
    // Kept {1, 2, 3} (top_p 0.9), masses 1, e^-1, 1.
    const double m = 2 + std::exp(-1.0);
    expect_frequencies(k_row, params(1, 0, 0.9F, 0), {0, 1 / m, std::exp(-1.0) / m, 1 / m, 0});
    // No filter at temperature 2: softmax(l / 2).
    std::vector<double> q(k_row.size(), 0);
    double z = 0;
    for (size_t t = 0; t < k_row.size(); ++t) {
        q[t] = std::exp((k_row[t] - 3.0) / 2.0);
        z += q[t];
    }
    for (double& v : q) {
        v /= z;
    }
    expect_frequencies(k_row, params(2, 0, 1, 0), q);
}

TEST(ref_sampling, same_seed_and_offset_give_the_same_token) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> logits(5000);
    for (float& l : logits) {
        l = normal(rng);
    }
    sampling_row row = params(1, 0, 0.95F, 0);
    std::set<int32_t> distinct;
    for (uint64_t offset = 0; offset < 50; ++offset) {
        row.seed = 42;
        row.offset = offset;
        const int32_t a = sample_row(logits, row);
        EXPECT_EQ(sample_row(logits, row), a);
        distinct.insert(a);
    }
    EXPECT_GT(distinct.size(), 40U); // a flat distribution over ~5000 tokens: offsets do change the draw
}

TEST(ref_sampling, large_vocab_respects_every_filter) {
    // vocab 151936 (Qwen): the token lies in the top 5 by logit, and min_p holds: p = e^(l − max) ≥ min_p.
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0, 3);
    std::vector<float> logits(151936);
    for (float& l : logits) {
        l = normal(rng);
    }
    std::vector<float> sorted = logits;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    for (uint64_t offset = 0; offset < 20; ++offset) {
        sampling_row row = params(1, 5, 1, 0);
        row.offset = offset;
        EXPECT_GE(logits[static_cast<size_t>(sample_row(logits, row))], sorted[4]);
        row = params(1, 0, 0.9F, 0.3F);
        row.offset = offset;
        EXPECT_GE(logits[static_cast<size_t>(sample_row(logits, row))], sorted[0] + std::log(0.3F) - 1e-5F);
    }
}

TEST(ref_sampling, uniform_is_in_range_and_roughly_uniform) {
    const uint64_t extremes[] = {0, 1, ~0ULL, 0x8000000000000000ULL};
    for (uint64_t seed : extremes) {
        for (uint64_t offset : extremes) {
            const double u = sampling_uniform(seed, offset);
            EXPECT_GE(u, 0.0);
            EXPECT_LT(u, 1.0);
            EXPECT_EQ(u * 0x1.0p53, std::floor(u * 0x1.0p53)); // 53 bits
        }
    }
    // 10^6 draws into 16 bins: chi-square with 15 degrees of freedom; 50 is beyond its 99.999th percentile (~44).
    const int n = 1000000, n_bins = 16;
    std::vector<int64_t> bins(n_bins, 0);
    double sum = 0;
    for (int i = 0; i < n; ++i) {
        const double u = sampling_uniform(static_cast<uint64_t>(i % 7), static_cast<uint64_t>(i / 7));
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        sum += u;
        ++bins[static_cast<size_t>(u * n_bins)];
    }
    EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
    const double expected = static_cast<double>(n) / n_bins;
    double chi2 = 0;
    for (int64_t c : bins) {
        chi2 += (c - expected) * (c - expected) / expected;
    }
    EXPECT_LT(chi2, 50.0);
    // Seeds give different streams, offsets different draws.
    EXPECT_NE(sampling_uniform(1, 0), sampling_uniform(2, 0));
    EXPECT_NE(sampling_uniform(1, 0), sampling_uniform(1, 1));
    static_assert(sampling_uniform(0, 0) >= 0 && sampling_uniform(0, 0) < 1, "usable in constant expressions");
}

TEST(ref_sampling_death, bad_rows_abort) {
    const std::vector<float> nan_row = {0.0F, std::numeric_limits<float>::quiet_NaN()};
    EXPECT_DEATH(sample_row(nan_row, params(1, 0, 1, 0)), "logit 1 of 2 is nan");
    EXPECT_DEATH(sample_row(std::vector<float>{-k_inf, -k_inf}, params(1, 0, 1, 0)), "all 2 logits are -inf");
    EXPECT_DEATH(sample_row(k_row, params(1, 0, 0, 0)), "top_p must be in");
}

} // namespace
} // namespace llmfleet::kernels::ref
