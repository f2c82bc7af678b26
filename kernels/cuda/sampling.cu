// Sampling on the GPU (contract: sampling.cuh; oracle: kernels/ref/sampling.cpp). One block of 512 threads per
// row and no sort. Every step is a pass over the row that recomputes p_i = expf((l_i − max) / T) from the logits,
// the reference's f32 formula (equal logits give equal p, so ties stay ties), hence no workspace:
//   1. max and argmax (ties → lowest id) and a NaN / +inf check; greedy (T = 0, or top_k = 1) ends here;
//   2. top-k: radix select of the k-th largest p on its float bits (p ≥ 0, so the bits order like the values):
//      4 passes of 8-bit count histograms give its value τ; of the tokens at τ the lowest ids up to k are kept;
//   3. top-p over the top-k set: 4 passes of 8-bit mass histograms give a candidate value t; a pass with exact
//      sums checks mass(p > t) < top_p · mass_top_k ≤ mass(p ≥ t) and steps t to the neighbouring value until it
//      holds (the histograms add in atomic order, the check does not); of the tokens at t the lowest ids that
//      reach top_p · mass_top_k are kept;
//   4. min-p is a compare (p_max = 1);
//   5. the draw: the kept mass of 16 segments of ids (one per warp), then the segment that holds u · mass is split
//      over the 512 threads, scanned, and one thread walks its few ids.
// "The lowest ids at a value" (2, 3) is the same search by id, counting instead of weighing. Masses are double
// sums in a fixed order (per thread, shuffles, warps), so a row gives the same token on every run; that order is
// not the reference's, which changes the token only when a cut or the draw falls within ~1e-16 (relative) of a
// token boundary, and expf here may differ from the host's by an ulp or two, which moves cuts only as rarely.
// Histogram updates are first summed over the lanes of a warp that share a digit (__match_any_sync): most tokens
// of a row crowd into a few digits, and 32 lanes adding to one shared address would serialise.
// Cost: up to ~14 passes over the row (4 B/token each), 2 for greedy; shared memory ~8 KiB, no host sync or
// allocation, so a launch can be captured in a CUDA graph.
#include "kernels/cuda/sampling.cuh"

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "common/error.h"
#include "kernels/cuda/cuda_check.h"

namespace llmfleet::kernels::cuda {

namespace {

constexpr int sample_threads = 512; // 84 registers, no spills; 1024 would cap it at 64, where it spills
constexpr int n_warps = sample_threads / 32;
constexpr unsigned full_mask = 0xffffffffU;
constexpr uint32_t no_digit = 256;  // a lane whose token is not in the histogram
constexpr int top_p_max_steps = 64; // verification steps; 0 or 1 in practice (the histograms err by ~1e-16)

// One row: its logits [vocab] f32 and what turns a logit into p ∈ [0, 1].
struct row_view {
    const float* logits;
    int32_t vocab;
    float max_logit;
    float temperature;

    // Exactly the reference's (l − max) / T in round-to-nearest f32, then expf (−inf → 0).
    __device__ float p(int32_t i) const { return expf(__fdiv_rn(__fsub_rn(logits[i], max_logit), temperature)); }
};

// A top-k or top-p cut: keeps the tokens with p above `bits`, and those at `bits` with id ≤ last_id.
// {0, vocab − 1} keeps everything.
struct cut {
    uint32_t bits;
    int32_t last_id;

    __device__ bool keeps(uint32_t b, int32_t id) const { return b > bits || (b == bits && id <= last_id); }
};

// What find_crossing() adds up per token: p over the kept set (the draw), or 1 per top-k-kept token whose bits
// equal tie_bits (the tie searches).
struct keep_rule {
    cut top_k;
    cut top_p;
    float min_p;
    bool ties_only;
    uint32_t tie_bits;

