// See cuda_check.h.
#include "kernels/cuda/cuda_check.h"

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::kernels::cuda {

void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line) {
    throw error(status_code::internal, fmt::format("CUDA error {} ({}) in {} at {}:{}", cudaGetErrorName(status),
                                                   cudaGetErrorString(status), expr, file, line));
}

void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line) {
    throw error(status_code::internal, fmt::format("cuBLAS error {} ({}) in {} at {}:{}", cublasLtGetStatusName(status),
                                                   cublasLtGetStatusString(status), expr, file, line));
}

int32_t device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); // clear the sticky "no driver" error
        return 0;
    }
    return n;
}

std::string describe_device(int32_t device) {
    cudaDeviceProp prop{};
    LLMFLEET_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    return fmt::format("{} (sm_{}{}, {} SMs, {:.1f} GiB)", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
                       static_cast<double>(prop.totalGlobalMem) / static_cast<double>(1LL << 30));
}

} // namespace llmfleet::kernels::cuda
