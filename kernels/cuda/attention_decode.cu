// Paged decode attention (one query token per sequence) with split-K over partitions of decode_partition_tokens
// cached tokens. See attention.cuh for the contract.
//
// Grid (n_kv_heads · n_head_chunks, n_seqs, n_partitions), 256 threads (8 warps). A thread block owns one KV head,
// up to 8 of the query heads that read it (a "head chunk": all of them for Qwen2.5's 7 or 6, Llama's ≤ 8), one
// sequence and one partition, so each K/V row is read from memory once per chunk, not once per query head:
//   1. scores: lanes_per_token = head_dim / 8 lanes read one token's K row, 16 bytes each, and dot it with the
//      chunk's q heads (held in registers, pre-scaled by scale · log2 e); the partial dots are summed with
//      shuffles inside the lane group and stored to shared memory scores[head][token];
//   2. softmax: warp g takes head g of the chunk: max, exp2(score − max) written back in place, sum;
//   3. P·V: the same lane mapping reads V rows; each lane accumulates 8 output dims of every head over its tokens;
//      the token groups of a warp are summed with shuffles, then the 8 warps through shared memory.
// One partition: the block writes out = acc / sum (bf16). More: it writes (max, sum, acc[head_dim]) f32 to the
// workspace and paged_attention_decode_reduce_kernel merges the partitions with exp2(max_p − max) weights.
// Shared memory: 8 heads × 512 scores f32 (16 KiB) reused for the 8 warps' partial outputs (8 × 8 × head_dim f32,
// 32 KiB at head_dim 128): static, ≤ 48 KiB, so no attribute call and nothing that breaks CUDA-graph capture.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_check.h"

namespace llmfleet::kernels::cuda {

namespace {

using attention_detail::kv_row_offset;
using attention_detail::unpack_bf16x8;

constexpr int decode_threads = 256;
constexpr int decode_warps = decode_threads / 32;
constexpr int decode_heads_per_block_max = decode_warps; // the softmax phase gives warp g head g of the chunk
constexpr int decode_unroll = 4; // token rows loaded before any is used: 4 × 16 bytes in flight per lane

// Everything the decode kernel reads, by value (one parameter struct instead of 17 arguments).
struct decode_params {
    const bf16* qkv;       // [n_seqs, qkv_stride]: q of sequence s at row s, heads at column h · head_dim
    int64_t qkv_stride;    // elements per qkv row
    bf16* out;             // [n_seqs, n_heads · head_dim]; written here only when n_partitions == 1
    float* workspace;      // [n_seqs, n_heads, n_partitions, 2 + head_dim] f32 (max, sum, acc); null if 1 partition
    const bf16* k;         // [n_blocks, block_size, n_kv_heads, head_dim]
    const bf16* v;         // [n_blocks, block_size, n_kv_heads, head_dim]
    const int32_t* tables; // [n_seqs, max_blocks_per_seq] block ids
    int32_t max_blocks_per_seq; // block table row stride
    const int32_t* seq_lens;    // [n_seqs] cached tokens per sequence (0: padded row)
    int32_t n_heads;            // query heads
    int32_t n_kv_heads;         // KV heads
    int32_t group;              // n_heads / n_kv_heads
    int32_t heads_per_chunk;    // ≤ decode_heads_per_block_max query heads per thread block
    int32_t n_head_chunks;      // ceil(group / heads_per_chunk)
    int32_t block_size;         // tokens per cache block
    int32_t n_partitions;       // ceil(max_seq_len / decode_partition_tokens), at least 1
    float scale_log2;           // io.scale · log2(e): scores in base-2 exponent units
};

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
    }
    return x;
}

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        x += __shfl_xor_sync(0xffffffffu, x, offset);
    }
    return x;
}

