// CPU reference of every op of the Qwen2/Llama forward pass: plain loops in f32, written for clarity. They
// are the oracle that faster CPU paths and the CUDA kernels are tested against (same signatures there).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace llmfleet::kernels::ref {

// out[t, :] = table[ids[t], :]. table [vocab, dim], ids [n_tokens] (each < vocab), out [n_tokens, dim].
void embedding(const float* table, const int32_t* ids, float* out, int64_t n_tokens, int64_t dim);

// out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + eps) * weight. x, out [n_tokens, dim]; weight [dim].
void rms_norm(const float* x, const float* weight, float* out, int64_t n_tokens, int64_t dim, float eps);

// y = x · wᵀ (+ bias). x [n_tokens, in], w [out, in] (Hugging Face layout), bias [out] or null, y [n_tokens, out].
void linear(const float* x, const float* w, const float* bias, float* y, int64_t n_tokens, int64_t in, int64_t out);

struct rope_llama3 {
    double factor;
    double low_freq_factor;
    double high_freq_factor;
    int64_t original_max_position_embeddings;
};

// Rotary inverse frequencies [head_dim / 2]: theta^(-2i / head_dim), with Llama-3.1 frequency-dependent
// scaling when given.
std::vector<float> rope_inv_freq(int64_t head_dim, double theta, const std::optional<rope_llama3>& scaling);

// In place, neox style (rotate the two halves): for i < d/2, angle = position × inv_freq[i],
// (x[i], x[i + d/2]) ← (x[i] cos − x[i + d/2] sin, x[i + d/2] cos + x[i] sin).
// x [n_tokens, n_heads, head_dim]; positions [n_tokens]; inv_freq [head_dim / 2].
void rope(float* x, const int64_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
          const float* inv_freq);

// out = silu(gate) × up, element-wise. gate, up, out [n].
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

// out = a + b, element-wise. a, b, out [n] (out may alias a).
void add(const float* a, const float* b, float* out, int64_t n);

// Causal grouped-query attention of one sequence. q [n_q, n_heads, head_dim] at positions q_positions
// [n_q]; k, v [n_kv, n_kv_heads, head_dim] for positions 0..n_kv-1; query i sees keys 0..q_positions[i].
// Head h reads KV head h / (n_heads / n_kv_heads). out [n_q, n_heads, head_dim]. scale = 1/sqrt(head_dim).
void attention(const float* q, const float* k, const float* v, float* out, const int64_t* q_positions, int64_t n_q,
               int64_t n_kv, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);

} // namespace llmfleet::kernels::ref
