// Calibration of the per-GPU performance parameters on measured data (data/profiling) and their validation
// on held-out points. Each fit uses PART of a dataset; the rows report the error on the fitted part and on
// the rest (docs/perfmodel.md, "Calibration"). Deterministic: the data decide the result, not timing.
#pragma once

#include <string>
#include <vector>

#include "perf/fit.h"
#include "perf/op_costs.h"
#include "perf/profiling_data.h"
#include "planner/gpu_catalog.h"

namespace llmfleet::perf {

// The error of the calibrated model on one part of one dataset.
struct validation_row {
    std::string gpu;         // "A100-80GB"
    std::string dataset;     // "vidur Llama-3-8B GEMMs"
    std::string role;        // "fit": the points the parameters were fitted on; "validate": held out
    error_stats errors;      // relative errors |predicted − measured| / measured
    std::string worst_point; // "mlp_up_proj tp 8, 16 tokens: measured 0.021 ms, predicted 0.030 ms"
};

struct calibration_result {
    std::vector<perf_params> params; // one per calibrated GPU type: A100-80GB, H100-SXM
    std::vector<validation_row> rows;
};

// The GPU types the data calibrate (catalog names).
const std::vector<std::string>& calibrated_gpus();

// Fits every calibrated GPU's parameters (GEMM and element-wise efficiencies on Vidur operators, all-reduce
// α/β per TP degree on NCCL timings, the per-step overhead on Splitwise decode steps) and validates them.
// `catalog` supplies the GPU specs (bandwidth, peak).
calibration_result calibrate(const profiling_data& data, const planner::gpu_catalog& catalog);

} // namespace llmfleet::perf
