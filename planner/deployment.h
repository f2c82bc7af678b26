// A deployment: how one replica of the model runs — GPU type × tensor/pipeline degree × engines sharing a GPU.
// The joint planner chooses among deployments; the performance model times them; `serve --plan` starts them.
#pragma once

#include <cstdint>
#include <string>

namespace llmfleet::planner {

struct deployment {
    std::string gpu;             // GPU type name from the catalog, e.g. "H100-SXM"
    int32_t tp = 1;              // tensor-parallel degree (GPUs per stage)
    int32_t pp = 1;              // pipeline-parallel degree (stages)
    int32_t engines_per_gpu = 1; // engines sharing each GPU under MPS (1: the engine has its GPUs alone)

    int32_t gpus_per_replica() const { return tp * pp; }
    // GPUs one planning unit occupies (a replica's GPUs); the unit holds engines_per_gpu replicas on them.
    int32_t gpus_per_unit() const { return tp * pp; }
    int32_t replicas_per_unit() const { return engines_per_gpu; }
    // One engine per GPU set, no parallelism: what Mélange plans with.
    bool is_plain() const { return tp == 1 && pp == 1 && engines_per_gpu == 1; }
    // "H100-SXM", "H100-SXM tp2", "L4 ×2 engines", "A100-80GB tp2 pp2"
    std::string label() const;

    bool operator==(const deployment&) const = default;
};

} // namespace llmfleet::planner
