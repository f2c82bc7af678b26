// The sampler against hand-computed cases: greedy and its tie rule, the temperature distribution (chi-square
// over 20000 draws), top-k / top-p (the inclusive boundary) / min-p and their order, the penalties and
// min_tokens, seeds and the documented draw, raw logprobs, validate() messages, extreme logits, and no heap
// allocation in steady state.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <optional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/sampler.h"
#include "tests/test_support.h"

// Counts heap allocations, for the steady-state test. Replacing the global operator new is the standard way;
// the array and nothrow forms forward to this one in libstdc++. The malloc/free calls sit in non-inlined
// helpers so that GCC's -Wmismatched-new-delete does not see free() meet operator new's pointer.
static std::atomic<int64_t> g_n_allocs{0};

[[gnu::noinline]] static void* counted_malloc(std::size_t size) {
    g_n_allocs.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(size == 0 ? 1 : size);
}
[[gnu::noinline]] static void counted_free(void* p) {
    std::free(p);
}

void* operator new(std::size_t size) {
    if (void* p = counted_malloc(size)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}

namespace llmfleet::engine {
namespace {

constexpr float k_inf = std::numeric_limits<float>::infinity();
const std::vector<int32_t> k_no_eos;

sampling_params greedy() {
    sampling_params p;
    p.temperature = 0;
    return p;
}

// Draws n tokens from one sampler on a fixed row; the count per token.
std::vector<int64_t> draw_counts(const sampling_params& p, const std::vector<float>& logits, int n_draws,
                                 uint64_t seed = 1) {
    sequence_sampler s(p, {}, seed);
    std::vector<int64_t> counts(logits.size(), 0);
    for (int i = 0; i < n_draws; ++i) {
        ++counts[s.sample(logits, k_no_eos).token];
    }
    return counts;
}

// softmax(logits / temperature) in double.
std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
    double max = -INFINITY;
    for (float v : logits) {
        max = std::max(max, static_cast<double>(v));
    }
    std::vector<double> p(logits.size());
    double sum = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        p[i] = std::exp((logits[i] - max) / temperature);
        sum += p[i];
    }
    for (double& v : p) {
        v /= sum;
    }
    return p;
}

// p restricted to `kept` and renormalised.
std::vector<double> restrict_to(std::vector<double> p, const std::vector<int32_t>& kept) {
    std::vector<double> out(p.size(), 0.0);
    double sum = 0;
    for (int32_t t : kept) {
        out[t] = p[t];
        sum += p[t];
    }
    for (double& v : out) {
        v /= sum;
    }
    return out;
}

// Pearson's chi-square of counts against probabilities p; a zero-probability bin must stay empty.
double chi_square(const std::vector<int64_t>& counts, const std::vector<double>& p) {
    int64_t n = 0;
    for (int64_t c : counts) {
        n += c;
    }
    double chi = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == 0) {
            EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0 but was drawn";
            continue;
        }
        const double expected = static_cast<double>(n) * p[i];
        chi += (static_cast<double>(counts[i]) - expected) * (static_cast<double>(counts[i]) - expected) / expected;
    }
    return chi;
}

// A loose bound on chi-square with df degrees of freedom (mean df, sd sqrt(2 df)): its tail is below 1e-5.
double chi_square_limit(int df) {
    return df + 6 * std::sqrt(2.0 * df) + 10;
}

int nonzero_bins(const std::vector<double>& p) {
    int n = 0;
    for (double v : p) {
        n += v > 0 ? 1 : 0;
    }
    return n;
}

// Asserts that draws from (p, logits) follow `expected`.
void expect_distribution(const sampling_params& p, const std::vector<float>& logits,
                         const std::vector<double>& expected, int n_draws = 20000) {
    const std::vector<int64_t> counts = draw_counts(p, logits, n_draws);
    const double chi = chi_square(counts, expected);
    EXPECT_LT(chi, chi_square_limit(nonzero_bins(expected) - 1))
        << "temperature " << p.temperature << " top_k " << p.top_k << " top_p " << p.top_p;
}

// Hand-built distribution: probabilities .5, .3, .15, .05 at ids 2, 0, 3, 1 (ids shuffled so that rank ≠ id).
std::vector<float> four_token_logits() {
    return {std::log(0.3f), std::log(0.05f), std::log(0.5f), std::log(0.15f)};
}

std::vector<float> random_logits(int n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::vector<float> x(n);
    for (float& v : x) {
        v = static_cast<float>(gen() % 20000) / 10000.0f - 1.0f; // [-1, 1)
    }
    return x;
}

