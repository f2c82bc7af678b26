// Error checks for CUDA runtime, cuBLAS(Lt) and kernel launches: every call is wrapped, and a failure throws
// llmfleet::error(internal) naming the expression, the library's error name and text, and file:line. Host C++:
// included by kernels/cuda and by the CUDA model runner (STYLE.md §1: only they see CUDA headers).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

namespace llmfleet::kernels::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line);

// The number of CUDA devices this process sees; 0 without a driver or GPU (never throws).
int32_t device_count();

// One line about the current device: "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
std::string describe_device(int32_t device);

} // namespace llmfleet::kernels::cuda

#define LLMFLEET_CUDA_CHECK(expr)                                                                                      \
    do {                                                                                                               \
        const cudaError_t llmfleet_status_ = (expr);                                                                   \
        if (llmfleet_status_ != cudaSuccess) {                                                                         \
            ::llmfleet::kernels::cuda::throw_cuda_error(llmfleet_status_, #expr, __FILE__, __LINE__);                  \
        }                                                                                                              \
    } while (false)

#define LLMFLEET_CUBLAS_CHECK(expr)                                                                                    \
    do {                                                                                                               \
        const cublasStatus_t llmfleet_status_ = (expr);                                                                \
        if (llmfleet_status_ != CUBLAS_STATUS_SUCCESS) {                                                               \
            ::llmfleet::kernels::cuda::throw_cublas_error(llmfleet_status_, #expr, __FILE__, __LINE__);                \
        }                                                                                                              \
    } while (false)

// After every kernel launch: a bad configuration (too many threads, too much shared memory) surfaces here.
#define LLMFLEET_CUDA_CHECK_LAUNCH() LLMFLEET_CUDA_CHECK(cudaGetLastError())
