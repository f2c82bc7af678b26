// See layer_ops.cuh. One block per row for the row-wise ops (embedding, norms, rope), grid-stride loops for
// silu_mul. All math in f32.
#include "kernels/cuda/layer_ops.cuh"

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_check.h"

namespace llmfleet::kernels::cuda {

namespace {

using detail::to_bf16;
using detail::to_f32;

constexpr int row_threads = 256;

__global__ void embedding_kernel(const bf16* table, const int32_t* ids, float* x, int32_t dim, int32_t vocab_begin,
                                 int32_t vocab_local) {
    const int64_t t = blockIdx.x;
    const int32_t local = ids[t] - vocab_begin;
    const bool mine = local >= 0 && local < vocab_local;
    const bf16* src = table + static_cast<int64_t>(mine ? local : 0) * dim;
    float* row = x + t * dim;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < dim; i += static_cast<int32_t>(blockDim.x)) {
        row[i] = mine ? to_f32(src[i]) : 0.0F;
    }
}

// residual row (gathered through rows when given) [+= delta row], then its RMSNorm × weight → out row blockIdx.x.
__global__ void add_rms_norm_kernel(float* residual, const float* delta, const int32_t* rows, const bf16* weight,
                                    bf16* out, int32_t dim, float eps) {
    const int64_t r = blockIdx.x;
    const int64_t src_row = rows != nullptr ? rows[r] : r;
    float* x = residual + src_row * dim;
    const float* d = delta != nullptr ? delta + src_row * dim : nullptr;
    float sum_sq = 0.0F;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < dim; i += static_cast<int32_t>(blockDim.x)) {
        float v = x[i];
        if (d != nullptr) {
            v += d[i];
            x[i] = v;
        }
        sum_sq += v * v;
    }
    sum_sq = detail::block_sum(sum_sq);
    const float inv_rms = rsqrtf(sum_sq / static_cast<float>(dim) + eps);
    bf16* o = out + r * dim;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < dim; i += static_cast<int32_t>(blockDim.x)) {
        o[i] = to_bf16(x[i] * inv_rms * to_f32(weight[i]));
    }
}

__global__ void rope_store_kv_kernel(bf16* qkv, const bf16* bias, const int32_t* positions, const int32_t* slot_mapping,
                                     const float* inv_freq, int32_t n_heads, kv_cache_view kv) {
    const int64_t t = blockIdx.x;
    const int32_t hd = kv.head_dim, half = hd / 2;
    const int32_t q_width = n_heads * hd, kv_width = kv.n_kv_heads * hd;
    bf16* row = qkv + t * (q_width + 2 * kv_width);
    const auto position = static_cast<float>(positions[t]);
    const int32_t slot = slot_mapping[t];
    bf16* k_dst = slot >= 0 ? kv.k + static_cast<int64_t>(slot) * kv_width : nullptr;
    bf16* v_dst = slot >= 0 ? kv.v + static_cast<int64_t>(slot) * kv_width : nullptr;
    // q and k heads are contiguous (k head j is head n_heads + j): one rotation pair per item.
    const int32_t n_pairs = (n_heads + kv.n_kv_heads) * half;
    for (int32_t item = static_cast<int32_t>(threadIdx.x); item < n_pairs; item += static_cast<int32_t>(blockDim.x)) {
        const int32_t head = item / half, i = item % half;
        const int32_t c0 = head * hd + i, c1 = c0 + half;
        float x0 = to_f32(row[c0]), x1 = to_f32(row[c1]);
        if (bias != nullptr) {
            x0 += to_f32(bias[c0]);
            x1 += to_f32(bias[c1]);
        }
        float sin_a = 0.0F, cos_a = 0.0F;
        sincosf(position * inv_freq[i], &sin_a, &cos_a);
        const bf16 y0 = to_bf16(x0 * cos_a - x1 * sin_a), y1 = to_bf16(x1 * cos_a + x0 * sin_a);
        row[c0] = y0;
        row[c1] = y1;
        if (head >= n_heads && k_dst != nullptr) {
            const int32_t k_col = c0 - q_width;
            k_dst[k_col] = y0;
            k_dst[k_col + half] = y1;
        }
    }
    const int32_t v_begin = q_width + kv_width;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < kv_width; i += static_cast<int32_t>(blockDim.x)) {
        float v = to_f32(row[v_begin + i]);
        if (bias != nullptr) {
            v += to_f32(bias[v_begin + i]);
        }
        const bf16 vb = to_bf16(v);
        row[v_begin + i] = vb;
        if (v_dst != nullptr) {
            v_dst[i] = vb;
        }
    }
}

__global__ void silu_mul_kernel(const bf16* gate_up, bf16* out, int64_t n, int32_t inter) {
    const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
        const int64_t t = idx / inter, i = idx % inter;
        const float g = to_f32(gate_up[t * 2 * inter + i]), u = to_f32(gate_up[t * 2 * inter + inter + i]);
        out[idx] = to_bf16(g / (1.0F + expf(-g)) * u);
    }
}

} // namespace

void embedding(const bf16* table, const int32_t* ids, float* x, int32_t n_tokens, int32_t dim, int32_t vocab_begin,
               int32_t vocab_local, cudaStream_t stream) {
    if (n_tokens == 0) {
        return;
    }
    embedding_kernel<<<n_tokens, row_threads, 0, stream>>>(table, ids, x, dim, vocab_begin, vocab_local);
    LLMFLEET_CUDA_CHECK_LAUNCH();
}

void add_rms_norm(float* residual, const float* delta, const bf16* weight, bf16* out, int32_t n_rows, int32_t dim,
                  float eps, cudaStream_t stream) {
    if (n_rows == 0) {
        return;
    }
    add_rms_norm_kernel<<<n_rows, row_threads, 0, stream>>>(residual, delta, nullptr, weight, out, dim, eps);
    LLMFLEET_CUDA_CHECK_LAUNCH();
}

void rms_norm_rows(const float* x, const int32_t* rows, const bf16* weight, bf16* out, int32_t n_rows, int32_t dim,
                   float eps, cudaStream_t stream) {
    if (n_rows == 0) {
        return;
    }
    // delta is null, so the kernel only reads x: the cast does not make it write.
    add_rms_norm_kernel<<<n_rows, row_threads, 0, stream>>>(const_cast<float*>(x), nullptr, rows, weight, out, dim,
                                                            eps);
    LLMFLEET_CUDA_CHECK_LAUNCH();
}

void rope_store_kv(bf16* qkv, const bf16* bias, const int32_t* positions, const int32_t* slot_mapping,
                   const float* inv_freq, int32_t n_tokens, int32_t n_heads, const kv_cache_view& kv,
                   cudaStream_t stream) {
    if (n_tokens == 0) {
        return;
    }
    rope_store_kv_kernel<<<n_tokens, row_threads, 0, stream>>>(qkv, bias, positions, slot_mapping, inv_freq, n_heads,
                                                               kv);
    LLMFLEET_CUDA_CHECK_LAUNCH();
}

void silu_mul(const bf16* gate_up, bf16* out, int32_t n_tokens, int32_t inter, cudaStream_t stream) {
    const int64_t n = static_cast<int64_t>(n_tokens) * inter;
    if (n == 0) {
        return;
    }
    silu_mul_kernel<<<detail::grid_for(n, row_threads), row_threads, 0, stream>>>(gate_up, out, n, inter);
    LLMFLEET_CUDA_CHECK_LAUNCH();
}

} // namespace llmfleet::kernels::cuda