    __device__ double weight(float p, uint32_t b, int32_t id) const {
        if (!top_k.keeps(b, id)) {
            return 0.0;
        }
        if (ties_only) {
            return b == tie_bits ? 1.0 : 0.0;
        }
        return top_p.keeps(b, id) && p >= min_p ? static_cast<double>(p) : 0.0;
    }
};

struct block_scratch {
    uint32_t count_hist[256];      // top-k: tokens per digit under the current prefix
    double mass_hist[256];         // top-p: mass per digit under the current prefix
    double lane_mass[n_warps][32]; // top-p: each lane's mass, for its digit's leader to add up
    double warp_double[n_warps];
    uint32_t warp_u32[n_warps];
    float warp_float[n_warps];
    int32_t warp_int[n_warps];
    double seg_total[n_warps]; // find_crossing: weight per warp segment
    double scan_warp[n_warps]; // find_crossing: weight per warp of the chosen segment
    int32_t pick_digit;        // pick_digit(): the chosen digit and the weight of the digits above it
    uint32_t pick_above_count;
    double pick_above_mass;
    int32_t chosen_seg; // find_crossing: the segment, the weight before it, the target, the result
    double seg_base;
    double target;
    int32_t first_hit;
    int32_t last_positive;
    int32_t result;
};

__device__ __forceinline__ int lane_id() {
    return static_cast<int>(threadIdx.x) & 31;
}
__device__ __forceinline__ int warp_id() {
    return static_cast<int>(threadIdx.x) >> 5;
}

// Butterfly reductions: every lane ends with the same value (IEEE addition is commutative), so a branch on the
// result is uniform.
__device__ __forceinline__ double warp_sum(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(full_mask, v, offset);
    }
    return v;
}
__device__ __forceinline__ uint32_t warp_sum(uint32_t v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(full_mask, v, offset);
    }
    return v;
}
__device__ __forceinline__ uint32_t warp_min(uint32_t v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = min(v, __shfl_xor_sync(full_mask, v, offset));
    }
    return v;
}
__device__ __forceinline__ uint32_t warp_max(uint32_t v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = max(v, __shfl_xor_sync(full_mask, v, offset));
    }
    return v;
}

// Block reductions, returned to every thread; call them on every thread. The leading barrier lets the previous
// reduction's readers finish before the warp slots are overwritten.
__device__ double block_sum(double v, block_scratch& s) {
    __syncthreads();
    v = warp_sum(v);
    if (lane_id() == 0) {
        s.warp_double[warp_id()] = v;
    }
    __syncthreads();
    return warp_sum(lane_id() < n_warps ? s.warp_double[lane_id()] : 0.0);
}
__device__ uint32_t block_sum(uint32_t v, block_scratch& s) {
    __syncthreads();
    v = warp_sum(v);
    if (lane_id() == 0) {
        s.warp_u32[warp_id()] = v;
    }
    __syncthreads();
    return warp_sum(lane_id() < n_warps ? s.warp_u32[lane_id()] : 0U);
}
__device__ uint32_t block_min(uint32_t v, block_scratch& s) {
    __syncthreads();
    v = warp_min(v);
    if (lane_id() == 0) {
        s.warp_u32[warp_id()] = v;
    }
    __syncthreads();
    return warp_min(lane_id() < n_warps ? s.warp_u32[lane_id()] : 0xffffffffU);
}
__device__ uint32_t block_max(uint32_t v, block_scratch& s) {
    __syncthreads();
    v = warp_max(v);
    if (lane_id() == 0) {
        s.warp_u32[warp_id()] = v;
    }
    __syncthreads();
    return warp_max(lane_id() < n_warps ? s.warp_u32[lane_id()] : 0U);
}

// The largest value of the block and its lowest id (every thread gets both).
__device__ void block_argmax(float& v, int32_t& id, block_scratch& s) {
    for (int round = 0; round < 2; ++round) {
        for (int offset = 16; offset > 0; offset >>= 1) {
            const float other_v = __shfl_xor_sync(full_mask, v, offset);
            const int32_t other_id = __shfl_xor_sync(full_mask, id, offset);
            if (other_v > v || (other_v == v && other_id < id)) {
                v = other_v;
                id = other_id;
            }
        }
        if (round == 0) {
            __syncthreads();
            if (lane_id() == 0) {
                s.warp_float[warp_id()] = v;
                s.warp_int[warp_id()] = id;
            }
            __syncthreads();
            v = lane_id() < n_warps ? s.warp_float[lane_id()] : __int_as_float(static_cast<int>(0xff800000U));
            id = lane_id() < n_warps ? s.warp_int[lane_id()] : INT32_MAX;
        }
    }
}

