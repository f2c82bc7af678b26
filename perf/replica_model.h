// The contract between the performance model and its users (the simulator, the planner's profiles): a
// deployment (GPU type × tensor/pipeline degree × engines per GPU), the shape of one continuous-batching step,
// and a replica model that says how long that step takes and how many KV token slots the replica holds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "planner/deployment.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"

namespace llmfleet::perf {

// How one replica is deployed (GPU type, tp, pp, engines per GPU): defined with the planner, which chooses it.
using deployment = planner::deployment;

// What one continuous-batching step of one replica computes (built from the scheduler's output).
struct iteration_shape {
    int64_t n_prefill_seqs = 0;         // sequences with a prompt chunk this step
    int64_t n_prefill_tokens = 0;       // Σ chunk lengths
    double prefill_attention_pairs = 0; // Σ over chunks of chunk × (tokens before the chunk + (chunk + 1) / 2):
                                        // query × key pairs under the causal mask
    int64_t n_decode_seqs = 0;          // sequences decoding one token this step
    int64_t decode_context_tokens = 0;  // Σ over decodes of the context length (KV tokens read)

    int64_t n_tokens() const { return n_prefill_tokens + n_decode_seqs; }
};

// not thread-safe unless the implementation says so; cheap to call (the simulator calls it once per step).
class replica_model {
public:
    virtual ~replica_model() = default;
    // Wall time of one step of this replica, ms (> 0 for a non-empty step).
    virtual double iteration_ms(const iteration_shape& shape) const = 0;
    // Token slots of this replica's KV cache (after weights and reserves), ≥ 0; 0 when the weights do not fit.
    virtual int64_t kv_cache_tokens() const = 0;
    // "roofline H100-SXM tp2 (calibrated 2026-11-21)", for reports.
    virtual std::string describe() const = 0;
};

// The calibrated performance model (perf/iteration_model.h) of one replica of `model` deployed as `d` on `gpu`,
// with the built-in calibration of that GPU type (documented defaults, marked uncalibrated, where none was
// measured). Throws invalid_input when the deployment cannot run the model (heads do not divide, fewer layers
// than stages, engines_per_gpu < 1); a model whose weights do not fit gives kv_cache_tokens() == 0.
std::unique_ptr<replica_model> make_replica_model(const planner::model_arch& model, const planner::gpu_spec& gpu,
                                                  const deployment& d);

} // namespace llmfleet::perf