// The prefix of `probs` (ranked by id here) that top-p keeps: tokens while the mass before them is < top_p.
std::vector<int32_t> nucleus_by_id(const std::vector<double>& probs, double top_p) {
    std::vector<int32_t> kept;
    double cum = 0;
    for (int32_t i = 0; cum < top_p; ++i) {
        kept.push_back(i);
        cum += probs[i];
    }
    return kept;
}

TEST(SamplerGreedy, ArgmaxWithTiesToTheLowestId) {
    sequence_sampler s(greedy(), {}, 0);
    EXPECT_EQ(s.sample(std::vector<float>{0.1f, 2.0f, -1.0f, 2.0f}, k_no_eos).token, 1);
    EXPECT_EQ(s.sample(std::vector<float>{-k_inf, -k_inf, -5.0f, -k_inf}, k_no_eos).token, 2);

    // 1000 tokens: three full blocks of 256 and a tail of 232.
    std::vector<float> x = random_logits(1000, 3);
    x[700] = 10;
    x[900] = 10; // tail; ties with 700
    EXPECT_EQ(s.sample(x, k_no_eos).token, 700);
    x[5] = 10; // an earlier block with the same maximum
    EXPECT_EQ(s.sample(x, k_no_eos).token, 5);
    x[999] = 10.5f; // the maximum alone in the tail
    EXPECT_EQ(s.sample(x, k_no_eos).token, 999);
    EXPECT_EQ(s.n_generated(), 5);
}

TEST(SamplerTemperature, DistributionMatchesSoftmax) {
    const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f};
    for (double t : {0.7, 1.0, 1.8}) {
        sampling_params p;
        p.temperature = t;
        expect_distribution(p, logits, softmax(logits, t));
    }
    // 300 tokens: one full block and a partial one, so the walk crosses blocks and the tail.
    const std::vector<float> wide = random_logits(300, 11);
    sampling_params p;
    p.temperature = 0.5;
    expect_distribution(p, wide, softmax(wide, 0.5), 60000);
}

TEST(SamplerTemperature, WrongTemperatureIsDetected) {
    // The check above has power: draws at T = 0.7 are far from softmax(logits / 1).
    const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f};
    sampling_params p;
    p.temperature = 0.7;
    EXPECT_GT(chi_square(draw_counts(p, logits, 20000), softmax(logits, 1.0)), 10 * chi_square_limit(4));
}

TEST(SamplerTopK, OnlyTheKBest) {
    std::vector<float> x = random_logits(1000, 5);
    x[17] = 5.0f;
    x[800] = 4.9f;
    sampling_params p;
    p.top_k = 2;
    expect_distribution(p, x, restrict_to(softmax(x, 1.0), {17, 800}), 4000);

    // Ties at the k-th value: the lowest ids are kept.
    p.top_k = 2;
    const std::vector<float> tied = {3.0f, 1.0f, 3.0f, 3.0f};
    expect_distribution(p, tied, {0.5, 0, 0.5, 0}, 4000);

    p.top_k = 1;
    expect_distribution(p, x, restrict_to(softmax(x, 1.0), {17}), 100);
}

TEST(SamplerTopK, LargeKUsesTheIndexPath) {
    // k = 1030 > the heap limit (1024): ids 0..1029 hold the largest logits (decreasing with the id).
    std::vector<float> x(1200);
    for (int i = 0; i < 1200; ++i) {
        x[i] = -0.001f * static_cast<float>(i);
    }
    sampling_params p;
    p.top_k = 1030;
    std::vector<int32_t> kept(1030);
    for (int i = 0; i < 1030; ++i) {
        kept[i] = i;
    }
    expect_distribution(p, x, restrict_to(softmax(x, 1.0), kept), 20000);
}

TEST(SamplerTopP, SmallestSetReachingP) {
    // Probabilities by rank: .5 (id 2), .3 (id 0), .15 (id 3), .05 (id 1). Kept: the smallest prefix whose
    // mass is ≥ top_p.
    const std::vector<float> x = four_token_logits();
    const std::vector<double> probs = softmax(x, 1.0);
    sampling_params p;
    p.top_p = 0.79; // .5 + .3 = .8 ≥ .79
    expect_distribution(p, x, restrict_to(probs, {2, 0}));
    p.top_p = 0.81; // needs the third
    expect_distribution(p, x, restrict_to(probs, {2, 0, 3}));
    p.top_p = 0.4; // the first alone already reaches .4
    expect_distribution(p, x, restrict_to(probs, {2}), 1000);
    p.top_p = 1.0;
    expect_distribution(p, x, probs);
}