// Called by warp 0 on a 256-digit histogram (counts or masses): the largest digit d whose suffix weight
// Σ_{d' ≥ d} hist[d'] reaches `remaining`, and the weight of the digits above it. Lane l owns digits 8l..8l+7.
// Masses round: if no digit qualifies the lowest non-empty one is taken (the top-p check corrects the result).
template <typename T> __device__ void pick_digit(const T* hist, T remaining, int32_t* digit_out, T* above_out) {
    const int lane = lane_id();
    T local = 0;
    for (int j = 7; j >= 0; --j) {
        local += hist[8 * lane + j];
    }
    T suffix = local; // Σ over lanes ≥ lane
    for (int offset = 1; offset < 32; offset <<= 1) {
        const T other = __shfl_down_sync(full_mask, suffix, offset);
        if (lane + offset < 32) {
            suffix += other;
        }
    }
    T above_lane = __shfl_down_sync(full_mask, suffix, 1);
    if (lane == 31) {
        above_lane = 0;
    }
    const unsigned qualifies = __ballot_sync(full_mask, local > 0 && suffix >= remaining);
    const unsigned non_empty = __ballot_sync(full_mask, local > 0);
    int owner = 0;
    if (qualifies != 0) {
        owner = 31 - __clz(static_cast<int>(qualifies));
    } else if (non_empty != 0) {
        owner = __ffs(static_cast<int>(non_empty)) - 1;
    }
    if (lane == owner) {
        T cum = above_lane;
        int32_t digit = -1;
        T digit_above = 0;
        int32_t lowest = 8 * lane; // fallback: the lowest non-empty digit of the lane
        T lowest_above = above_lane;
        for (int j = 7; j >= 0; --j) {
            const int32_t d = 8 * lane + j;
            const T h = hist[d];
            if (h > 0) {
                if (cum + h >= remaining) {
                    digit = d;
                    digit_above = cum;
                    break;
                }
                lowest = d;
                lowest_above = cum;
            }
            cum += h;
        }
        if (digit < 0) {
            digit = lowest;
            digit_above = lowest_above;
        }
        *digit_out = digit;
        *above_out = digit_above;
    }
}

