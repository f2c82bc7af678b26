// Paged attention on the GPU (bf16 in, f32 accumulation, bf16 out), GQA-aware: query head h reads KV head
// h / (n_heads / n_kv_heads). Both kernels read the batch's K/V from the paged cache (rope_store_kv wrote them
// first) and match kernels::cpu::paged_attention / kernels::ref::attention.
// Supported: head_dim 32, 64, 128 (template instances; others throw llmfleet::error(invalid_argument)), any
// block_size > 0, n_heads a multiple of n_kv_heads. kv.k and kv.v must be 16-byte aligned (rows are read as
// 16-byte vectors). Only the slots a query can see are read (never a block table entry past them), so unused
// cache memory may hold anything. Launches are asynchronous on `stream`; argument errors throw before any launch.
// Kernel designs: attention_decode.cu and attention_prefill.cu.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/kv_cache.cuh"

namespace llmfleet::kernels::cuda {

// Decode: one query token per sequence (token s is sequence s), attending to its seq_lens[s] cached tokens
// (slots 0..seq_lens[s] − 1, its own included). A sequence with seq_lens[s] == 0 (a padded row of a CUDA graph
// bucket) gets a zero output. Long contexts are split into partitions of decode_partition_tokens, computed in
// parallel and merged (split-K with a log-sum-exp merge); the grid is sized from max_seq_len, fixed per captured
// graph, and partitions past a sequence's length exit at once, so one capture serves every length ≤ max_seq_len.
constexpr int32_t decode_partition_tokens = 512;

// Floats of workspace decode needs for n_seqs × n_heads × ceil(max_seq_len / decode_partition_tokens)
// partitions (each: max, sum, head_dim partial outputs); 0 when one partition suffices.
int64_t decode_workspace_floats(int32_t n_seqs, int32_t n_heads, int32_t head_dim, int32_t max_seq_len);

// io: n_seqs query rows. seq_lens [n_seqs] int32 (≤ max_seq_len). workspace: decode_workspace_floats(...) f32,
// may be null when that is 0 (max_seq_len ≤ decode_partition_tokens: each block writes out directly); its contents
// need no initialization. Every output row is written exactly once per call. CUDA-graph capturable: no sync, no
// allocation, static shared memory only; the grid depends only on (n_seqs, n_heads, max_seq_len).
void paged_attention_decode(const attention_io& io, const kv_cache_view& kv, const block_table_view& tables,
                            const int32_t* seq_lens, int32_t n_seqs, int32_t max_seq_len, float* workspace,
                            cudaStream_t stream);

// Prefill and mixed steps: sequence s owns query tokens [seq_token_starts[s], seq_token_starts[s + 1]), at
// positions positions[t]; query t sees cache slots 0..positions[t] of its sequence (causal; earlier chunks and a
// prefix-cache hit included). Tiled over (query tile, head, sequence) with tensor-core (WMMA bf16) products and an
// online softmax; max_q_len: the longest sequence's query count in this batch (sizes the grid).
// seq_token_starts [n_seqs + 1] int32, positions [n_tokens] int32 (device). Needs sm_80+ (bf16 WMMA) and up to
// 94 KiB of dynamic shared memory per block (head_dim 128); the first launch on a device sets the kernel's
// shared-memory attribute, so make one launch before capturing a graph.
void paged_attention_prefill(const attention_io& io, const kv_cache_view& kv, const block_table_view& tables,
                             const int32_t* seq_token_starts, const int32_t* positions, int32_t n_seqs,
                             int32_t max_q_len, cudaStream_t stream);

} // namespace llmfleet::kernels::cuda
