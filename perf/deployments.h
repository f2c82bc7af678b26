// Candidate deployments of a model on GPU types: every (GPU, tp, pp, engines per GPU) combination, each either
// kept or rejected with the reason (for `--explain`): heads must divide, layers ≥ pp, tp·pp ≤ the GPUs of one
// node, several engines per GPU only without parallelism, and the weights plus some KV cache must fit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "perf/replica_model.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"

namespace llmfleet::perf {

struct deployment_options {
    std::vector<int32_t> tp = {1, 2, 4, 8};
    std::vector<int32_t> pp = {1, 2, 3, 4, 5, 6, 7, 8};
    std::vector<int32_t> engines_per_gpu = {1, 2, 3};
    int32_t max_gpus_per_replica = 8; // tp·pp: one node (NVLink domain)
    int64_t min_kv_tokens = 2048;     // a replica must hold at least this many KV tokens (one long request)
};

struct deployment_candidate {
    deployment d;
    bool feasible = false;
    std::string reason;          // why it was rejected ("" when feasible)
    int64_t kv_cache_tokens = 0; // per replica, when the deployment can run the model
};

// Every combination over `gpus` × options, in that nesting order (deterministic), feasible or not.
std::vector<deployment_candidate> enumerate_deployments(const planner::model_arch& model,
                                                        const std::vector<planner::gpu_spec>& gpus,
                                                        const deployment_options& options = {});

} // namespace llmfleet::perf
