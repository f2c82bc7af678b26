// The paged KV cache of one layer on the GPU, as the kernels see it: k and v
// [n_blocks, block_size, n_kv_heads, head_dim] bf16. A token's slot is block_id · block_size + offset; a block
// table lists a sequence's block ids in order. The same layout as the CPU backend's cache (kernels/cpu/ops.h), in
// bf16.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace llmfleet::kernels::cuda {

using bf16 = __nv_bfloat16;

struct kv_cache_view {
    bf16* k = nullptr;      // [n_blocks, block_size, n_kv_heads, head_dim]
    bf16* v = nullptr;      // [n_blocks, block_size, n_kv_heads, head_dim]
    int32_t block_size = 0; // tokens per block
    int32_t n_kv_heads = 0; // this rank's KV heads
    int32_t head_dim = 0;   // 32, 64 or 128 (the sizes the attention kernels are instantiated for)
};

// Where a step's queries are and where their output goes: the q of token t is qkv[t · qkv_stride + h · head_dim ...]
// (heads [0, n_heads)), and its attention output out[t · n_heads · head_dim + h · head_dim ...].
struct attention_io {
    const bf16* qkv = nullptr; // [n_tokens, qkv_stride] after rope: q at column 0
    int64_t qkv_stride = 0;    // elements per qkv row (q + 2 kv widths)
    bf16* out = nullptr;       // [n_tokens, n_heads · head_dim]
    int32_t n_heads = 0;       // this rank's query heads (a multiple of kv.n_kv_heads)
    float scale = 0;           // 1 / sqrt(head_dim)
};

// The block tables of a batch on the device: row s holds sequence s's block ids, padded to max_blocks_per_seq.
struct block_table_view {
    const int32_t* ids = nullptr;   // [n_seqs, max_blocks_per_seq]
    int32_t max_blocks_per_seq = 0; // row stride
};

} // namespace llmfleet::kernels::cuda