template <int HeadDim>
__global__ void __launch_bounds__(decode_threads) paged_attention_decode_kernel(const decode_params p) {
    // Lane mapping of phases 1 and 3: a token row is lanes_per_token lanes × 8 elements (16 bytes each).
    constexpr int lanes_per_token = HeadDim / 8;                     // 16, 8, 4
    constexpr int tokens_per_warp = 32 / lanes_per_token;            // 2, 4, 8
    constexpr int tokens_per_iter = decode_warps * tokens_per_warp;  // 16, 32, 64 tokens per block per row load
    constexpr int tokens_per_step = tokens_per_iter * decode_unroll; // tokens per unrolled step
    constexpr int partial_floats = decode_warps * decode_heads_per_block_max * HeadDim;
    constexpr int score_floats = decode_heads_per_block_max * decode_partition_tokens;
    constexpr int work_floats = partial_floats > score_floats ? partial_floats : score_floats;

    // scores [heads][decode_partition_tokens] in phases 1-3, then partial [warps][heads][HeadDim] (phase 4).
    __shared__ float work_s[work_floats];
    __shared__ float max_s[decode_heads_per_block_max];
    __shared__ float sum_s[decode_heads_per_block_max];
    float(*scores)[decode_partition_tokens] = reinterpret_cast<float(*)[decode_partition_tokens]>(work_s);
    float(*partial)[decode_heads_per_block_max][HeadDim] =
        reinterpret_cast<float(*)[decode_heads_per_block_max][HeadDim]>(work_s);

    const int kv_head = static_cast<int>(blockIdx.x) / p.n_head_chunks;
    const int chunk = static_cast<int>(blockIdx.x) % p.n_head_chunks;
    const int head_begin = kv_head * p.group + chunk * p.heads_per_chunk; // first query head of this block
    const int n_g = min(p.heads_per_chunk, p.group - chunk * p.heads_per_chunk);
    const int seq = static_cast<int>(blockIdx.y);
    const int part = static_cast<int>(blockIdx.z);
    const int tid = static_cast<int>(threadIdx.x);
    const int warp = tid / 32;
    const int lane = tid % 32;
    if (n_g <= 0) {
        return;
    }
    bf16* out_row =
        p.out + static_cast<int64_t>(seq) * p.n_heads * HeadDim + static_cast<int64_t>(head_begin) * HeadDim;

    const int len = p.seq_lens[seq];
    if (len <= 0) {
        // A padded row: zeros, written once (by partition 0; with several partitions the reduce kernel does it).
        if (p.n_partitions == 1 && part == 0) {
            for (int i = tid; i < n_g * HeadDim; i += decode_threads) {
                out_row[i] = __float2bfloat16(0.0f);
            }
        }
        return;
    }
    const int tok_begin = part * decode_partition_tokens;
    if (tok_begin >= len) {
        return; // this partition is past the sequence's end (the grid is sized for max_seq_len)
    }
    const int n_tok = min(len - tok_begin, decode_partition_tokens);
    const int32_t* table_row = p.tables + static_cast<int64_t>(seq) * p.max_blocks_per_seq;

    const int sub = lane / lanes_per_token;      // which token of the warp's tokens_per_warp this lane reads
    const int d0 = (lane % lanes_per_token) * 8; // the 8 head dims this lane reads

    // This lane's 8 dims of every q head of the chunk, pre-scaled.
    float q[decode_heads_per_block_max][8];
    const bf16* q_row = p.qkv + static_cast<int64_t>(seq) * p.qkv_stride + static_cast<int64_t>(head_begin) * HeadDim;
#pragma unroll
    for (int g = 0; g < decode_heads_per_block_max; ++g) {
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            q[g][e] = g < n_g ? __bfloat162float(q_row[g * HeadDim + d0 + e]) * p.scale_log2 : 0.0f;
        }
    }

    // Phase 1: scores[g][j] = q_g · k_j (base-2 units) for the partition's tokens j ∈ [0, n_tok).
    for (int base = 0; base < n_tok; base += tokens_per_step) {
        uint4 raw[decode_unroll];
#pragma unroll
        for (int u = 0; u < decode_unroll; ++u) {
            const int j = base + u * tokens_per_iter + warp * tokens_per_warp + sub;
            raw[u] = make_uint4(0, 0, 0, 0);
            if (j < n_tok) {
                const int64_t row =
                    kv_row_offset(table_row, tok_begin + j, p.block_size, p.n_kv_heads, kv_head, HeadDim);
                raw[u] = *reinterpret_cast<const uint4*>(p.k + row + d0);
            }
        }
#pragma unroll
        for (int u = 0; u < decode_unroll; ++u) {
            const int j = base + u * tokens_per_iter + warp * tokens_per_warp + sub;
            float k[8];
            unpack_bf16x8(raw[u], k);
#pragma unroll
            for (int g = 0; g < decode_heads_per_block_max; ++g) {
                if (g < n_g) { // uniform over the block: the shuffles below see every lane
                    float dot = 0.0f;
#pragma unroll
                    for (int e = 0; e < 8; ++e) {
                        dot = fmaf(q[g][e], k[e], dot);
                    }
#pragma unroll
                    for (int offset = lanes_per_token / 2; offset > 0; offset /= 2) {
                        dot += __shfl_xor_sync(0xffffffffu, dot, offset); // stays inside the token's lane group
                    }
                    if (d0 == 0 && j < n_tok) {
                        scores[g][j] = dot;
                    }
                }
            }
        }
    }
    __syncthreads();

    // Phase 2: softmax numerators in place; warp g owns head g. n_tok ≥ 1, so the max is finite.
    if (warp < n_g) {
        float m = -INFINITY;
        for (int j = lane; j < n_tok; j += 32) {
            m = fmaxf(m, scores[warp][j]);
        }
        m = warp_max(m);
        float l = 0.0f;
        for (int j = lane; j < n_tok; j += 32) {
            const float e = exp2f(scores[warp][j] - m);
            scores[warp][j] = e;
            l += e;
        }
        l = warp_sum(l);
        if (lane == 0) {
            max_s[warp] = m;
            sum_s[warp] = l;
        }
    }
    __syncthreads();

    // Phase 3: acc[g][e] = Σ_j p[g][j] · v_j[d0 + e] over this lane's tokens.
    float acc[decode_heads_per_block_max][8];
