// cpu::stream_sum: a read-only pass over memory in 16-float vectors with four independent accumulators,
// the probe that benchmarks use to measure streaming read bandwidth (the roofline of decode on CPU).
#include <cstring>

#include "kernels/cpu/ops.h"

namespace llmfleet::kernels::cpu {

namespace {
using vec16 = float __attribute__((vector_size(64)));
} // namespace

__attribute__((target_clones("avx512f", "avx2", "default"))) float stream_sum(const float* p, int64_t n) {
    vec16 a[4] = {};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 4; ++k) {
            vec16 v;
            std::memcpy(&v, p + i + 16 * k, sizeof(v));
            a[k] += v;
        }
    }
    float s = 0;
    for (int k = 0; k < 4; ++k) {
        for (int j = 0; j < 16; ++j) {
            s += a[k][j];
        }
    }
    for (; i < n; ++i) {
        s += p[i];
    }
    return s;
}

} // namespace llmfleet::kernels::cpu