// The first token, in id order, whose cumulative weight exceeds the target: u × the total weight (draw), or
// rank − 1 (ties_only: the rank-th tie). Tokens of zero weight are never returned; if rounding leaves the
// target past every cumulative sum, the last token of positive weight is. −1 only if no token has weight.
// Level 1: each warp weighs a contiguous segment of ids (coalesced); thread 0 picks the segment holding the
// target. Level 2: the segment is split into 512 short ranges, one per thread, scanned over the block; the thread
// whose range holds the target walks it.
__device__ int32_t find_crossing(const row_view& r, const keep_rule& rule, double u, double rank, block_scratch& s) {
    const int tid = static_cast<int>(threadIdx.x), lane = lane_id(), warp = warp_id();
    const int32_t seg_len = ((r.vocab + n_warps - 1) / n_warps + 31) / 32 * 32;
    {
        const int32_t begin = warp * seg_len;
        const int32_t end = min(r.vocab, begin + seg_len);
        double acc = 0;
        for (int32_t i = begin + lane; i < end; i += 32) {
            const float p = r.p(i);
            acc += rule.weight(p, __float_as_uint(p), i);
        }
        acc = warp_sum(acc);
        __syncthreads();
        if (lane == 0) {
            s.seg_total[warp] = acc;
        }
        __syncthreads();
    }
    if (tid == 0) {
        double total = 0;
        for (int w = 0; w < n_warps; ++w) {
            total += s.seg_total[w];
        }
        const double target = rule.ties_only ? rank - 1 : u * total;
        int32_t chosen = -1, last = 0;
        double base = 0, last_base = 0, prefix = 0;
        for (int w = 0; w < n_warps; ++w) {
            const double next = prefix + s.seg_total[w];
            if (s.seg_total[w] > 0) {
                last = w;
                last_base = prefix;
            }
            if (chosen < 0 && next > target) {
                chosen = w;
                base = prefix;
            }
            prefix = next;
        }
        if (chosen < 0) {
            chosen = last;
            base = last_base;
        }
        s.chosen_seg = chosen;
        s.seg_base = base;
        s.target = target;
        s.first_hit = INT32_MAX;
        s.last_positive = -1;
        s.result = -1;
    }
    __syncthreads();
    const double target = s.target;
    const int32_t seg_begin = s.chosen_seg * seg_len;
    const int32_t seg_end = min(r.vocab, seg_begin + seg_len);
    const int32_t per_thread = (seg_end - seg_begin + sample_threads - 1) / sample_threads;
    const int32_t my_begin = min(seg_end, seg_begin + tid * per_thread);
    const int32_t my_end = min(seg_end, my_begin + per_thread);
    double mine = 0;
    for (int32_t i = my_begin; i < my_end; ++i) {
        const float p = r.p(i);
        mine += rule.weight(p, __float_as_uint(p), i);
    }
    double inclusive = mine; // inclusive scan over the warp
    for (int offset = 1; offset < 32; offset <<= 1) {
        const double other = __shfl_up_sync(full_mask, inclusive, offset);
        if (lane >= offset) {
            inclusive += other;
        }
    }
    double exclusive = __shfl_up_sync(full_mask, inclusive, 1);
    if (lane == 0) {
        exclusive = 0;
    }
    if (lane == 31) {
        s.scan_warp[warp] = inclusive;
    }
    __syncthreads();
    double offset = s.seg_base;
    for (int w = 0; w < warp; ++w) {
        offset += s.scan_warp[w];
    }
    if (mine > 0) {
        if (offset + inclusive > target) {
            atomicMin(&s.first_hit, tid);
        }
        atomicMax(&s.last_positive, tid);
    }
    __syncthreads();
    const int32_t walker = s.first_hit != INT32_MAX ? s.first_hit : s.last_positive;
    if (tid == walker) {
        double running = offset + exclusive;
        int32_t found = -1, last = -1;
        for (int32_t i = my_begin; i < my_end; ++i) {
            const float p = r.p(i);
            const double w = rule.weight(p, __float_as_uint(p), i);
            if (w > 0) {
                running += w;
                last = i;
                if (running > target) {
                    found = i;
                    break;
                }
            }
        }
        s.result = found >= 0 ? found : last;
    }
    __syncthreads();
    return s.result;
}

// Top-k (1 < k < vocab): the cut keeping exactly the k most likely tokens, ties → lowest ids.
__device__ cut select_top_k(const row_view& r, int32_t k, block_scratch& s) {
    const int tid = static_cast<int>(threadIdx.x);
    uint32_t prefix = 0, mask = 0, n_equal = 0;
    auto remaining = static_cast<uint32_t>(k); // how many of the tokens under the prefix are still to keep
    for (int shift = 24; shift >= 0; shift -= 8) {
        __syncthreads(); // the previous level's readers are done with the histogram
        for (int d = tid; d < 256; d += sample_threads) {
            s.count_hist[d] = 0;
        }
        __syncthreads();
        for (int32_t base = 0; base < r.vocab; base += sample_threads) { // whole warps: __match_any_sync
            const int32_t i = base + tid;
            uint32_t digit = no_digit;
            if (i < r.vocab) {
                const uint32_t b = __float_as_uint(r.p(i));
                if ((b & mask) == prefix) {
                    digit = (b >> shift) & 0xffU;
                }
            }
            const unsigned peers = __match_any_sync(full_mask, digit);
            if (digit != no_digit && lane_id() == __ffs(static_cast<int>(peers)) - 1) {
                atomicAdd(&s.count_hist[digit], static_cast<uint32_t>(__popc(peers)));
            }
        }
        __syncthreads();
        if (tid < 32) {
            pick_digit(s.count_hist, remaining, &s.pick_digit, &s.pick_above_count);
        }
        __syncthreads();
        const auto digit = static_cast<uint32_t>(s.pick_digit);
        prefix |= digit << shift;
        mask |= 0xffU << shift;
        remaining -= s.pick_above_count;
        n_equal = s.count_hist[digit];
    }
    // prefix is τ, the bits of the k-th largest p; `remaining` (≥ 1) of the n_equal tokens at τ are kept.
    cut c{prefix, r.vocab - 1};
    if (remaining < n_equal) {
        const keep_rule ties{cut{0U, r.vocab - 1}, cut{0U, r.vocab - 1}, 0.0F, true, prefix};
        c.last_id = find_crossing(r, ties, 0.0, static_cast<double>(remaining), s);
    }
    return c;
}

