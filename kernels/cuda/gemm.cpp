// See gemm.h. Row-major y [m, n] = x [m, k] · w [n, k]ᵀ is, in cuBLAS's column-major terms, yᵀ (n × m, ld n) =
// op(A) · B with A = w read as a column-major k × n matrix (ld k) transposed, and B = xᵀ, x read as a column-major
// k × m matrix (ld k). So the transA = T, transB = N "TN" GEMM every inference engine runs on cuBLAS.
#include "kernels/cuda/gemm.h"

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::kernels::cuda {

struct gemm_runner::plan_entry {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    ~plan_entry() {
        if (c != nullptr) {
            cublasLtMatrixLayoutDestroy(c);
        }
        if (b != nullptr) {
            cublasLtMatrixLayoutDestroy(b);
        }
        if (a != nullptr) {
            cublasLtMatrixLayoutDestroy(a);
        }
        if (desc != nullptr) {
            cublasLtMatmulDescDestroy(desc);
        }
    }
};

gemm_runner::gemm_runner(int64_t workspace_bytes) : _workspace(workspace_bytes) {
    LLMFLEET_CUBLAS_CHECK(cublasLtCreate(&_handle));
}

gemm_runner::~gemm_runner() {
    _plans.clear();
    if (_handle != nullptr) {
        cublasLtDestroy(_handle);
    }
}

void gemm_runner::plan(int64_t m, int64_t k, int64_t n, gemm_out out, bool accumulate) {
    find_or_plan(m, k, n, out, accumulate);
}

gemm_runner::plan_entry& gemm_runner::find_or_plan(int64_t m, int64_t k, int64_t n, gemm_out out, bool accumulate) {
    if (accumulate && out != gemm_out::f32) {
        throw error(status_code::invalid_argument, "gemm: accumulate (y +=) needs an f32 output");
    }
    const key id{m, k, n, static_cast<int>(out), accumulate};
    if (auto it = _plans.find(id); it != _plans.end()) {
        return *it->second;
    }
    auto p = std::make_unique<plan_entry>();
    const cudaDataType_t out_type = out == gemm_out::f32 ? CUDA_R_32F : CUDA_R_16BF;
    LLMFLEET_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
    LLMFLEET_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
    LLMFLEET_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
    LLMFLEET_CUBLAS_CHECK(
        cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k));
    LLMFLEET_CUBLAS_CHECK(
        cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, static_cast<uint64_t>(k), static_cast<uint64_t>(m), k));
    LLMFLEET_CUBLAS_CHECK(
        cublasLtMatrixLayoutCreate(&p->c, out_type, static_cast<uint64_t>(n), static_cast<uint64_t>(m), n));

    cublasLtMatmulPreference_t pref = nullptr;
    LLMFLEET_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const auto ws = static_cast<uint64_t>(_workspace.size());
    cublasLtMatmulHeuristicResult_t result{};
    int n_results = 0;
    const cublasStatus_t status = [&] {
        const cublasStatus_t s =
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
        if (s != CUBLAS_STATUS_SUCCESS) {
            return s;
        }
        return cublasLtMatmulAlgoGetHeuristic(_handle, p->desc, p->a, p->b, p->c, p->c, pref, 1, &result, &n_results);
    }();
    cublasLtMatmulPreferenceDestroy(pref);
    LLMFLEET_CUBLAS_CHECK(status);
    if (n_results == 0) {
        throw error(status_code::internal,
                    fmt::format("cuBLASLt has no algorithm for the GEMM [{}, {}] · [{}, {}]ᵀ → {} (bf16 inputs); "
                                "check the CUDA toolkit and the GPU's compute capability",
                                m, k, n, k, out == gemm_out::f32 ? "f32" : "bf16"));
    }
    p->algo = result.algo;
    return *_plans.emplace(id, std::move(p)).first->second;
}

void gemm_runner::linear(const __nv_bfloat16* x, const __nv_bfloat16* w, void* y, gemm_out out, int64_t m, int64_t k,
                         int64_t n, bool accumulate, cudaStream_t stream) {
    if (m == 0) {
        return;
    }
    plan_entry& p = find_or_plan(m, k, n, out, accumulate);
    const float alpha = 1.0F, beta = accumulate ? 1.0F : 0.0F;
    LLMFLEET_CUBLAS_CHECK(cublasLtMatmul(_handle, p.desc, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo,
                                         _workspace.data(), _workspace.size(), stream));
}

} // namespace llmfleet::kernels::cuda
