// The sampler (engine/sampler.h): min_tokens mask, penalties, temperature, top-k / top-p / min-p and one
// inverse-CDF draw, over a logits row of up to ~152k floats per sequence per step. Full-row loops run over
// blocks of 256 tokens so that GCC vectorises them at -O2, and nothing sorts the whole row: top-k keeps a
// k-entry heap; top-p / min-p rank only the few tokens that can pass them, or, when those are many, find the
// top-p boundary with an exponent histogram and a weighted select.
#include "engine/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include <fmt/core.h>

namespace llmfleet::engine {
namespace {

using detail::scored_token;

constexpr float k_neg_inf = -std::numeric_limits<float>::infinity();
constexpr float k_pos_inf = std::numeric_limits<float>::infinity();
constexpr float k_float_max = std::numeric_limits<float>::max();
constexpr int32_t k_max_logprobs = 20;

// Tokens per block. A loop over one full block has a constant trip count and touches one array, which is
// what GCC's -O2 ("very cheap") vectoriser needs; the last, partial block takes the scalar path.
constexpr int32_t k_block = 256;

// top-k up to this size is selected by one pass that keeps a k-entry heap (a token enters only when it beats
// the worst kept so far, which soon becomes rare); larger k uses nth_element over an index array.
constexpr int32_t k_heap_max = 1024;

// The full path ranks the top-p / min-p candidates directly (a sort) when there are at most this many.
constexpr size_t k_max_candidates = 1024;

// exp(x) for x ≤ 0 (also right for small x > 0), within 2 ulp, in plain float ops so that GCC vectorises it
// and every platform gets the same bits (Cephes expf: x = n·ln2 + r with |r| ≤ ln2/2, exp(r) by a degree-7
// polynomial, 2^n from the exponent field). Results below ~2^-126.5 flush to 0, and -inf gives 0.
// The clamp compares bit patterns: a float compare feeding arithmetic blocks GCC's if-conversion, and so
// vectorisation, under the default -ftrapping-math. For x ≤ 0 a larger magnitude is a larger pattern.
inline float exp_nonpositive(float x) {
    constexpr uint32_t k_clamp_bits = std::bit_cast<uint32_t>(-88.72283935546875f); // -128·ln2: 2^n → 0 there
    const uint32_t x_bits = std::bit_cast<uint32_t>(x);
    const float xc = std::bit_cast<float>(x_bits < k_clamp_bits ? x_bits : k_clamp_bits);
    const float k_round = 12582912.0f; // 1.5·2^23: adding it rounds to an integer held in the low bits
    const float n_round = xc * 1.44269504088896341f + k_round;
    const float n = n_round - k_round;
    const int32_t n_int = std::bit_cast<int32_t>(n_round) - std::bit_cast<int32_t>(k_round);
    float r = xc - n * 0.693359375f; // ln2 split in two (Cody-Waite) so that n·ln2 is exact
    r = r - n * -2.12194440e-4f;
    const float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    const int32_t biased = n_int + 127 > 0 ? n_int + 127 : 0; // 2^n as a float's exponent field; 0 → 0.0f
    return p * std::bit_cast<float>(biased << 23);
}

// e[i] = exp((e[i] - max) · inv_t) over one full block, in place.
void exp_block(float* e, float max, float inv_t) {
    for (int32_t i = 0; i < k_block; ++i) {
        e[i] = exp_nonpositive((e[i] - max) * inv_t);
    }
}

// Σ e over one full block in double, four independent lanes (a single running sum would be bound by the
// add latency). The order is fixed, so the result is too.
double block_sum(const float* e) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    for (int32_t i = 0; i < k_block; i += 4) {
        s0 += e[i];
        s1 += e[i + 1];
        s2 += e[i + 2];
        s3 += e[i + 3];
    }
    return (s0 + s1) + (s2 + s3);
}

// A uniform double in [0, 1) from the top 53 bits of one 64-bit draw: the same on every standard library
// (mt19937_64's output sequence is fixed by the standard; std::uniform_real_distribution's is not).
double uniform_01(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

struct row_max {
    float value = k_neg_inf; // the largest logit; -inf when every logit is -inf or NaN
    int32_t token = -1;      // the lowest id holding it; -1 when value is -inf
    int64_t n_nan = 0;
};

// One pass: the maximum, its lowest id and the NaN count. Per full block, four running maxima and four NaN
// counters, one SSE register each (maxps, cmpunordps); the lowest id is then looked up inside the first
// block that holds the maximum.
row_max find_max(std::span<const float> x) {
    const int32_t n = static_cast<int32_t>(x.size());
    const int32_t n_full = n / k_block;
    row_max r;
    int32_t best_block = -1;
    for (int32_t b = 0; b < n_full; ++b) {
        const float* blk = x.data() + static_cast<int64_t>(b) * k_block;
        float lane_max[4] = {k_neg_inf, k_neg_inf, k_neg_inf, k_neg_inf};
        int32_t lane_nan[4] = {0, 0, 0, 0};
        for (int32_t i = 0; i < k_block; i += 4) {
            for (int32_t j = 0; j < 4; ++j) {
                const float v = blk[i + j];
                lane_max[j] = v > lane_max[j] ? v : lane_max[j];
                lane_nan[j] += std::isnan(v) ? 1 : 0;
            }
        }
        const float m01 = lane_max[0] > lane_max[1] ? lane_max[0] : lane_max[1];
        const float m23 = lane_max[2] > lane_max[3] ? lane_max[2] : lane_max[3];
        const float m = m01 > m23 ? m01 : m23;
        r.n_nan += lane_nan[0] + lane_nan[1] + lane_nan[2] + lane_nan[3];
        if (m > r.value) {
            r.value = m;
            best_block = b;
        }
    }
    if (best_block >= 0) {
        const int32_t base = best_block * k_block;
        for (int32_t i = 0; i < k_block; ++i) {
            if (x[base + i] == r.value) {
                r.token = base + i;
                break;
            }
        }
    }
    for (int32_t i = n_full * k_block; i < n; ++i) {
        const float v = x[i];
        if (v > r.value) {
            r.value = v;
            r.token = i;
        }
        r.n_nan += std::isnan(v) ? 1 : 0;
    }
    return r;
}

// Whether any entry of one full block exceeds t (no NaN). Vectorised: a count rather than an early exit.
bool any_above(const float* x, float t) {
    int32_t n_above = 0;
    for (int32_t i = 0; i < k_block; ++i) {
        n_above += x[i] > t ? 1 : 0;
    }
    return n_above > 0;
}

// How many entries of one full block have bits ≥ min_bits (e ≥ 0, so bits order like the floats). Vectorised.
int32_t count_at_least(const float* e, uint32_t min_bits) {
    int32_t n_at_least = 0;
    for (int32_t i = 0; i < k_block; ++i) {
        n_at_least += std::bit_cast<uint32_t>(e[i]) >= min_bits ? 1 : 0;
    }
    return n_at_least;
}

bool ranks_before(const scored_token& a, const scored_token& b) {
    return a.value > b.value || (a.value == b.value && a.token < b.token);
}

// The min(k, n) highest-scoring tokens of x (no NaN) into out, sorted by ranks_before (score descending,
// ties → lowest id first). index_scratch is used for large k only.
void select_top(std::span<const float> x, int32_t k, std::vector<scored_token>& out,
                std::vector<int32_t>& index_scratch) {
    const int32_t n = static_cast<int32_t>(x.size());
    k = std::min(k, n);
    out.clear();
    if (k <= 0) {
        return;
    }
    if (k <= k_heap_max) {
        for (int32_t i = 0; i < k; ++i) {
            out.push_back({x[i], i});
        }
        std::make_heap(out.begin(), out.end(), ranks_before); // front: the worst of those kept
        float worst = out.front().value;
        // Once the heap holds good tokens most full blocks have nothing above the worst: one vectorised
        // compare skips them.
        int32_t i = k;
        while (i < n) {
            const int32_t block_end = std::min(n, (i / k_block + 1) * k_block);
            if (block_end - i == k_block && !any_above(x.data() + i, worst)) {
                i = block_end;
                continue;
            }
            for (; i < block_end; ++i) {
                if (x[i] > worst) { // a tie with the worst loses: every kept id is lower
                    std::pop_heap(out.begin(), out.end(), ranks_before);
                    out.back() = {x[i], i};
                    std::push_heap(out.begin(), out.end(), ranks_before);
                    worst = out.front().value;
                }
            }
        }
    } else {
        index_scratch.resize(n);
        std::iota(index_scratch.begin(), index_scratch.end(), 0);
        const auto by_rank = [x](int32_t a, int32_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); };
        std::nth_element(index_scratch.begin(), index_scratch.begin() + k, index_scratch.end(), by_rank);
        for (int32_t j = 0; j < k; ++j) {
            out.push_back({x[index_scratch[j]], index_scratch[j]});
        }
    }
    std::sort(out.begin(), out.end(), ranks_before);
}

// log Σ exp(x - max) over x (no NaN; max = the finite maximum of x), in double.
double log_sum_exp_shifted(std::span<const float> x, float max) {
    const int32_t n = static_cast<int32_t>(x.size());
    const int32_t n_full = n / k_block;
    float e[k_block];
    double total = 0;
    for (int32_t b = 0; b < n_full; ++b) {
        const float* blk = x.data() + static_cast<int64_t>(b) * k_block;
        for (int32_t i = 0; i < k_block; ++i) {
            e[i] = exp_nonpositive(blk[i] - max);
        }
        total += block_sum(e);
    }
    for (int32_t i = n_full * k_block; i < n; ++i) {
        total += exp_nonpositive(x[i] - max);
    }
    return std::log(total);
}

// A double logprob as a float; below the float range it is -inf (the probability underflows).
float to_logprob(double v) {
    return v < -static_cast<double>(k_float_max) ? k_neg_inf : static_cast<float>(v);
}

// Top-p works on unnormalised probabilities e ∈ [0, 1]. Bucket = the float exponent field (bits >> 23; 127
// for e = 1, one bucket per octave); inside its bucket e = units · 2^(bucket - 150) with units the 24-bit
// significand. Sums of units are exact integers, so they do not depend on the order of summation (the
// order nth_element leaves differs between standard libraries): the nucleus is the same everywhere.
constexpr int32_t k_n_buckets = 256;
constexpr int32_t k_n_hist = 4; // interleaved histograms: consecutive tokens rarely update the same counter

uint64_t units_of(uint32_t bits) {
    return (bits & 0x7fffffu) | (bits >= 0x800000u ? 0x800000u : 0u);
}

double bucket_scale(int32_t bucket) {
    return std::ldexp(1.0, bucket == 0 ? -149 : bucket - 150);
}

// The last token kept by top-p: tokens rank by (e descending, id ascending) and a token is kept iff it ranks
// at or before (bits, token). The default keeps every token.
struct nucleus {
    uint32_t bits = 0;
    int32_t token = std::numeric_limits<int32_t>::max();
};

// Top-p over e [n] with the bucket histogram already summed: the smallest prefix of the ranking whose mass is
// ≥ top_p · total, i.e. a token is kept iff the mass ranked strictly before it is < top_p · total (vLLM's
// rule; a prefix whose mass equals top_p · total exactly is enough). Finds the boundary bucket from the
// histogram, gathers its tokens into cand, and runs a quickselect weighted by units on them.
nucleus find_nucleus(std::span<const float> e, const uint64_t (&hist)[k_n_hist][k_n_buckets], double total,
                     double top_p, std::vector<int32_t>& cand) {
    const double target = top_p * total;
    double above = 0; // mass of the buckets above the current one
    for (int32_t bucket = k_n_buckets - 1; bucket >= 0; --bucket) {
        uint64_t units = 0;
        for (int32_t h = 0; h < k_n_hist; ++h) {
            units += hist[h][bucket];
        }
        if (units == 0) {
            continue;
        }
        const double scale = bucket_scale(bucket);
        if (above + static_cast<double>(units) * scale < target) {
            above += static_cast<double>(units) * scale;
            continue;
        }
        // The boundary is in this bucket: the first token (in rank order) at which the units summed inside
        // the bucket reach `need`.
        const uint64_t need =
            static_cast<uint64_t>(std::clamp(std::ceil((target - above) / scale), 1.0, static_cast<double>(units)));
        const int32_t n = static_cast<int32_t>(e.size());
        cand.resize(n);
        int32_t n_cand = 0;
        for (int32_t i = 0; i < n; ++i) {
            cand[n_cand] = i;
            n_cand += (std::bit_cast<uint32_t>(e[i]) >> 23) == static_cast<uint32_t>(bucket) ? 1 : 0;
        }
        const auto by_rank = [e](int32_t a, int32_t b) { return e[a] > e[b] || (e[a] == e[b] && a < b); };
        const auto units_in = [e, &cand](size_t lo, size_t hi) {
            uint64_t s = 0;
            for (size_t j = lo; j < hi; ++j) {
                s += units_of(std::bit_cast<uint32_t>(e[cand[j]]));
            }
            return s;
        };
        // Narrow to one of 256 sub-buckets by the next 8 significand bits (a larger sub-bucket holds larger e):
        // one pass instead of quickselect rounds over what can be tens of thousands of tokens.
        uint64_t before = 0; // units ranked before the tokens still in cand
        uint64_t sub_units[256] = {};
        for (int32_t j = 0; j < n_cand; ++j) {
            const uint32_t bits = std::bit_cast<uint32_t>(e[cand[j]]);
            sub_units[(bits >> 15) & 0xffu] += units_of(bits);
        }
        uint32_t sub = 255;
        while (before + sub_units[sub] < need) {
            before += sub_units[sub];
            --sub; // the sub-buckets sum to the bucket's units ≥ need, so this stops at sub ≥ 0
        }
        int32_t n_sub = 0;
        for (int32_t j = 0; j < n_cand; ++j) {
            cand[n_sub] = cand[j];
            n_sub += ((std::bit_cast<uint32_t>(e[cand[j]]) >> 15) & 0xffu) == sub ? 1 : 0;
        }
        // Weighted quickselect. Invariant: the boundary token is in cand[lo, hi), and `before` units rank
        // before cand[lo].
        size_t lo = 0;
        size_t hi = static_cast<size_t>(n_sub);
        while (hi - lo > 32) {
            const size_t mid = lo + (hi - lo) / 2;
            std::nth_element(cand.begin() + lo, cand.begin() + mid, cand.begin() + hi, by_rank);
            const uint64_t front = units_in(lo, mid);
            if (before + front >= need) {
                hi = mid;
            } else {
                before += front;
                lo = mid;
            }
        }
        std::sort(cand.begin() + lo, cand.begin() + hi, by_rank);
        int32_t last = cand[hi - 1];
        for (size_t j = lo; j < hi; ++j) {
            before += units_of(std::bit_cast<uint32_t>(e[cand[j]]));
            if (before >= need) {
                last = cand[j];
                break;
            }
        }
        return {std::bit_cast<uint32_t>(e[last]), last};
    }
    return {}; // the buckets sum short of top_p · total only by rounding: keep every token
}

// e if token `id` survives top-p (ranks at or before `keep`) and min-p (bits(e) ≥ min_bits), else 0. Integer
// compares on the bit patterns (e ≥ 0, so they order like the floats) and non-short-circuit & and | keep the
// loops that call this branch-free, so that GCC vectorises them.
inline float kept_or_zero(float e, int32_t id, nucleus keep, uint32_t min_bits) {
    const uint32_t bits = std::bit_cast<uint32_t>(e);
    const bool kept = ((bits > keep.bits) | ((bits == keep.bits) & (id <= keep.token))) & (bits >= min_bits);
    return std::bit_cast<float>(kept ? bits : 0u);
}

// The smallest float ≥ v, as bits (v ∈ [0, 1]): e ≥ v ⇔ bits(e) ≥ this, for e ≥ 0.
uint32_t float_bits_at_least(double v) {
    float f = static_cast<float>(v);
    if (static_cast<double>(f) < v) {
        f = std::nextafter(f, k_pos_inf);
    }
    return std::bit_cast<uint32_t>(f);
}

// The largest float ≤ v, as bits (v ∈ [0, 1]): bits(e) < this ⇒ e < v, for e ≥ 0.
uint32_t float_bits_at_most(double v) {
    float f = static_cast<float>(v);
    if (static_cast<double>(f) > v) {
        f = std::nextafter(f, 0.0f);
    }
    return std::bit_cast<uint32_t>(f);
}

// Candidates ranked by e (descending; ties → lowest id) that form a prefix of the whole ranking: how many
// top-p keeps (the shortest prefix whose mass reaches top_p · total, where total is the mass of the whole
// distribution top-p sees; all of them if rounding leaves the sum short) and then min-p (e ≥ min_p).
size_t kept_prefix(std::span<const scored_token> ranked, double top_p, double total, double min_p) {
    size_t n_keep = ranked.size();
    if (top_p < 1) {
        const double target = top_p * total;
        double cum = 0;
        for (size_t j = 0; j < n_keep; ++j) {
            cum += ranked[j].value;
            if (cum >= target) {
                n_keep = j + 1;
                break;
            }
        }
    }
    if (min_p > 0) {
        for (size_t j = 0; j < n_keep; ++j) {
            if (ranked[j].value < min_p) {
                n_keep = j; // ≥ 1: the first has e = 1 ≥ min_p
                break;
            }
        }
    }
    return n_keep;
}

// One inverse-CDF draw over ranked[0, n_keep), weights e, walked in rank order.
int32_t draw_ranked(std::span<const scored_token> ranked, size_t n_keep, std::mt19937_64& rng) {
    double mass = 0;
    for (size_t j = 0; j < n_keep; ++j) {
        mass += ranked[j].value;
    }
    const double target = uniform_01(rng) * mass;
    double cum = 0;
    int32_t last_positive = ranked[0].token;
    for (size_t j = 0; j < n_keep; ++j) {
        if (ranked[j].value > 0) {
            cum += ranked[j].value;
            last_positive = ranked[j].token;
            if (cum > target) {
                return ranked[j].token;
            }
        }
    }
    return last_positive; // only when rounding leaves the walk a hair short of `mass`
}

float inverse_temperature(double temperature) {
    return static_cast<float>(std::min(1.0 / temperature, static_cast<double>(k_float_max)));
}

// Inside one block whose cumulative mass crosses target: the first token at which it does. If rounding makes
// this sequential sum fall short of the block's lane-wise sum, the block's last token with e > 0.
int32_t walk_block(const float* e, int32_t len, int32_t base, double cum, double target) {
    int32_t last_positive = -1;
    for (int32_t i = 0; i < len; ++i) {
        if (e[i] > 0) {
            cum += e[i];
            last_positive = base + i;
            if (cum > target) {
                return base + i;
            }
        }
    }
    LLMFLEET_CHECK(last_positive >= 0, "sampler: block at token {} has no mass but was chosen", base);
    return last_positive;
}

// A row that cannot be sampled is the model's failure for this one request, not a sampler bug: it is
// reported as llmfleet::error (internal) so that the engine fails the request and keeps serving the rest.
void check_row(const row_max& m, const char* what, int64_t n_vocab, int32_t n_generated, int32_t min_tokens) {
    if (m.n_nan != 0) {
        throw error(status_code::internal, fmt::format("sampler: the {} hold {} NaN value(s) (vocab {}): the model "
                                                       "produced NaN",
                                                       what, m.n_nan, n_vocab));
    }
    if (!(m.value < k_pos_inf)) {
        throw error(status_code::internal,
                    fmt::format("sampler: the {} hold +inf at token {} (vocab {})", what, m.token, n_vocab));
    }
    if (!(m.value > k_neg_inf)) {
        throw error(status_code::internal,
                    fmt::format("sampler: every one of the {} is -inf (vocab {}, n_generated {}, min_tokens {}): "
                                "nothing can be sampled",
                                what, n_vocab, n_generated, min_tokens));
    }
}

} // namespace

