// The analytical iteration-time model of one replica (docs/perfmodel.md): each decoder layer's GEMMs,
// attention, element-wise ops and TP all-reduces on one GPU, composed into pipeline stages, plus a fixed
// per-step overhead; engines sharing a GPU under MPS follow a stated (uncalibrated) hypothesis.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "perf/op_costs.h"
#include "perf/replica_model.h"

namespace llmfleet::perf {

// Engine settings that size the activation reserve (vLLM's defaults).
struct engine_limits {
    int64_t max_batched_tokens = 8192; // tokens in one step (chunked-prefill budget)
    int64_t max_num_seqs = 256;        // running sequences
};

// Where one step's time goes, ms. For pp > 1 the parts are those of the slowest stage for one micro-batch.
struct step_breakdown {
    double gemm_ms = 0;        // QKV, O, gate+up, down, LM head
    double attention_ms = 0;   // prefill attention FLOPs + decode KV reads
    double elementwise_ms = 0; // norms, rope, activation, residual adds, embedding, KV-cache writes
    double allreduce_ms = 0;   // TP: 2 per layer + the logits gather
    double p2p_ms = 0;         // PP: activations to the next stage
    double overhead_ms = 0;    // per-step CPU cost (0 when hidden behind other engines' GPU work)
    double total_ms = 0;       // = iteration_ms(shape)
};

// The sizes of one pipeline stage on one of its GPUs.
struct stage_layout {
    int64_t n_layers = 0; // decoder layers in this stage
    bool has_embedding = false;
    bool has_lm_head = false;
    double weight_bytes = 0;       // this GPU's share of the stage's weights
    double kv_bytes_per_token = 0; // this GPU's share of one token's K and V in the stage's layers
};

// Immutable after construction: iteration_ms and kv_cache_tokens are thread-safe.
class iteration_model final : public replica_model {
public:
    // Throws invalid_input when the deployment cannot run the model (see validate_deployment).
    iteration_model(planner::model_arch model, planner::gpu_spec gpu, deployment d, perf_params params,
                    engine_limits limits = {});

    // Steady-state time between successive steps of the same sequences, ms (docs/perfmodel.md, "What
    // iteration_ms means"): pp = 1, one engine: overhead + GPU time. pp > 1: the shape is split into pp
    // micro-batches, max(one micro-batch's latency through all stages, pp × the slowest stage). N engines
    // per GPU: max(overhead + GPU time, N × contention × GPU time). This is TPOT and sets the throughput.
    double iteration_ms(const iteration_shape& shape) const override;
    // Latency of one step of `shape` through all stages with nothing else running (no micro-batching), ms.
    double step_latency_ms(const iteration_shape& shape) const;
    step_breakdown breakdown(const iteration_shape& shape) const;
    int64_t kv_cache_tokens() const override;
    std::string describe() const override;

    const std::vector<stage_layout>& stages() const { return _stages; }
    double activation_reserve_bytes() const { return _activation_reserve_bytes; }
    const perf_params& params() const { return _params; }
    const deployment& deploy() const { return _deployment; }

private:
    // GPU time of one stage for `shape` on one GPU, ms, split into parts (overhead and p2p left at 0).
    step_breakdown stage_gpu(const stage_layout& stage, const iteration_shape& shape) const;

    planner::model_arch _model;
    planner::gpu_spec _gpu;
    deployment _deployment;
    perf_params _params;
    engine_limits _limits;
    std::vector<stage_layout> _stages; // [pp]
    std::vector<layer_op> _layer_ops;  // one decoder layer's GEMMs and element-wise operators
    int64_t _kv_heads_per_gpu = 0;     // ceil(n_kv_heads / tp): KV heads are replicated when tp > n_kv_heads
    double _activation_reserve_bytes = 0;
};

// make_replica_model with explicit parameters, e.g. builtin_params(gpu) with a measured iteration_overhead_ms
// (llmfleet profile's calibration) in place of the Splitwise-fitted one. Throws like make_replica_model.
std::unique_ptr<replica_model> make_replica_model(const planner::model_arch& model, const planner::gpu_spec& gpu,
                                                  const deployment& d, perf_params params);

// Why `d` cannot run `model`, or "" when it can: heads divide by tp (KV heads divide or are replicated),
// layers ≥ pp, tp, pp, engines_per_gpu ≥ 1, several engines per GPU only with tp = pp = 1.
std::string deployment_problem(const planner::model_arch& model, const deployment& d);

// A shape of `n` scaled by 1/parts (pp micro-batches): token counts rounded up, so no part is empty.
iteration_shape split_shape(const iteration_shape& shape, int32_t parts);

} // namespace llmfleet::perf
