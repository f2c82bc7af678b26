// Paged prefill / mixed-batch attention, flash-attention style, with tensor cores (WMMA bf16 16×16×16, sm_80+).
// See attention.cuh for the contract.
//
// Grid (ceil(max_q_len / 64), n_heads, n_seqs), 128 threads (4 warps). A thread block owns 64 consecutive query
// tokens of one sequence (a tile never crosses a sequence boundary; tiles past the sequence's query count exit)
// and one query head; warp w owns query rows [16w, 16w + 16) of the tile. The block walks the sequence's cache in
// tiles of 64 keys, from slot 0 to the largest position among its queries (causal), and for each key tile (a warp
// skips steps 2-4 for a tile wholly after its own queries' positions, and when it has no query rows):
//   1. all threads copy the 64 K and V rows from their paged blocks into shared memory (16-byte loads; keys past
//      the last needed slot are zero-filled, never read from the cache);
//   2. each warp computes S[16 × 64] = Q·Kᵀ with WMMA (its Q fragments stay in registers for the whole block);
//   3. online softmax in f32, two lanes per query row: causal mask by position (key slot j is visible to a query
//      at position p iff j ≤ p), running max m and sum l in registers, P = exp2(S·scale·log2 e − m) rounded to
//      bf16 into shared memory, and the O rows rescaled by exp2(m_old − m_new);
//   4. O[16 × head_dim] += P·V with WMMA; O lives in shared memory f32 (WMMA accumulators cannot be rescaled per
//      row in registers: their element-to-row mapping is unspecified).
// Finally out = O / l in bf16. Shared memory (dynamic): K, V tiles (Q is staged in the K tile first), S, P, O and
// per-row scales: 94 KiB at head_dim 128, which fits every sm_80+ GPU (99 KiB opt-in on sm_86/89).
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_check.h"