void sampling_params::validate(int64_t vocab_size) const {
    LLMFLEET_CHECK(vocab_size > 0, "vocab_size {} must be positive", vocab_size);
    // Written as !(in range) so that NaN fails too.
    if (!(temperature >= 0 && std::isfinite(temperature))) {
        throw invalid_input(fmt::format("sampling: temperature must be a finite number >= 0, got {}", temperature));
    }
    if (!(top_p > 0 && top_p <= 1)) {
        throw invalid_input(fmt::format("sampling: top_p must be in (0, 1], got {}", top_p));
    }
    if (!(min_p >= 0 && min_p <= 1)) {
        throw invalid_input(fmt::format("sampling: min_p must be in [0, 1], got {}", min_p));
    }
    if (!(presence_penalty >= -2 && presence_penalty <= 2)) {
        throw invalid_input(fmt::format("sampling: presence_penalty must be in [-2, 2], got {}", presence_penalty));
    }
    if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) {
        throw invalid_input(fmt::format("sampling: frequency_penalty must be in [-2, 2], got {}", frequency_penalty));
    }
    if (!(repetition_penalty > 0 && std::isfinite(repetition_penalty))) {
        throw invalid_input(
            fmt::format("sampling: repetition_penalty must be a finite number > 0, got {}", repetition_penalty));
    }
    if (max_tokens < 1) {
        throw invalid_input(fmt::format("sampling: max_tokens must be >= 1, got {}", max_tokens));
    }
    if (min_tokens < 0 || min_tokens > max_tokens) {
        throw invalid_input(
            fmt::format("sampling: min_tokens must be in [0, max_tokens = {}], got {}", max_tokens, min_tokens));
    }
    for (size_t i = 0; i < stop_token_ids.size(); ++i) {
        if (stop_token_ids[i] < 0 || stop_token_ids[i] >= vocab_size) {
            throw invalid_input(fmt::format("sampling: stop_token_ids[{}] = {} is outside the vocabulary [0, {})", i,
                                            stop_token_ids[i], vocab_size));
        }
    }
    for (size_t i = 0; i < stop.size(); ++i) {
        if (stop[i].empty()) {
            throw invalid_input(
                fmt::format("sampling: stop[{}] is an empty string; stop strings must be non-empty", i));
        }
    }
    if (logprobs > k_max_logprobs) {
        throw invalid_input(fmt::format("sampling: logprobs must be <= {}, got {}", k_max_logprobs, logprobs));
    }
}

