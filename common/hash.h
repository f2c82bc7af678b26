// 64-bit mixing: the splitmix64 finaliser, a cheap bijection with good avalanche. Used for prefix-cache block
// hashes and for deriving per-request seeds.
#pragma once

#include <cstdint>

namespace llmfleet {

inline constexpr uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL; // 2^64 / φ

inline constexpr uint64_t mix64(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// One step of the splitmix64 generator from state x.
inline constexpr uint64_t splitmix64(uint64_t x) {
    return mix64(x + golden_gamma);
}

} // namespace llmfleet
