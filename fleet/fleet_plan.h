// What `llmfleet serve --plan plan.json` starts on this host: the plan's GPU types (each with its deployment:
// tensor and pipeline degree, engines per GPU) matched against the GPUs nvidia-smi lists here. Pure: the plan's
// text and the host's GPUs come in, the pools to start come out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/gpu_inventory.h"

namespace llmfleet::fleet {

// How one replica of the model runs on one GPU type (plan.json gpus[i].deployment; absent → all 1).
struct deployment_shape {
    int32_t tp = 1;              // tensor-parallel degree
    int32_t pp = 1;              // pipeline stages
    int32_t engines_per_gpu = 1; // engines sharing each GPU (under MPS)
    int32_t gpus_per_engine() const { return tp * pp; }
};

// One entry of plan.json "gpus" the planner bought GPUs of.
struct plan_gpu_entry {
    std::string pool;  // the entry's name: the router pool its routes name ("L4", or "H100-SXM tp2" in a joint plan)
    std::string type;  // the GPU type: deployment.gpu when given, else the name
    int64_t count = 0; // planning units of this entry in the whole fleet (> 0): a unit is tp·pp GPUs
    deployment_shape deployment;
};

// plan.json's "gpus" entries with count > 0, in plan order. Each may carry "deployment": {"gpu", "tp", "pp",
// "engines_per_gpu"} (a joint plan): its "gpu" is the GPU type, the entry's name the pool. Throws invalid_input naming
// `origin` and the field (e.g. "plan.json gpus[1].deployment.tp: expected an integer ≥ 1, got 0"); a plan without GPUs
// or without a solution (status infeasible, time_limit, error) is refused.
std::vector<plan_gpu_entry> parse_plan_gpus(std::string_view plan_json, std::string_view origin);

// The engines of one router pool: a GPU type with the host's GPUs for it and the deployment, or the CPU pool.
struct pool_request {
    std::string name;            // router pool: the GPU type, or "cpu"
    std::vector<gpu_info> gpus;  // the GPUs it uses, grouped gpus_per_engine at a time; empty on the CPU
    deployment_shape deployment; // on the CPU: tp and pp run as threads of one engine process
    int32_t n_cpu_engines = 0;   // CPU pool only: engines to start
    int32_t n_engines() const;   // CPU: n_cpu_engines; GPU: (gpus / gpus_per_engine) · engines_per_gpu
};

// The pools for a plan on this host: for each plan entry, the host's GPUs of its type not taken by an earlier entry
// (in index order), at most count × tp·pp and a whole number of replicas (gpus_per_engine each). Fewer GPUs than the
// plan's count is fine (the rest of the fleet runs elsewhere) and logged. A plan type this host has no (or too few for
// one replica) GPUs of is an error naming every type the plan wants and what the host has (`host_description`, e.g.
// describe_host()); the router could not route that type's traffic.
std::vector<pool_request> match_plan_to_host(const std::vector<plan_gpu_entry>& plan, const std::vector<gpu_info>& host,
                                             const std::string& host_description, std::string_view origin);

} // namespace llmfleet::fleet