sequence_sampler::sequence_sampler(sampling_params params, std::span<const int32_t> prompt, uint64_t unseeded_seed)
    : _params(std::move(params)), _seed(_params.seed.value_or(unseeded_seed)), _rng(_seed) {
    LLMFLEET_CHECK(_params.temperature >= 0 && _params.repetition_penalty > 0,
                   "sampling params must pass validate(): temperature {}, repetition_penalty {}", _params.temperature,
                   _params.repetition_penalty);
    if (_params.repetition_penalty != 1) {
        for (int32_t token : prompt) {
            LLMFLEET_CHECK(token >= 0, "prompt token id {} is negative", token);
            mark_seen(token);
        }
    }
    if (_params.frequency_penalty != 0 || _params.presence_penalty != 0) {
        _generated_counts.reserve(static_cast<size_t>(std::min(_params.max_tokens, 256)));
    }
}

bool sequence_sampler::masks_stops(std::span<const int32_t> eos_token_ids) const {
    return _n_generated < _params.min_tokens && (!eos_token_ids.empty() || !_params.stop_token_ids.empty());
}

std::optional<kernels::ref::sampling_row> sequence_sampler::device_row(std::span<const int32_t> eos_token_ids) const {
    const sampling_params& p = _params;
    if (p.logprobs >= 0 || p.repetition_penalty != 1 || p.frequency_penalty != 0 || p.presence_penalty != 0 ||
        masks_stops(eos_token_ids)) {
        return std::nullopt;
    }
    return kernels::ref::sampling_row{.temperature = static_cast<float>(p.temperature),
                                      .top_k = p.top_k,
                                      .top_p = static_cast<float>(p.top_p),
                                      .min_p = static_cast<float>(p.min_p),
                                      .seed = _seed,
                                      .offset = static_cast<uint64_t>(_n_generated)};
}