TEST(SamplerTopP, BoundaryIsInclusiveAndTiesKeepTheLowestIds) {
    // n equal logits: each p = 1/n exactly (e = exp(0) = 1). top_p = .5: n/2 tokens reach .5 exactly, which
    // is enough (inclusive), and of equal tokens the lowest ids rank first. n = 1000 takes the path that
    // ranks the candidates directly, n = 3000 (more than 1024 candidates) the histogram + select path.
    for (int n : {600, 3000}) {
        const std::vector<float> flat(n, 0.0f);
        const int half = n / 2;
        sampling_params p;
        p.top_p = 0.5;
        const int n_draws = n == 600 ? 6000 : 16000; // ≥ 10 draws per kept token
        std::vector<int64_t> counts = draw_counts(p, flat, n_draws);
        int n_drawn = 0;
        for (int i = 0; i < n; ++i) {
            if (i >= half) {
                EXPECT_EQ(counts[i], 0) << "n " << n << " token " << i;
            }
            n_drawn += counts[i] > 0 ? 1 : 0;
        }
        EXPECT_GT(counts[half - 1], 0) << n;
        EXPECT_GT(n_drawn, half * 99 / 100) << n;
        // A hair more than .5 needs one more token (id n/2).
        p.top_p = 0.5 + 1e-6;
        counts = draw_counts(p, flat, n_draws);
        EXPECT_GT(counts[half], 0) << n;
        for (int i = half + 1; i < n; ++i) {
            EXPECT_EQ(counts[i], 0) << "n " << n << " token " << i;
        }
    }
    // The same rule on the top-k path (top_k < vocab): 8 candidates, top_p .5 keeps exactly ids 0..3.
    sampling_params p;
    p.top_k = 8;
    p.top_p = 0.5;
    expect_distribution(p, std::vector<float>(10, 0.0f), {0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0, 0, 0}, 4000);
}

TEST(SamplerTopP, HistogramPathMatchesTheDistribution) {
    // 2000 tokens, logit -i/500: every token is a top-p candidate (> 1024), so the exponent histogram and
    // the weighted select find the boundary (near id 1074).
    std::vector<float> x(2000);
    for (int i = 0; i < 2000; ++i) {
        x[i] = -static_cast<float>(i) / 500;
    }
    const std::vector<double> probs = softmax(x, 1.0);
    sampling_params p;
    p.top_p = 0.9;
    const std::vector<int32_t> kept = nucleus_by_id(probs, 0.9);
    EXPECT_GT(kept.size(), 1024u);
    expect_distribution(p, x, restrict_to(probs, kept), 40000);
}

TEST(SamplerTopP, AppliesToTheTopKRenormalisedDistribution) {
    // vLLM order: top-k first, then top-p on the distribution renormalised over the k kept. With top_k = 3
    // the masses are .5/.95, .3/.95, .15/.95, so .81 is reached by the first two (.842), unlike without top-k.
    const std::vector<float> x = four_token_logits();
    sampling_params p;
    p.top_k = 3;
    p.top_p = 0.81;
    expect_distribution(p, x, restrict_to(softmax(x, 1.0), {2, 0}));
}

TEST(SamplerMinP, DropsTokensBelowMinPTimesTheMax) {
    // p / p_max by rank: 1, .6, .3, .1.
    const std::vector<float> x = four_token_logits();
    const std::vector<double> probs = softmax(x, 1.0);
    for (int32_t top_k : {0, 3}) { // the full path and the top-k path
        sampling_params p;
        p.top_k = top_k;
        p.min_p = 0.25;
        expect_distribution(p, x, restrict_to(probs, {2, 0, 3}));
        p.min_p = 0.35;
        expect_distribution(p, x, restrict_to(probs, {2, 0}));
        p.min_p = 1.0;
        expect_distribution(p, x, restrict_to(probs, {2}), 1000);
    }
    // min_p after temperature: at T = 2, p / p_max = sqrt(.6), sqrt(.3) = .548, sqrt(.1) = .316.
    sampling_params p;
    p.temperature = 2;
    p.min_p = 0.5;
    expect_distribution(p, x, restrict_to(softmax(x, 2.0), {2, 0, 3}));
}