#pragma unroll
    for (int g = 0; g < decode_heads_per_block_max; ++g) {
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            acc[g][e] = 0.0f;
        }
    }
    for (int base = 0; base < n_tok; base += tokens_per_step) {
        uint4 raw[decode_unroll];
#pragma unroll
        for (int u = 0; u < decode_unroll; ++u) {
            const int j = base + u * tokens_per_iter + warp * tokens_per_warp + sub;
            raw[u] = make_uint4(0, 0, 0, 0);
            if (j < n_tok) {
                const int64_t row =
                    kv_row_offset(table_row, tok_begin + j, p.block_size, p.n_kv_heads, kv_head, HeadDim);
                raw[u] = *reinterpret_cast<const uint4*>(p.v + row + d0);
            }
        }
#pragma unroll
        for (int u = 0; u < decode_unroll; ++u) {
            const int j = base + u * tokens_per_iter + warp * tokens_per_warp + sub;
            if (j < n_tok) {
                float v[8];
                unpack_bf16x8(raw[u], v);
#pragma unroll
                for (int g = 0; g < decode_heads_per_block_max; ++g) {
                    if (g < n_g) {
                        const float pg = scores[g][j];
#pragma unroll
                        for (int e = 0; e < 8; ++e) {
                            acc[g][e] = fmaf(pg, v[e], acc[g][e]);
                        }
                    }
                }
            }
        }
    }
    // Sum the warp's token groups: lanes with the same d0 differ in the bits ≥ lanes_per_token.