// Top-p (top_p < 1) over the tokens top_k keeps: the cut keeping the smallest prefix of "p descending, id
// ascending" whose mass ≥ top_p × their mass.
__device__ cut select_top_p(const row_view& r, const cut& top_k, float top_p, block_scratch& s) {
    const int tid = static_cast<int>(threadIdx.x);
    uint32_t prefix = 0, mask = 0;
    double target = 0, remaining = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        __syncthreads();
        for (int d = tid; d < 256; d += sample_threads) {
            s.mass_hist[d] = 0;
        }
        __syncthreads();
        double mass = 0; // this thread's share of the top-k mass, in the same order as the check below
        for (int32_t base = 0; base < r.vocab; base += sample_threads) { // whole warps: __match_any_sync
            const int32_t i = base + tid;
            uint32_t digit = no_digit;
            double v = 0;
            if (i < r.vocab) {
                const float p = r.p(i);
                const uint32_t b = __float_as_uint(p);
                if (top_k.keeps(b, i)) {
                    mass += p;
                    if ((b & mask) == prefix) {
                        digit = (b >> shift) & 0xffU;
                        v = p;
                    }
                }
            }
            const unsigned peers = __match_any_sync(full_mask, digit);
            s.lane_mass[warp_id()][lane_id()] = v;
            __syncwarp();
            if (digit != no_digit && lane_id() == __ffs(static_cast<int>(peers)) - 1) {
                double sum = 0;
                for (unsigned m = peers; m != 0; m &= m - 1) {
                    sum += s.lane_mass[warp_id()][__ffs(static_cast<int>(m)) - 1];
                }
                atomicAdd(&s.mass_hist[digit], sum);
            }
            __syncwarp();
        }
        if (shift == 24) {
            target = static_cast<double>(top_p) * block_sum(mass, s); // block_sum's barriers end the atomics
            remaining = target;
        } else {
            __syncthreads();
        }
        if (tid < 32) {
            pick_digit(s.mass_hist, remaining, &s.pick_digit, &s.pick_above_mass);
        }
        __syncthreads();
        prefix |= static_cast<uint32_t>(s.pick_digit) << shift;
        mask |= 0xffU << shift;
        remaining -= s.pick_above_mass;
    }
    // The check: t is the largest value with mass(p ≥ t) ≥ target. Both masses are sums over nested sets in one
    // fixed order, so they only grow as t falls, and mass(p > t) is mass(p ≥ the next value up): that t is unique.
    uint32_t t = prefix, n_equal = 0;
    double mass_above = 0;
    for (int step = 0; step < top_p_max_steps; ++step) {
        double above = 0, at_least = 0;
        uint32_t n_eq = 0, next_up = 0xffffffffU, next_down_plus_1 = 0;
        for (int32_t i = tid; i < r.vocab; i += sample_threads) {
            const float p = r.p(i);
            const uint32_t b = __float_as_uint(p);
            if (top_k.keeps(b, i)) {
                if (b >= t) {
                    at_least += p;
                    if (b > t) {
                        above += p;
                        next_up = min(next_up, b);
                    } else {
                        ++n_eq;
                    }
                } else {
                    next_down_plus_1 = max(next_down_plus_1, b + 1);
                }
            }
        }
        mass_above = block_sum(above, s);
        const double mass_at_least = block_sum(at_least, s);
        n_equal = block_sum(n_eq, s);
        next_up = block_min(next_up, s);
        next_down_plus_1 = block_max(next_down_plus_1, s);
        if (mass_at_least < target && next_down_plus_1 > 0) {
            t = next_down_plus_1 - 1;
        } else if (mass_above >= target && next_up != 0xffffffffU) {
            t = next_up;
        } else {
            break;
        }
    }
    // Of the n_equal tokens at t, the fewest (lowest ids first) that bring the mass to the target.
    const double t_value = __uint_as_float(t);
    uint32_t n_keep = n_equal;
    if (n_equal > 0 && t_value > 0) {
        const double estimate = ceil((target - mass_above) / t_value);
        n_keep = estimate <= 1 ? 1U : (estimate >= n_equal ? n_equal : static_cast<uint32_t>(estimate));
        while (n_keep > 1 && mass_above + (n_keep - 1) * t_value >= target) {
            --n_keep;
        }
        while (n_keep < n_equal && mass_above + n_keep * t_value < target) {
            ++n_keep;
        }
    }
    cut c{t, r.vocab - 1};
    if (n_keep < n_equal) {
        const keep_rule ties{top_k, cut{0U, r.vocab - 1}, 0.0F, true, t};
        c.last_id = find_crossing(r, ties, 0.0, static_cast<double>(n_keep), s);
    }
    return c;
}

