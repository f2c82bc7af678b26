// The GEMMs of the forward pass through cuBLASLt: y [m, n] = x [m, k] · wᵀ with w [n, k] in Hugging Face layout
// (row-major [out, in]), bf16 inputs, f32 accumulation, bf16 or f32 output, and optionally y += (the residual add
// fused into the o_proj / down_proj GEMMs). Plans (layouts and the heuristic's algorithm) are cached per shape, so a
// steady state does no descriptor work; every call is CUDA-graph capturable once its shape has been planned
// (plan() ahead of capture).
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "kernels/cuda/device_buffer.h"

namespace llmfleet::kernels::cuda {

enum class gemm_out { bf16, f32 };

// not thread-safe: one engine thread drives it.
class gemm_runner {
public:
    // workspace_bytes: cuBLASLt's scratch (32 MiB lets it pick split-K and Hopper kernels).
    explicit gemm_runner(int64_t workspace_bytes = 32LL << 20);
    ~gemm_runner();
    gemm_runner(const gemm_runner&) = delete;
    gemm_runner& operator=(const gemm_runner&) = delete;

    // y [m, n] (out: bf16 or f32, row-major) = x [m, k] bf16 · w [n, k]ᵀ bf16 (+ y when accumulate; f32 only).
    // Throws llmfleet::error when cuBLASLt has no algorithm for the shape.
    void linear(const __nv_bfloat16* x, const __nv_bfloat16* w, void* y, gemm_out out, int64_t m, int64_t k, int64_t n,
                bool accumulate, cudaStream_t stream);
    // Plans the shape now (descriptor creation and the heuristic query are not capturable).
    void plan(int64_t m, int64_t k, int64_t n, gemm_out out, bool accumulate);

    int64_t workspace_bytes() const { return _workspace.size(); }

private:
    struct plan_entry;
    using key = std::tuple<int64_t, int64_t, int64_t, int, bool>; // m, k, n, out, accumulate
    plan_entry& find_or_plan(int64_t m, int64_t k, int64_t n, gemm_out out, bool accumulate);

    cublasLtHandle_t _handle = nullptr;
    device_buffer<std::byte> _workspace;
    std::map<key, std::unique_ptr<plan_entry>> _plans;
};

} // namespace llmfleet::kernels::cuda