#pragma unroll
    for (int g = 0; g < decode_heads_per_block_max; ++g) {
        if (g < n_g) {
#pragma unroll
            for (int e = 0; e < 8; ++e) {
#pragma unroll
                for (int offset = lanes_per_token; offset < 32; offset *= 2) {
                    acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], offset);
                }
            }
        }
    }
    __syncthreads(); // every warp is done reading scores: work_s becomes partial

    // Phase 4: the 8 warps' partial sums through shared memory, in a fixed order (deterministic).
    if (sub == 0) {
#pragma unroll
        for (int g = 0; g < decode_heads_per_block_max; ++g) {
            if (g < n_g) {
#pragma unroll
                for (int e = 0; e < 8; ++e) {
                    partial[warp][g][d0 + e] = acc[g][e];
                }
            }
        }
    }
    __syncthreads();
    for (int i = tid; i < n_g * HeadDim; i += decode_threads) {
        const int g = i / HeadDim;
        const int d = i % HeadDim;
        float o = 0.0f;
#pragma unroll
        for (int w = 0; w < decode_warps; ++w) {
            o += partial[w][g][d];
        }
        if (p.n_partitions == 1) {
            out_row[i] = __float2bfloat16(o / sum_s[g]);
        } else {
            const int64_t head = head_begin + g;
            float* ws =
                p.workspace + ((static_cast<int64_t>(seq) * p.n_heads + head) * p.n_partitions + part) * (2 + HeadDim);
            ws[2 + d] = o;
            if (d == 0) {
                ws[0] = max_s[g];
                ws[1] = sum_s[g];
            }
        }
    }
}

// Merges a (sequence, head)'s partitions: out = Σ_p acc_p · 2^(m_p − m) / Σ_p sum_p · 2^(m_p − m), m = max_p m_p.
// Grid (n_heads, n_seqs), HeadDim threads: thread d writes output dim d. Writes zeros for a padded row.
template <int HeadDim>
__global__ void __launch_bounds__(HeadDim)
    paged_attention_decode_reduce_kernel(const float* __restrict__ workspace, const int32_t* __restrict__ seq_lens,
                                         bf16* __restrict__ out, int32_t n_heads, int32_t n_partitions) {
    const int head = static_cast<int>(blockIdx.x);
    const int seq = static_cast<int>(blockIdx.y);
    const int d = static_cast<int>(threadIdx.x);
    bf16* out_row = out + (static_cast<int64_t>(seq) * n_heads + head) * HeadDim;
    const int len = seq_lens[seq];
    if (len <= 0) {
        out_row[d] = __float2bfloat16(0.0f);
        return;
    }
    // Partitions the decode kernel wrote; min() keeps a len > max_seq_len (a broken contract) inside the workspace.
    const int n_used = min(n_partitions, (len + decode_partition_tokens - 1) / decode_partition_tokens);
    const float* ws = workspace + (static_cast<int64_t>(seq) * n_heads + head) * n_partitions * (2 + HeadDim);
    float m = -INFINITY;
    for (int part = 0; part < n_used; ++part) {
        m = fmaxf(m, ws[part * (2 + HeadDim)]);
    }
    float l = 0.0f;
    float o = 0.0f;
    for (int part = 0; part < n_used; ++part) {
        const float* entry = ws + part * (2 + HeadDim);
        const float weight = exp2f(entry[0] - m);
        l = fmaf(entry[1], weight, l);
        o = fmaf(entry[2 + d], weight, o);
    }
    out_row[d] = __float2bfloat16(o / l);
}

int32_t decode_partitions(int32_t max_seq_len) {
    const int32_t n = (max_seq_len + decode_partition_tokens - 1) / decode_partition_tokens;
    return n > 1 ? n : 1;
}

template <int HeadDim> void paged_attention_decode_launch(const decode_params& p, int32_t n_seqs, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(p.n_kv_heads * p.n_head_chunks), static_cast<unsigned>(n_seqs),
                    static_cast<unsigned>(p.n_partitions));
    paged_attention_decode_kernel<HeadDim><<<grid, decode_threads, 0, stream>>>(p);
    LLMFLEET_CUDA_CHECK_LAUNCH();
    if (p.n_partitions > 1) {
        const dim3 reduce_grid(static_cast<unsigned>(p.n_heads), static_cast<unsigned>(n_seqs));
        paged_attention_decode_reduce_kernel<HeadDim>
            <<<reduce_grid, HeadDim, 0, stream>>>(p.workspace, p.seq_lens, p.out, p.n_heads, p.n_partitions);
        LLMFLEET_CUDA_CHECK_LAUNCH();
    }
}

} // namespace

