// The element-wise and row-wise ops of a transformer layer on the GPU: embedding gather, fused residual-add +
// RMSNorm, rotary embedding fused with the bias add and the KV-cache write, SiLU × mul. The residual stream is f32
// (what the row-parallel GEMMs accumulate into and what tensor parallelism all-reduces); the GEMM inputs are bf16.
// Each op has its CPU counterpart in kernels/ref (embedding, rms_norm, rope, silu_mul) that
// tests/kernels/test_cuda_layer_ops.cpp compares it with. Every op is CUDA-graph capturable.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/kv_cache.cuh"

namespace llmfleet::kernels::cuda {

// x [n_tokens, dim] f32 ← table [vocab_local, dim] bf16, row ids[t] − vocab_begin when that is in [0, vocab_local),
// else zeros (another tensor-parallel rank holds the row; the all-reduce fills it in).
void embedding(const bf16* table, const int32_t* ids, float* x, int32_t n_tokens, int32_t dim, int32_t vocab_begin,
               int32_t vocab_local, cudaStream_t stream);

// For each row r < n_rows: residual[r] += delta[r] (when delta is not null), then
// out[r] = residual[r] / sqrt(mean(residual[r]²) + eps) · weight, rounded to bf16.
// residual, delta [n_rows, dim] f32; weight [dim] bf16; out [n_rows, dim] bf16.
void add_rms_norm(float* residual, const float* delta, const bf16* weight, bf16* out, int32_t n_rows, int32_t dim,
                  float eps, cudaStream_t stream);

// out[i] = rms_norm(x[rows[i]]) · weight for i < n_rows: the final norm of the rows whose logits are wanted.
// x [*, dim] f32; rows [n_rows] int32; out [n_rows, dim] bf16.
void rms_norm_rows(const float* x, const int32_t* rows, const bf16* weight, bf16* out, int32_t n_rows, int32_t dim,
                   float eps, cudaStream_t stream);

// In place on qkv [n_tokens, n_heads·hd + 2·n_kv·hd] bf16 (q heads, then k heads, then v heads; hd = kv.head_dim):
// adds bias [same width] bf16 (null: none), rotates the q and k heads by positions [n_tokens] (neox halves: for
// i < hd/2, angle = position · inv_freq[i]), and writes token t's k and v heads to slot slot_mapping[t] of kv
// (a negative slot is a padding row: nothing is written). inv_freq [hd/2] f32.
void rope_store_kv(bf16* qkv, const bf16* bias, const int32_t* positions, const int32_t* slot_mapping,
                   const float* inv_freq, int32_t n_tokens, int32_t n_heads, const kv_cache_view& kv,
                   cudaStream_t stream);

// out[t, i] = silu(gate_up[t, i]) · gate_up[t, inter + i] in f32, rounded to bf16.
// gate_up [n_tokens, 2·inter] bf16; out [n_tokens, inter] bf16.
void silu_mul(const bf16* gate_up, bf16* out, int32_t n_tokens, int32_t inter, cudaStream_t stream);

} // namespace llmfleet::kernels::cuda