// One block per row. tokens[row] = the sampled id, or −1 for a row outside the contract (a NaN or +inf logit, or
// every logit −inf): the kernel cannot throw, and −1 is never a valid id.
__global__ void __launch_bounds__(sample_threads, 1)
    sample_kernel(const float* logits, const ref::sampling_row* rows, int32_t vocab, int32_t* tokens) {
    __shared__ block_scratch s;
    const int64_t row_index = blockIdx.x;
    const ref::sampling_row row = rows[row_index];
    row_view r{logits + row_index * vocab, vocab, 0.0F, row.temperature};

    float best = __int_as_float(static_cast<int>(0xff800000U)); // −inf
    int32_t best_id = INT32_MAX;
    bool bad = false;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < vocab; i += sample_threads) {
        const float l = r.logits[i];
        bad = bad || !(l <= 3.402823466e38F); // NaN or +inf
        if (l > best) {
            best = l;
            best_id = i;
        }
    }
    bad = __syncthreads_or(bad ? 1 : 0) != 0;
    block_argmax(best, best_id, s);
    if (bad || best_id == INT32_MAX) {
        if (threadIdx.x == 0) {
            tokens[row_index] = -1;
        }
        return;
    }
    if (!(row.temperature > 0) || row.top_k == 1) {
        if (threadIdx.x == 0) {
            tokens[row_index] = best_id;
        }
        return;
    }
    r.max_logit = best;
    const cut all{0U, vocab - 1};
    const cut top_k = row.top_k > 1 && row.top_k < vocab ? select_top_k(r, row.top_k, s) : all;
    const cut top_p = row.top_p < 1.0F ? select_top_p(r, top_k, row.top_p, s) : all;
    const keep_rule kept{top_k, top_p, row.min_p, false, 0U};
    const int32_t token = find_crossing(r, kept, ref::sampling_uniform(row.seed, row.offset), 0.0, s);
    if (threadIdx.x == 0) {
        tokens[row_index] = token >= 0 ? token : best_id; // −1 cannot happen: the max (p = 1) is always kept
    }
}

void check_shape(int32_t n_rows, int32_t vocab) {
    if (n_rows < 0 || vocab < 1) {
        throw error(status_code::invalid_argument, "sampling: expected n_rows ≥ 0 and vocab ≥ 1, got n_rows " +
                                                       std::to_string(n_rows) + ", vocab " + std::to_string(vocab));
    }
}

} // namespace

int64_t sampling_workspace_bytes(int32_t n_rows, int32_t vocab) {
    check_shape(n_rows, vocab);
    return 0; // p is recomputed from the logits on every pass
}

void sample(const float* logits, const ref::sampling_row* rows, int32_t n_rows, int32_t vocab, int32_t* tokens,
            void* /*workspace: sampling_workspace_bytes() is 0*/, cudaStream_t stream) {
    check_shape(n_rows, vocab);
    if (n_rows == 0) {
        return;
    }
    if (logits == nullptr || rows == nullptr || tokens == nullptr) {
        throw error(status_code::invalid_argument, "sampling: logits, rows or tokens is null (n_rows " +
                                                       std::to_string(n_rows) + ", vocab " + std::to_string(vocab) +
                                                       ")");
    }
    sample_kernel<<<static_cast<unsigned>(n_rows), sample_threads, 0, stream>>>(logits, rows, vocab, tokens);
    LLMFLEET_CUDA_CHECK_LAUNCH();
}

} // namespace llmfleet::kernels::cuda