TEST(SamplerMinP, CombinesWithTopPOnTheFullPath) {
    // 1000 tokens: id i has logit -i/100. top_p .9 and min_p: the tighter prefix wins.
    std::vector<float> x(1000);
    for (int i = 0; i < 1000; ++i) {
        x[i] = -static_cast<float>(i) / 100;
    }
    sampling_params p;
    p.top_p = 0.9;
    p.min_p = std::exp(-0.505); // keeps ids 0..50 (e = exp(-i/100) ≥ exp(-.505))
    std::vector<int32_t> kept;
    for (int i = 0; i <= 50; ++i) {
        kept.push_back(i);
    }
    expect_distribution(p, x, restrict_to(softmax(x, 1.0), kept));
    // top_p alone: the prefix whose mass reaches .9 of Σ exp(-i/100) (computed here in double).
    p.min_p = 0;
    const std::vector<double> probs = softmax(x, 1.0);
    expect_distribution(p, x, restrict_to(probs, nucleus_by_id(probs, 0.9)), 15000);
}

TEST(SamplerMinP, TighterThanTopPOnTheHistogramPath) {
    // 3000 tokens, logit -i/1000: min_p = exp(-1.2005) keeps ids 0..1200 (more than 1024 candidates), inside
    // the top-p .9 nucleus (ids up to ~1930).
    std::vector<float> x(3000);
    for (int i = 0; i < 3000; ++i) {
        x[i] = -static_cast<float>(i) / 1000;
    }
    sampling_params p;
    p.top_p = 0.9;
    p.min_p = std::exp(-1.2005);
    std::vector<int32_t> kept(1201);
    for (int i = 0; i <= 1200; ++i) {
        kept[i] = i;
    }
    expect_distribution(p, x, restrict_to(softmax(x, 1.0), kept), 30000);
}

TEST(SamplerRepetitionPenalty, HandComputed) {
    sampling_params p = greedy();
    p.repetition_penalty = 1.5;
    const std::vector<int32_t> prompt = {0, 1, 1};
    sequence_sampler s(p, prompt, 0);
    std::vector<float> x = {2.0f, -1.0f, 0.5f, 3.0f, -0.5f};
    s.process_logits(x, k_no_eos);
    // Positive logits are divided, negative ones multiplied; tokens outside prompt ∪ generated untouched.
    EXPECT_FLOAT_EQ(x[0], 2.0f / 1.5f);
    EXPECT_FLOAT_EQ(x[1], -1.5f);
    EXPECT_FLOAT_EQ(x[2], 0.5f);
    EXPECT_FLOAT_EQ(x[3], 3.0f);
    EXPECT_FLOAT_EQ(x[4], -0.5f);
    // The generated token joins the set.
    EXPECT_EQ(s.sample(std::vector<float>{2.0f, -1.0f, 0.5f, 3.0f, -0.5f}, k_no_eos).token, 3);
    x = {2.0f, -1.0f, 0.5f, 3.0f, -0.5f};
    s.process_logits(x, k_no_eos);
    EXPECT_FLOAT_EQ(x[3], 2.0f);
    EXPECT_FLOAT_EQ(x[2], 0.5f);
}

TEST(SamplerRepetitionPenalty, GreedyHonoursIt) {
    const std::vector<int32_t> prompt = {0};
    const auto pick = [&](std::vector<float> logits, double penalty) {
        sampling_params p = greedy();
        p.repetition_penalty = penalty;
        sequence_sampler s(p, prompt, 0);
        return s.sample(logits, k_no_eos).token;
    };
    EXPECT_EQ(pick({2.0f, 1.5f}, 1.5), 1);   // 2 / 1.5 = 1.33 < 1.5
    EXPECT_EQ(pick({2.0f, 1.5f}, 1.3), 0);   // 2 / 1.3 = 1.54 > 1.5
    EXPECT_EQ(pick({-1.0f, -1.2f}, 1.1), 0); // -1 · 1.1 = -1.1 > -1.2
    EXPECT_EQ(pick({-1.0f, -1.2f}, 1.3), 1); // -1 · 1.3 = -1.3 < -1.2 (dividing would give -0.77)
    EXPECT_EQ(pick({1.0f, 1.5f}, 0.5), 0);   // a penalty < 1 favours repeats: 1 / .5 = 2
}