bool sequence_sampler::penalizes() const {
    return (_params.repetition_penalty != 1 && _seen_max >= 0) ||
           ((_params.frequency_penalty != 0 || _params.presence_penalty != 0) && !_generated_counts.empty());
}

void sequence_sampler::process_logits(std::span<float> logits, std::span<const int32_t> eos_token_ids) const {
    const int64_t n = static_cast<int64_t>(logits.size());
    LLMFLEET_CHECK(_seen_max < n, "sampler: token id {} (prompt or generated) is outside the vocabulary [0, {})",
                   _seen_max, n);
    if (masks_stops(eos_token_ids)) {
        for (int32_t id : eos_token_ids) {
            LLMFLEET_CHECK(id >= 0 && id < n, "sampler: eos token id {} is outside the vocabulary [0, {})", id, n);
            logits[id] = k_neg_inf;
        }
        for (int32_t id : _params.stop_token_ids) {
            LLMFLEET_CHECK(id >= 0 && id < n, "sampler: stop token id {} is outside the vocabulary [0, {})", id, n);
            logits[id] = k_neg_inf;
        }
    }
    // Results are clamped to ±FLT_MAX so that a finite logit stays finite (and -inf stays -inf).
    const double rep = _params.repetition_penalty;
    if (rep != 1) {
        const size_t n_words = std::min(_seen_bits.size(), static_cast<size_t>((n + 63) / 64));
        for (size_t w = 0; w < n_words; ++w) {
            for (uint64_t bits = _seen_bits[w]; bits != 0; bits &= bits - 1) {
                float& v = logits[w * 64 + static_cast<size_t>(std::countr_zero(bits))];
                if (v > 0) {
                    v = static_cast<float>(std::min(static_cast<double>(v) / rep, static_cast<double>(k_float_max)));
                } else if (v > k_neg_inf) {
                    v = static_cast<float>(std::max(static_cast<double>(v) * rep, -static_cast<double>(k_float_max)));
                }
            }
        }
    }
    const double freq = _params.frequency_penalty;
    const double presence = _params.presence_penalty;
    if (freq != 0 || presence != 0) {
        for (const token_count& tc : _generated_counts) {
            LLMFLEET_CHECK(tc.token < n, "sampler: generated token {} is outside the vocabulary [0, {})", tc.token, n);
            float& v = logits[tc.token];
            if (v > k_neg_inf) {
                const double penalized = static_cast<double>(v) - (freq * tc.count + presence);
                v = static_cast<float>(
                    std::clamp(penalized, -static_cast<double>(k_float_max), static_cast<double>(k_float_max)));
            }
        }
    }
}

