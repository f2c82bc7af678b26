// See ops.h. Napkin math for decode on CPU: every weight is read once per step, so a step costs
// ≈ weight bytes / memory bandwidth; attention reads n_ctx · 2 · kv_size floats per layer and sequence.
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace llmfleet::kernels::cpu {

void rms_norm(const float* x, const float* weight, float* out, int64_t n_tokens, int64_t dim, float eps) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* row = x + t * dim;
        double sum_sq = 0;
        for (int64_t i = 0; i < dim; ++i) {
            sum_sq += static_cast<double>(row[i]) * row[i];
        }
        const auto inv = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(dim) + eps));
        for (int64_t i = 0; i < dim; ++i) {
            out[t * dim + i] = row[i] * inv * weight[i];
        }
    }
}

void rope_table(const int32_t* positions, const float* inv_freq, float* cos_out, float* sin_out, int64_t n_tokens,
                int64_t half_dim) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t i = 0; i < half_dim; ++i) {
            const float angle = static_cast<float>(positions[t]) * inv_freq[i]; // f32 product, as HF
            cos_out[t * half_dim + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
            sin_out[t * half_dim + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
        }
    }
}

void rope(float* x, int64_t row_stride, const float* cos_table, const float* sin_table, int64_t n_tokens,
          int64_t n_heads, int64_t head_dim) {
    const int64_t half = head_dim / 2;
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* c = cos_table + t * half;
        const float* s = sin_table + t * half;
        for (int64_t h = 0; h < n_heads; ++h) {
            float* v = x + t * row_stride + h * head_dim;
            for (int64_t i = 0; i < half; ++i) {
                const float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}

void silu_mul_fused(const float* gate_up, float* out, int64_t n_tokens, int64_t inter) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* g = gate_up + t * 2 * inter;
        const float* u = g + inter;
        float* o = out + t * inter;
        for (int64_t i = 0; i < inter; ++i) {
            o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
        }
    }
}

void add_inplace(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        x[i] += y[i];
    }
}

void store_kv(const float* qkv, int64_t row_stride, int64_t k_offset, int64_t v_offset, const int32_t* slot_mapping,
              int64_t n_tokens, const kv_layer_view& kv) {
    const int64_t kv_size = kv.n_kv_heads * kv.head_dim;
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* row = qkv + t * row_stride;
        const int64_t slot = slot_mapping[t];
        std::copy_n(row + k_offset, kv_size, kv.k + slot * kv_size);
        std::copy_n(row + v_offset, kv_size, kv.v + slot * kv_size);
    }
}

namespace {

// One query token, the `group` query heads that share KV head kvh. scores: scratch [group, n_ctx].
void attend_one(const float* q_row, float* out_row, int64_t position, const int32_t* block_table, int64_t kvh,
                int64_t group, const kv_layer_view& kv, std::vector<float>& scores) {
    const int64_t d = kv.head_dim, kv_size = kv.n_kv_heads * d, n_ctx = position + 1;
    scores.resize(static_cast<size_t>(group * n_ctx));
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    for (int64_t j = 0; j < n_ctx; ++j) {
        const int64_t slot = block_table[j / kv.block_size] * kv.block_size + j % kv.block_size;
        const float* k = kv.k + slot * kv_size + kvh * d;
        for (int64_t g = 0; g < group; ++g) {
            const float* q = q_row + (kvh * group + g) * d;
            float dot = 0;
            for (int64_t i = 0; i < d; ++i) {
                dot += q[i] * k[i];
            }
            scores[g * n_ctx + j] = dot * scale;
        }
    }
    for (int64_t g = 0; g < group; ++g) {
        float* s = scores.data() + g * n_ctx;
        const float max_score = *std::max_element(s, s + n_ctx);
        float sum = 0;
        for (int64_t j = 0; j < n_ctx; ++j) {
            s[j] = std::exp(s[j] - max_score);
            sum += s[j];
        }
        const float inv_sum = 1.0f / sum;
        for (int64_t j = 0; j < n_ctx; ++j) {
            s[j] *= inv_sum;
        }
        std::fill_n(out_row + (kvh * group + g) * d, d, 0.0f);
    }
    for (int64_t j = 0; j < n_ctx; ++j) {
        const int64_t slot = block_table[j / kv.block_size] * kv.block_size + j % kv.block_size;
        const float* v = kv.v + slot * kv_size + kvh * d;
        for (int64_t g = 0; g < group; ++g) {
            const float w = scores[g * n_ctx + j];
            float* o = out_row + (kvh * group + g) * d;
            for (int64_t i = 0; i < d; ++i) {
                o[i] += w * v[i];
            }
        }
    }
}

} // namespace

void paged_attention(const float* qkv, int64_t row_stride, float* out, const attention_batch& batch,
                     const kv_layer_view& kv, int64_t n_heads, thread_pool& pool) {
    const int64_t group = n_heads / kv.n_kv_heads;
    const int64_t out_stride = n_heads * kv.head_dim;
    const int64_t n_tasks = batch.n_tokens * kv.n_kv_heads;
    pool.parallel_for(n_tasks, 1, [&](int64_t begin, int64_t end) {
        std::vector<float> scores;
        for (int64_t task = begin; task < end; ++task) {
            const int64_t t = task / kv.n_kv_heads, kvh = task % kv.n_kv_heads;
            const int32_t* table = batch.block_tables[batch.token_seq[t]].data();
            attend_one(qkv + t * row_stride, out + t * out_stride, batch.positions[t], table, kvh, group, kv, scores);
        }
    });
}

} // namespace llmfleet::kernels::cpu