TEST(SamplerFrequencyPresence, HandComputedOverSuccessiveCalls) {
    // logit -= 0.4 · count + 0.3 · (count > 0). Greedy, constant logits:
    //   counts {}            → 5, 4.5, 4.2      → 0
    //   {0:1}                → 4.3, 4.5, 4.2    → 1
    //   {0:1, 1:1}           → 4.3, 3.8, 4.2    → 0
    //   {0:2, 1:1}           → 3.9, 3.8, 4.2    → 2
    //   {0:2, 1:1, 2:1}      → 3.9, 3.8, 3.5    → 0
    //   {0:3, 1:1, 2:1}      → 3.5, 3.8, 3.5    → 1
    sampling_params p = greedy();
    p.frequency_penalty = 0.4;
    p.presence_penalty = 0.3;
    sequence_sampler s(p, std::vector<int32_t>{0, 1, 2}, 0); // the prompt does not count
    const std::vector<float> logits = {5.0f, 4.5f, 4.2f, 0.0f};
    std::vector<int32_t> tokens;
    for (int i = 0; i < 6; ++i) {
        tokens.push_back(s.sample(logits, k_no_eos).token);
    }
    EXPECT_EQ(tokens, (std::vector<int32_t>{0, 1, 0, 2, 0, 1}));
    std::vector<float> x = logits; // counts now {0:3, 1:2, 2:1}
    s.process_logits(x, k_no_eos);
    EXPECT_FLOAT_EQ(x[0], static_cast<float>(5.0 - (0.4 * 3 + 0.3)));
    EXPECT_FLOAT_EQ(x[1], static_cast<float>(4.5 - (0.4 * 2 + 0.3)));
    EXPECT_FLOAT_EQ(x[2], static_cast<float>(4.2f - (0.4 * 1 + 0.3)));
    EXPECT_FLOAT_EQ(x[3], 0.0f);
    // Negative penalties reward repeats.
    sampling_params q = greedy();
    q.frequency_penalty = -1;
    sequence_sampler r(q, {}, 0);
    EXPECT_EQ(r.sample(std::vector<float>{1.0f, 1.5f}, k_no_eos).token, 1);
    x = {2.0f, 1.0f};
    r.process_logits(x, k_no_eos);
    EXPECT_FLOAT_EQ(x[1], 2.0f);
}

TEST(SamplerMinTokens, MasksEosAndStopIdsThenStops) {
    sampling_params p = greedy();
    p.min_tokens = 3;
    p.stop_token_ids = {3};
    const std::vector<int32_t> eos = {2};
    sequence_sampler s(p, {}, 0);
    const std::vector<float> logits = {1.0f, 0.5f, 5.0f, 4.0f};
    std::vector<float> x = logits;
    s.process_logits(x, eos);
    EXPECT_EQ(x[2], -k_inf);
    EXPECT_EQ(x[3], -k_inf);
    EXPECT_EQ(x[0], 1.0f);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(s.sample(logits, eos).token, 0) << "call " << i;
    }
    EXPECT_EQ(s.sample(logits, eos).token, 2); // 3 generated: no more masking
    x = logits;
    s.process_logits(x, eos);
    EXPECT_EQ(x[2], 5.0f);

    // Sampling too: eos holds nearly all the mass but is never drawn before min_tokens.
    sampling_params q;
    q.min_tokens = 50;
    q.max_tokens = 100;
    sequence_sampler r(q, {}, 9);
    const std::vector<float> peaked = {0.0f, 0.0f, 20.0f};
    for (int i = 0; i < 50; ++i) {
        EXPECT_NE(r.sample(peaked, eos).token, 2) << "call " << i;
    }
    EXPECT_EQ(r.sample(peaked, eos).token, 2);
}

TEST(SamplerSeed, SameSeedSameTokensDifferentSeedDifferentTokens) {
    const std::vector<float> flat(1000, 0.0f);
    const auto run = [&](std::optional<uint64_t> seed, uint64_t unseeded) {
        sampling_params p;
        p.seed = seed;
        sequence_sampler s(p, {}, unseeded);
        std::vector<int32_t> tokens;
        for (int i = 0; i < 100; ++i) {
            tokens.push_back(s.sample(flat, k_no_eos).token);
        }
        return tokens;
    };
    EXPECT_EQ(run(42, 1), run(42, 2)); // a set seed ignores the engine's unseeded seed
    EXPECT_NE(run(42, 1), run(43, 1));
    EXPECT_EQ(run(std::nullopt, 42), run(42, 7)); // unset: the unseeded seed seeds the RNG
    EXPECT_NE(run(std::nullopt, 1), run(std::nullopt, 2));
}