sample_result sequence_sampler::sample(std::span<const float> logits, std::span<const int32_t> eos_token_ids) {
    LLMFLEET_CHECK(!logits.empty() && logits.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                   "sampler: logits row of {} entries", logits.size());
    const int32_t n = static_cast<int32_t>(logits.size());
    if (_params.repetition_penalty != 1 && _seen_bits.size() < static_cast<size_t>((n + 63) / 64)) {
        _seen_bits.resize(static_cast<size_t>((n + 63) / 64)); // once: later generated tokens never grow it
    }
    sample_result result;
    row_max raw;
    bool have_raw = false;
    if (_params.temperature == 0 && !masks_stops(eos_token_ids) && !penalizes()) {
        // Greedy with nothing to change: one argmax pass over the caller's row, no copy.
        raw = find_max(logits);
        check_row(raw, "logits", n, _n_generated, _params.min_tokens);
        have_raw = true;
        result.token = raw.token;
    } else {
        _work.assign(logits.begin(), logits.end()); // reuses the capacity: no allocation after the first call
        process_logits(_work, eos_token_ids);
        const row_max m = find_max(_work);
        check_row(m, "processed logits", n, _n_generated, _params.min_tokens);
        if (!masks_stops(eos_token_ids) && !penalizes()) {
            raw = m; // nothing changed the row
            have_raw = true;
        }
        if (_params.temperature == 0) {
            result.token = m.token;
        } else if (_params.top_k > 0 && _params.top_k < n) {
            result.token = sample_top_k(m.value);
        } else {
            result.token = sample_full(m.value);
        }
    }
    if (_params.logprobs >= 0) {
        if (!have_raw) {
            raw = find_max(logits);
            check_row(raw, "logits", n, _n_generated, _params.min_tokens);
        }
        fill_logprobs(logits, raw.value, result);
    }
    record(result.token);
    return result;
}

