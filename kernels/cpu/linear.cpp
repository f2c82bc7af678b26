// cpu::linear. For a handful of tokens (decode) a projection is a stream over the weights: OpenBLAS's sgemm
// packs the whole weight matrix on every call and reaches ~5 GB/s at 8 rows on the dev VM (sgemv, 1 row,
// reaches ~27), so up to small_m_max rows we use our own kernel: threads split the output rows, each weight
// row is read once and dotted with every token (4 at a time, 16-float vectors), which keeps decode at the
// memory-bandwidth roofline for any batch up to small_m_max. Each token's dot products are accumulated in
// the same order whatever the number of rows, so small batches are bit-for-bit batch-invariant.
// bench/kernels/bench_linear.cpp measures both paths side by side.
#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/ops.h"

namespace llmfleet::kernels::cpu {

namespace {

using vec16 = float __attribute__((vector_size(64)));
// The same vector, readable at any float address (aligned 4, may alias floats).
using vec16_unaligned = float __attribute__((vector_size(64), aligned(4), may_alias));

// Helpers take and return vectors by reference only: a vector passed by value would change the calling
// convention between the AVX-512, AVX2 and baseline clones (clang refuses that; GCC warns).
inline const vec16_unaligned& load16(const float* p) {
    return *reinterpret_cast<const vec16_unaligned*>(p);
}

inline float hsum(const vec16& v) {
    float s = 0;
    for (int i = 0; i < 16; ++i) {
        s += v[i];
    }
    return s;
}

// y[t, o] for t in [0, m), o in [o_begin, o_end): each weight row once, 4 tokens at a time. Compiled for
// AVX-512, AVX2 and baseline x86-64; the loader picks one at startup (GCC function multiversioning).
// (2-row × 4-token blocks measured slower on the dev VM at every batch size, so rows go one at a time.)
__attribute__((target_clones("avx512f", "avx2", "default"))) void small_m_rows(const float* x, const float* w,
                                                                               const float* bias, float* y, int64_t m,
                                                                               int64_t in, int64_t out, int64_t o_begin,
                                                                               int64_t o_end) {
    const int64_t in16 = in / 16 * 16;
    for (int64_t o = o_begin; o < o_end; ++o) {
        const float* wr = w + o * in;
        const float b = bias != nullptr ? bias[o] : 0.0f;
        int64_t t = 0;
        for (; t + 4 <= m; t += 4) {
            const float *x0 = x + t * in, *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in;
            vec16 a0 = {}, a1 = {}, a2 = {}, a3 = {};
            for (int64_t i = 0; i < in16; i += 16) {
                const vec16 wv = load16(wr + i);
                a0 += load16(x0 + i) * wv;
                a1 += load16(x1 + i) * wv;
                a2 += load16(x2 + i) * wv;
                a3 += load16(x3 + i) * wv;
            }
            float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
            for (int64_t i = in16; i < in; ++i) {
                s0 += x0[i] * wr[i];
                s1 += x1[i] * wr[i];
                s2 += x2[i] * wr[i];
                s3 += x3[i] * wr[i];
            }
            y[t * out + o] = s0 + b;
            y[(t + 1) * out + o] = s1 + b;
            y[(t + 2) * out + o] = s2 + b;
            y[(t + 3) * out + o] = s3 + b;
        }
        for (; t < m; ++t) {
            const float* xt = x + t * in;
            vec16 a = {};
            for (int64_t i = 0; i < in16; i += 16) {
                a += load16(xt + i) * load16(wr + i);
            }
            float s = hsum(a);
            for (int64_t i = in16; i < in; ++i) {
                s += xt[i] * wr[i];
            }
            y[t * out + o] = s + b;
        }
    }
}

} // namespace

void linear_small_m(const float* x, const float* w, const float* bias, float* y, int64_t n_tokens, int64_t in,
                    int64_t out, thread_pool& pool) {
    pool.parallel_for(out, 64,
                      [&](int64_t begin, int64_t end) { small_m_rows(x, w, bias, y, n_tokens, in, out, begin, end); });
}

void linear_blas(const float* x, const float* w, const float* bias, float* y, int64_t n_tokens, int64_t in,
                 int64_t out) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(n_tokens), static_cast<blasint>(out),
                static_cast<blasint>(in), 1.0f, x, static_cast<blasint>(in), w, static_cast<blasint>(in), 0.0f, y,
                static_cast<blasint>(out));
    if (bias != nullptr) {
        for (int64_t t = 0; t < n_tokens; ++t) {
            float* row = y + t * out;
            for (int64_t o = 0; o < out; ++o) {
                row[o] += bias[o];
            }
        }
    }
}

void linear(const float* x, const float* w, const float* bias, float* y, int64_t n_tokens, int64_t in, int64_t out,
            thread_pool& pool) {
    if (n_tokens <= small_m_max) {
        linear_small_m(x, w, bias, y, n_tokens, in, out, pool);
    } else {
        linear_blas(x, w, bias, y, n_tokens, in, out);
    }
}

} // namespace llmfleet::kernels::cpu
