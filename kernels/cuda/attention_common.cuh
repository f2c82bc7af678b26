// Pieces shared by the two paged attention kernels (attention_decode.cu, attention_prefill.cu): the host-side
// argument checks, the paged-cache address of a (position, KV head) row, and bf16 unpacking. Internal to
// kernels/cuda: the public contract is attention.cuh.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <string>

#include "common/error.h"
#include "kernels/cuda/attention.cuh"

namespace llmfleet::kernels::cuda::attention_detail {

// log2(e): the kernels fold it into the score scale and use exp2f (one MUFU.EX2 per exponential).
constexpr float log2e = 1.4426950408889634f;

// Throws llmfleet::error(invalid_argument) for shapes the kernels do not support or a malformed view: head_dim
// other than 32/64/128 (the template instances), n_heads not a multiple of n_kv_heads, non-positive sizes, null
// pointers, a KV cache that is not 16-byte aligned (K/V rows are read 16 bytes at a time), a q row narrower than
// n_heads · head_dim. `op` names the caller in the message. The pointers are not looked at when n_seqs == 0 (an
// empty batch launches nothing).
inline void check_attention_args(const char* op, const attention_io& io, const kv_cache_view& kv,
                                 const block_table_view& tables, int32_t n_seqs) {
    const auto fail = [op](const std::string& what) {
        throw error(status_code::invalid_argument, std::string("paged attention (") + op + "): " + what);
    };
    if (kv.head_dim != 32 && kv.head_dim != 64 && kv.head_dim != 128) {
        // The message the engine relies on (kept verbatim): no op prefix.
        throw error(status_code::invalid_argument,
                    "paged attention: head_dim " + std::to_string(kv.head_dim) + " is not supported (64, 128 or 32)");
    }
    if (kv.n_kv_heads <= 0 || io.n_heads <= 0 || io.n_heads % kv.n_kv_heads != 0) {
        fail("n_heads " + std::to_string(io.n_heads) + " must be a positive multiple of n_kv_heads " +
             std::to_string(kv.n_kv_heads) + " (query head h reads KV head h / (n_heads / n_kv_heads))");
    }
    if (kv.block_size <= 0) {
        fail("block_size must be positive, got " + std::to_string(kv.block_size));
    }
    if (tables.max_blocks_per_seq <= 0) {
        fail("block_table_view.max_blocks_per_seq must be positive, got " + std::to_string(tables.max_blocks_per_seq));
    }
    const int64_t q_width = static_cast<int64_t>(io.n_heads) * kv.head_dim;
    if (io.qkv_stride < q_width) {
        fail("qkv_stride " + std::to_string(io.qkv_stride) +
             " is narrower than the q width n_heads · head_dim = " + std::to_string(q_width));
    }
    if (n_seqs < 0) {
        fail("n_seqs must be ≥ 0, got " + std::to_string(n_seqs));
    }
    if (n_seqs == 0) {
        return;
    }
    if (io.qkv == nullptr || io.out == nullptr || kv.k == nullptr || kv.v == nullptr || tables.ids == nullptr) {
        fail("null pointer in qkv, out, kv.k, kv.v or the block table");
    }
    if (reinterpret_cast<uintptr_t>(kv.k) % 16 != 0 || reinterpret_cast<uintptr_t>(kv.v) % 16 != 0) {
        fail("kv.k and kv.v must be 16-byte aligned (rows are read as 16-byte vectors); pass the cache allocation "
             "or a multiple of 8 elements into it");
    }
}

// Element offset of the K (or V) row of `kv_head` at sequence position `pos` in the paged cache
// [n_blocks, block_size, n_kv_heads, head_dim]: block table_row[pos / block_size], offset pos % block_size.
__device__ __forceinline__ int64_t kv_row_offset(const int32_t* table_row, int32_t pos, int32_t block_size,
                                                 int32_t n_kv_heads, int32_t kv_head, int32_t head_dim) {
    const int64_t block = table_row[pos / block_size];
    const int64_t slot = block * block_size + pos % block_size;
    return (slot * n_kv_heads + kv_head) * head_dim;
}

// 16 bytes (8 bf16) → 8 f32.
__device__ __forceinline__ void unpack_bf16x8(const uint4& raw, float (&out)[8]) {
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = __bfloat1622float2(pairs[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

} // namespace llmfleet::kernels::cuda::attention_detail