TEST(SamplerSeed, IndependentOfBatchComposition) {
    // A sequence's tokens do not depend on which other sequences sample between its calls.
    const std::vector<float> x = random_logits(2000, 8);
    sampling_params p;
    p.seed = 7;
    p.top_p = 0.95;
    sequence_sampler alone(p, {}, 0);
    std::vector<int32_t> expected;
    for (int i = 0; i < 50; ++i) {
        expected.push_back(alone.sample(x, k_no_eos).token);
    }
    sequence_sampler a(p, {}, 0);
    sampling_params other = p;
    other.seed = 8;
    sequence_sampler b(other, {}, 0);
    std::vector<int32_t> got;
    for (int i = 0; i < 50; ++i) {
        b.sample(x, k_no_eos);
        got.push_back(a.sample(x, k_no_eos).token);
        b.sample(x, k_no_eos);
    }
    EXPECT_EQ(got, expected);
}

TEST(SamplerSeed, DrawIsTheDocumentedInverseCdf) {
    // Equal logits make every e = 1 exactly, so the draw is token = floor(u · vocab) with
    // u = (rng() >> 11) · 2^-53 from mt19937_64(seed): no std:: distribution involved.
    const std::vector<float> flat(1000, 0.0f);
    sampling_params p;
    p.seed = 42;
    sequence_sampler s(p, {}, 0);
    std::mt19937_64 rng(42);
    for (int i = 0; i < 50; ++i) {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        EXPECT_EQ(s.sample(flat, k_no_eos).token, static_cast<int32_t>(u * 1000)) << "draw " << i;
    }
}

TEST(SamplerLogprobs, RawLogSoftmaxIndependentOfSamplingTransforms) {
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f, 0.5f};
    const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(0.5));
    std::vector<double> expected(4);
    for (int i = 0; i < 4; ++i) {
        expected[i] = logits[i] - lse;
    }
    sampling_params p;
    p.temperature = 0.5;
    p.repetition_penalty = 1.3;
    p.frequency_penalty = 1.0;
    p.top_k = 3;
    p.logprobs = 2;
    sequence_sampler s(p, std::vector<int32_t>{2}, 5);
    for (int call = 0; call < 20; ++call) {
        const sample_result r = s.sample(logits, k_no_eos);
        EXPECT_NEAR(r.logprob, expected[r.token], 1e-6) << "token " << r.token;
        ASSERT_EQ(r.top.size(), 2u);
        EXPECT_EQ(r.top[0].token, 2);
        EXPECT_NEAR(r.top[0].logprob, expected[2], 1e-6);
        EXPECT_EQ(r.top[1].token, 1);
        EXPECT_NEAR(r.top[1].logprob, expected[1], 1e-6);
    }
    // Greedy: the same numbers.
    sampling_params g = greedy();
    g.logprobs = 0;
    sequence_sampler gs(g, {}, 0);
    const sample_result r = gs.sample(logits, k_no_eos);
    EXPECT_EQ(r.token, 2);
    EXPECT_NEAR(r.logprob, expected[2], 1e-6);
    EXPECT_TRUE(r.top.empty());
    // More requested than the vocabulary holds: all of it, sorted.
    g.logprobs = 20;
    sequence_sampler all(g, {}, 0);
    const sample_result r4 = all.sample(logits, k_no_eos);
    ASSERT_EQ(r4.top.size(), 4u);
    EXPECT_EQ(r4.top[3].token, 3);
    EXPECT_NEAR(r4.top[3].logprob, expected[3], 1e-6);
    // None requested: no logprob, no list.
    sequence_sampler none(greedy(), {}, 0);
    const sample_result r0 = none.sample(logits, k_no_eos);
    EXPECT_EQ(r0.logprob, 0.0f);
    EXPECT_TRUE(r0.top.empty());
}

TEST(SamplerLogprobs, WideVocabularyAgainstDouble) {
    // 3000 tokens (blocks and a tail), spread logits: every sample's logprob and the top 5 within 1e-5.
    std::vector<float> x = random_logits(3000, 21);
    for (float& v : x) {
        v *= 8;
    }
    x[1234] = -k_inf;
    double max = -INFINITY;
    for (float v : x) {
        max = std::max(max, static_cast<double>(v));
    }
    double sum = 0;
    for (float v : x) {
        sum += std::exp(v - max);
    }
    const double lse = max + std::log(sum);
    std::vector<int32_t> order(3000);
    for (int i = 0; i < 3000; ++i) {
        order[i] = i;
    }
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
    sampling_params p;
    p.logprobs = 5;
    p.top_p = 0.9;
    sequence_sampler s(p, {}, 3);
    for (int call = 0; call < 10; ++call) {
        const sample_result r = s.sample(x, k_no_eos);
        EXPECT_NEAR(r.logprob, x[r.token] - lse, 1e-5);
        ASSERT_EQ(r.top.size(), 5u);
        for (int j = 0; j < 5; ++j) {
            EXPECT_EQ(r.top[j].token, order[j]);
            EXPECT_NEAR(r.top[j].logprob, x[order[j]] - lse, 1e-5);
            if (j > 0) {
                EXPECT_GE(r.top[j - 1].logprob, r.top[j].logprob);
            }
        }
    }
}