// Top-k path: only the k candidates get a probability; top-p then applies to the distribution renormalised
// over them (vLLM's order), and min-p to e = p / p_max. The draw walks the kept prefix in rank order.
int32_t sequence_sampler::sample_top_k(float max_logit) {
    select_top(_work, _params.top_k, _top, _cand);
    const float inv_t = inverse_temperature(_params.temperature);
    double total = 0;
    for (scored_token& s : _top) {
        s.value = exp_nonpositive((s.value - max_logit) * inv_t); // the first is exp(0) = 1
        total += s.value;
    }
    return draw_ranked(_top, kept_prefix(_top, _params.top_p, total, _params.min_p), _rng);
}

// Full-vocabulary path. Napkin math at vocab 152k: 608 KB of logits per pass; the exp pass is bound by the
// polynomial (~40 SSE2 ops per 4 tokens), the others by memory. Passes: copy, max, exp + block sums. With
// top-p or min-p, every token they can keep has e ≥ cut: min-p by definition, top-p because the tokens below
// (1 - top_p) / vocab hold less than (1 - top_p) of the mass while the total is ≥ 1 (the max has e = 1). The
// exp pass gathers those candidates (a vectorised count per block finds the few blocks that hold any), and
// when they are few (the usual, peaked case) they are ranked and drawn from directly. When they are many (a
// flat distribution): an exponent histogram, a weighted select in the boundary bucket, a pass that zeroes
// the dropped tokens, then the block walk.
int32_t sequence_sampler::sample_full(float max_logit) {
    const int32_t n = static_cast<int32_t>(_work.size());
    const int32_t n_blocks = (n + k_block - 1) / k_block;
    _block_mass.resize(static_cast<size_t>(n_blocks));
    float* w = _work.data();
    const float inv_t = inverse_temperature(_params.temperature);
    const bool use_top_p = _params.top_p < 1;
    const bool use_min_p = _params.min_p > 0;

    uint32_t cut_bits = 0;
    if (use_top_p) {
        cut_bits = float_bits_at_most((1 - _params.top_p) / n);
    }
    if (use_min_p) {
        cut_bits = std::max(cut_bits, float_bits_at_least(_params.min_p));
    }
    bool gathering = use_top_p || use_min_p;
    _top.clear();
    double total = 0;
    for (int32_t b = 0; b < n_blocks; ++b) {
        float* e = w + static_cast<int64_t>(b) * k_block;
        const int32_t base = b * k_block;
        const int32_t len = std::min(k_block, n - base);
        double mass = 0;
        if (len == k_block) {
            exp_block(e, max_logit, inv_t);
            mass = block_sum(e);
        } else {
            for (int32_t i = 0; i < len; ++i) {
                e[i] = exp_nonpositive((e[i] - max_logit) * inv_t);
                mass += e[i];
            }
        }
        if (gathering) {
            int32_t n_in_block = 0;
            if (len == k_block) {
                n_in_block = count_at_least(e, cut_bits);
            } else {
                for (int32_t i = 0; i < len; ++i) {
                    n_in_block += std::bit_cast<uint32_t>(e[i]) >= cut_bits ? 1 : 0;
                }
            }
            if (_top.size() + static_cast<size_t>(n_in_block) > k_max_candidates) {
                gathering = false;
            } else if (n_in_block > 0) {
                for (int32_t i = 0; i < len; ++i) {
                    if (std::bit_cast<uint32_t>(e[i]) >= cut_bits) {
                        _top.push_back({e[i], base + i});
                    }
                }
            }
        }
        _block_mass[b] = mass;
        total += mass;
    }
    if (gathering) {
        std::sort(_top.begin(), _top.end(), ranks_before);
        return draw_ranked(_top, kept_prefix(_top, _params.top_p, total, _params.min_p), _rng);
    }

    if (use_top_p || use_min_p) {
        nucleus keep;
        if (use_top_p) {
            uint64_t hist[k_n_hist][k_n_buckets];
            std::memset(hist, 0, sizeof(hist));
            for (int32_t i = 0; i < n; ++i) {
                const uint32_t bits = std::bit_cast<uint32_t>(w[i]);
                hist[i % k_n_hist][bits >> 23] += units_of(bits);
            }
            keep = find_nucleus(_work, hist, total, _params.top_p, _cand);
        }
        const uint32_t min_bits = use_min_p ? float_bits_at_least(_params.min_p) : 0;
        total = 0;
        for (int32_t b = 0; b < n_blocks; ++b) {
            float* e = w + static_cast<int64_t>(b) * k_block;
            const int32_t base = b * k_block;
            const int32_t len = std::min(k_block, n - base);
            double mass = 0;
            if (len == k_block) { // constant trip count: vectorised
                for (int32_t i = 0; i < k_block; ++i) {
                    e[i] = kept_or_zero(e[i], base + i, keep, min_bits);
                }
                mass = block_sum(e);
            } else {
                for (int32_t i = 0; i < len; ++i) {
                    e[i] = kept_or_zero(e[i], base + i, keep, min_bits);
                    mass += e[i];
                }
            }
            _block_mass[b] = mass;
            total += mass;
        }
    }

    // total > 0: the most likely token has e = 1 and survives every filter. u < 1 makes target < total, and
    // cum below runs through the same sums as total, so some block's cum + mass exceeds target.
    const double target = uniform_01(_rng) * total;
    double cum = 0;
    for (int32_t b = 0; b < n_blocks; ++b) {
        if (cum + _block_mass[b] > target) {
            const int32_t base = b * k_block;
            return walk_block(w + base, std::min(k_block, n - base), base, cum, target);
        }
        cum += _block_mass[b];
    }
    LLMFLEET_FAIL("sampler: the inverse-CDF walk ran past the end (target {}, total {}, vocab {})", target, total, n);
}

