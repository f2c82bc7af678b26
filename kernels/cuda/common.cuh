// Device helpers shared by the kernels of kernels/cuda (device code only: included by .cu files): block-wide
// reductions and bf16 ↔ f32 conversions.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace llmfleet::kernels::cuda::detail {

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffU, v, offset);
    }
    return v;
}

// The sum of v over the block (blockDim.x a multiple of 32, ≤ 1024), returned to every thread. Uses 33 floats of
// shared memory; call it the same number of times on every thread.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    __shared__ float total;
    const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
    v = warp_sum(v);
    if (lane == 0) {
        partial[warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
        const int n_warps = static_cast<int>(blockDim.x) / 32;
        float s = lane < n_warps ? partial[lane] : 0.0F;
        s = warp_sum(s);
        if (lane == 0) {
            total = s;
        }
    }
    __syncthreads();
    return total;
}

__device__ __forceinline__ float to_f32(__nv_bfloat16 v) {
    return __bfloat162float(v);
}
__device__ __forceinline__ __nv_bfloat16 to_bf16(float v) {
    return __float2bfloat16_rn(v);
}

// Blocks of `threads` that cover n items (for grid-stride element-wise kernels), capped so that huge n loops.
inline unsigned int grid_for(int64_t n, int threads) {
    const int64_t blocks = (n + threads - 1) / threads;
    return static_cast<unsigned int>(blocks < 65535 ? (blocks > 0 ? blocks : 1) : 65535);
}

} // namespace llmfleet::kernels::cuda::detail