TEST(SamplerValidate, MessagesNameTheFieldAndTheRange) {
    const auto message = [](const std::function<void(sampling_params&)>& edit) {
        sampling_params p;
        edit(p);
        return test::error_of([&] { p.validate(1000); });
    };
    EXPECT_EQ(message([](sampling_params&) {}), "(no error)");
    EXPECT_EQ(message([](sampling_params& p) { p.top_p = 1.5; }), "sampling: top_p must be in (0, 1], got 1.5");
    EXPECT_EQ(message([](sampling_params& p) { p.top_p = 0; }), "sampling: top_p must be in (0, 1], got 0");
    EXPECT_EQ(message([](sampling_params& p) { p.temperature = -0.5; }),
              "sampling: temperature must be a finite number >= 0, got -0.5");
    EXPECT_EQ(message([](sampling_params& p) { p.temperature = NAN; }),
              "sampling: temperature must be a finite number >= 0, got nan");
    EXPECT_EQ(message([](sampling_params& p) { p.min_p = 1.01; }), "sampling: min_p must be in [0, 1], got 1.01");
    EXPECT_EQ(message([](sampling_params& p) { p.presence_penalty = -2.5; }),
              "sampling: presence_penalty must be in [-2, 2], got -2.5");
    EXPECT_EQ(message([](sampling_params& p) { p.frequency_penalty = 3; }),
              "sampling: frequency_penalty must be in [-2, 2], got 3");
    EXPECT_EQ(message([](sampling_params& p) { p.repetition_penalty = 0; }),
              "sampling: repetition_penalty must be a finite number > 0, got 0");
    EXPECT_EQ(message([](sampling_params& p) { p.max_tokens = 0; }), "sampling: max_tokens must be >= 1, got 0");
    EXPECT_EQ(message([](sampling_params& p) { p.min_tokens = 17; }),
              "sampling: min_tokens must be in [0, max_tokens = 16], got 17");
    EXPECT_EQ(message([](sampling_params& p) { p.min_tokens = -1; }),
              "sampling: min_tokens must be in [0, max_tokens = 16], got -1");
    EXPECT_EQ(message([](sampling_params& p) {
                  p.stop_token_ids = {5, 1000};
              }),
              "sampling: stop_token_ids[1] = 1000 is outside the vocabulary [0, 1000)");
    EXPECT_EQ(message([](sampling_params& p) { p.stop_token_ids = {-1}; }),
              "sampling: stop_token_ids[0] = -1 is outside the vocabulary [0, 1000)");
    EXPECT_EQ(message([](sampling_params& p) {
                  p.stop = {"a", ""};
              }),
              "sampling: stop[1] is an empty string; stop strings must be non-empty");
    EXPECT_EQ(message([](sampling_params& p) { p.logprobs = 21; }), "sampling: logprobs must be <= 20, got 21");
    // The edges of each range are accepted.
    EXPECT_EQ(message([](sampling_params& p) {
                  p.temperature = 0;
                  p.top_p = 1;
                  p.min_p = 1;
                  p.presence_penalty = -2;
                  p.frequency_penalty = 2;
                  p.repetition_penalty = 1e-3;
                  p.min_tokens = p.max_tokens;
                  p.stop_token_ids = {0, 999};
                  p.logprobs = 20;
                  p.top_k = -1;
              }),
              "(no error)");
    try {
        sampling_params p;
        p.top_p = 2;
        p.validate(10);
        FAIL() << "no error";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), status_code::invalid_argument);
    }
}