void sequence_sampler::fill_logprobs(std::span<const float> logits, float max_logit, sample_result& result) {
    // logprob = (logit - max) - log Σ exp(logit - max): subtracting the max first keeps the small terms when
    // the logits are huge (max + log Σ would round back to max).
    const double max = max_logit;
    const double log_sum = log_sum_exp_shifted(logits, max_logit);
    result.logprob = to_logprob((static_cast<double>(logits[result.token]) - max) - log_sum);
    if (_params.logprobs > 0) {
        select_top(logits, _params.logprobs, _top, _cand);
        result.top.reserve(_top.size());
        for (const scored_token& s : _top) {
            result.top.push_back({s.token, to_logprob((static_cast<double>(s.value) - max) - log_sum)});
        }
    }
}

void sequence_sampler::record(int32_t token) {
    ++_n_generated;
    if (_params.repetition_penalty != 1) {
        mark_seen(token);
    }
    if (_params.frequency_penalty != 0 || _params.presence_penalty != 0) {
        const auto it = std::lower_bound(_generated_counts.begin(), _generated_counts.end(), token,
                                         [](const token_count& tc, int32_t t) { return tc.token < t; });
        if (it != _generated_counts.end() && it->token == token) {
            ++it->count;
        } else {
            _generated_counts.insert(it, {token, 1});
        }
    }
}

void sequence_sampler::mark_seen(int32_t token) {
    const size_t word = static_cast<size_t>(token) / 64;
    if (word >= _seen_bits.size()) {
        _seen_bits.resize(word + 1);
    }
    _seen_bits[word] |= uint64_t{1} << (static_cast<uint32_t>(token) % 64);
    _seen_max = std::max(_seen_max, token);
}

} // namespace llmfleet::engine