namespace llmfleet::kernels::cuda {

namespace {

namespace wmma = nvcuda::wmma;
using attention_detail::kv_row_offset;

constexpr int prefill_q_tile = 64;  // query tokens per thread block
constexpr int prefill_kv_tile = 64; // keys per shared-memory tile
constexpr int prefill_warps = prefill_q_tile / 16;
constexpr int prefill_threads = prefill_warps * 32;
constexpr int wmma_dim = 16; // m = n = k of the bf16 WMMA shape

constexpr size_t align_128(size_t bytes) {
    return (bytes + 127) / 128 * 128;
}

// Dynamic shared memory layout. Leading dimensions are padded (8 bf16 / 4 f32 = 16 bytes) against bank conflicts;
// they stay multiples of 8 bf16 / 4 f32 and keep every WMMA tile pointer 32-byte aligned, as WMMA requires.
template <int HeadDim> struct prefill_smem {
    static constexpr int kv_ld = HeadDim + 8;        // bf16 [prefill_kv_tile][kv_ld] K and V tiles (and Q staging)
    static constexpr int s_ld = prefill_kv_tile + 4; // f32 [warps][16][s_ld] scores
    static constexpr int p_ld = prefill_kv_tile + 8; // bf16 [warps][16][p_ld] probabilities
    static constexpr int o_ld = HeadDim + 4;         // f32 [warps][16][o_ld] output accumulators
    static constexpr size_t k_offset = 0;
    static constexpr size_t v_offset = align_128(k_offset + sizeof(bf16) * prefill_kv_tile * kv_ld);
    static constexpr size_t s_offset = align_128(v_offset + sizeof(bf16) * prefill_kv_tile * kv_ld);
    static constexpr size_t p_offset = align_128(s_offset + sizeof(float) * prefill_warps * 16 * s_ld);
    static constexpr size_t o_offset = align_128(p_offset + sizeof(bf16) * prefill_warps * 16 * p_ld);
    static constexpr size_t row_scale_offset = align_128(o_offset + sizeof(float) * prefill_warps * 16 * o_ld);
    static constexpr size_t row_sum_offset = align_128(row_scale_offset + sizeof(float) * prefill_q_tile);
    static constexpr size_t q_pos_offset = align_128(row_sum_offset + sizeof(float) * prefill_q_tile);
    static constexpr size_t total_bytes = align_128(q_pos_offset + sizeof(int32_t) * prefill_q_tile);
    static_assert(prefill_q_tile == prefill_kv_tile, "Q is staged in the K tile: same row count");
    static_assert(kv_ld % 8 == 0 && p_ld % 8 == 0 && s_ld % 4 == 0 && o_ld % 4 == 0, "WMMA leading dimensions");
};

// Everything the prefill kernel reads, by value.
struct prefill_params {
    const bf16* qkv;                 // [n_tokens, qkv_stride]: q of token t, head h at t · qkv_stride + h · head_dim
    int64_t qkv_stride;              // elements per qkv row
    bf16* out;                       // [n_tokens, n_heads · head_dim]
    const bf16* k;                   // [n_blocks, block_size, n_kv_heads, head_dim]
    const bf16* v;                   // [n_blocks, block_size, n_kv_heads, head_dim]
    const int32_t* tables;           // [n_seqs, max_blocks_per_seq] block ids
    int32_t max_blocks_per_seq;      // block table row stride
    const int32_t* seq_token_starts; // [n_seqs + 1] first token of each sequence
    const int32_t* positions;        // [n_tokens] position of each query token in its sequence
    int32_t n_heads;                 // query heads
    int32_t n_kv_heads;              // KV heads
    int32_t group;                   // n_heads / n_kv_heads
    int32_t block_size;              // tokens per cache block
    float scale_log2;                // io.scale · log2(e)
};

template <int HeadDim>
__global__ void __launch_bounds__(prefill_threads) paged_attention_prefill_kernel(const prefill_params p) {
    using layout = prefill_smem<HeadDim>;
    constexpr int kv_ld = layout::kv_ld;
    constexpr int s_ld = layout::s_ld;
    constexpr int p_ld = layout::p_ld;
    constexpr int o_ld = layout::o_ld;
    constexpr int k_steps = HeadDim / wmma_dim;            // WMMA k steps of Q·Kᵀ, n tiles of P·V
    constexpr int key_blocks = prefill_kv_tile / wmma_dim; // n tiles of Q·Kᵀ, k steps of P·V
    constexpr int chunks_per_row = HeadDim / 8;            // 16-byte chunks per K/V row

    extern __shared__ __align__(128) unsigned char smem[];
    bf16* k_s = reinterpret_cast<bf16*>(smem + layout::k_offset); // also the Q staging area
    bf16* v_s = reinterpret_cast<bf16*>(smem + layout::v_offset);
    float* s_s = reinterpret_cast<float*>(smem + layout::s_offset);
    bf16* p_s = reinterpret_cast<bf16*>(smem + layout::p_offset);
    float* o_s = reinterpret_cast<float*>(smem + layout::o_offset);
    float* row_scale_s = reinterpret_cast<float*>(smem + layout::row_scale_offset);
    float* row_sum_s = reinterpret_cast<float*>(smem + layout::row_sum_offset);
    int32_t* q_pos_s = reinterpret_cast<int32_t*>(smem + layout::q_pos_offset);

    const int seq = static_cast<int>(blockIdx.z);
    const int head = static_cast<int>(blockIdx.y);
    const int kv_head = head / p.group;
    const int q_begin = p.seq_token_starts[seq]; // the sequence's first token in the batch
    const int n_q = p.seq_token_starts[seq + 1] - q_begin;
    const int tile_q0 = static_cast<int>(blockIdx.x) * prefill_q_tile; // first query of this tile, in the sequence
    if (tile_q0 >= n_q) {
        return;
    }
    const int tid = static_cast<int>(threadIdx.x);
    const int warp = tid / 32;
    const int lane = tid % 32;
    const int32_t* table_row = p.tables + static_cast<int64_t>(seq) * p.max_blocks_per_seq;

    // The warp's slices of S, P, O.
    float* s_w = s_s + warp * 16 * s_ld;
    bf16* p_w = p_s + warp * 16 * p_ld;
    float* o_w = o_s + warp * 16 * o_ld;

    // Stage Q [64 rows][HeadDim] in the K tile (rows past the sequence's queries are zero), positions (−1: none).
    for (int i = tid; i < prefill_q_tile * HeadDim; i += prefill_threads) {
        const int r = i / HeadDim;
        const int d = i % HeadDim;
        const int t = tile_q0 + r;
        k_s[r * kv_ld + d] =
            t < n_q ? p.qkv[static_cast<int64_t>(q_begin + t) * p.qkv_stride + static_cast<int64_t>(head) * HeadDim + d]
                    : __float2bfloat16(0.0f);
    }
    for (int r = tid; r < prefill_q_tile; r += prefill_threads) {
        q_pos_s[r] = tile_q0 + r < n_q ? p.positions[q_begin + tile_q0 + r] : -1;
    }
    for (int i = lane; i < 16 * o_ld; i += 32) {
        o_w[i] = 0.0f;
    }
    __syncthreads();

    wmma::fragment<wmma::matrix_a, wmma_dim, wmma_dim, wmma_dim, bf16, wmma::row_major> q_frag[k_steps];
#pragma unroll
    for (int kk = 0; kk < k_steps; ++kk) {
        wmma::load_matrix_sync(q_frag[kk], k_s + (warp * 16) * kv_ld + kk * wmma_dim, kv_ld);
    }
    int max_pos = -1;      // the last key slot any query of the tile sees (the same value in every thread)
    int warp_max_pos = -1; // the last key slot the warp's queries see (−1: the warp has no query)
    for (int r = 0; r < prefill_q_tile; ++r) {
        max_pos = max(max_pos, q_pos_s[r]);
        if (r / 16 == warp) {
            warp_max_pos = max(warp_max_pos, q_pos_s[r]);
        }
    }
    const int kv_end = max_pos + 1;

    // Softmax lane mapping: lanes 2r and 2r + 1 own row r of the warp's 16; lane half h takes columns 2c + h.
    const int my_row = lane / 2;
    const int half = lane % 2;
    const int my_pos = q_pos_s[warp * 16 + my_row];
    float row_max = -INFINITY; // running max of the row's scores (base-2 units)
    float row_sum = 0.0f;      // running Σ exp2(score − row_max) of the bf16-rounded probabilities

    for (int kv0 = 0; kv0 < kv_end; kv0 += prefill_kv_tile) {
        __syncthreads(); // the previous tile's K/V (or the staged Q) are no longer read
        for (int i = tid; i < prefill_kv_tile * chunks_per_row; i += prefill_threads) {
            const int key = i / chunks_per_row;
            const int d = (i % chunks_per_row) * 8;
            const int pos = kv0 + key;
            uint4 k_raw = make_uint4(0, 0, 0, 0);
            uint4 v_raw = make_uint4(0, 0, 0, 0);
            if (pos < kv_end) {
                const int64_t row = kv_row_offset(table_row, pos, p.block_size, p.n_kv_heads, kv_head, HeadDim);
                k_raw = *reinterpret_cast<const uint4*>(p.k + row + d);
                v_raw = *reinterpret_cast<const uint4*>(p.v + row + d);
            }
            *reinterpret_cast<uint4*>(k_s + key * kv_ld + d) = k_raw;
            *reinterpret_cast<uint4*>(v_s + key * kv_ld + d) = v_raw;
        }
        __syncthreads();
        if (kv0 > warp_max_pos) {
            continue; // every key of the tile is masked for this warp's rows: O, m, l would not change
        }

        // 2. S = Q·Kᵀ for the warp's 16 rows × 64 keys. Kᵀ as a col-major B: element (d, key) at k_s[key·kv_ld + d].
#pragma unroll
        for (int nb = 0; nb < key_blocks; ++nb) {
            wmma::fragment<wmma::accumulator, wmma_dim, wmma_dim, wmma_dim, float> s_frag;
            wmma::fill_fragment(s_frag, 0.0f);
#pragma unroll
            for (int kk = 0; kk < k_steps; ++kk) {
                wmma::fragment<wmma::matrix_b, wmma_dim, wmma_dim, wmma_dim, bf16, wmma::col_major> k_frag;
                wmma::load_matrix_sync(k_frag, k_s + (nb * wmma_dim) * kv_ld + kk * wmma_dim, kv_ld);
                wmma::mma_sync(s_frag, q_frag[kk], k_frag, s_frag);
            }
            wmma::store_matrix_sync(s_w + nb * wmma_dim, s_frag, s_ld, wmma::mem_row_major);
        }
        __syncwarp();

        // 3. Online softmax of row my_row over this key tile.
        float x[prefill_kv_tile / 2];
        float tile_max = -INFINITY;
#pragma unroll
        for (int c = 0; c < prefill_kv_tile / 2; ++c) {
            const int col = 2 * c + half;
            x[c] = kv0 + col <= my_pos ? s_w[my_row * s_ld + col] * p.scale_log2 : -INFINITY;
            tile_max = fmaxf(tile_max, x[c]);
        }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
        const float new_max = fmaxf(row_max, tile_max);
        // Nothing visible yet (an unused row, or none of its keys so far): keep O and l as they are (all zero).
        const bool none_visible = new_max == -INFINITY;
        const float correction = none_visible ? 1.0f : exp2f(row_max - new_max);
        float tile_sum = 0.0f;
#pragma unroll
        for (int c = 0; c < prefill_kv_tile / 2; ++c) {
            const int col = 2 * c + half;
            const float prob = x[c] == -INFINITY ? 0.0f : exp2f(x[c] - new_max);
            const bf16 prob_bf16 = __float2bfloat16(prob);
            tile_sum += __bfloat162float(prob_bf16); // the sum matches the weights P·V uses
            p_w[my_row * p_ld + col] = prob_bf16;
        }
        tile_sum += __shfl_xor_sync(0xffffffffu, tile_sum, 1);
        row_sum = row_sum * correction + tile_sum;
        row_max = new_max;
        if (half == 0) {
            row_scale_s[warp * 16 + my_row] = correction;
        }
        __syncwarp();
        for (int i = lane; i < 16 * HeadDim; i += 32) {
            const int r = i / HeadDim;
            const int d = i % HeadDim;
            o_w[r * o_ld + d] *= row_scale_s[warp * 16 + r];
        }
        __syncwarp();

        // 4. O += P·V: P [16 × 64 keys] row-major A, V [64 keys × HeadDim] row-major B.
        wmma::fragment<wmma::matrix_a, wmma_dim, wmma_dim, wmma_dim, bf16, wmma::row_major> p_frag[key_blocks];
#pragma unroll
        for (int kb = 0; kb < key_blocks; ++kb) {
            wmma::load_matrix_sync(p_frag[kb], p_w + kb * wmma_dim, p_ld);
        }
#pragma unroll
        for (int db = 0; db < k_steps; ++db) {
            wmma::fragment<wmma::accumulator, wmma_dim, wmma_dim, wmma_dim, float> o_frag;
            wmma::load_matrix_sync(o_frag, o_w + db * wmma_dim, o_ld, wmma::mem_row_major);
#pragma unroll
            for (int kb = 0; kb < key_blocks; ++kb) {
                wmma::fragment<wmma::matrix_b, wmma_dim, wmma_dim, wmma_dim, bf16, wmma::row_major> v_frag;
                wmma::load_matrix_sync(v_frag, v_s + (kb * wmma_dim) * kv_ld + db * wmma_dim, kv_ld);
                wmma::mma_sync(o_frag, p_frag[kb], v_frag, o_frag);
            }
            wmma::store_matrix_sync(o_w + db * wmma_dim, o_frag, o_ld, wmma::mem_row_major);
        }
        __syncwarp();
    }

    // out = O / l for the warp's rows that are queries of the sequence.
    if (half == 0) {
        row_sum_s[warp * 16 + my_row] = row_sum;
    }
    __syncwarp();
    for (int i = lane; i < 16 * HeadDim; i += 32) {
        const int r = i / HeadDim;
        const int d = i % HeadDim;
        const int t = tile_q0 + warp * 16 + r;
        if (t < n_q) {
            const int64_t out_index =
                static_cast<int64_t>(q_begin + t) * p.n_heads * HeadDim + static_cast<int64_t>(head) * HeadDim + d;
            p.out[out_index] = __float2bfloat16(o_w[r * o_ld + d] / row_sum_s[warp * 16 + r]);
        }
    }
}

// Opts the kernel in to smem_bytes of dynamic shared memory on `device`, once per device (the attribute belongs to
// the device's context), so steady-state launches, and a launch inside a graph capture after a first plain one, make
// no attribute calls. Throws when the GPU allows less.
template <int HeadDim> void prefill_configure_smem(int device, size_t smem_bytes) {
    static std::atomic<uint64_t> configured_devices{0}; // bit d: done for device d (devices ≥ 64: every time)
    const uint64_t bit = device < 64 ? uint64_t{1} << device : 0;
    if (bit != 0 && (configured_devices.load(std::memory_order_acquire) & bit) != 0) {
        return;
    }
    int smem_optin_bytes = 0;
    LLMFLEET_CUDA_CHECK(cudaDeviceGetAttribute(&smem_optin_bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    if (smem_bytes > static_cast<size_t>(smem_optin_bytes)) {
        throw error(status_code::invalid_argument,
                    "paged attention (prefill): head_dim " + std::to_string(HeadDim) + " needs " +
                        std::to_string(smem_bytes) + " bytes of shared memory per block, this GPU allows " +
                        std::to_string(smem_optin_bytes) + " (sm_80 or newer with ≥ 99 KiB is needed)");
    }
    LLMFLEET_CUDA_CHECK(cudaFuncSetAttribute(paged_attention_prefill_kernel<HeadDim>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(smem_bytes)));
    configured_devices.fetch_or(bit, std::memory_order_release);
}

template <int HeadDim>
void paged_attention_prefill_launch(const prefill_params& p, int32_t n_seqs, int32_t max_q_len, cudaStream_t stream) {
    constexpr size_t smem_bytes = prefill_smem<HeadDim>::total_bytes;
    int device = 0;
    LLMFLEET_CUDA_CHECK(cudaGetDevice(&device));
    prefill_configure_smem<HeadDim>(device, smem_bytes);
    const dim3 grid(static_cast<unsigned>((max_q_len + prefill_q_tile - 1) / prefill_q_tile),
                    static_cast<unsigned>(p.n_heads), static_cast<unsigned>(n_seqs));
    paged_attention_prefill_kernel<HeadDim><<<grid, prefill_threads, smem_bytes, stream>>>(p);
    LLMFLEET_CUDA_CHECK_LAUNCH();
}

} // namespace

void paged_attention_prefill(const attention_io& io, const kv_cache_view& kv, const block_table_view& tables,
                             const int32_t* seq_token_starts, const int32_t* positions, int32_t n_seqs,
                             int32_t max_q_len, cudaStream_t stream) {
    attention_detail::check_attention_args("prefill", io, kv, tables, n_seqs);
    if (n_seqs == 0 || max_q_len <= 0) {
        return;
    }
    if (n_seqs > 65535 || io.n_heads > 65535) {
        throw error(status_code::invalid_argument, "paged attention (prefill): " + std::to_string(n_seqs) +
                                                       " sequences × " + std::to_string(io.n_heads) +
                                                       " heads, at most 65535 of each per launch (grid.z, grid.y)");
    }
    if (seq_token_starts == nullptr || positions == nullptr) {
        throw error(status_code::invalid_argument, "paged attention (prefill): seq_token_starts or positions is null");
    }
    prefill_params p{};
    p.qkv = io.qkv;
    p.qkv_stride = io.qkv_stride;
    p.out = io.out;
    p.k = kv.k;
    p.v = kv.v;
    p.tables = tables.ids;
    p.max_blocks_per_seq = tables.max_blocks_per_seq;
    p.seq_token_starts = seq_token_starts;
    p.positions = positions;
    p.n_heads = io.n_heads;
    p.n_kv_heads = kv.n_kv_heads;
    p.group = io.n_heads / kv.n_kv_heads;
    p.block_size = kv.block_size;
    p.scale_log2 = io.scale * attention_detail::log2e;
    switch (kv.head_dim) {
    case 32:
        paged_attention_prefill_launch<32>(p, n_seqs, max_q_len, stream);
        break;
    case 64:
        paged_attention_prefill_launch<64>(p, n_seqs, max_q_len, stream);
        break;
    case 128:
        paged_attention_prefill_launch<128>(p, n_seqs, max_q_len, stream);
        break;
    default:
        LLMFLEET_FAIL("head_dim {} passed check_attention_args", kv.head_dim);
    }
}

} // namespace llmfleet::kernels::cuda
