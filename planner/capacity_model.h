// Roofline capacity model: the max request rate one GPU sustains for a request shape under the SLO,
// estimated from the GPU's datasheet and the model's architecture (docs/planner.md, "Capacity model").
// Uncalibrated: `llmfleet profile` (later) replaces it with measurements.
#pragma once

#include <optional>
#include <string>

#include "planner/bucket_grid.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"
#include "planner/profile.h"

namespace llmfleet::planner {

struct slo {
    double tpot_ms = 50;           // time per output token (one decode iteration), ms
    std::optional<double> ttft_ms; // time to first token, ms (optional)
};

struct roofline_params {
    double bandwidth_efficiency = 0.80;    // achieved fraction of datasheet memory bandwidth
    double compute_efficiency = 0.60;      // achieved fraction of dense BF16 peak in GEMMs
    double iteration_overhead_ms = 3.0;    // per-step scheduling, launches, sampling, host sync
    double memory_reserve_fraction = 0.10; // of device memory: runtime, activations, fragmentation
    double weight_bytes_per_param = 2.0;   // bf16 weights
    double kv_bytes_per_element = 2.0;     // bf16 KV cache
    int64_t max_batch = 256;               // cap on running sequences (vLLM's max_num_seqs default)
};

// Why a shape gets the rate it gets (for explanations and tests).
struct capacity_estimate {
    double max_rps = 0;             // 0: cannot serve (model does not fit, or the SLO cannot be met)
    int64_t batch = 0;              // running sequences at that rate
    int64_t batch_memory_limit = 0; // sequences the KV memory holds
    double iteration_ms = 0;        // one continuous-batching step at `batch`
    double ttft_ms = 0;             // estimated time to first token at `batch`
    std::string limit;              // "memory", "tpot", "ttft", "max_batch", "weights do not fit", ...
};

capacity_estimate estimate_capacity(const model_arch& model, const gpu_spec& gpu, double input_tokens,
                                    double output_tokens, const slo& target, const roofline_params& params);

// One matrix per GPU: estimate_capacity at each bucket's representative (midpoint) lengths.
throughput_profile estimate_profile(const model_arch& model, const std::vector<gpu_spec>& gpus, const bucket_grid& grid,
                                    const slo& target, const roofline_params& params);

} // namespace llmfleet::planner
