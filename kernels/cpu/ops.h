// The fast CPU path of the forward pass: OpenBLAS GEMMs for the projections, and threaded loops for
// attention over the paged KV cache. kernels::ref holds the plain version of each op (the oracle);
// tests/kernels/test_cpu_ops.cpp checks these against it.
#pragma once

#include <cstdint>
#include <span>

#include "common/thread_pool.h"

namespace llmfleet::kernels::cpu {

// y = x · wᵀ (+ bias). x [n_tokens, in] f32, w [out, in] f32 (Hugging Face layout), bias [out] or null,
// y [n_tokens, out]. Up to small_m_max tokens: linear_small_m (weights streamed once, threads over output
// rows, batch-invariant); more: linear_blas (OpenBLAS sgemm, threaded by OpenBLAS). See linear.cpp.
constexpr int64_t small_m_max = 8; // bench_linear: ours wins up to 8 rows, OpenBLAS from 16
void linear(const float* x, const float* w, const float* bias, float* y, int64_t n_tokens, int64_t in, int64_t out,
            thread_pool& pool);
void linear_small_m(const float* x, const float* w, const float* bias, float* y, int64_t n_tokens, int64_t in,
                    int64_t out, thread_pool& pool);
void linear_blas(const float* x, const float* w, const float* bias, float* y, int64_t n_tokens, int64_t in,
                 int64_t out);

// Σ p[0..n): a streaming read in wide vectors; benchmarks time it to measure memory bandwidth.
float stream_sum(const float* p, int64_t n);

// out[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ weight. x, out [n_tokens, dim]; weight [dim].
void rms_norm(const float* x, const float* weight, float* out, int64_t n_tokens, int64_t dim, float eps);

// cos/sin table [n_tokens, head_dim / 2] each for the tokens' positions (computed once per forward pass
// and shared by every layer). inv_freq [head_dim / 2]; positions [n_tokens].
void rope_table(const int32_t* positions, const float* inv_freq, float* cos_out, float* sin_out, int64_t n_tokens,
                int64_t half_dim);

// In place, neox half rotation, heads [head_begin, head_end) of rows of `row_stride` floats:
// x[t, h, :] for h in the range, x at row t starts at x + t * row_stride. cos/sin [n_tokens, head_dim / 2].
void rope(float* x, int64_t row_stride, const float* cos_table, const float* sin_table, int64_t n_tokens,
          int64_t n_heads, int64_t head_dim);

// out[t, i] = silu(gate_up[t, i]) · gate_up[t, inter + i]. gate_up [n_tokens, 2·inter], out [n_tokens, inter].
void silu_mul_fused(const float* gate_up, float* out, int64_t n_tokens, int64_t inter);

// x += y, element-wise. x, y [n].
void add_inplace(float* x, const float* y, int64_t n);

// The paged KV cache of one layer: k and v [n_blocks, block_size, n_kv_heads, head_dim] f32. A token's
// slot is block_id · block_size + offset.
struct kv_layer_view {
    float* k = nullptr;
    float* v = nullptr;
    int64_t block_size = 0;
    int64_t n_kv_heads = 0;
    int64_t head_dim = 0;
};

// Stores each token's K and V rows into its slot. qkv [n_tokens, row_stride] with K at column k_offset and V
// at v_offset (n_kv_heads · head_dim floats each); slot_mapping [n_tokens].
void store_kv(const float* qkv, int64_t row_stride, int64_t k_offset, int64_t v_offset, const int32_t* slot_mapping,
              int64_t n_tokens, const kv_layer_view& kv);

// Causal GQA attention of a batch of sequences over the paged cache (the batch's own K/V already stored).
// q at qkv [n_tokens, row_stride] column 0 ([n_heads, head_dim]); out [n_tokens, n_heads · head_dim].
// Sequence s owns tokens [seq_token_starts[s], seq_token_starts[s + 1]) at positions `positions`, attends to
// its cache slots 0..position via its block table block_tables[s]. Work is split over
// (token, kv head) pairs; each query's result does not depend on the rest of the batch.
struct attention_batch {
    const int32_t* positions = nullptr;                     // [n_tokens]
    const int32_t* token_seq = nullptr;                     // [n_tokens] the sequence index of each token
    const std::span<const int32_t>* block_tables = nullptr; // [n_seqs] KV block ids of each sequence
    int64_t n_tokens = 0;
};
void paged_attention(const float* qkv, int64_t row_stride, float* out, const attention_batch& batch,
                     const kv_layer_view& kv, int64_t n_heads, thread_pool& pool);

} // namespace llmfleet::kernels::cpu