TEST(SamplerExtremeLogits, StayFiniteAndNeverPickMinusInf) {
    const float big = 3e38f;
    const std::vector<float> x = {-k_inf, big, -big, 1e30f, -k_inf, big, 0.0f};
    for (double t : {1.0, 1e-30, 1e30}) {
        for (int32_t top_k : {0, 3}) {
            sampling_params p;
            p.temperature = t;
            p.top_k = top_k;
            p.top_p = 0.9;
            p.logprobs = 2;
            sequence_sampler s(p, {}, 1);
            int n_first = 0;
            for (int i = 0; i < 200; ++i) {
                const sample_result r = s.sample(x, k_no_eos);
                // Only the two tied maxima carry mass: every other token is more than 3e8 below them even at
                // T = 1e30.
                ASSERT_TRUE(r.token == 1 || r.token == 5) << r.token << " at T " << t;
                n_first += r.token == 1 ? 1 : 0;
                EXPECT_NEAR(r.logprob, -std::log(2.0), 1e-6);
                EXPECT_EQ(r.top[0].token, 1);
                EXPECT_EQ(r.top[1].token, 5);
            }
            EXPECT_GT(n_first, 50);
            EXPECT_LT(n_first, 150);
        }
    }
    // Penalties clamp at ±FLT_MAX rather than overflowing, and keep -inf.
    sampling_params p = greedy();
    p.repetition_penalty = 0.5;
    sequence_sampler s(p, std::vector<int32_t>{0, 1, 2}, 0);
    std::vector<float> y = {big, -k_inf, -1.0f};
    s.process_logits(y, k_no_eos);
    EXPECT_EQ(y[0], std::numeric_limits<float>::max());
    EXPECT_EQ(y[1], -k_inf);
    EXPECT_FLOAT_EQ(y[2], -0.5f);
    p.repetition_penalty = 2;
    sequence_sampler s2(p, std::vector<int32_t>{0}, 0);
    y = {-big, 1.0f};
    s2.process_logits(y, k_no_eos);
    EXPECT_EQ(y[0], -std::numeric_limits<float>::max());

    // Only one finite logit: always that one.
    std::vector<float> one(700, -k_inf);
    one[333] = -1e20f;
    sampling_params q;
    q.top_p = 0.5;
    sequence_sampler t(q, {}, 0);
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(t.sample(one, k_no_eos).token, 333);
    }
}

TEST(sampler, broken_rows_are_request_errors) {
    auto message = [](sampling_params p, std::vector<float> row, std::vector<int32_t> eos) {
        return test::error_of([&] { sequence_sampler(p, {}, 0).sample(row, eos); });
    };
    EXPECT_NE(message({}, {-k_inf, -k_inf}, {}).find("nothing can be sampled"), std::string::npos);
    EXPECT_NE(message(greedy(), {0.0f, NAN, 1.0f}, {}).find("1 NaN value(s)"), std::string::npos);
    EXPECT_NE(message({}, {0.0f, k_inf}, {}).find("+inf at token 1"), std::string::npos);
    sampling_params p; // min_tokens masking the only finite token
    p.min_tokens = 1;
    EXPECT_NE(message(p, {1.0f, -k_inf}, {0}).find("nothing can be sampled"), std::string::npos);
}

TEST(SamplerPerformance, NoHeapAllocationInSteadyState) {
    const std::vector<float> x = random_logits(5000, 4);
    const std::vector<int32_t> eos = {7};
    const std::vector<int32_t> prompt = {1, 2, 3, 4000};
    std::vector<sampling_params> configs(4);
    configs[0] = greedy();
    configs[1] = greedy();
    configs[1].repetition_penalty = 1.2;
    configs[1].frequency_penalty = 0.5;
    configs[1].max_tokens = 1000; // the counts reserve min(max_tokens, 256) distinct tokens
    configs[2].top_p = 0.9;
    configs[2].min_p = 0.01;
    configs[2].presence_penalty = 0.5;
    configs[2].max_tokens = 1000;
    configs[3].top_k = 50;
    configs[3].top_p = 0.9;
    configs[3].logprobs = 0;
    for (size_t c = 0; c < configs.size(); ++c) {
        configs[c].min_tokens = 2;
        sequence_sampler s(configs[c], prompt, 0);
        for (int i = 0; i < 3; ++i) {
            s.sample(x, eos); // warm-up: the scratch buffers grow to the vocab size
        }
        const int64_t before = g_n_allocs.load();
        for (int i = 0; i < 100; ++i) {
            s.sample(x, eos);
        }
        const int64_t n_allocs = g_n_allocs.load() - before;
        EXPECT_EQ(n_allocs, 0) << "config " << c;
    }
    // logprobs > 0: exactly one allocation per call, the result's top list.
    sampling_params p;
    p.logprobs = 5;
    sequence_sampler s(p, {}, 0);
    s.sample(x, k_no_eos);
    size_t n_top = 0;
    const int64_t before = g_n_allocs.load();
    for (int i = 0; i < 10; ++i) {
        n_top += s.sample(x, k_no_eos).top.size();
    }
    const int64_t n_allocs = g_n_allocs.load() - before;
    EXPECT_EQ(n_allocs, 10);
    EXPECT_EQ(n_top, 50u);
}

} // namespace
} // namespace llmfleet::engine