int64_t decode_workspace_floats(int32_t n_seqs, int32_t n_heads, int32_t head_dim, int32_t max_seq_len) {
    const int32_t n_partitions = decode_partitions(max_seq_len);
    if (n_partitions <= 1) {
        return 0;
    }
    return static_cast<int64_t>(n_seqs) * n_heads * n_partitions * (2 + head_dim);
}

void paged_attention_decode(const attention_io& io, const kv_cache_view& kv, const block_table_view& tables,
                            const int32_t* seq_lens, int32_t n_seqs, int32_t max_seq_len, float* workspace,
                            cudaStream_t stream) {
    attention_detail::check_attention_args("decode", io, kv, tables, n_seqs);
    if (max_seq_len < 0) {
        throw error(status_code::invalid_argument,
                    "paged attention (decode): max_seq_len must be ≥ 0, got " + std::to_string(max_seq_len));
    }
    if (n_seqs == 0) {
        return;
    }
    if (n_seqs > 65535) {
        throw error(status_code::invalid_argument,
                    "paged attention (decode): " + std::to_string(n_seqs) +
                        " sequences, at most 65535 per launch (grid.y); split the batch");
    }
    const int32_t n_partitions = decode_partitions(max_seq_len);
    if (n_partitions > 65535) {
        throw error(status_code::invalid_argument,
                    "paged attention (decode): max_seq_len " + std::to_string(max_seq_len) + " needs " +
                        std::to_string(n_partitions) + " partitions, at most 65535 per launch (grid.z)");
    }
    if (seq_lens == nullptr || (n_partitions > 1 && workspace == nullptr)) {
        throw error(status_code::invalid_argument,
                    "paged attention (decode): seq_lens is null, or max_seq_len " + std::to_string(max_seq_len) +
                        " needs " + std::to_string(n_partitions) +
                        " partitions and the workspace is null (size it with decode_workspace_floats)");
    }
    decode_params p{};
    p.qkv = io.qkv;
    p.qkv_stride = io.qkv_stride;
    p.out = io.out;
    p.workspace = n_partitions > 1 ? workspace : nullptr;
    p.k = kv.k;
    p.v = kv.v;
    p.tables = tables.ids;
    p.max_blocks_per_seq = tables.max_blocks_per_seq;
    p.seq_lens = seq_lens;
    p.n_heads = io.n_heads;
    p.n_kv_heads = kv.n_kv_heads;
    p.group = io.n_heads / kv.n_kv_heads;
    // Split a group of more than 8 query heads into near-equal chunks of ≤ 8 (e.g. 12 → 6 + 6).
    const int32_t min_chunks = (p.group + decode_heads_per_block_max - 1) / decode_heads_per_block_max;
    p.heads_per_chunk = (p.group + min_chunks - 1) / min_chunks;
    p.n_head_chunks = (p.group + p.heads_per_chunk - 1) / p.heads_per_chunk;
    p.block_size = kv.block_size;
    p.n_partitions = n_partitions;
    p.scale_log2 = io.scale * attention_detail::log2e;
    switch (kv.head_dim) {
    case 32:
        paged_attention_decode_launch<32>(p, n_seqs, stream);
        break;
    case 64:
        paged_attention_decode_launch<64>(p, n_seqs, stream);
        break;
    case 128:
        paged_attention_decode_launch<128>(p, n_seqs, stream);
        break;
    default:
        LLMFLEET_FAIL("head_dim {} passed check_attention_args", kv.head_dim);
    }
}

} // namespace llmfleet::kernels::cuda
