// From `llmfleet serve`'s options and this host's GPUs to what runs: the pools (CPU engines, GPUs × engines per
// GPU, or a plan's GPU types), each engine's flags (threads, KV budget that accounts for the engines sharing its
// GPU), the MPS limits, the engines' layout and ports, and the router's pools and routing table. Every flag is
// checked here, before anything starts, with a message naming the flag, the value and what works.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fleet/fleet_layout.h"
#include "fleet/gpu_inventory.h"
#include "fleet/supervisor.h"
#include "serve/router/router_config.h"
#include "serve/router/routing_table.h"

namespace llmfleet::fleet {

struct serve_options {
    std::string model_dir;               // --model
    int32_t n_cpu_engines = -1;          // --engines: N CPU engines (−1: not given)
    std::string gpus;                    // --gpus "0,1" | "all" ("": all GPUs when the host has some)
    int32_t engines_per_gpu = 1;         // --engines-per-gpu
    int32_t tp = 1;                      // --tp: per engine
    int32_t pp = 1;                      // --pp: per engine
    std::string mps = "auto";            // --mps auto|on|off
    std::string plan_path;               // --plan: plan.json
    std::string gpu_type;                // --gpu-type: the plan's type name for every selected GPU ("": detected)
    std::string host = "127.0.0.1";      // where the engines listen (and the router reaches them)
    uint16_t engine_base_port = 0;       // first engine port (0: free ports the kernel picks)
    double kv_cache_gib = 0;             // per engine rank (0: the engine's default on CPU, the budget on a GPU)
    double gpu_memory_utilization = 0.9; // fraction of each GPU the engines sharing it may use together
    double engine_reserve_gib = 1.0;     // per engine and GPU beyond weights and KV (context, activations)
    int32_t mps_thread_percentage = -1;  // CUDA_MPS_ACTIVE_THREAD_PERCENTAGE: −1 → 100/(0.5·n), 0 → not set
    bool mps_memory_limit = true;        // CUDA_MPS_PINNED_DEVICE_MEM_LIMIT = each engine's share
    int32_t threads_per_engine = 0;      // --threads per engine (0: the host's threads / engines)
    // GPU pools run `--device cuda` engines, each with --gpu-memory-fraction its share. The tool sets it when this
    // build has the CUDA backend and this process sees a CUDA device; otherwise GPU pools run CPU engines (warned).
    bool cuda_engines = false;
    std::vector<std::string> engine_args; // passed to every engine as is (after the flags made here)
    supervisor_options supervisor;
};

struct serve_setup {
    fleet_layout layout;
    supervisor_options supervisor;                // with the parsed MPS mode
    std::vector<serve::pool_config> router_pools; // one per layout pool, the engines' endpoints
    std::shared_ptr<serve::routing_table> table;  // with --plan, else null
    std::string description;                      // "cpu: 2 engines" / "A10G: GPU 0 × 2 engines"
    std::string mps_description;                  // "not applicable (CPU engines)", "on (1 daemon)", "off"
};

// Checks the options and builds the setup for `host` (detect_gpus() in production). Reads the model's config.json
// (a missing or unusable model directory is an error here, before anything starts) and its weight sizes, and
// plan.json; binds the engine ports for a moment to check them (pick_engine_ports). `program` is the llmfleet
// binary the engines run; `run_dir` holds their logs and the MPS directories. Throws llmfleet::error
// (invalid_argument or not_found) with the flag, the value and a hint.
serve_setup prepare_serve(const serve_options& options, const gpu_detection& host, const std::string& program,
                          const std::string& run_dir);

// Sum of the *.safetensors files' sizes in `model_dir`: the weights a GPU holds (split by tp · pp).
int64_t model_weights_bytes(const std::string& model_dir);

} // namespace llmfleet::fleet
