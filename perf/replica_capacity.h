// From iteration time to the planner's throughput profile: the max request rate one replica sustains for a
// request shape under the SLO (steady-state continuous batching with chunked prefill, docs/perfmodel.md,
// "Capacity"), and the per-planning-unit rate matrix of one deployment over a bucket grid.
#pragma once

#include <cstdint>
#include <string>

#include "perf/replica_model.h"
#include "planner/bucket_grid.h"
#include "planner/capacity_model.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"

namespace llmfleet::perf {

// Engine settings the analysis assumes (vLLM's defaults).
struct capacity_options {
    int64_t max_num_seqs = 256;        // running sequences
    int64_t max_batched_tokens = 8192; // tokens per step (decodes + prefill chunk)
    int64_t kv_block_tokens = 16;      // paged-KV block: a sequence wastes half a block on average
};

// Why a shape gets the rate it gets.
struct capacity_point {
    double max_rps = 0;             // per replica; 0: cannot serve (see limit)
    double batch = 0;               // mean decoding sequences at that rate (a time average: fractional)
    int64_t batch_memory_limit = 0; // sequences the KV cache holds at the mean occupancy
    double iteration_ms = 0;        // mean step time at `batch` (decodes + amortised prefill) = mean TPOT
    double ttft_ms = 0;             // estimated time to first token at `batch` (no queueing)
    std::string limit;              // "max_num_seqs", "memory", "tpot", "ttft", "token budget",
                                    // "weights do not fit", "one request does not fit"
};

// Steady state with B sequences decoding: arrivals λ = B / (O × T) req/s, so each step also carries B × I / O
// prompt tokens (chunked prefill, amortised); T = iteration_ms of that mixed step must be ≤ the TPOT SLO.
// TTFT = half a step of waiting + the prompt's chunk steps (chunks of max_batched_tokens − B beside B decodes).
// B is a mean (fractional); the largest B ≤ min(memory, max_num_seqs) meeting the SLOs and the token budget
// (found by bisection: each only tightens with B) gives the rate.
capacity_point replica_capacity(const replica_model& model, double input_tokens, double output_tokens,
                                const planner::slo& target, const capacity_options& options = {});

// req/s per planning UNIT (deployment::gpus_per_unit() GPUs holding replicas_per_unit() replicas) in each bucket
// of `grid` at its representative (midpoint) lengths: [n_input, n_output]. Uses make_replica_model.
planner::matrix deployment_profile(const planner::model_arch& model, const planner::gpu_spec& gpu, const deployment& d,
                                   const planner::bucket_grid& grid, const planner::slo& target,
                                   const capacity_options& options = {});
// The same with explicit model parameters (e.g. a measured per-step overhead, perf/measured_calibration.h).
planner::matrix deployment_profile(const replica_model& replica, const deployment& d, const planner::bucket_grid& grid,
                                   const planner::slo& target, const capacity_options& options = {});

} // namespace llmfleet::perf
