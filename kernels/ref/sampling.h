// The device-sampling contract and its CPU reference: what kernels/cuda/sampling.cuh computes per logits row,
// written plainly. Also the counter-based random number every backend draws from, so that a seeded request gets
// the same token wherever its row lands in a batch and whichever backend samples it (up to float summation order
// at the boundaries of the kept set). Usable from host C++ and from CUDA device code.
#pragma once

#include <cstdint>
#include <span>

#if defined(__CUDACC__)
#define LLMFLEET_HOST_DEVICE __host__ __device__
#else
#define LLMFLEET_HOST_DEVICE
#endif

namespace llmfleet::kernels::ref {

// One row's sampling parameters (validated by the engine: temperature ≥ 0, top_p in (0, 1], min_p in [0, 1]).
struct sampling_row {
    float temperature = 1.0F; // 0 → greedy: argmax, ties → lowest id
    int32_t top_k = 0;        // ≤ 0 or ≥ vocab → off
    float top_p = 1.0F;       // (0, 1]
    float min_p = 0.0F;       // [0, 1]
    uint64_t seed = 0;        // the request's seed
    uint64_t offset = 0;      // the draw's index in the request (tokens generated so far)
};

// SplitMix64's finaliser: a bijective 64-bit mix.
LLMFLEET_HOST_DEVICE constexpr uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

// The draw for (seed, offset): a double in [0, 1) with 53 random bits.
LLMFLEET_HOST_DEVICE constexpr double sampling_uniform(uint64_t seed, uint64_t offset) {
    const uint64_t bits = mix64(mix64(seed ^ 0x9e3779b97f4a7c15ULL) + offset * 0xd1b54a32d192ed03ULL);
    return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// The reference itself is host C++20 (std::span); kernels/cuda compiles as C++17 and sees only the contract above.
#if __cplusplus >= 202002L

// The token for one row of logits [vocab] (f32, finite or −inf, at least one finite):
//   temperature 0 → argmax (ties → lowest id);
//   else p_i = exp((l_i − max) / temperature); keep the top_k most likely (ties → lowest ids); then the smallest
//   prefix, in the order "p descending, id ascending", of the kept tokens whose mass ≥ top_p × their mass; then
//   the tokens with p ≥ min_p (p_max is 1); then the first kept token, in id order, whose cumulative mass exceeds
//   u × the kept mass, u = sampling_uniform(seed, offset).
// Precondition failures (a NaN or +inf logit, every logit −inf, parameters out of range) are bugs upstream:
// LLMFLEET_CHECK aborts.
int32_t sample_row(std::span<const float> logits, const sampling_row& row);

// sample_row with the draw u ∈ [0, 1) given instead of taken from (row.seed, row.offset): tests pick u to land
// on a chosen token; sample_row(l, r) == sample_row_with_uniform(l, r, sampling_uniform(r.seed, r.offset)).
int32_t sample_row_with_uniform(std::span<const float> logits, const sampling_row& row, double u);

#endif // __cplusplus >= 202002L

} // namespace llmfleet::kernels::ref
